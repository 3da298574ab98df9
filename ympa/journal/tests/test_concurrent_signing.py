"""Two nurses sign doses for the same patient at the same moment, each through their own connection: the
second one's decision support checks its dose against the first, and the stored forecasts include both."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any

import pytest

from conftest import POSTGRES_RACE, actor_of, at_once, make_staff
from ympa.authn.models import User
from ympa.journal import forecasts
from ympa.journal.models import StoredForecast, Vaccination
from ympa.journal.services import Administration, forecast_refresh_patient, vaccination_record
from ympa.orgs.models import CareUnit
from ympa.orgs.rights import Role
from ympa.patients.models import Patient

pytestmark = [
    *POSTGRES_RACE,
]

OVERRIDE = "Concurrency test: the dose was given"


def _stored(patient: Patient) -> list[tuple[Any, ...]]:
    return sorted(
        StoredForecast.objects.filter(patient=patient).values_list(
            "schedule_key", "vaccine_group", "status", "dose_number", "earliest", "recommended"
        )
    )


@pytest.mark.usefixtures("standing_orders")
def test_two_signings_for_one_patient_see_each_others_dose(
    nurse_a: User,
    unit_a: CareUnit,
    citizen: Patient,
    administration: Callable[..., Administration],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    second_nurse = make_staff("nurse_a4", Role.NURSE, unit=unit_a)
    # Each signing pauses after reading the history until the other one has read it too (or for a second):
    # without the queue per patient both would read a history without the other's dose.
    both_read = threading.Barrier(2)
    read_history = forecasts.history
    seen: dict[int, int] = {}

    def history_then_wait(*args: Any, **kwargs: Any) -> Any:
        doses = read_history(*args, **kwargs)
        seen.setdefault(threading.get_ident(), len(doses))
        with contextlib.suppress(threading.BrokenBarrierError):
            both_read.wait(timeout=1)
        return doses

    monkeypatch.setattr(forecasts, "history", history_then_wait)
    data = administration(override_reason=OVERRIDE)
    _results, errors = at_once(
        [
            lambda nurse=nurse: vaccination_record(
                actor=actor_of(nurse), patient=citizen, data=data, sign=True
            )
            for nurse in (nurse_a, second_nurse)
        ]
    )
    assert errors == []
    assert Vaccination.objects.filter(patient=citizen).count() == 2
    # The patient had no doses: whichever signing came second checked its dose against the first one.
    assert sorted(seen.values()) == [0, 1]
    # Signing stores the groups the dose can change (influenza), as a full refresh computes them.
    stored = _stored(citizen)
    assert [row[1] for row in stored] == ["Influenza"]
    forecast_refresh_patient(patient_id=str(citizen.pk))
    assert stored == [row for row in _stored(citizen) if row[1] == "Influenza"]
