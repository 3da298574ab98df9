"""Properties of the stock ledger under any sequence of stock work, checked against a model of its own.

A state machine receives deliveries, signs doses through the journal (at two units, of a single-dose and a
multi-dose batch, some first saved as drafts), corrects their batch, nullifies them, wastes, transfers
between the two units of provider A, counts, opens vials, lets time pass and expires vials. The model adds
up every unit's balance of every batch in its own way (receipts - doses + returns - wastage ± transfers ±
adjustments) and follows each opened vial. After every step:

- the ledger's sum per unit and batch equals the model's balance;
- the cached balances equal the ledger (`stock_verify() == []`);
- no movement row was changed or deleted;
- every vial holds what the model says, never gave more doses than it had, and the leftover of a closed
  vial was wasted exactly once.

Each example runs in a savepoint that is rolled back, so examples share the personas and nothing else.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.db import transaction
from django.db.models import Count, F, Q, Sum
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)

from conftest import actor_of
from ympa.authn.models import User
from ympa.catalog.models import Product
from ympa.core.actor import Actor
from ympa.core.errors import ConflictError
from ympa.inventory.models import (
    Batch,
    Movement,
    MovementKind,
    StockCount,
    StockFlag,
    Transfer,
    Vial,
    WastageReason,
)
from ympa.inventory.selectors import stock_verify
from ympa.inventory.services import (
    ReceiptLine,
    delivery_receive,
    stock_count_close,
    stock_count_line_record,
    stock_count_start,
    transfer_receive,
    transfer_send,
    vial_open,
    vials_expire,
    wastage_record,
)
from ympa.journal.models import Vaccination
from ympa.journal.services import (
    Administration,
    vaccination_correct,
    vaccination_nullify,
    vaccination_record,
    vaccination_sign,
)
from ympa.orgs.models import CareUnit
from ympa.patients.models import Patient

pytestmark = pytest.mark.django_db

# A dose's decision support may find it too soon after the last one; it was given, so it is signed anyway.
OVERRIDE = "Property test: the dose was given"


@dataclass(frozen=True)
class Spec:
    """The facts a delivery of a batch states."""

    doses_per_package: int
    doses_per_vial: int
    in_use_hours: int | None


SPECS = {"SD1": Spec(1, 1, None), "MD1": Spec(10, 5, 3)}
BATCHES = st.sampled_from(sorted(SPECS))
UNITS = st.sampled_from(["A", "A2"])


@dataclass
class World:
    """The personas the machine works with, made once per test by the fixtures."""

    users: dict[str, User]
    units: dict[str, CareUnit]
    patient: Patient
    product: Product
    administration: Callable[..., Administration]

    actors: dict[str, Actor] = field(default_factory=dict)

    def actor(self, unit: str) -> Actor:
        if unit not in self.actors:
            self.actors[unit] = actor_of(self.users[unit])
        return self.actors[unit]


@contextmanager
def rolled_back() -> Iterator[None]:
    """A savepoint for one example, rolled back however the example ends."""
    with transaction.atomic():
        try:
            yield
        finally:
            transaction.set_rollback(True)


@dataclass(eq=False)
class ModelVial:
    left: int
    use_before: datetime
    closed: bool = False
    # Leftover doses wasted when it was closed (0 when it ran out).
    wasted_on_close: int = 0


@dataclass(eq=False)
class ModelDose:
    vaccination: Vaccination
    unit: str
    batch: str
    vial: ModelVial | None


@dataclass(eq=False)
class ModelTransfer:
    transfer: Transfer
    to_unit: str
    batch: str
    quantity: int


class LedgerMachine(RuleBasedStateMachine):
    doses = Bundle("doses")
    transfers = Bundle("transfers")

    def __init__(self, world: World) -> None:
        super().__init__()
        self.world = world
        self.now = timezone.now()
        self.expiry: date = timezone.localdate() + timedelta(days=200)
        self.clock = time_machine.travel(self.now, tick=False)
        self.coordinates = self.clock.start()
        self.savepoint = rolled_back()
        self.savepoint.__enter__()
        self.balance: Counter[tuple[str, str]] = Counter()
        self.vials: dict[tuple[str, str], list[ModelVial]] = defaultdict(list)
        # Batches a delivery has stated the facts of, and batches that exist at all (a dose names it first).
        self.received: set[str] = set()
        self.seen: set[str] = set()
        # Open counts: the count and, per batch, (counted, the balance when counted).
        self.counts: dict[str, tuple[StockCount, dict[str, tuple[int, int]]]] = {}
        self.snapshot: dict[int, dict[str, Any]] = {}

    def teardown(self) -> None:
        try:
            self.savepoint.__exit__(None, None, None)
        finally:
            self.clock.stop()

    # --- the model -----------------------------------------------------------------------------------------

    def multi_dose(self, batch: str) -> bool:
        # A batch first seen in a dose is single-dose until a delivery states its vial size.
        return batch in self.received and SPECS[batch].doses_per_vial > 1

    def book(self, unit: str, batch: str) -> ModelVial | None:
        """A dose leaves the unit's stock; from the oldest usable open vial of a multi-dose batch."""
        self.seen.add(batch)
        self.balance[unit, batch] -= 1
        if not self.multi_dose(batch):
            return None
        chosen: ModelVial | None = None
        for vial in self.vials[unit, batch]:
            if vial.closed:
                continue
            if vial.use_before <= self.now or vial.left <= 0:
                self.close(unit, batch, vial)
                continue
            chosen = vial
            break
        if chosen is None:
            chosen = self.open(unit, batch)
        chosen.left -= 1
        if chosen.left <= 0:
            chosen.closed = True
        return chosen

    def open(self, unit: str, batch: str) -> ModelVial:
        spec = SPECS[batch]
        assert spec.in_use_hours is not None
        vial = ModelVial(left=spec.doses_per_vial, use_before=self.now + timedelta(hours=spec.in_use_hours))
        self.vials[unit, batch].append(vial)
        return vial

    def close(self, unit: str, batch: str, vial: ModelVial) -> None:
        vial.wasted_on_close = max(vial.left, 0)
        self.balance[unit, batch] -= vial.wasted_on_close
        vial.left -= vial.wasted_on_close
        vial.closed = True

    def give_back(self, dose: ModelDose) -> None:
        """The dose returns to its batch; to its vial if that is still in use, else wasted with it."""
        self.balance[dose.unit, dose.batch] += 1
        vial = dose.vial
        if vial is None:
            return
        if vial.closed or vial.use_before <= self.now:
            self.balance[dose.unit, dose.batch] -= 1
        else:
            vial.left += 1

    # --- helpers -------------------------------------------------------------------------------------------

    def batch(self, number: str) -> Batch:
        return Batch.objects.get(product=self.world.product, batch_number=number)

    def unit_name(self, unit_id: int) -> str:
        return next(name for name, unit in self.world.units.items() if unit.pk == unit_id)

    def dose_data(self, batch: str, **changes: Any) -> Administration:
        return self.world.administration(batch_number=batch, override_reason=OVERRIDE, **changes)

    # --- rules ---------------------------------------------------------------------------------------------

    def deliver(self, unit: str, batch: str, packages: int) -> None:
        spec = SPECS[batch]
        delivery_receive(
            actor=self.world.actor(unit),
            supplier="Apoteket",
            lines=[
                ReceiptLine(
                    product=self.world.product,
                    batch_number=batch,
                    expiry=self.expiry,
                    packages=packages,
                    doses_per_package=spec.doses_per_package,
                    doses_per_vial=spec.doses_per_vial,
                    in_use_hours=spec.in_use_hours,
                )
            ],
        )
        self.received.add(batch)
        self.seen.add(batch)
        self.balance[unit, batch] += packages * spec.doses_per_package

    # Some stock to start from, or none of a batch: then its first dose registers it.
    @initialize(unit=UNITS, batches=st.sets(BATCHES))
    def first_delivery(self, unit: str, batches: set[str]) -> None:
        for batch in sorted(batches):
            self.deliver(unit, batch, 2)

    @rule(unit=UNITS, batch=BATCHES, packages=st.integers(1, 3))
    def receive(self, unit: str, batch: str, packages: int) -> None:
        self.deliver(unit, batch, packages)

    def give(self, unit: str, batch: str, n: int, as_draft: bool, lower_case: bool) -> Any:
        actor = self.world.actor(unit)
        given = []
        for _dose in range(n):
            data = self.dose_data(batch.lower() if lower_case else batch)
            if as_draft:
                before = Movement.objects.count()
                draft = vaccination_record(actor=actor, patient=self.world.patient, data=data)
                assert Movement.objects.count() == before, "a draft books nothing"
                vaccination = vaccination_sign(actor=actor, vaccination=draft)
            else:
                vaccination = vaccination_record(
                    actor=actor, patient=self.world.patient, data=data, sign=True
                )
            given.append(ModelDose(vaccination, unit, batch, self.book(unit, batch)))
        return multiple(*given)

    # Doses to correct and nullify from the start (the rule below adds more).
    @initialize(target=doses, unit=UNITS, batch=BATCHES, n=st.integers(1, 4))
    def first_doses(self, unit: str, batch: str, n: int) -> Any:
        return self.give(unit, batch, n, as_draft=False, lower_case=False)

    @rule(
        target=doses,
        unit=UNITS,
        batch=BATCHES,
        n=st.integers(1, 3),
        as_draft=st.booleans(),
        lower_case=st.booleans(),
    )
    def give_doses(self, unit: str, batch: str, n: int, as_draft: bool, lower_case: bool) -> Any:
        return self.give(unit, batch, n, as_draft, lower_case)

    @rule(dose=doses, by=UNITS)
    def correct_batch(self, dose: ModelDose, by: str) -> None:
        """The dose was from the other batch: it goes back to the old one and out of the new one, at the unit
        that gave it, whoever at the care provider corrects it."""
        other = next(number for number in SPECS if number != dose.batch)
        current = Vaccination.objects.select_related("current_version__product").get(pk=dose.vaccination.pk)
        assert current.current_version is not None
        data = replace(
            Administration.of_version(current.current_version), batch_number=other, override_reason=OVERRIDE
        )
        vaccination_correct(
            actor=self.world.actor(by), vaccination=dose.vaccination, data=data, reason="Read the wrong vial"
        )
        self.give_back(dose)
        dose.vial = self.book(dose.unit, other)
        dose.batch = other

    @rule(dose=consumes(doses), by=UNITS)
    def nullify(self, dose: ModelDose, by: str) -> None:
        vaccination_nullify(actor=self.world.actor(by), vaccination=dose.vaccination, reason="Wrong patient")
        self.give_back(dose)

    @precondition(lambda self: self.seen)
    @rule(
        data=st.data(),
        unit=UNITS,
        quantity=st.integers(1, 3),
        reason=st.sampled_from(
            [WastageReason.BROKEN, WastageReason.EXPIRED, WastageReason.COLD_CHAIN, WastageReason.OTHER]
        ),
    )
    def waste(self, data: st.DataObject, unit: str, quantity: int, reason: WastageReason) -> None:
        batch = data.draw(st.sampled_from(sorted(self.seen)), label="batch")
        wastage_record(
            actor=self.world.actor(unit),
            batch=self.batch(batch),
            quantity=quantity,
            reason=reason,
            note="Dropped on the floor" if reason == WastageReason.OTHER else "",
        )
        self.balance[unit, batch] -= quantity

    @precondition(lambda self: self.seen)
    @rule(target=transfers, data=st.data(), unit=UNITS, quantity=st.integers(1, 5))
    def send(self, data: st.DataObject, unit: str, quantity: int) -> ModelTransfer:
        batch = data.draw(st.sampled_from(sorted(self.seen)), label="batch")
        to_unit = "A2" if unit == "A" else "A"
        transfer = transfer_send(
            actor=self.world.actor(unit),
            batch=self.batch(batch),
            to_unit=self.world.units[to_unit],
            quantity=quantity,
        )
        self.balance[unit, batch] -= quantity
        return ModelTransfer(transfer, to_unit, batch, quantity)

    @rule(sent=consumes(transfers))
    def receive_transfer(self, sent: ModelTransfer) -> None:
        actor = self.world.actor(sent.to_unit)
        transfer_receive(actor=actor, transfer=sent.transfer)
        self.balance[sent.to_unit, sent.batch] += sent.quantity
        with pytest.raises(ConflictError):
            transfer_receive(actor=actor, transfer=sent.transfer)

    @rule(unit=UNITS)
    def count_start(self, unit: str) -> None:
        if unit in self.counts:
            with pytest.raises(ConflictError):
                stock_count_start(actor=self.world.actor(unit))
            return
        self.counts[unit] = (stock_count_start(actor=self.world.actor(unit)), {})

    @precondition(lambda self: self.counts and self.seen)
    @rule(data=st.data(), counted=st.integers(0, 25))
    def count_line(self, data: st.DataObject, counted: int) -> None:
        unit = data.draw(st.sampled_from(sorted(self.counts)), label="unit")
        batch = data.draw(st.sampled_from(sorted(self.seen)), label="batch")
        count, lines = self.counts[unit]
        line = stock_count_line_record(
            actor=self.world.actor(unit), stock_count=count, batch=self.batch(batch), counted=counted
        )
        assert line.expected == self.balance[unit, batch]
        lines[batch] = (counted, line.expected)

    @precondition(lambda self: self.counts)
    @rule(data=st.data())
    def count_close(self, data: st.DataObject) -> None:
        unit = data.draw(st.sampled_from(sorted(self.counts)), label="unit")
        count, lines = self.counts.pop(unit)
        stock_count_close(actor=self.world.actor(unit), stock_count=count)
        for batch, (counted, expected) in lines.items():
            self.balance[unit, batch] += counted - expected
        assert not StockFlag.objects.filter(
            care_unit=self.world.units[unit], batch__batch_number__in=list(lines), resolved_at__isnull=True
        ).exists(), "closing a count resolves the counted batches' flags"

    @precondition(lambda self: self.multi_dose("MD1"))
    @rule(unit=UNITS)
    def open_vial(self, unit: str) -> None:
        vial_open(actor=self.world.actor(unit), batch=self.batch("MD1"))
        self.open(unit, "MD1")

    # Vials are expired now and then, not after every hour: a dose may find an expired vial still open.
    @rule(hours=st.integers(1, 4), expire=st.booleans())
    def time_passes(self, hours: int, expire: bool) -> None:
        self.now += timedelta(hours=hours)
        self.coordinates.move_to(self.now)
        if not expire:
            return
        expired = 0
        for (unit, batch), vials in self.vials.items():
            for vial in vials:
                if not vial.closed and vial.use_before <= self.now:
                    self.close(unit, batch, vial)
                    expired += 1
        assert vials_expire() == expired
        assert vials_expire() == 0

    # --- invariants ----------------------------------------------------------------------------------------

    @invariant()
    def ledger_adds_up_as_the_model_does(self) -> None:
        ledger = {
            (self.unit_name(unit_id), batch): total
            for unit_id, batch, total in Movement.objects.values_list("care_unit_id", "batch__batch_number")
            .annotate(total=Sum("quantity"))
            .order_by()
        }
        for key in set(ledger) | set(self.balance):
            assert ledger.get(key, 0) == self.balance[key], key

    @invariant()
    def cache_equals_ledger(self) -> None:
        assert stock_verify() == []

    @invariant()
    def ledger_is_append_only(self) -> None:
        rows = {row["id"]: row for row in Movement.objects.values()}
        for pk, row in self.snapshot.items():
            assert rows.get(pk) == row, f"movement {pk} was changed or deleted"
        self.snapshot = rows

    @invariant()
    def vials_hold_what_the_model_says(self) -> None:
        vials = Vial.objects.annotate(
            used=Sum("movements__quantity"),
            drawn=Sum("movements__quantity", filter=Q(movements__kind__in=["administered", "returned"])),
            closing=Count("movements", filter=Q(movements__kind="wastage", movements__created_by=None)),
            wasted_on_close=Sum("movements__quantity", filter=Q(movements__created_by=None)),
        ).order_by("pk")
        found: dict[tuple[str, str], list[tuple[int, bool, int]]] = defaultdict(list)
        for vial in vials.select_related("batch"):
            left = vial.doses + (vial.used or 0)
            assert 0 <= left <= vial.doses, f"vial {vial.pk} holds {left} of {vial.doses}"
            assert -(vial.drawn or 0) <= vial.doses, f"vial {vial.pk} gave more doses than it had"
            assert vial.closing <= 1, f"vial {vial.pk}'s leftover was wasted {vial.closing} times"
            if vial.closed_at is not None:
                assert left == 0, f"closed vial {vial.pk} still holds {left}"
            found[self.unit_name(vial.care_unit_id), vial.batch.batch_number].append(
                (left, vial.closed_at is not None, -(vial.wasted_on_close or 0))
            )
        expected = {
            key: [(v.left, v.closed, v.wasted_on_close) for v in opened]
            for key, opened in self.vials.items()
            if opened
        }
        assert found == expected


