"""Every route declares whether it returns patient data, and every patient-data route logs and is not cached.

The Patient Data Act issue: one access decision for every read of patient data, whatever the channel. The
declarations (`ympa.access.routes`) make a new route say what it is; this test walks every URL pattern and
every API operation, fails on an undeclared one, and calls each route declared as patient data as an
authorised user: the call must write its audit row for the patient (a read, or the write the route makes)
and answer `Cache-Control: no-store`. CALLS says how to call each patient-data route; a new one without an
entry fails `test_every_patient_data_route_has_a_call`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.db.models import Max
from django.http import HttpResponse
from django.test import Client
from django.urls import resolve, reverse
from django.utils import timezone

from conftest import actor_of, make_staff, staff_client
from ympa.access.models import Action, AuditEvent
from ympa.access.pdl_models import BlockType
from ympa.access.pdl_services import BlockRequest, block_register, emergency_access_register
from ympa.access.routes import Declaration, Route, declaration_of, no_patient_data, routes
from ympa.access.services import patient_access, patient_access_many
from ympa.authn.models import User
from ympa.authn.services import api_token_create
from ympa.booking.tests import route_calls
from ympa.citizen.tests.sessions import citizen_client
from ympa.core import bench_views
from ympa.core.actor import ActorKind, Channel
from ympa.core.errors import NotPermitted
from ympa.journal.models import AdverseEvent, Condition, Vaccination
from ympa.journal.selectors import due_worklist
from ympa.journal.services import (
    Administration,
    AdverseEventReport,
    adverse_event_register,
    condition_register,
    forecast_refresh_patient,
    vaccination_record,
)
from ympa.orgs.models import Assignment, CareUnit
from ympa.orgs.rights import Role
from ympa.patients.models import Patient
from ympa.patients.services import PatientDetails, patient_register

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("standing_orders")]

CHILD = "20200101-2380"
NEW_PATIENT = "20190301-2399"
ANOTHER_NEW_PATIENT = "20180704-2385"
OVERRIDE = "Given: decision support is not what this test is about"


@dataclass
class Record:
    """What the calls act on: Tolvan with a draft, a signed dose with an adverse event, a condition and
    stored forecasts; a child; the nurse at clinic A with her browser session and API token; and Tolvan's
    own browser session in the citizen app."""

    nurse: User
    patient: Patient
    child: Patient
    draft: Vaccination
    signed: Vaccination
    event: AdverseEvent
    condition: Condition
    browser: Client
    token: str
    citizen_browser: Client


@pytest.fixture
def record(nurse_a: User, citizen: Patient, administration: Callable[..., Administration]) -> Record:
    actor = actor_of(nurse_a)
    signed = vaccination_record(
        actor=actor,
        patient=citizen,
        data=administration(administered_at=timezone.now().replace(microsecond=0) - timedelta(days=400)),
        sign=True,
    )
    draft = vaccination_record(actor=actor, patient=citizen, data=administration())
    event = adverse_event_register(
        actor=actor,
        vaccination=signed,
        report=AdverseEventReport(
            symptoms=["fever"], onset_at=_given(signed) + timedelta(hours=6), severity="mild"
        ),
    )
    condition = condition_register(
        actor=actor, patient=citizen, code="SE-HEPB", start_date=timezone.localdate()
    )
    # The stored forecasts behind the due list are refreshed on commit; a test transaction never commits.
    forecast_refresh_patient(patient_id=str(citizen.pk))
    child = patient_register(
        actor=actor, identifier=CHILD, details=PatientDetails(given_name="Lill", family_name="Tolvansson")
    )
    assignment = Assignment.objects.get(user=nurse_a)
    _token_record, token = api_token_create(user=nurse_a, assignment=assignment)
    return Record(
        nurse=nurse_a,
        patient=citizen,
        child=child,
        draft=draft,
        signed=signed,
        event=event,
        condition=condition,
        browser=staff_client(nurse_a),
        token=token,
        citizen_browser=citizen_client(citizen),
    )


def _given(vaccination: Vaccination) -> datetime:
    assert vaccination.current_version is not None
    return vaccination.current_version.administered_at


def _tolvan(record: Record) -> Patient:
    return record.patient


def _registered(identifier: str) -> Callable[[Record], Patient]:
    def patient(record: Record) -> Patient:
        return Patient.objects.get(identifier=identifier.replace("-", ""))

    return patient


@dataclass(frozen=True)
class Call:
    """One authorised request to a route, and the audit row it must write for the patient."""

    method: str
    url: Callable[[Record], str]
    status: int
    action: Action = Action.READ
    body: Callable[[Record], dict[str, Any]] | None = None
    patient: Callable[[Record], Patient] = _tolvan
    api: bool = False
    # Called by Tolvan in the citizen app (logged as the citizen), not by the nurse.
    citizen: bool = False
    # Called in the staff app by this user (logged as them) instead of the nurse: for routes the nurse may
    # not use, such as the infection-control officer's. Called twice per test, so it must give the same user.
    user: Callable[[Record], User] | None = None


def _form(changes: dict[str, Any]) -> dict[str, Any]:
    """The staff form's fields for an administration given five minutes ago."""
    given = timezone.localtime() - timedelta(minutes=5)
    return {
        "product": "vaxigriptetra",
        "administered_at": given.strftime("%Y-%m-%dT%H:%M"),
        "batch_number": "AB1234",
        "batch_expiry": (timezone.localdate() + timedelta(days=200)).isoformat(),
        "dose_number": "1",
        "dose_volume_ml": "0.50",
        "site": "left_deltoid",
        "route": "IM",
        "note": "",
        "override_reason": OVERRIDE,
        **changes,
    }


