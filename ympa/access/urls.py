from django.urls import path

from ympa.access import views

app_name = "access"
urlpatterns = [
    path("<uuid:patient_id>/care-relation/", views.care_relation_view, name="care_relation"),
    path("<uuid:patient_id>/consent/", views.consent_view, name="consent"),
    path("<uuid:patient_id>/emergency/", views.emergency_view, name="emergency_start"),
    path("<uuid:patient_id>/emergency/<uuid:emergency_id>/", views.emergency_page, name="emergency"),
    path(
        "<uuid:patient_id>/emergency/<uuid:emergency_id>/open/",
        views.emergency_open_view,
        name="emergency_open",
    ),
    path("<uuid:patient_id>/blocks/", views.block_view, name="block"),
    path("<uuid:patient_id>/blocks/lift/", views.revoke_view, name="revoke"),
    path("<uuid:patient_id>/blocks/<uuid:block_id>/end/", views.block_end_view, name="block_end"),
    path("log-extract/<uuid:patient_id>/", views.log_extract_page, name="log_extract"),
    path("log-extract/<uuid:patient_id>/csv", views.log_extract_csv_view, name="log_extract_csv"),
    path("log-extract/<uuid:patient_id>/pdf", views.log_extract_pdf_view, name="log_extract_pdf"),
]
