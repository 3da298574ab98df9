"""Two desks press "call next" at the same moment, each through its own database connection: they call
different patients, and nobody is called twice. Also: two check-ins at once get different numbers."""

from __future__ import annotations

import pytest

from conftest import POSTGRES_RACE, actor_of, at_once, make_staff
from ympa.authn.models import User
from ympa.booking.models import QueueEntry, QueueStatus
from ympa.booking.queue import queue_call_next, walk_in_add
from ympa.orgs.models import CareUnit
from ympa.orgs.rights import Role

pytestmark = [
    *POSTGRES_RACE,
    pytest.mark.usefixtures("booking_provider"),
]

PATIENTS = [("19121212-1212", "Tolvan"), ("19800101-0019", "Test"), ("19750620-2386", "Anna")]


@pytest.fixture
def desks(unit_a: CareUnit, nurse_a: User) -> list[User]:
    return [nurse_a, make_staff("nurse_a3", Role.NURSE, unit=unit_a)]


def test_two_desks_calling_at_once_get_different_patients(desks: list[User], receptionist_a: User) -> None:
    reception = actor_of(receptionist_a)
    for identifier, name in PATIENTS:
        walk_in_add(actor=reception, identifier=identifier, given_name=name, family_name="Testsson")

    results, errors = at_once([lambda user=user: queue_call_next(actor=actor_of(user)) for user in desks])

    assert not errors, errors
    called = [entry for entry in results if isinstance(entry, QueueEntry)]
    assert len(called) == 2 and called[0].pk != called[1].pk
    assert QueueEntry.objects.filter(status=QueueStatus.CALLED).count() == 2
    assert QueueEntry.objects.filter(status=QueueStatus.WAITING).count() == 1


def test_check_ins_at_once_get_consecutive_numbers(receptionist_a: User, unit_a: CareUnit) -> None:
    second = make_staff("receptionist_a2", Role.RECEPTIONIST, unit=unit_a)
    reception = [receptionist_a, second, receptionist_a]
    calls = [
        lambda user=user, identifier=identifier, name=name: walk_in_add(
            actor=actor_of(user), identifier=identifier, given_name=name, family_name="Testsson"
        )
        for user, (identifier, name) in zip(reception, PATIENTS, strict=True)
    ]

    _results, errors = at_once(calls)

    assert not errors, errors
    assert sorted(QueueEntry.objects.values_list("number", flat=True)) == [1, 2, 3]
