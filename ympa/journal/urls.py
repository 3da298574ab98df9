from django.urls import path

from ympa.journal import views

app_name = "journal"
urlpatterns = [
    path("", views.home, name="home"),
    path("patients/<uuid:patient_id>/vaccinations/new/", views.vaccination_new, name="vaccination_new"),
    path("vaccinations/<uuid:vaccination_id>/", views.vaccination_detail, name="vaccination"),
    path("vaccinations/<uuid:vaccination_id>/edit/", views.vaccination_edit, name="vaccination_edit"),
    path("vaccinations/<uuid:vaccination_id>/sign/", views.vaccination_sign_view, name="vaccination_sign"),
    path(
        "vaccinations/<uuid:vaccination_id>/correct/",
        views.vaccination_correct_view,
        name="vaccination_correct",
    ),
    path(
        "vaccinations/<uuid:vaccination_id>/nullify/",
        views.vaccination_nullify_view,
        name="vaccination_nullify",
    ),
    path(
        "vaccinations/<uuid:vaccination_id>/adverse-events/new/",
        views.adverse_event_new,
        name="adverse_event_new",
    ),
    path(
        "adverse-events/<uuid:event_id>/nullify/",
        views.adverse_event_nullify_view,
        name="adverse_event_nullify",
    ),
    path("worklist/unsigned/", views.unsigned, name="unsigned"),
    path("worklist/due/", views.due, name="due"),
    path("patients/<uuid:patient_id>/conditions/", views.condition_add, name="condition_add"),
    path("conditions/<uuid:condition_id>/end/", views.condition_end_view, name="condition_end"),
    path("conditions/<uuid:condition_id>/nullify/", views.condition_nullify_view, name="condition_nullify"),
    path("patients/<uuid:patient_id>/conditions/", views.condition_add, name="condition_add"),
    path("conditions/<uuid:condition_id>/end/", views.condition_end_view, name="condition_end"),
    path("conditions/<uuid:condition_id>/nullify/", views.condition_nullify_view, name="condition_nullify"),
]
