"""Decision support shows nothing the reader may not read: the forecast counts only the doses they can see."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from conftest import actor_of, staff_client
from ympa.access.pdl_services import care_relation_register
from ympa.authn.models import User
from ympa.journal.forecasts import history_of
from ympa.journal.selectors import patient_decision_support, patient_history
from ympa.journal.services import vaccination_record
from ympa.patients.models import Patient

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("standing_orders")]


def test_doses_the_reader_may_not_see_are_not_counted(
    citizen: Patient, nurse_a: User, nurse_b: User, administration: Any
) -> None:
    vaccination_record(
        actor=actor_of(nurse_a), patient=citizen, data=administration(batch_number="HIDDEN9"), sign=True
    )
    care_relation_register(actor=actor_of(nurse_b), patient=citizen, purpose="Vaccination")
    today = timezone.localdate()

    outside = patient_history(actor=actor_of(nurse_b), patient=citizen)
    assert outside.hidden_at_other_providers == 1
    assert history_of(outside.entries) == []
    partial = patient_decision_support(
        actor=actor_of(nurse_b), patient=citizen, today=today, readable=outside
    )
    assert partial is not None and partial.partial

    inside = patient_history(actor=actor_of(nurse_a), patient=citizen)
    assert len(history_of(inside.entries)) == 1
    whole = patient_decision_support(actor=actor_of(nurse_a), patient=citizen, today=today, readable=inside)
    assert whole is not None and not whole.partial

    body = staff_client(nurse_b).get(f"/patients/{citizen.pk}/").content.decode()
    assert 'data-testid="decision-partial"' in body
    assert "HIDDEN9" not in body
