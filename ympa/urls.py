from django.urls import include, path

from ympa.api import api
from ympa.core import views as core_views
from ympa.core.env import env_bool

urlpatterns = [
    path("healthz", core_views.healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v1/", api.urls),
    path("notify/", include("ympa.notify.urls")),
    path("", include("ympa.authn.urls")),
    path("patients/", include("ympa.patients.urls")),
    path("patients/pdl/", include("ympa.access.urls")),
    path("logs/", include("ympa.access.review_urls")),
    path("citizen/", include("ympa.citizen.urls")),
    path("region/", include("ympa.reporting.urls")),
    path("inventory/", include("ympa.inventory.urls")),
    path("booking/", include("ympa.booking.urls")),
    path("boka/", include("ympa.booking.public_urls")),
    path("besok/", include("ympa.booking.visit_urls")),
    path("", include("ympa.orgs.urls")),
    path("", include("ympa.journal.urls")),
]

if env_bool("YMPA_BENCH", False):
    # The benchmark's floor (`make bench` sets YMPA_BENCH=1); never part of a normal deployment.
    from ympa.core import bench_views

    urlpatterns += [
        path("bench/floor", bench_views.floor, name="bench-floor"),
        path("bench/overview/<uuid:patient_id>", bench_views.overview, name="bench-overview"),
        path("bench/record/<uuid:patient_id>", bench_views.record, name="bench-record"),
        path("bench/stock/<int:unit_id>", bench_views.stock, name="bench-stock"),
    ]
