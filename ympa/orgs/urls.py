from django.urls import path

from ympa.orgs import views

app_name = "orgs"
urlpatterns = [
    path("unit/staff/", views.staff, name="staff"),
    path("unit/staff/<int:assignment_id>/end/", views.end_assignment, name="end_assignment"),
    path("unit/schedules/", views.schedules, name="schedules"),
]
