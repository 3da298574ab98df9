"""The written-out statements' instances are the ORM's: same fields, same Python types, on both databases."""

from __future__ import annotations

import time
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from ympa.authn.models import User
from ympa.catalog.models import Product
from ympa.core import rows
from ympa.core.microcache import MicroCache
from ympa.orgs.models import CareProvider, CareUnit, Municipality, Region
from ympa.patients.models import Patient


def _fields(instance: Any) -> dict[str, Any]:
    return {field.attname: getattr(instance, field.attname) for field in instance._meta.concrete_fields}


def test_get_builds_the_same_instance_as_the_orm(citizen: Patient) -> None:
    found = rows.get(rows.Columns(Patient, "p"), citizen.pk)
    assert isinstance(found, Patient)
    assert _fields(found) == _fields(Patient.objects.get(pk=citizen.pk))
    assert not found._state.adding and found._state.db == connection.alias
    assert rows.get(rows.Columns(Patient, "p"), "00000000-0000-0000-0000-000000000000") is None


@pytest.mark.django_db
def test_get_by_converts_json_decimal_and_defers_what_it_leaves_out() -> None:
    product = Product.objects.exclude(dose_volumes_ml=[]).first()
    assert product is not None
    columns = rows.Columns(Product, "p", defer=("sources",))
    found = rows.get_by(columns, "code", product.code)
    assert isinstance(found, Product)
    assert found.dose_volumes_ml == product.dose_volumes_ml
    assert all(isinstance(v, (int, float, str, Decimal)) for v in found.dose_volumes_ml)
    assert "sources" in found.get_deferred_fields()
    # A deferred field still loads on access, as with .defer().
    assert found.sources == product.sources
    assert rows.get_by(columns, "code", "no-such-product") is None


def test_split_gives_none_for_a_part_that_a_left_join_did_not_find(provider_a: CareProvider) -> None:
    unit = CareUnit.objects.create(
        hsa_id="SE5599000019-R001",
        name="Rows clinic",
        care_provider=provider_a,
        municipality=Municipality.objects.get(code="0180"),
    )
    parts = (rows.Columns(CareUnit, "u"), rows.Columns(Region, "r"))
    sql = (
        f"SELECT {parts[0].select()}, {parts[1].select()} FROM orgs_careunit u "  # noqa: S608
        "LEFT JOIN orgs_region r ON r.id = -1 WHERE u.id = %s"
    )
    [(found_unit, region)] = rows.fetch_all(sql, [unit.pk], parts)
    assert isinstance(found_unit, CareUnit) and _fields(found_unit) == _fields(unit)
    assert region is None


def test_insert_is_save_with_force_insert(nurse_a: User, citizen: Patient) -> None:
    region = Region(code="98", county_name="Testlän", name="Region Test")
    rows.insert(region)
    assert region.pk is not None and not region._state.adding
    assert _fields(Region.objects.get(pk=region.pk)) == _fields(region)
    # A client-side primary key is kept; defaults and timezone-aware datetimes are stored as the ORM would.
    from ympa.journal.models import Order, OrderBasis

    order = Order(
        patient=citizen,
        care_unit=nurse_a.assignments.get().care_unit,
        product=Product.objects.get(code="vaxigriptetra"),
        basis=OrderBasis.INDIVIDUAL,
        prescriber=nurse_a,
        dose_number=1,
        created_by=nurse_a,
    )
    given = order.pk
    rows.insert(order)
    stored = Order.objects.get(pk=given)
    assert _fields(stored) == _fields(order)
    assert isinstance(stored.ordered_at, datetime) and timezone.is_aware(stored.ordered_at)


def test_the_microcache_keeps_a_value_for_its_seconds_and_shares_it_as_it_is() -> None:
    memory = MicroCache()
    calls: list[int] = []

    def compute() -> tuple[int, ...]:
        calls.append(1)
        return (len(calls),)

    first = memory.get_or_compute("k", 0.2, compute)
    assert memory.get_or_compute("k", 0.2, compute) is first and len(calls) == 1
    assert memory.get_or_compute("k", 0, compute) == (2,)
    time.sleep(0.25)
    assert memory.get_or_compute("k", 0.2, compute) == (3,)
    memory.clear()
    assert memory.get_or_compute("k", 0.2, compute) == (4,)
