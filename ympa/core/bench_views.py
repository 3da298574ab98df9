"""Benchmark-only views, mounted only when YMPA_BENCH=1 (see ympa/urls.py); never part of a deployment.

- `/bench/floor`: the cheapest request the full Django stack can answer with one indexed query; `make bench`
  compares the other requests' latency with it. It reads no session and writes nothing, and answers only
  whether the identifier exists.
- `/bench/overview/<patient>?gated=1|0`: a patient's vaccinations for a bearer token's nurse, as the JSON
  API returns them. With gated=1 through the real path (`patient_access`: the care-relation check and the
  access-log row; `patient_history`: the PDL facts and a decision per entry), as if the nurse had logged in
  with BankID (the shared record needs it; API tokens count as a low-assurance login). With gated=0 the same
  reads of the patient and the entries without any of that. The difference is what the access decision and
  the log cost a patient-overview request; the gated answer also says, in `Server-Timing`, how long the
  gate itself took (facts, decision and the log row, committed).
- `POST /bench/record/<patient>`: the API's record (`POST /api/v1/patients/<patient>/vaccinations`, the same
  view called as it is), answering also, in `Server-Timing: stock;dur=…`, how long booking the dose out of
  stock took inside the signing transaction (`stock_dose_book`, wrapped here while the bench runs, so that
  production code carries no timing; waits for the balance row's lock included).
- `/bench/stock/<unit>?source=cache|ledger`: a synthetic unit's stock per batch, from the cached balances as
  the balance page reads them (`unit_balances`) or summed from the ledger itself (`ledger_balances`), with the
  selector's own time in `Server-Timing: stock;dur=…`.
"""

from __future__ import annotations

import time
from contextvars import ContextVar
from dataclasses import replace
from typing import Any
from uuid import UUID

from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import resolve, reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from ympa.access.pdl_services import patient_facts
from ympa.access.routes import no_patient_data, returns_patient_data
from ympa.access.services import patient_access
from ympa.authn.api_auth import BearerToken
from ympa.core.actor import Actor
from ympa.inventory.selectors import ledger_balances, unit_balances
from ympa.journal import services as journal_services
from ympa.journal.api import VaccinationOut
from ympa.journal.models import AdverseEvent, EntryStatus, Vaccination
from ympa.journal.selectors import patient_history, with_current
from ympa.orgs.models import CareUnit
from ympa.patients.models import Patient

# Milliseconds spent in stock_dose_book during the current /bench/record request (None outside one).
_stock_ms: ContextVar[list[float] | None] = ContextVar("ympa_bench_stock_ms", default=None)
_stock_dose_book = journal_services.stock_dose_book


def _timed_stock_dose_book(**kwargs: Any) -> int | None:
    sink = _stock_ms.get()
    if sink is None:
        return _stock_dose_book(**kwargs)
    started = time.perf_counter()
    try:
        return _stock_dose_book(**kwargs)
    finally:
        sink.append((time.perf_counter() - started) * 1000)


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


def _bench_actor(request: HttpRequest) -> Actor | None:
    header = request.headers.get("Authorization", "")
    token = header.removeprefix("Bearer ").strip()
    if not header.startswith("Bearer ") or BearerToken().authenticate(request, token) is None:
        return None
    actor: Actor = request.actor  # type: ignore[attr-defined]
    return replace(actor, assurance=3)


@no_patient_data(
    "benchmark only (YMPA_BENCH=1, synthetic patients of `make bench`, never in a deployment): with gated=1 "
    "it reads through patient_access and logs like the API; gated=0 is the ungated comparison"
)
@require_GET
def overview(request: HttpRequest, patient_id: UUID) -> JsonResponse:
    actor = _bench_actor(request)
    if actor is None:
        return JsonResponse({"detail": "unauthorized"}, status=401)
    patient = Patient.objects.filter(pk=patient_id, is_test_data=True).first()
    if patient is None:
        return JsonResponse({"detail": "not found"}, status=404)
    entries: list[Vaccination]
    gate_ms = 0.0
    if request.GET.get("gated") == "0":
        # The same reads as patient_history, without the facts and the decisions.
        entries = list(
            with_current(
                Vaccination.objects.filter(patient=patient).exclude(status=EntryStatus.DRAFT)
            ).prefetch_related(
                Prefetch(
                    "adverse_events",
                    queryset=AdverseEvent.objects.filter(nullified_at__isnull=True).order_by("onset_at"),
                    to_attr="active_adverse_events",
                )
            )
        )
    else:
        started = time.perf_counter()
        facts = patient_facts(patient=patient, log_for=actor)
        patient_access(
            actor=actor, patient=patient, object_type="journal.vaccination", object_id="*", facts=facts
        )
        gate_ms = (time.perf_counter() - started) * 1000
        history = patient_history(actor=actor, patient=patient, facts=facts)
        entries = list(history.entries)
    response = JsonResponse([VaccinationOut.of(v).model_dump(mode="json") for v in entries], safe=False)
    response["Cache-Control"] = "no-store"
    # The gate's own time (PDL facts, the decision, the log row committed), for the
    # benchmark to report beside the end-to-end latency.
    response["Server-Timing"] = f"access;dur={gate_ms:.3f}"
    return response


@returns_patient_data
@csrf_exempt
@require_POST
def record(request: HttpRequest, patient_id: UUID) -> HttpResponse:
    # The journal looks the function up in its module when it signs: timed from the first bench record on,
    # in this server process only (transparent outside a bench record request).
    journal_services.stock_dose_book = _timed_stock_dose_book
    # The API's own view: authentication, parsing, vaccination_record and the answer are the API's.
    api_view = resolve(reverse("api:list_for_patient", kwargs={"patient_id": patient_id}))
    sink: list[float] = []
    token = _stock_ms.set(sink)
    try:
        response: HttpResponse = api_view.func(request, *api_view.args, **api_view.kwargs)
    finally:
        _stock_ms.reset(token)
    if sink:
        response["Server-Timing"] = f"stock;dur={sum(sink):.3f}"
    return response


@no_patient_data(
    "benchmark only (YMPA_BENCH=1, the synthetic units of `make bench`, never in a deployment): a unit's "
    "vaccine stock per batch; no patient is named"
)
@require_GET
def stock(request: HttpRequest, unit_id: int) -> JsonResponse:
    unit = CareUnit.objects.select_related("care_provider").filter(pk=unit_id, is_test_data=True).first()
    if unit is None:
        return JsonResponse({"detail": "not found"}, status=404)
    body: list[dict[str, Any]]
    started = time.perf_counter()
    if request.GET.get("source") == "ledger":
        sums = ledger_balances(unit=unit)
        elapsed = time.perf_counter() - started
        body = [
            {"batch": batch, "slot": slot, "quantity": quantity} for (batch, slot), quantity in sums.items()
        ]
    else:
        rows = unit_balances(unit=unit)
        elapsed = time.perf_counter() - started
        body = [
            {
                "product": row.batch.product.code,
                "batch": row.batch.batch_number,
                "expiry": row.batch.expiry.isoformat() if row.batch.expiry else None,
                "location": row.location,
                "quantity": row.quantity,
            }
            for row in rows
        ]
    response = JsonResponse(body, safe=False)
    response["Cache-Control"] = "no-store"
    response["Server-Timing"] = f"stock;dur={elapsed * 1000:.3f}"
    return response
