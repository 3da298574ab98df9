from django.urls import path

from ympa.notify import views

app_name = "notify"
urlpatterns = [
    path("sms/delivery/<str:secret>/", views.sms_delivery, name="sms_delivery"),
]
