from django.urls import path

from ympa.booking import queue_views

urlpatterns = [
    path("", queue_views.board, name="queue_board"),
    path("rows/", queue_views.rows, name="queue_rows"),
    path("next/", queue_views.call_next, name="queue_next"),
    path("<uuid:entry_id>/status/", queue_views.set_status, name="queue_status"),
    path("reception/", queue_views.reception, name="queue_reception"),
    path("reception/<uuid:booking_id>/checkin/", queue_views.checkin, name="queue_checkin"),
    path("walk-in/", queue_views.walk_in, name="queue_walk_in"),
    path("display/<int:unit_id>/", queue_views.display, name="queue_display"),
]
