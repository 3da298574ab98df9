"""The patient's own visit pages reached from the booking link or a QR code: health declaration and
check-in (namespace `visit`)."""

from django.urls import URLPattern

app_name = "visit"

urlpatterns: list[URLPattern] = []
