from django.urls import path

from ympa.access import review_views

app_name = "review"
urlpatterns = [
    path("review/", review_views.review_view, name="log_review"),
]
