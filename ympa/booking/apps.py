from django.apps import AppConfig


class BookingConfig(AppConfig):
    name = "ympa.booking"
    label = "booking"
    verbose_name = "Booking"
