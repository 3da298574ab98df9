"""The benchmark floor: the cheapest request the full Django stack can answer with one indexed query.

Mounted at /bench/floor only when YMPA_BENCH=1 (see ympa/urls.py); `make bench` compares the API's
latency with it. It reads no session and writes nothing, and answers only whether the identifier exists.
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from ympa.access.routes import no_patient_data
from ympa.patients.models import Patient


@no_patient_data(
    "benchmark only (YMPA_BENCH=1, the synthetic register of `make bench`, never in a deployment): "
    "answers only whether an identifier exists, without a session to log against"
)
@require_GET
def floor(request: HttpRequest) -> JsonResponse:
    identifier = request.GET.get("identifier", "")[:16]
    found = Patient.objects.filter(identifier=identifier).values_list("pk", flat=True).first() is not None
    response = JsonResponse({"found": found})
    response["Cache-Control"] = "no-store"
    return response
