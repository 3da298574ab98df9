from django.urls import path

from ympa.booking import mass_views

urlpatterns = [
    path("", mass_views.sessions, name="mass_sessions"),
    path("<uuid:session_id>/", mass_views.desk, name="mass_desk"),
    path("<uuid:session_id>/next/", mass_views.call_next, name="mass_next"),
    path("<uuid:session_id>/sign/", mass_views.sign, name="mass_sign"),
    path("<uuid:session_id>/walk-in/", mass_views.walk_in, name="mass_walk_in"),
    path("<uuid:session_id>/waiting/", mass_views.waiting, name="mass_waiting"),
    path("<uuid:session_id>/end/", mass_views.end, name="mass_end"),
]