def _json(**changes: Any) -> dict[str, Any]:
    """The API's administration body for a dose given five minutes ago."""
    return {
        "administered_at": (timezone.now() - timedelta(minutes=5)).isoformat(),
        "product": "vaxigriptetra",
        "batch_number": "AB1234",
        "batch_expiry": (timezone.localdate() + timedelta(days=200)).isoformat(),
        "dose_number": 1,
        "dose_volume_ml": "0.5",
        "site": "left_deltoid",
        "route": "IM",
        "override_reason": OVERRIDE,
        **changes,
    }


def _details(**changes: str) -> dict[str, str]:
    return {"given_name": "Tolvan", "family_name": "Tolvansson", "city": "Uppsala", **changes}


def _url(name: str, attribute: str | None = None, query: str = "") -> Callable[[Record], str]:
    def url(record: Record) -> str:
        args = [getattr(record, attribute).pk] if attribute else []
        return reverse(name, args=args) + query

    return url


def _api(path: str, attribute: str | None = None) -> Callable[[Record], str]:
    def url(record: Record) -> str:
        return "/api/v1/" + (path.format(getattr(record, attribute).pk) if attribute else path)

    return url


def _emergency_url(record: Record, name: str) -> str:
    emergency = emergency_access_register(actor=actor_of(record.nurse), patient=record.patient, reason="Akut")
    return reverse(name, args=[record.patient.pk, emergency.pk])


def _revoke_url(record: Record) -> str:
    """An inner block on another unit of the nurse's provider: one her unit can lift with consent."""
    unit = record.nurse.assignments.get().care_unit
    assert unit is not None
    # get_or_create: the test builds each URL twice.
    other, _created = CareUnit.objects.get_or_create(
        hsa_id="SE5599000019-A009",
        defaults={"name": "A9", "care_provider": unit.care_provider, "municipality": unit.municipality},
    )
    block_register(
        actor=actor_of(record.nurse), patient=record.patient, request=BlockRequest(BlockType.INNER, other)
    )
    return reverse("access:revoke", args=[record.patient.pk])


def _region_officer(record: Record) -> User:
    """An infection-control officer of the nurse's region (the `officer` persona's region is another)."""
    officer = User.objects.filter(username="officer_record").first()
    if officer is not None:
        return officer
    unit = record.nurse.assignments.get().care_unit
    assert unit is not None
    return make_staff("officer_record", Role.INFECTION_CONTROL, region=unit.care_provider.region)


def _log_reviewer(record: Record) -> User:
    """The administrator of the nurse's clinic, who reviews its care provider's access log."""
    reviewer = User.objects.filter(username="reviewer_record").first()
    if reviewer is not None:
        return reviewer
    return make_staff("reviewer_record", Role.ADMINISTRATOR, unit=record.nurse.assignments.get().care_unit)


def _review_filter(record: Record) -> dict[str, Any]:
    """Every access of the last week: Tolvan's among them."""
    today = timezone.localdate()
    return {"start": (today - timedelta(days=6)).isoformat(), "end": today.isoformat()}


