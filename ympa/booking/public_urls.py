"""Public booking pages, no login (namespace `public_booking`)."""

from django.urls import URLPattern

app_name = "public_booking"

urlpatterns: list[URLPattern] = []