@pytest.fixture
def world(
    nurse_a: User,
    nurse_a2: User,
    citizen: Patient,
    stocked: None,
    vaccine: Product,
    administration: Callable[..., Administration],
) -> World:
    return World(
        users={"A": nurse_a, "A2": nurse_a2},
        units={name: user.assignments.get().care_unit for name, user in (("A", nurse_a), ("A2", nurse_a2))},
        patient=citizen,
        product=vaccine,
        administration=administration,
    )


def test_the_ledger_adds_up_whatever_the_stock_work(world: World) -> None:
    run_state_machine_as_test(
        lambda: LedgerMachine(world),
        settings=settings(
            max_examples=40,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )


# --- multi-dose vials over time --------------------------------------------------------------------------


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    doses_per_vial=st.integers(2, 10),
    in_use_hours=st.integers(1, 12),
    # Doses given together, hours until the next round, and whether vials are expired then (if not, the next
    # dose finds an expired vial still open).
    rounds=st.lists(st.tuples(st.integers(0, 8), st.integers(0, 12), st.booleans()), min_size=1, max_size=4),
)
def test_a_vial_never_gives_more_than_it_holds_and_its_leftover_is_wasted_once(
    world: World, doses_per_vial: int, in_use_hours: int, rounds: list[tuple[int, int, bool]]
) -> None:
    start = timezone.now()
    with rolled_back(), time_machine.travel(start, tick=False) as clock:
        delivery_receive(
            actor=world.actor("A"),
            supplier="Apoteket",
            lines=[
                ReceiptLine(
                    product=world.product,
                    batch_number="MD7",
                    expiry=timezone.localdate() + timedelta(days=200),
                    packages=20,
                    doses_per_package=doses_per_vial,
                    doses_per_vial=doses_per_vial,
                    in_use_hours=in_use_hours,
                )
            ],
        )
        given_doses = 0
        for doses, hours, expire in rounds:
            for _dose in range(doses):
                vaccination_record(
                    actor=world.actor("A"),
                    patient=world.patient,
                    data=world.administration(batch_number="MD7", override_reason=OVERRIDE),
                    sign=True,
                )
            given_doses += doses
            clock.shift(timedelta(hours=hours))
            if expire:
                vials_expire()
                assert vials_expire() == 0
        # Past every in-use period: all vials are closed.
        clock.shift(timedelta(hours=in_use_hours))
        vials_expire()
        vials = list(
            Vial.objects.annotate(
                given=Count("movements", filter=Q(movements__kind="administered")),
                wasted=Sum("movements__quantity", filter=Q(movements__kind="wastage")),
                wastings=Count("movements", filter=Q(movements__kind="wastage")),
            )
        )
        assert all(vial.closed_at is not None for vial in vials)
        for vial in vials:
            assert 1 <= vial.given <= doses_per_vial
            # The leftover of a vial that did not run out is wasted, exactly once, and nothing else is.
            assert (vial.wastings, -(vial.wasted or 0)) == (
                (1, doses_per_vial - vial.given) if vial.given < doses_per_vial else (0, 0)
            )
        assert sum(vial.given for vial in vials) == given_doses
        # No dose came from a vial past its in-use period.
        assert not Movement.objects.filter(
            kind="administered", vial__use_before__lte=F("created_at")
        ).exists()
        wasted = sum(-(vial.wasted or 0) for vial in vials)
        batch = Batch.objects.get(batch_number="MD7")
        total = Movement.objects.filter(batch=batch).aggregate(total=Sum("quantity"))["total"]
        assert total == 20 * doses_per_vial - given_doses - wasted
        assert (
            not Movement.objects.filter(batch=batch)
            .exclude(kind__in=[MovementKind.RECEIPT, MovementKind.ADMINISTERED, MovementKind.WASTAGE])
            .exists()
        )
        assert stock_verify() == []
