"""The patient's own visit pages reached from the booking link or a QR code: health declaration and
check-in (namespace `visit`)."""

from django.urls import path

from ympa.booking import visit_views

app_name = "visit"

urlpatterns = [
    path("enhet/<int:unit_id>/", visit_views.unit, name="unit"),
    path("qr/<str:value>/halsodeklaration", visit_views.declaration_qr, name="declaration_qr"),
    path("<str:token>/halsodeklaration", visit_views.declaration, name="declaration"),
    path("<str:token>/incheckning", visit_views.checkin, name="checkin"),
]
