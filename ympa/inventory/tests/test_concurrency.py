"""Two nurses book from the same stock at the same moment, each through their own database connection.

Stock never stops a dose: both are recorded whatever the balance, the balance goes below zero once and is
flagged once, and a multi-dose vial never gives more doses than it holds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db.models import Sum

from conftest import POSTGRES_RACE, actor_of, at_once, make_staff
from ympa.access.models import Action, AuditEvent
from ympa.authn.models import User
from ympa.catalog.models import Product
from ympa.core.actor import Actor
from ympa.inventory.models import Delivery, FlagKind, Movement, MovementKind, StockBalance, StockFlag, Vial
from ympa.inventory.selectors import stock_verify
from ympa.inventory.services import ReceiptLine, delivery_receive
from ympa.inventory.tests.conftest import days_from_today
from ympa.journal.models import EntryStatus, Order, Vaccination
from ympa.journal.services import Administration, vaccination_record
from ympa.orgs.models import CareUnit
from ympa.orgs.rights import Role
from ympa.patients.models import Patient
from ympa.patients.services import PatientDetails, patient_register

pytestmark = [
    *POSTGRES_RACE,
]

# Decision support may find a repeated dose too soon; it was given, so it is signed with a reason.
OVERRIDE = "Concurrency test: the dose was given"


@pytest.fixture
def second_nurse(unit_a: CareUnit) -> User:
    return make_staff("nurse_a3", Role.NURSE, unit=unit_a)


@pytest.fixture
def other_patient(nurse_a: User) -> Patient:
    # Two patients, so that the two doses do not queue behind each other on one patient's visit row.
    return patient_register(
        actor=actor_of(nurse_a),
        identifier="19800101-0019",
        details=PatientDetails(given_name="Test", family_name="Testsson"),
    )


def signed(actor: Actor, patient: Patient, data: Administration) -> Callable[[], object]:
    return lambda: vaccination_record(actor=actor, patient=patient, data=data, sign=True)


def balance(unit: CareUnit) -> int:
    return StockBalance.objects.filter(care_unit=unit).aggregate(total=Sum("quantity"))["total"]


def test_two_nurses_sign_the_last_dose_at_once_both_are_recorded_and_flagged_once(
    nurse_a: User,
    second_nurse: User,
    unit_a: CareUnit,
    citizen: Patient,
    other_patient: Patient,
    receive: Callable[..., Any],
    administration: Callable[..., Administration],
) -> None:
    receive(nurse_a, packages=1)
    _results, errors = at_once(
        [
            signed(actor_of(nurse_a), citizen, administration()),
            signed(actor_of(second_nurse), other_patient, administration()),
        ]
    )
    assert not errors
    assert Vaccination.objects.filter(status=EntryStatus.SIGNED).count() == 2
    assert balance(unit_a) == -1
    assert Movement.objects.filter(kind=MovementKind.ADMINISTERED).count() == 2
    assert StockFlag.objects.filter(care_unit=unit_a, kind=FlagKind.NEGATIVE).count() == 1
    assert StockFlag.objects.filter(care_unit=unit_a, kind=FlagKind.NEGATIVE, resolved_at=None).count() == 1
    assert stock_verify() == []


def test_two_doses_from_a_vial_with_one_left_open_a_new_vial_for_one_of_them(
    nurse_a: User,
    second_nurse: User,
    unit_a: CareUnit,
    citizen: Patient,
    other_patient: Patient,
    receive: Callable[..., Any],
    administration: Callable[..., Administration],
) -> None:
    receive(nurse_a, packages=2, doses_per_package=5, doses_per_vial=5, in_use_hours=6)
    for _dose in range(4):
        vaccination_record(
            actor=actor_of(nurse_a), patient=citizen, data=administration(override_reason=OVERRIDE), sign=True
        )
    first = Vial.objects.get()
    assert first.closed_at is None
    _results, errors = at_once(
        [
            signed(actor_of(nurse_a), citizen, administration(override_reason=OVERRIDE)),
            signed(actor_of(second_nurse), other_patient, administration(override_reason=OVERRIDE)),
        ]
    )
    assert not errors
    assert Vaccination.objects.filter(status=EntryStatus.SIGNED).count() == 6
    given = Movement.objects.filter(kind=MovementKind.ADMINISTERED)
    assert given.count() == 6
    first_vial, second_vial = Vial.objects.order_by("pk")
    assert first_vial == first
    # The first vial gave its five doses and no more, and is closed; the other dose opened the second.
    assert given.filter(vial=first_vial).count() == 5
    assert given.filter(vial=second_vial).count() == 1
    assert first_vial.closed_at is not None and second_vial.closed_at is None
    # No dose was lost: nothing was wasted, and the stock is what was received less what was given.
    assert not Movement.objects.filter(kind=MovementKind.WASTAGE).exists()
    assert balance(unit_a) == 10 - 6
    assert stock_verify() == []


def test_a_double_submitted_delivery_is_received_once(
    nurse_a: User, unit_a: CareUnit, stocked: None, vaccine: Product
) -> None:
    """The receipt form sent twice at once (a double click, two app servers): one delivery, no error."""
    line = ReceiptLine(product=vaccine, batch_number="AB1234", expiry=days_from_today(200), packages=3)

    def submit() -> Delivery:
        return delivery_receive(
            actor=actor_of(nurse_a), supplier="Apoteket", lines=[line], idempotency_key="form-1"
        )

    deliveries, errors = at_once([submit, submit])
    assert not errors and len(deliveries) == 2
    assert len({delivery.pk for delivery in deliveries if isinstance(delivery, Delivery)}) == 1
    assert Delivery.objects.count() == 1
    assert balance(unit_a) == 3
    assert stock_verify() == []


def test_a_dose_submitted_twice_at_once_is_recorded_once(
    nurse_a: User,
    citizen: Patient,
    receive: Callable[..., Any],
    administration: Callable[..., Administration],
) -> None:
    """A double submit whose two requests race: the second fails on the idempotency constraint, its whole
    attempt (order, visit, log rows, stock) rolls back, and it answers with the first one's record."""
    receive(nurse_a, packages=1)
    data = administration(override_reason=OVERRIDE)

    def submit() -> object:
        return vaccination_record(
            actor=actor_of(nurse_a), patient=citizen, data=data, idempotency_key="twice", sign=True
        )

    results, errors = at_once([submit, submit])
    assert not errors
    assert len({getattr(r, "pk", None) for r in results}) == 1
    assert Vaccination.objects.count() == 1
    vaccination = Vaccination.objects.get()
    assert Movement.objects.filter(kind=MovementKind.ADMINISTERED).count() == 1
    assert Order.objects.filter(patient=citizen).count() == 1
    logged = AuditEvent.objects.filter(object_id=str(vaccination.pk)).values_list("action", flat=True)
    assert sorted(logged) == sorted([Action.CREATE, Action.SIGN])
    assert stock_verify() == []