def _recall(record: Record) -> dict[str, str]:
    """The batch of Tolvan's doses, recalled."""
    return {"product": "vaxigriptetra", "batch_number": "AB1234", "reason": "Ärende 2025/17"}


def _block_end_url(record: Record) -> str:
    block = block_register(
        actor=actor_of(record.nurse), patient=record.patient, request=BlockRequest(BlockType.OUTER, None)
    )
    return reverse("access:block_end", args=[record.patient.pk, block.pk])


# Every route declared as patient data, by Route.label, and how to call it. Several calls per route where
# a page both shows the record (a read) and changes it (the change's own row), or a fix needs covering.
CALLS: dict[str, tuple[Call, ...]] = {
    "patients:search": (Call("GET", _url("patients:search", query="?q=Tolvansson"), 200),),
    "patients:register": (
        Call(
            "POST",
            _url("patients:register"),
            302,
            Action.CREATE,
            lambda r: {"identifier": NEW_PATIENT, **_details(given_name="Ny")},
            _registered(NEW_PATIENT),
        ),
    ),
    "patients:overview": (Call("GET", _url("patients:overview", "patient"), 200),),
    "patients:edit": (
        Call("GET", _url("patients:edit", "patient"), 200),
        Call("POST", _url("patients:edit", "patient"), 302, Action.UPDATE, lambda r: _details()),
        # Sent back with errors, the form still shows the record.
        Call("POST", _url("patients:edit", "patient"), 200, body=lambda r: _details(email="not an address")),
    ),
    "patients:add_guardian": (
        Call(
            "POST",
            _url("patients:add_guardian", "child"),
            302,
            Action.CREATE,
            lambda r: {"identifier": "19121212-1212"},
            lambda r: r.child,
        ),
        # Tolvan is no minor: the form comes back with the error, showing the patient.
        Call("POST", _url("patients:add_guardian", "patient"), 200, body=lambda r: {"identifier": CHILD}),
    ),
    "journal:home": (Call("GET", _url("journal:home"), 200),),
    "journal:vaccination_new": (
        Call("GET", _url("journal:vaccination_new", "patient", "?product=vaxigriptetra"), 200),
        Call(
            "POST",
            _url("journal:vaccination_new", "patient"),
            302,
            Action.SIGN,
            lambda r: _form({"idempotency_key": "k1", "action": "sign"}),
        ),
    ),
    "journal:vaccination": (Call("GET", _url("journal:vaccination", "signed"), 200),),
    "journal:vaccination_edit": (
        Call("GET", _url("journal:vaccination_edit", "draft"), 200),
        Call(
            "POST",
            _url("journal:vaccination_edit", "draft"),
            302,
            Action.UPDATE,
            lambda r: _form({"batch_number": "CD5678", "action": "draft"}),
        ),
    ),
    "journal:vaccination_sign": (
        Call(
            "POST",
            _url("journal:vaccination_sign", "draft"),
            302,
            Action.SIGN,
            lambda r: {"override_reason": OVERRIDE},
        ),
    ),
    "journal:vaccination_correct": (
        Call("GET", _url("journal:vaccination_correct", "signed"), 200),
        Call(
            "POST",
            _url("journal:vaccination_correct", "signed"),
            302,
            Action.CORRECT,
            lambda r: _form(
                {
                    "administered_at": timezone.localtime(_given(r.signed)).strftime("%Y-%m-%dT%H:%M"),
                    "batch_number": "EF9012",
                    "reason": "Batch misread",
                }
            ),
        ),
    ),
    "journal:vaccination_nullify": (
        Call("GET", _url("journal:vaccination_nullify", "signed"), 200),
        Call(
            "POST",
            _url("journal:vaccination_nullify", "signed"),
            302,
            Action.NULLIFY,
            lambda r: {"reason": "Wrong patient"},
        ),
    ),
    "journal:adverse_event_new": (
        Call("GET", _url("journal:adverse_event_new", "signed"), 200),
        Call(
            "POST",
            _url("journal:adverse_event_new", "signed"),
            302,
            Action.CREATE,
            lambda r: {
                "symptoms": ["rash"],
                "onset_at": timezone.localtime(r.event.onset_at).strftime("%Y-%m-%dT%H:%M"),
                "severity": "mild",
            },
        ),
    ),
    "journal:adverse_event_nullify": (
        Call(
            "POST",
            _url("journal:adverse_event_nullify", "event"),
            302,
            Action.NULLIFY,
            lambda r: {"reason": "Not related"},
        ),
    ),
    "journal:unsigned": (Call("GET", _url("journal:unsigned", query="?scope=unit"), 200),),
    "journal:due": (Call("GET", _url("journal:due"), 200),),
    "journal:condition_add": (
        Call(
            "POST",
            _url("journal:condition_add", "patient"),
            302,
            Action.CREATE,
            lambda r: {"code": "SE-TBE", "start_date": timezone.localdate().isoformat(), "note": ""},
        ),
    ),
    "journal:condition_end": (
        Call(
            "POST",
            _url("journal:condition_end", "condition"),
            302,
            Action.UPDATE,
            lambda r: {"end_date": timezone.localdate().isoformat()},
        ),
    ),
    "journal:condition_nullify": (
        Call(
            "POST",
            _url("journal:condition_nullify", "condition"),
            302,
            Action.NULLIFY,
            lambda r: {"reason": "Wrong patient"},
        ),
    ),
    "access:care_relation": (
        Call(
            "POST",
            _url("access:care_relation", "patient"),
            302,
            Action.CREATE,
            lambda r: {"relation-purpose": "Råd"},
        ),
    ),
    "access:consent": (
        Call(
            "POST", _url("access:consent", "patient"), 302, Action.CREATE, lambda r: {"consent-scope": "unit"}
        ),
    ),
    "access:emergency_start": (
        Call(
            "POST",
            _url("access:emergency_start", "patient"),
            302,
            Action.CREATE,
            lambda r: {"emergency-reason": "Medvetslös"},
        ),
    ),
    "access:emergency": (Call("GET", lambda r: _emergency_url(r, "access:emergency"), 200),),
    "access:emergency_open": (
        Call("POST", lambda r: _emergency_url(r, "access:emergency_open"), 302, Action.UPDATE),
    ),
    "access:block": (
        Call(
            "POST",
            _url("access:block", "patient"),
            302,
            Action.CREATE,
            lambda r: {"block-block_type": "outer"},
        ),
    ),
    "access:revoke": (Call("POST", _revoke_url, 302, Action.CREATE, lambda r: {"revoke-hours": "1"}),),
    "access:block_end": (
        Call("POST", _block_end_url, 302, Action.UPDATE, lambda r: {"end-reason": "Patienten ville häva"}),
    ),
    "access:log_extract": (Call("GET", _url("access:log_extract", "patient", "?start=2020-01-01"), 200),),
    "access:log_extract_csv": (
        Call("GET", _url("access:log_extract_csv", "patient"), 200, Action.EXPORT),
        # An invalid period: the form again with the error (a read), no file.
        Call("GET", _url("access:log_extract_csv", "patient", "?end=nonsense"), 400),
    ),
    "access:log_extract_pdf": (Call("GET", _url("access:log_extract_pdf", "patient"), 200, Action.PRINT),),
    "citizen:home": (Call("GET", _url("citizen:home"), 200, citizen=True),),
    "citizen:record": (Call("GET", _url("citizen:record", "patient"), 200, citizen=True),),
    "review:log_review": (
        # The page opens on the last week's flagged accesses: the child, registered without a visit.
        Call("GET", _url("review:log_review"), 200, patient=lambda r: r.child, user=_log_reviewer),
        Call("POST", _url("review:log_review"), 200, body=_review_filter, user=_log_reviewer),
    ),
    "reporting:recall": (Call("POST", _url("reporting:recall"), 200, body=_recall, user=_region_officer),),
    "reporting:recall_csv": (
        Call("POST", _url("reporting:recall_csv"), 200, Action.EXPORT, _recall, user=_region_officer),
    ),
    # The care provider's recall list: the nurse's own dose of the batch, listed with the reason.
    "inventory:recall": (Call("POST", _url("inventory:recall"), 200, body=_recall),),
    "inventory:recall_csv": (Call("POST", _url("inventory:recall_csv"), 200, Action.EXPORT, _recall),),
    "GET api/v1/patients": (Call("GET", _api("patients?q=191212121212"), 200, api=True),),
    "POST api/v1/patients": (
        Call(
            "POST",
            _api("patients"),
            201,
            Action.CREATE,
            lambda r: {"identifier": ANOTHER_NEW_PATIENT, **_details(given_name="Annan")},
            _registered(ANOTHER_NEW_PATIENT),
            api=True,
        ),
    ),
    "GET api/v1/patients/<patient_id>": (Call("GET", _api("patients/{}", "patient"), 200, api=True),),
    "GET api/v1/patients/<patient_id>/vaccinations": (
        Call("GET", _api("patients/{}/vaccinations", "patient"), 200, api=True),
    ),
    "POST api/v1/patients/<patient_id>/vaccinations": (
        Call(
            "POST",
            _api("patients/{}/vaccinations", "patient"),
            201,
            Action.CREATE,
            lambda r: _json(sign=False),
            api=True,
        ),
    ),
    "GET api/v1/vaccinations/<vaccination_id>": (
        Call("GET", _api("vaccinations/{}", "signed"), 200, api=True),
    ),
    "PATCH api/v1/vaccinations/<vaccination_id>": (
        Call(
            "PATCH",
            _api("vaccinations/{}", "draft"),
            200,
            Action.UPDATE,
            lambda r: _json(batch_number="CD5678"),
            api=True,
        ),
    ),
    "POST api/v1/vaccinations/<vaccination_id>/sign": (
        Call(
            "POST",
            _api("vaccinations/{}/sign", "draft"),
            200,
            Action.SIGN,
            lambda r: {"override_reason": OVERRIDE},
            api=True,
        ),
    ),
    "POST api/v1/vaccinations/<vaccination_id>/correct": (
        Call(
            "POST",
            _api("vaccinations/{}/correct", "signed"),
            200,
            Action.CORRECT,
            lambda r: _json(
                administered_at=_given(r.signed).isoformat(),
                batch_number="EF9012",
                reason="Batch misread",
            ),
            api=True,
        ),
    ),
    "POST api/v1/vaccinations/<vaccination_id>/nullify": (
        Call(
            "POST",
            _api("vaccinations/{}/nullify", "signed"),
            200,
            Action.NULLIFY,
            lambda r: {"reason": "Wrong patient"},
            api=True,
        ),
    ),
    "POST api/v1/vaccinations/<vaccination_id>/adverse-events": (
        Call(
            "POST",
            _api("vaccinations/{}/adverse-events", "signed"),
            201,
            Action.CREATE,
            lambda r: {"symptoms": ["rash"], "onset_at": r.event.onset_at.isoformat(), "severity": "mild"},
            api=True,
        ),
    ),
    "GET api/v1/vaccinations/<vaccination_id>/adverse-events": (
        Call("GET", _api("vaccinations/{}/adverse-events", "signed"), 200, api=True),
    ),
}
# The booking module keeps its calls beside its tests.
CALLS.update(route_calls.calls())


