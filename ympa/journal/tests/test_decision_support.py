"""Decision support in the record: warnings before signing a dose that does not count, the override with its
stored reason, the stored forecasts behind worklists, and the due/overdue list.

Rules come from the Swedish schedule data (ympa/forecast/data/se-2026.1), e.g. FSME-IMMUN dose 2 one to three
months after dose 1 (Pfizer's FSME-IMMUN vaccination card, cited in AntigenSupportingData-TBE.xml).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from conftest import actor_of, staff_client
from ympa.access.models import Action, AuditEvent
from ympa.authn.models import User
from ympa.catalog.models import Product
from ympa.journal.models import EntryStatus, StoredForecast
from ympa.journal.selectors import administration_defaults, due_worklist
from ympa.journal.services import (
    FORECAST_VALUES,
    Administration,
    forecast_refresh_all,
    vaccination_correct,
    vaccination_record,
    vaccination_sign,
)
from ympa.patients.models import Patient
from ympa.patients.services import PatientDetails, patient_register

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("standing_orders")]
Build = Callable[..., Administration]
Capture = Callable[..., AbstractContextManager[list[Callable[[], Any]]]]


@pytest.fixture
def adult(nurse_a: User) -> Patient:
    return patient_register(
        actor=actor_of(nurse_a),
        identifier="19800101-0019",
        details=PatientDetails(given_name="Vera", family_name="Vuxen"),
    )


@pytest.fixture
def tbe(administration: Build) -> Callable[..., Administration]:
    product = Product.objects.get(code="fsme-immun-vuxen")

    def build(days_ago: int, **changes: Any) -> Administration:
        given = timezone.now().replace(microsecond=0) - timedelta(days=days_ago)
        return administration(product=product, administered_at=given, dose_volume_ml=None, **changes)

    return build


def test_too_early_second_dose_needs_an_override_reason(nurse_a: User, adult: Patient, tbe: Build) -> None:
    actor = actor_of(nurse_a)
    vaccination_record(actor=actor, patient=adult, data=tbe(10), sign=True)
    with pytest.raises(ValidationError) as error:
        vaccination_record(actor=actor, patient=adult, data=tbe(6, dose_number=2), sign=True)
    message = error.value.message_dict["override_reason"][0]
    assert "TBE" in message and "intervallet" in message
    assert adult.vaccinations.count() == 1

    given = vaccination_record(
        actor=actor, patient=adult, data=tbe(6, dose_number=2, override_reason="Resa om tre dagar"), sign=True
    )
    assert given.current_version is not None
    assert given.current_version.override_reason == "Resa om tre dagar"
    sign = AuditEvent.objects.filter(action=Action.SIGN, object_id=str(given.pk)).get()
    assert sign.detail["decision_support"] and "TBE" in sign.detail["decision_support"][0]


def test_a_valid_dose_signs_without_questions_and_drops_a_stray_reason(
    nurse_a: User, adult: Patient, tbe: Build
) -> None:
    actor = actor_of(nurse_a)
    vaccination_record(actor=actor, patient=adult, data=tbe(60), sign=True)
    second = vaccination_record(
        actor=actor, patient=adult, data=tbe(10, dose_number=2, override_reason="x"), sign=True
    )
    assert second.current_version is not None and second.current_version.override_reason == ""


def test_draft_is_saved_but_signing_asks_for_the_reason(nurse_a: User, adult: Patient, tbe: Build) -> None:
    actor = actor_of(nurse_a)
    vaccination_record(actor=actor, patient=adult, data=tbe(10), sign=True)
    draft = vaccination_record(actor=actor, patient=adult, data=tbe(6, dose_number=2))
    assert draft.status == EntryStatus.DRAFT
    with pytest.raises(ValidationError):
        vaccination_sign(actor=actor, vaccination=draft)
    vaccination_sign(actor=actor, vaccination=draft, override_reason="Resa")
    draft.refresh_from_db()
    assert draft.status == EntryStatus.SIGNED
    assert draft.current_version is not None and draft.current_version.override_reason == "Resa"


def test_correction_is_checked_too(nurse_a: User, adult: Patient, tbe: Build) -> None:
    actor = actor_of(nurse_a)
    vaccination_record(actor=actor, patient=adult, data=tbe(60), sign=True)
    second = vaccination_record(actor=actor, patient=adult, data=tbe(10, dose_number=2), sign=True)
    with pytest.raises(ValidationError):
        vaccination_correct(actor=actor, vaccination=second, data=tbe(55, dose_number=2), reason="Fel datum")
    assert second.versions.count() == 1


def test_dose_number_is_prefilled_from_the_evaluation(nurse_a: User, adult: Patient, tbe: Build) -> None:
    vaccination_record(actor=actor_of(nurse_a), patient=adult, data=tbe(60), sign=True)
    unit = nurse_a.assignments.get().care_unit
    assert unit is not None
    product = Product.objects.get(code="fsme-immun-vuxen")
    assert administration_defaults(unit=unit, product=product, patient=adult).dose_number == 2


def test_stored_forecasts_follow_the_history(
    nurse_a: User, adult: Patient, tbe: Build, django_capture_on_commit_callbacks: Capture
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        vaccination_record(actor=actor_of(nurse_a), patient=adult, data=tbe(60), sign=True)
    stored = StoredForecast.objects.get(patient=adult, vaccine_group="TBE")
    assert stored.status == "Not Complete" and stored.dose_number == 2
    assert stored.recommended is not None and stored.recommended <= timezone.localdate()
    assert StoredForecast.objects.filter(patient=adult).count() >= 10


def test_due_worklist_lists_patients_of_the_unit(
    nurse_a: User, nurse_b: User, adult: Patient, tbe: Build, django_capture_on_commit_callbacks: Capture
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        vaccination_record(actor=actor_of(nurse_a), patient=adult, data=tbe(120), sign=True)
    today = timezone.localdate()
    rows, total = due_worklist(actor=actor_of(nurse_a), on=today, vaccine_group="TBE")
    assert [(r.patient, r.dose_number, r.overdue) for r in rows] == [(adult, 2, True)] and total == 1
    # No care relation at clinic B: the patient is not on its list.
    assert due_worklist(actor=actor_of(nurse_b), on=today, vaccine_group="TBE") == ([], 0)
    response = staff_client(nurse_a).get("/worklist/due/?group=TBE")
    assert response.status_code == 200 and b"Vuxen" in response.content
    assert AuditEvent.objects.filter(object_type="journal.due_worklist", user=nurse_a).exists()


def test_bulk_refresh(nurse_a: User, adult: Patient, citizen: Patient, tbe: Build) -> None:
    from ympa.journal.services import forecast_refresh_patient

    vaccination_record(actor=actor_of(nurse_a), patient=adult, data=tbe(60), sign=True)
    fields = (
        "patient_id",
        "schedule_key",
        "vaccine_group",
        *(f for f in FORECAST_VALUES if f != "computed_at"),
    )
    for patient in (adult, citizen):
        forecast_refresh_patient(patient_id=str(patient.pk))
    one_by_one = sorted(StoredForecast.objects.values_list(*fields))
    StoredForecast.objects.all().delete()
    stats = forecast_refresh_all(workers=2, chunk=1)
    assert stats.patients == 2
    assert sorted(StoredForecast.objects.values_list(*fields)) == one_by_one
    assert StoredForecast.objects.filter(patient=adult, vaccine_group="TBE", dose_number=2).exists()
    assert StoredForecast.objects.filter(patient=citizen).exists()
    if connection.vendor == "postgresql":
        # Analyzed after the bulk write: the planner knows the rows are there.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT reltuples FROM pg_class WHERE relname = %s", [StoredForecast._meta.db_table]
            )
            assert cursor.fetchone()[0] > 0


def test_overview_shows_due_groups_and_invalid_doses(nurse_a: User, adult: Patient, tbe: Build) -> None:
    actor = actor_of(nurse_a)
    vaccination_record(actor=actor, patient=adult, data=tbe(120), sign=True)
    vaccination_record(
        actor=actor, patient=adult, data=tbe(116, dose_number=2, override_reason="Resa"), sign=True
    )
    page = staff_client(nurse_a).get(f"/patients/{adult.pk}/").content.decode()
    assert 'data-testid="decision-support"' in page
    assert 'data-group="TBE"' in page and "Försenad" in page
    assert 'data-testid="invalid-doses"' in page and "intervallet" in page


def test_todays_dose_updates_stored_forecasts_in_the_same_transaction(
    nurse_a: User, adult: Patient, tbe: Build
) -> None:
    # No on-commit callbacks run in this test: the rows must come from the signing transaction itself.
    vaccination_record(actor=actor_of(nurse_a), patient=adult, data=tbe(0), sign=True)
    assert StoredForecast.objects.get(patient=adult, vaccine_group="TBE").dose_number == 2


def test_a_dose_writes_only_the_stored_forecasts_it_can_change(
    nurse_a: User, adult: Patient, tbe: Build, administration: Build
) -> None:
    actor = actor_of(nurse_a)
    # Tomorrow morning: the nurse's assignment starts now, and both doses fall on one day.
    morning = (timezone.localtime() + timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
    with time_machine.travel(morning, tick=False):
        vaccination_record(actor=actor, patient=adult, data=tbe(0), sign=True)
    before = {row.vaccine_group: row for row in StoredForecast.objects.filter(patient=adult)}
    # A TBE dose changes nothing outside TBE: the other groups wait for the nightly refresh.
    assert set(before) == {"TBE"}
    later = morning + timedelta(hours=1)
    with time_machine.travel(later, tick=False):
        vaccination_record(actor=actor, patient=adult, data=administration(), sign=True)
    after = {row.vaccine_group: row for row in StoredForecast.objects.filter(patient=adult)}
    assert set(after) == {"TBE", "Influenza"}

    def values(row: StoredForecast) -> tuple[Any, ...]:
        return tuple(getattr(row, name) for name in FORECAST_VALUES)

    # The influenza dose left the TBE row as the morning wrote it.
    assert values(after["TBE"]) == values(before["TBE"])
    assert after["TBE"].computed_at == morning and after["Influenza"].computed_at == later


def test_a_doses_stored_forecast_equals_the_nightly_refresh(
    nurse_a: User, adult: Patient, tbe: Build, administration: Build
) -> None:
    actor = actor_of(nurse_a)
    vaccination_record(actor=actor, patient=adult, data=tbe(400), sign=True)
    vaccination_record(actor=actor, patient=adult, data=administration(), sign=True)
    kept = {
        row.vaccine_group: tuple(getattr(row, name) for name in FORECAST_VALUES if name != "computed_at")
        for row in StoredForecast.objects.filter(patient=adult)
    }
    forecast_refresh_all()
    refreshed = {
        row.vaccine_group: tuple(getattr(row, name) for name in FORECAST_VALUES if name != "computed_at")
        for row in StoredForecast.objects.filter(patient=adult)
    }
    assert kept and all(refreshed[group] == values for group, values in kept.items())


def test_override_through_the_api(nurse_a: User, adult: Patient, tbe: Build) -> None:
    import json

    from django.test import Client

    from ympa.authn.services import api_token_create

    vaccination_record(actor=actor_of(nurse_a), patient=adult, data=tbe(10), sign=True)
    _record, token = api_token_create(user=nurse_a, assignment=nurse_a.assignments.get())
    body = {
        "administered_at": (timezone.now() - timedelta(days=6)).isoformat(),
        "product": "fsme-immun-vuxen",
        "batch_number": "T2",
        "dose_number": 2,
        "site": "left_deltoid",
        "route": "IM",
        "sign": True,
    }
    client = Client(headers={"Authorization": f"Bearer {token}"})
    url = f"/api/v1/patients/{adult.pk}/vaccinations"
    refused = client.post(url, json.dumps(body), content_type="application/json")
    assert refused.status_code == 422 and "override_reason" in refused.json()["errors"]
    accepted = client.post(
        url, json.dumps({**body, "override_reason": "Resa"}), content_type="application/json"
    )
    assert accepted.status_code == 201 and accepted.json()["status"] == "signed"
