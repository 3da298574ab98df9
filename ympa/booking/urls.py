"""Staff routes of the booking module (namespace `booking`). Each part keeps its own module; names are
prefixed by the part (schedule_, queue_, declaration_, mass_, day_)."""

from django.urls import include, path

app_name = "booking"

urlpatterns = [
    path("schedule/", include("ympa.booking.schedule_urls")),
    path("queue/", include("ympa.booking.queue_urls")),
    path("declarations/", include("ympa.booking.declaration_urls")),
    path("mass/", include("ympa.booking.mass_urls")),
    path("", include("ympa.booking.staff_urls")),
]
