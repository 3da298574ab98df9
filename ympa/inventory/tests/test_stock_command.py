"""`ympa stock verify`: the cached balances against the ledger."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import translation

from conftest import actor_of
from ympa.authn.models import User
from ympa.inventory.models import Batch, StockBalance, StorageLocation, WastageReason
from ympa.inventory.services import wastage_record

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    with translation.override("en"):
        yield


def verify() -> str:
    out = io.StringIO()
    call_command("stock", "verify", stdout=out)
    return out.getvalue()


def test_an_empty_stock_verifies() -> None:
    assert verify() == "0 balances checked against 0 movements: they match the ledger.\n"


def test_balances_equal_to_the_ledger_verify(nurse_a: User, receive: Callable[..., Any]) -> None:
    receive(nurse_a, "AB1234", packages=5)
    receive(nurse_a, "CD5678", packages=5)
    wastage_record(
        actor=actor_of(nurse_a),
        batch=Batch.objects.get(batch_number="AB1234"),
        quantity=1,
        reason=WastageReason.BROKEN,
    )
    assert verify() == "2 balances checked against 3 movements: they match the ledger.\n"


def test_a_cached_balance_changed_behind_the_ledgers_back_is_found(
    nurse_a: User, receive: Callable[..., Any]
) -> None:
    unit = nurse_a.assignments.get().care_unit
    assert unit is not None
    fridge = StorageLocation.objects.create(care_unit=unit, name="Fridge 1")
    receive(nurse_a, "AB1234", packages=5)
    receive(nurse_a, "CD5678", packages=4, location=fridge)
    receive(nurse_a, "EF9012", packages=3)
    # As a stray script or a restored backup might: the cache no longer says what the ledger says.
    StockBalance.objects.filter(batch__batch_number="AB1234").update(quantity=7)
    StockBalance.objects.filter(batch__batch_number="CD5678").update(quantity=0)
    out = io.StringIO()
    with pytest.raises(CommandError) as error:
        call_command("stock", "verify", stdout=out)
    assert str(error.value) == "2 cached balances differ from the ledger."
    assert error.value.returncode == 1
    assert out.getvalue().splitlines() == [
        f"Clinic A ({unit.hsa_id}), batch VaxigripTetra AB1234, location -: cached 7, ledger 5.",
        f"Clinic A ({unit.hsa_id}), batch VaxigripTetra CD5678, location Fridge 1: cached 0, ledger 4.",
    ]


def test_a_cached_balance_without_movements_is_found(nurse_a: User, receive: Callable[..., Any]) -> None:
    receive(nurse_a, packages=5)
    balance = StockBalance.objects.get()
    StockBalance.objects.create(
        care_unit_id=balance.care_unit_id,
        batch=Batch.objects.create(product=balance.batch.product, batch_number="GHOST"),
        quantity=3,
    )
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("stock", "verify", stdout=out)
    assert "GHOST, location -: cached 3, ledger 0." in out.getvalue()
