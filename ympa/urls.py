from django.urls import include, path

from ympa.api import api
from ympa.core import views as core_views

urlpatterns = [
    path("healthz", core_views.healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v1/", api.urls),
    path("notify/", include("ympa.notify.urls")),
    path("", include("ympa.authn.urls")),
    path("patients/", include("ympa.patients.urls")),
    path("", include("ympa.orgs.urls")),
    path("", include("ympa.journal.urls")),
]
