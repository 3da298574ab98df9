from django.urls import path

from ympa.patients import views

app_name = "patients"
urlpatterns = [
    path("", views.search, name="search"),
    path("new/", views.register, name="register"),
    path("<uuid:patient_id>/", views.overview, name="overview"),
    path("<uuid:patient_id>/edit/", views.edit, name="edit"),
    path("<uuid:patient_id>/guardians/", views.add_guardian, name="add_guardian"),
]
