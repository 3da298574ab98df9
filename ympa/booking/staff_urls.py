from django.urls import path

from ympa.booking import staff_views

urlpatterns = [
    path("day/", staff_views.day_list, name="day_list"),
    path("day/<uuid:booking_id>/rebook/", staff_views.day_rebook, name="day_rebook"),
    path("day/<uuid:booking_id>/no-show/", staff_views.day_no_show, name="day_no_show"),
    path("day/<uuid:booking_id>/cancel/", staff_views.day_cancel, name="day_cancel"),
    path("waiting/", staff_views.waiting_list, name="waiting_list"),
    path("waiting/add/", staff_views.waiting_add, name="waiting_add"),
    path("waiting/<uuid:entry_id>/end/", staff_views.waiting_end, name="waiting_end"),
    path("waiting/type/<int:type_id>/notify/", staff_views.waiting_notify, name="waiting_notify"),
    path("stats/", staff_views.stats_bookings, name="stats_bookings"),
]
