"""Doses and stock: signing books a dose out, nullifying gives it back, a batch correction moves it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.db import IntegrityError, transaction
from django.utils import timezone

from conftest import actor_of
from ympa.authn.models import User
from ympa.inventory.models import (
    FlagKind,
    Movement,
    MovementKind,
    StockBalance,
    StockFlag,
    Vial,
    WastageReason,
)
from ympa.inventory.selectors import ledger_balances, stock_verify
from ympa.inventory.services import vials_expire
from ympa.journal.services import (
    Administration,
    vaccination_correct,
    vaccination_nullify,
    vaccination_record,
    vaccination_sign,
)
from ympa.patients.models import Patient

pytestmark = pytest.mark.django_db


def balance(unit_id: int, batch_number: str = "AB1234") -> int:
    return sum(
        StockBalance.objects.filter(care_unit_id=unit_id, batch__batch_number=batch_number).values_list(
            "quantity", flat=True
        )
    )


def test_signing_books_one_dose_out_and_nullifying_gives_it_back(
    nurse_a: User,
    citizen: Patient,
    receive: Callable[..., Any],
    administration: Callable[..., Administration],
) -> None:
    receive(nurse_a, packages=10)
    unit_id = nurse_a.assignments.get().care_unit_id
    vaccination = vaccination_record(
        actor=actor_of(nurse_a), patient=citizen, data=administration(), sign=True
    )
    assert balance(unit_id) == 9
    dose = Movement.objects.get(vaccination=vaccination)
    assert dose.kind == MovementKind.ADMINISTERED and dose.quantity == -1
    vaccination_nullify(actor=actor_of(nurse_a), vaccination=vaccination, reason="Wrong patient")
    assert balance(unit_id) == 10
    assert [m.kind for m in Movement.objects.filter(vaccination=vaccination)] == ["administered", "returned"]
    assert stock_verify() == []


def test_a_draft_books_nothing_until_it_is_signed(
    nurse_a: User,
    citizen: Patient,
    receive: Callable[..., Any],
    administration: Callable[..., Administration],
) -> None:
    receive(nurse_a, packages=3)
    unit_id = nurse_a.assignments.get().care_unit_id
    draft = vaccination_record(actor=actor_of(nurse_a), patient=citizen, data=administration())
    assert balance(unit_id) == 3
    vaccination_sign(actor=actor_of(nurse_a), vaccination=draft)
    assert balance(unit_id) == 2
    # Nullifying a draft that was never signed gives nothing back.
    other = vaccination_record(actor=actor_of(nurse_a), patient=citizen, data=administration(dose_number=2))
    vaccination_nullify(actor=actor_of(nurse_a), vaccination=other, reason="Not given")
    assert balance(unit_id) == 2


def test_correcting_the_batch_moves_the_dose_between_batches(
    nurse_a: User,
    citizen: Patient,
    receive: Callable[..., Any],
    administration: Callable[..., Administration],
) -> None:
    receive(nurse_a, "AB1234", packages=5)
    receive(nurse_a, "CD5678", packages=5)
    unit_id = nurse_a.assignments.get().care_unit_id
    vaccination = vaccination_record(
        actor=actor_of(nurse_a), patient=citizen, data=administration(), sign=True
    )
    vaccination_correct(
        actor=actor_of(nurse_a),
        vaccination=vaccination,
        data=administration(batch_number="cd5678"),
        reason="Read the wrong vial",
    )
    assert (balance(unit_id, "AB1234"), balance(unit_id, "CD5678")) == (5, 4)
    # A correction of something else leaves the stock alone.
    vaccination_correct(
        actor=actor_of(nurse_a),
        vaccination=vaccination,
        data=administration(batch_number="CD5678", site="right_deltoid"),
        reason="Other arm",
    )
    assert (balance(unit_id, "AB1234"), balance(unit_id, "CD5678")) == (5, 4)
    assert stock_verify() == []


def test_stock_never_blocks_a_dose_it_is_flagged(
    nurse_a: User,
    citizen: Patient,
    receive: Callable[..., Any],
    administration: Callable[..., Administration],
) -> None:
    receive(nurse_a, packages=1)
    unit_id = nurse_a.assignments.get().care_unit_id
    vaccination_record(actor=actor_of(nurse_a), patient=citizen, data=administration(), sign=True)
    vaccination_record(
        actor=actor_of(nurse_a), patient=citizen, data=administration(dose_number=2), sign=True
    )
    assert balance(unit_id) == -1
    assert (
        StockFlag.objects.filter(care_unit_id=unit_id, kind=FlagKind.NEGATIVE, resolved_at=None).count() == 1
    )
    # A batch nobody received: the dose is recorded all the same, and flagged.
    vaccination_record(
        actor=actor_of(nurse_a),
        patient=citizen,
        data=administration(batch_number="ZZ999", dose_number=3),
        sign=True,
    )
    assert balance(unit_id, "ZZ999") == -1
    assert set(StockFlag.objects.filter(batch__batch_number="ZZ999").values_list("kind", flat=True)) == {
        FlagKind.NEGATIVE,
        FlagKind.UNKNOWN_BATCH,
    }


def test_a_provider_without_the_inventory_module_books_nothing(
    nurse_a: User, citizen: Patient, standing_orders: None, administration: Callable[..., Administration]
) -> None:
    vaccination_record(actor=actor_of(nurse_a), patient=citizen, data=administration(), sign=True)
    assert not Movement.objects.exists()


def test_multi_dose_vial_runs_out_and_its_leftover_is_wasted(
    nurse_a: User,
    citizen: Patient,
    receive: Callable[..., Any],
    administration: Callable[..., Administration],
) -> None:
    receive(nurse_a, packages=2, doses_per_package=10, doses_per_vial=10, in_use_hours=6)
    unit_id = nurse_a.assignments.get().care_unit_id
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        for n in range(3):
            vaccination_record(
                actor=actor_of(nurse_a), patient=citizen, data=administration(dose_number=n + 1), sign=True
            )
    vial = Vial.objects.get()
    assert vial.closed_at is None
    assert balance(unit_id) == 17
    with time_machine.travel(start + timedelta(hours=7), tick=False):
        assert vials_expire() == 1
        assert vials_expire() == 0
    vial.refresh_from_db()
    assert vial.closed_at is not None
    wasted = Movement.objects.get(kind=MovementKind.WASTAGE)
    assert (wasted.quantity, wasted.wastage_reason, wasted.vial_id) == (
        -7,
        WastageReason.OPENED_VIAL,
        vial.pk,
    )
    assert balance(unit_id) == 10
    assert ledger_balances(unit=vial.care_unit) == {(vial.batch_id, 0): 10}


def test_the_ledger_refuses_changes(nurse_a: User, receive: Callable[..., Any]) -> None:
    receive(nurse_a, packages=1)
    movement = Movement.objects.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        Movement.objects.filter(pk=movement.pk).update(quantity=100)
    movement.refresh_from_db()
    assert movement.quantity == 1
