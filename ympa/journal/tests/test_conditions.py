"""Conditions and indications: recorded, ended or nullified, and taken into account by decision support.

SE-TBE ("vistas i naturen i område med TBE-smitta") is the indication of the Swedish TBE series
(ympa/forecast/data/se-2026.1/AntigenSupportingData-TBE.xml): without it, TBE is not recommended.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from conftest import actor_of, staff_client
from ympa.access.models import AuditEvent
from ympa.authn.models import User
from ympa.core.errors import ConflictError, NotPermitted
from ympa.journal.models import Condition, StoredForecast
from ympa.journal.selectors import patient_decision_support
from ympa.journal.services import condition_end, condition_nullify, condition_register
from ympa.patients.models import Patient

pytestmark = pytest.mark.django_db
Capture = Callable[..., AbstractContextManager[list[Callable[[], Any]]]]


def tbe_row(nurse: User, patient: Patient) -> str:
    decision = patient_decision_support(actor=actor_of(nurse), patient=patient, today=timezone.localdate())
    assert decision is not None
    return next(g.status for g in [*decision.groups, *decision.quiet_groups] if g.vaccine_group == "TBE")


def test_an_indication_changes_the_forecast(
    nurse_a: User, citizen: Patient, django_capture_on_commit_callbacks: Capture
) -> None:
    assert tbe_row(nurse_a, citizen) == "Not Recommended"
    with django_capture_on_commit_callbacks(execute=True):
        condition = condition_register(
            actor=actor_of(nurse_a), patient=citizen, code="SE-TBE", start_date=timezone.localdate()
        )
    assert condition.title.startswith("Vistas i naturen")
    assert tbe_row(nurse_a, citizen) == "Not Complete"
    assert StoredForecast.objects.get(patient=citizen, vaccine_group="TBE").status == "Not Complete"
    assert AuditEvent.objects.filter(object_type="journal.condition", action="create").exists()

    with django_capture_on_commit_callbacks(execute=True):
        condition_nullify(actor=actor_of(nurse_a), condition=condition, reason="Fel patient")
    assert tbe_row(nurse_a, citizen) == "Not Recommended"
    condition.refresh_from_db()
    assert condition.nullified_at is not None and Condition.objects.count() == 1


@pytest.mark.parametrize(
    ("code", "days_from_now", "field"),
    [("NOPE", 0, "code"), ("SE-TBE", 2, "start_date")],
)
def test_invalid_conditions_save_nothing(
    nurse_a: User, citizen: Patient, code: str, days_from_now: int, field: str
) -> None:
    with pytest.raises(ValidationError) as error:
        condition_register(
            actor=actor_of(nurse_a),
            patient=citizen,
            code=code,
            start_date=timezone.localdate() + timedelta(days=days_from_now),
        )
    assert field in error.value.message_dict
    assert not Condition.objects.exists()


def test_an_active_condition_is_recorded_once_and_ends(nurse_a: User, citizen: Patient) -> None:
    today = timezone.localdate()
    condition = condition_register(actor=actor_of(nurse_a), patient=citizen, code="SE-HEPB", start_date=today)
    with pytest.raises(ValidationError):
        condition_register(actor=actor_of(nurse_a), patient=citizen, code="SE-HEPB", start_date=today)
    with pytest.raises(ValidationError):
        condition_end(actor=actor_of(nurse_a), condition=condition, end_date=today + timedelta(days=1))
    condition_end(actor=actor_of(nurse_a), condition=condition, end_date=today)
    with pytest.raises(ConflictError):
        condition_end(actor=actor_of(nurse_a), condition=condition, end_date=today)
    condition_register(actor=actor_of(nurse_a), patient=citizen, code="SE-HEPB", start_date=today)
    assert Condition.objects.filter(patient=citizen, code="SE-HEPB").count() == 2


def test_rights_and_providers(nurse_a: User, nurse_b: User, receptionist_a: User, citizen: Patient) -> None:
    with pytest.raises(NotPermitted):
        condition_register(
            actor=actor_of(receptionist_a), patient=citizen, code="SE-TBE", start_date=timezone.localdate()
        )
    condition = condition_register(
        actor=actor_of(nurse_a), patient=citizen, code="SE-TBE", start_date=timezone.localdate()
    )
    with pytest.raises(NotPermitted):
        condition_nullify(actor=actor_of(nurse_b), condition=condition, reason="x")
    condition.refresh_from_db()
    assert condition.nullified_at is None


def test_conditions_on_the_overview(nurse_a: User, citizen: Patient) -> None:
    client = staff_client(nurse_a)
    response = client.post(
        f"/patients/{citizen.pk}/conditions/",
        {"code": "SE-TBE", "start_date": timezone.localdate().isoformat()},
    )
    assert response.status_code == 302
    page = client.get(f"/patients/{citizen.pk}/").content.decode()
    assert 'data-testid="conditions"' in page and "Vistas i naturen" in page
    condition = Condition.objects.get()
    client.post(f"/conditions/{condition.pk}/nullify/", {"reason": "Fel"})
    condition.refresh_from_db()
    assert condition.nullified_at is not None