def _routes() -> dict[str, Route]:
    return {route.label: route for route in routes()}


def test_every_route_is_declared() -> None:
    undeclared = sorted(
        f"{route.label} ({route.pattern or '/'})" for route in routes() if not route.declaration
    )
    assert not undeclared, (
        "Routes that do not declare whether they return patient data "
        "(ympa.access.routes: @returns_patient_data or @no_patient_data(reason), or THIRD_PARTY):\n"
        + "\n".join(undeclared)
    )


def _patient_data(declaration: Declaration | None) -> bool:
    return declaration is not None and declaration.patient_data


def test_every_patient_data_route_has_a_call() -> None:
    declared = {label for label, route in _routes().items() if _patient_data(route.declaration)}
    assert sorted(declared - CALLS.keys()) == [], "patient-data routes missing from CALLS"
    assert sorted(CALLS.keys() - declared) == [], "CALLS entries that are no patient-data route"


def test_routes_mounted_only_sometimes_are_declared_too() -> None:
    # /bench/floor exists only with YMPA_BENCH=1, so the walk above never sees it.
    assert declaration_of(bench_views.floor) is not None


def test_a_declaration_without_a_reason_is_refused() -> None:
    with pytest.raises(ValueError):
        no_patient_data(" ")


def _perform(call: Call, record: Record) -> HttpResponse:
    url = call.url(record)
    body = call.body(record) if call.body is not None else None
    if call.api:
        response = Client().generic(
            call.method,
            url,
            json.dumps(body) if body is not None else "",
            content_type="application/json",
            headers={"Authorization": f"Bearer {record.token}"},
        )
    elif call.citizen:
        response = record.citizen_browser.generic(call.method, url)
    else:
        browser = staff_client(call.user(record)) if call.user is not None else record.browser
        if call.method == "GET":
            response = browser.get(url)
        else:
            response = getattr(browser, call.method.lower())(url, body or {})
    assert isinstance(response, HttpResponse)
    return response


