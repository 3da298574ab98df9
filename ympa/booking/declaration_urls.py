from django.urls import path

from ympa.booking import declaration_views

urlpatterns = [
    path("patient/<uuid:patient_id>/", declaration_views.patient, name="declaration_patient"),
    path("patient/<uuid:patient_id>/today/", declaration_views.today, name="declaration_today"),
    path("<uuid:declaration_id>/confirm/", declaration_views.confirm, name="declaration_confirm"),
    path("forms/", declaration_views.forms, name="declaration_forms"),
    path("forms/<int:form_id>/retire/", declaration_views.form_retire, name="declaration_form_retire"),
    path("tablet/", declaration_views.tablet, name="declaration_tablet"),
    path("tablet/<uuid:booking_id>/", declaration_views.tablet_answer, name="declaration_tablet_answer"),
    path("qr/<uuid:booking_id>/", declaration_views.qr, name="declaration_qr"),
    path("qr/unit/", declaration_views.unit_qr, name="declaration_unit_qr"),
]
