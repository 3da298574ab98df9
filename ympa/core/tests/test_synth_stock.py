"""`ympa synth --movements`: a stock ledger that looks as the services would have left it, and cached
balances equal to it."""

from __future__ import annotations

import io
import json
from collections import Counter

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Count, Max, Min

from ympa.core import synth
from ympa.core.synth import synth_fill
from ympa.core.synth_stock import CURRENT_DOSES, StockStats, synth_stock
from ympa.inventory.models import (
    Batch,
    Delivery,
    Movement,
    MovementKind,
    StockBalance,
    StockCount,
    StockCountLine,
    StockFlag,
    Transfer,
    TransferStatus,
)
from ympa.inventory.selectors import stock_verify, unit_balances
from ympa.inventory.services import uses_inventory
from ympa.journal.models import Vaccination
from ympa.orgs.models import CareProvider, CareUnit

pytestmark = pytest.mark.django_db

MOVEMENTS = 600


def fill(movements: int = MOVEMENTS) -> StockStats:
    stats = synth_stock(movements=movements, seed=1, progress=None)
    # Foreign keys are deferred and the test's transaction is rolled back: check them explicitly.
    connection.check_constraints()
    return stats


@pytest.fixture
def doses() -> None:
    synth_fill(patients=60, vaccinations=400, seed=1, progress=None, chunk_patients=20)


def test_movements_are_booked_as_the_services_would_and_the_cache_equals_the_ledger(doses: None) -> None:
    stats = fill()
    assert Movement.objects.count() == stats.movements == MOVEMENTS
    assert stock_verify() == []
    assert not StockBalance.objects.filter(quantity__lt=0).exists()
    assert not StockFlag.objects.exists()
    kinds = Counter(Movement.objects.values_list("kind", flat=True))
    assert set(kinds) == set(MovementKind) - {MovementKind.RETURNED}
    assert kinds == stats.kinds
    assert kinds[MovementKind.TRANSFER_OUT] == kinds[MovementKind.TRANSFER_IN] == stats.transfers
    units = list(CareUnit.objects.filter(pk__in=stats.unit_ids).select_related("care_provider"))
    assert len(units) == 6 and all(uses_inventory(unit) for unit in units)

    # Each administered movement is its signed dose: unit, batch, when given and signed, by whom.
    administered = Movement.objects.filter(kind=MovementKind.ADMINISTERED).select_related(
        "batch", "vaccination__current_version"
    )
    assert administered.count() == stats.doses_booked > 0
    for movement in administered:
        assert movement.vaccination is not None
        version = movement.vaccination.current_version
        assert version is not None and movement.quantity == -1
        assert movement.care_unit_id == movement.vaccination.care_unit_id
        assert (movement.batch.product_id, movement.batch.batch_number) == (
            version.product_id,
            version.batch_number,
        )
        assert movement.occurred_at == version.administered_at
        assert (movement.created_at, movement.created_by_id) == (version.signed_at, version.signed_by_id)
        assert not movement.batch.registered_from_dose
    # The newest doses were booked.
    booked = Vaccination.objects.filter(stock_movements__isnull=False)
    oldest_booked = booked.aggregate(at=Min("current_version__administered_at"))["at"]
    newest_unbooked = Vaccination.objects.exclude(pk__in=booked.values("pk")).aggregate(
        at=Max("current_version__administered_at")
    )["at"]
    assert newest_unbooked is None or newest_unbooked <= oldest_booked

    # Booking order: ids follow the time booked; a unit receives a batch before anything else happens to it.
    booked_at = list(Movement.objects.order_by("id").values_list("created_at", flat=True))
    assert booked_at == sorted(booked_at)
    receipts = Movement.objects.filter(kind=MovementKind.RECEIPT).select_related("delivery")
    for receipt in receipts:
        assert receipt.delivery is not None and receipt.delivery.care_unit_id == receipt.care_unit_id
        assert receipt.delivery.received_at == receipt.occurred_at and receipt.quantity > 0
        earlier = Movement.objects.filter(
            care_unit=receipt.care_unit_id, batch=receipt.batch_id, id__lt=receipt.pk
        )
        assert not earlier.exclude(kind=MovementKind.TRANSFER_IN).exists()
    assert Delivery.objects.count() == stats.deliveries
    assert not receipts.values("care_unit", "batch").annotate(n=Count("id")).filter(n__gt=1).exists()

    # Transfers: received at another unit of the provider, after they were sent.
    for transfer in Transfer.objects.prefetch_related("movements"):
        assert transfer.status == TransferStatus.RECEIVED and transfer.received_at is not None
        assert transfer.sent_at < transfer.received_at and transfer.from_unit_id != transfer.to_unit_id
        sides = {m.kind: m for m in transfer.movements.all()}
        assert sides[MovementKind.TRANSFER_OUT].quantity == -transfer.quantity
        assert sides[MovementKind.TRANSFER_IN].quantity == transfer.quantity
        assert sides[MovementKind.TRANSFER_IN].care_unit_id == transfer.to_unit_id

    # Counts: closed, and each adjustment is the difference a line recorded.
    assert not StockCount.objects.exclude(status="closed").exists()
    lines = StockCountLine.objects.all()
    assert lines.count() == kinds[MovementKind.ADJUSTMENT]
    for line in lines:
        adjustment = Movement.objects.get(stock_count=line.stock_count, batch=line.batch)
        assert adjustment.kind == MovementKind.ADJUSTMENT and adjustment.occurred_at == line.counted_at
        assert line.counted - line.expected == adjustment.quantity and line.expected >= 0

    # The doses `make bench` records come from influenza batches every unit has just received.
    assert len(stats.current_batches) == 3
    for unit in units:
        shelf = {row.batch.batch_number: row.quantity for row in unit_balances(unit=unit)}
        for number in stats.current_batches:
            assert shelf[number] > CURRENT_DOSES // 2
    assert stats.busiest_unit in stats.unit_ids
    assert stats.busiest_unit_movements == Movement.objects.filter(care_unit=stats.busiest_unit).count()