@pytest.mark.parametrize(
    ("label", "index"), [(label, index) for label, calls in CALLS.items() for index in range(len(calls))]
)
def test_patient_data_route_logs_the_access_and_is_not_cached(record: Record, label: str, index: int) -> None:
    call = CALLS[label][index]
    route = _routes()[label]
    url = call.url(record)
    match = resolve(urlsplit(url).path)
    assert match.route == route.pattern, f"{url} is not the route {label}"
    assert call.method in route.methods if route.methods else match.func is route.view

    before = AuditEvent.objects.aggregate(last=Max("pk"))["last"] or 0
    response = _perform(call, record)

    assert response.status_code == call.status, response.content[:2000]
    assert response["Cache-Control"] == "no-store"
    written = AuditEvent.objects.filter(pk__gt=before)
    by: dict[str, Any] = (
        {"actor_kind": ActorKind.CITIZEN, "user": None, "channel": Channel.CITIZEN_APP}
        if call.citizen
        else {
            "user": call.user(record) if call.user is not None else record.nurse,
            "channel": Channel.API if call.api else Channel.UI,
        }
    )
    assert written.filter(action=call.action, patient=call.patient(record), **by).exists(), list(
        written.values_list("action", "patient_id", "object_type")
    )


def test_a_replayed_api_record_is_logged_as_a_read(record: Record) -> None:
    call = CALLS["POST api/v1/patients/<patient_id>/vaccinations"][0]
    headers = {"Authorization": f"Bearer {record.token}", "Idempotency-Key": "same"}
    body = json.dumps(_json())
    url = call.url(record)
    assert Client().post(url, body, content_type="application/json", headers=headers).status_code == 201
    before = AuditEvent.objects.aggregate(last=Max("pk"))["last"]
    again = Client().post(url, body, content_type="application/json", headers=headers)
    assert again.status_code == 200 and again["Cache-Control"] == "no-store"
    assert AuditEvent.objects.filter(pk__gt=before, action=Action.READ, patient=record.patient).count() == 1


