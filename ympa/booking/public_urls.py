"""Public booking pages, no login (namespace `public_booking`)."""

from django.urls import path

from ympa.booking import public_views as views

app_name = "public_booking"

urlpatterns = [
    path("", views.units_view, name="units"),
    path("enhet/<int:unit_id>/", views.unit_view, name="unit"),
    path("typ/<int:type_id>/", views.slots_view, name="slots"),
    path("typ/<int:type_id>/boka/", views.book_view, name="book"),
    path("typ/<int:type_id>/bekrafta/", views.confirm_view, name="confirm"),
    path("typ/<int:type_id>/vantelista/", views.waiting_list_view, name="waiting_list"),
    path("identifiera/", views.identify_view, name="identify"),
    path("identifiera/kod/", views.identify_code_view, name="identify_code"),
    path("bokad/", views.done_view, name="done"),
    path("min-bokning/<str:token>/", views.manage_view, name="manage"),
    path("min-bokning/<str:token>/avboka/", views.cancel_view, name="cancel"),
    path("min-bokning/<str:token>/omboka/", views.rebook_view, name="rebook"),
]