def test_a_second_run_books_more_without_booking_a_dose_twice(doses: None) -> None:
    fill(300)
    batches = Batch.objects.count()
    fill(300)
    assert Movement.objects.count() == 600
    assert stock_verify() == []
    twice = (
        Movement.objects.filter(kind=MovementKind.ADMINISTERED).values("vaccination").annotate(n=Count("id"))
    )
    assert not twice.filter(n__gt=1).exists()
    # The current batches are the same batches, received again.
    assert Batch.objects.count() > batches
    assert (
        Batch.objects.values("product", "batch_number").annotate(n=Count("id")).filter(n__gt=1).count() == 0
    )


def test_without_enough_doses_other_movements_make_up_the_number() -> None:
    synth_fill(patients=5, vaccinations=10, seed=2, progress=None)
    stats = fill(200)
    assert stats.movements == Movement.objects.count() == 200
    assert stats.doses_booked == 10
    assert stock_verify() == []


def test_the_command_reports_the_stock() -> None:
    out = io.StringIO()
    call_command(
        "synth",
        patients=20,
        vaccinations=100,
        movements=150,
        seed=3,
        json=True,
        stdout=out,
        stderr=io.StringIO(),
    )
    summary = json.loads(out.getvalue())
    assert summary["stock"]["movements"] == 150
    assert summary["stock"]["dose_batches"]["product"] == "vaxigriptetra"
    provider = CareProvider.objects.get(pk=summary["stock"]["provider_id"])
    assert "inventory" in provider.modules


def test_too_few_movements_for_the_current_deliveries_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 18"):
        synth_stock(movements=5, progress=None)
    with pytest.raises(ValueError):
        synth_stock(movements=-1, progress=None)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's two ways of checking")
def test_postgres_books_with_the_per_row_checks_when_it_cannot_skip_them(
    doses: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(synth._PostgresWriter, "allow_set_based_checks", False)
    assert fill(300).movements == 300
    assert stock_verify() == []