def test_lists_log_each_patient_once_and_nothing_when_empty(record: Record) -> None:
    before = AuditEvent.objects.aggregate(last=Max("pk"))["last"]
    record.browser.get("/patients/?q=Nobody")
    assert not AuditEvent.objects.filter(pk__gt=before).exists()
    rows, _total = due_worklist(actor=actor_of(record.nurse), on=timezone.localdate())
    assert len(rows) > 1  # Tolvan is due for several vaccines: one row each, one log row for him.
    record.browser.get(reverse("journal:due"))
    assert AuditEvent.objects.filter(pk__gt=before, patient=record.patient).count() == 1


def test_search_refuses_a_reader_without_a_care_unit(officer: User, record: Record) -> None:
    response = staff_client(officer).get("/patients/?q=Tolv")
    assert response.status_code == 403 and b"Tolvansson" not in response.content
    assert not AuditEvent.objects.filter(user=officer).exists()


def _permitted(gate: Callable[[], object]) -> bool:
    try:
        gate()
    except NotPermitted:
        return False
    return True


def test_the_list_gate_decides_like_the_single_gate(
    record: Record, officer: User, outsider: User, nurse_a2: User
) -> None:
    now = timezone.now()
    Assignment.objects.filter(user=nurse_a2).update(
        valid_from=now - timedelta(days=2), valid_until=now - timedelta(days=1)
    )
    for user in (record.nurse, officer, outsider, nurse_a2):
        actor = actor_of(user)
        single = _permitted(lambda: patient_access(actor=actor, patient=record.patient))  # noqa: B023
        many = _permitted(
            lambda: patient_access_many(actor=actor, patients=[record.patient], object_type="test")  # noqa: B023
        )
        assert single == many == (user == record.nurse), user.username
