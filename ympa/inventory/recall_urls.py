from django.urls import path

from ympa.inventory import recall_views

urlpatterns = [
    path("", recall_views.recall_view, name="recall"),
    path("csv/", recall_views.recall_csv_view, name="recall_csv"),
]
