from django.urls import path

from ympa.reporting import views

app_name = "reporting"
urlpatterns = [
    path("", views.region_view, name="region"),
    path("recall/", views.recall_view, name="recall"),
    path("recall/csv/", views.recall_csv_view, name="recall_csv"),
]
