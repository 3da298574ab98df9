"""The unit's schedule pages, under /booking/schedule/ in the `booking` namespace."""

from django.urls import URLPattern, path

from ympa.booking import schedule_views as views

urlpatterns: list[URLPattern] = [
    path("", views.home, name="schedule_home"),
    path("withdraw-day/", views.withdraw_day, name="schedule_withdraw_day"),
    path("hours/", views.hours, name="schedule_hours"),
    path("exceptions/", views.exception_add, name="schedule_exception_add"),
    path("exceptions/<int:exception_id>/remove/", views.exception_remove, name="schedule_exception_remove"),
    path("resources/", views.resources, name="schedule_resources"),
    path("resources/<int:resource_id>/", views.resource_edit, name="schedule_resource_edit"),
    path(
        "resources/<int:resource_id>/deactivate/",
        views.resource_deactivate_view,
        name="schedule_resource_deactivate",
    ),
    path("types/", views.types, name="schedule_types"),
    path("types/<int:type_id>/", views.type_edit, name="schedule_type_edit"),
    path("types/<int:type_id>/deactivate/", views.type_deactivate_view, name="schedule_type_deactivate"),
    path("generate/", views.generate, name="schedule_generate"),
    path("releases/", views.releases, name="schedule_releases"),
]
