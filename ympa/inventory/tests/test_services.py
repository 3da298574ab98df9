"""The stock administrator's services: deliveries, wastage, transfers, counts, flags, vials, orders, rights.

Every refused action is also checked not to have happened.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone, translation

from conftest import actor_of
from ympa.authn.models import User
from ympa.catalog.models import Product
from ympa.core.errors import ConflictError, NotPermitted
from ympa.inventory.models import (
    Batch,
    Delivery,
    FlagKind,
    Movement,
    MovementKind,
    PurchaseOrder,
    PurchaseOrderStatus,
    ReorderLevel,
    StockBalance,
    StockCount,
    StockCountStatus,
    StockFlag,
    StorageLocation,
    Transfer,
    TransferStatus,
    Vial,
    WastageReason,
)
from ympa.inventory.selectors import stock_verify, to_order
from ympa.inventory.services import (
    ReceiptLine,
    delivery_receive,
    purchase_order_cancel,
    purchase_order_create,
    purchase_order_send,
    reorder_level_set,
    stock_count_close,
    stock_count_line_record,
    stock_count_start,
    stock_flag_resolve,
    storage_location_create,
    transfer_receive,
    transfer_send,
    vial_open,
    wastage_record,
)
from ympa.inventory.tests.conftest import days_from_today
from ympa.journal.services import Administration, vaccination_record
from ympa.orgs.models import CareUnit
from ympa.patients.models import Patient

pytestmark = pytest.mark.django_db

Receive = Callable[..., Delivery]


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    """Some messages are checked by their English wording."""
    with translation.override("en"):
        yield


def unit_of(user: User) -> CareUnit:
    unit = user.assignments.get().care_unit
    assert unit is not None
    return unit


def balance(user: User, batch_number: str = "AB1234") -> int:
    return sum(
        StockBalance.objects.filter(care_unit=unit_of(user), batch__batch_number=batch_number).values_list(
            "quantity", flat=True
        )
    )


def line(product: Product, **changes: Any) -> ReceiptLine:
    values: dict[str, Any] = {
        "product": product,
        "batch_number": "AB1234",
        "expiry": days_from_today(200),
        "packages": 10,
    }
    values.update(changes)
    return ReceiptLine(**values)


def batch(batch_number: str = "AB1234") -> Batch:
    return Batch.objects.get(batch_number=batch_number)


def other_product(vaccine: Product) -> Product:
    product = Product.objects.filter(active=True).exclude(pk=vaccine.pk).first()
    assert product is not None
    return product


# --- deliveries -------------------------------------------------------------------------------------------


def test_a_delivery_books_one_receipt_per_line_in_doses(
    nurse_a: User, stocked: None, vaccine: Product
) -> None:
    fridge = StorageLocation.objects.create(care_unit=unit_of(nurse_a), name="Fridge 1")
    delivery = delivery_receive(
        actor=actor_of(nurse_a),
        supplier=" Apoteket ",
        delivery_note="FS-1",
        lines=[
            line(vaccine, packages=3, doses_per_package=10, doses_per_vial=10, in_use_hours=6),
            line(vaccine, batch_number=" cd5678 ", packages=4, location=fridge),
        ],
    )
    assert delivery.supplier == "Apoteket"
    receipts = list(Movement.objects.filter(delivery=delivery).order_by("id"))
    assert [(m.kind, m.quantity, m.batch.batch_number, m.location_id) for m in receipts] == [
        (MovementKind.RECEIPT, 30, "AB1234", None),
        (MovementKind.RECEIPT, 4, "CD5678", fridge.pk),
    ]
    first = batch()
    assert (first.doses_per_vial, first.in_use_hours, first.supplier, first.registered_from_dose) == (
        10,
        6,
        "Apoteket",
        False,
    )
    assert (balance(nurse_a), balance(nurse_a, "CD5678")) == (30, 4)
    assert stock_verify() == []


def test_a_delivery_reports_each_wrong_field_under_its_line_and_saves_nothing(
    nurse_a: User, nurse_a2: User, stocked: None, vaccine: Product
) -> None:
    elsewhere = StorageLocation.objects.create(care_unit=unit_of(nurse_a2), name="Fridge A2")
    with pytest.raises(ValidationError) as error:
        delivery_receive(
            actor=actor_of(nurse_a),
            supplier="Apoteket",
            lines=[
                line(vaccine, batch_number="  ", location=elsewhere),
                line(vaccine, expiry=days_from_today(-1), packages=0),
                line(vaccine, batch_number="X" * 41, doses_per_package=5, doses_per_vial=6, in_use_hours=0),
                line(vaccine, doses_per_package=1001),
            ],
        )
    errors = error.value.message_dict
    assert set(errors) == {
        "lines-0-batch_number",
        "lines-0-location",
        "lines-1-expiry",
        "lines-1-packages",
        "lines-2-batch_number",
        "lines-2-doses_per_vial",
        "lines-2-in_use_hours",
        "lines-3-doses_per_package",
    }
    assert "Do not receive expired vaccine" in errors["lines-1-expiry"][0]
    assert not Delivery.objects.exists() and not Movement.objects.exists() and not Batch.objects.exists()


def test_a_delivery_needs_a_supplier_and_lines(nurse_a: User, stocked: None, vaccine: Product) -> None:
    with pytest.raises(ValidationError) as error:
        delivery_receive(actor=actor_of(nurse_a), supplier=" ", lines=[])
    assert set(error.value.message_dict) == {"supplier", "__all__"}
    with pytest.raises(ValidationError) as error:
        delivery_receive(actor=actor_of(nurse_a), supplier="Apoteket", lines=[line(vaccine)] * 51)
    assert set(error.value.message_dict) == {"__all__"}
    assert not Delivery.objects.exists() and not Movement.objects.exists()


def test_the_same_idempotency_key_returns_the_first_delivery(
    nurse_a: User, nurse_a2: User, stocked: None, vaccine: Product
) -> None:
    first = delivery_receive(
        actor=actor_of(nurse_a), supplier="Apoteket", lines=[line(vaccine)], idempotency_key="form-1"
    )
    again = delivery_receive(
        actor=actor_of(nurse_a), supplier="Apoteket", lines=[line(vaccine)], idempotency_key="form-1"
    )
    assert again.pk == first.pk
    assert Delivery.objects.count() == 1 and balance(nurse_a) == 10
    # The key is the user's own: another user's form with the same key is another delivery.
    delivery_receive(
        actor=actor_of(nurse_a2), supplier="Apoteket", lines=[line(vaccine)], idempotency_key="form-1"
    )
    assert Delivery.objects.count() == 2 and balance(nurse_a2) == 10


def test_a_batch_first_seen_in_a_dose_is_completed_by_a_later_delivery(
    nurse_a: User,
    citizen: Patient,
    stocked: None,
    vaccine: Product,
    administration: Callable[..., Administration],
) -> None:
    vaccination_record(
        actor=actor_of(nurse_a), patient=citizen, data=administration(batch_number="new1"), sign=True
    )
    seen = batch("NEW1")
    assert seen.registered_from_dose and seen.expiry is None and seen.doses_per_vial == 1
    assert StockFlag.objects.filter(batch=seen, kind=FlagKind.UNKNOWN_BATCH, resolved_at=None).exists()
    delivery_receive(
        actor=actor_of(nurse_a),
        supplier="Apoteket",
        lines=[
            line(
                vaccine,
                batch_number="New1",
                expiry=days_from_today(90),
                packages=2,
                doses_per_package=10,
                doses_per_vial=10,
                in_use_hours=8,
            )
        ],
    )
    seen.refresh_from_db()
    assert not seen.registered_from_dose
    assert (seen.expiry, seen.supplier, seen.doses_per_package, seen.doses_per_vial, seen.in_use_hours) == (
        days_from_today(90),
        "Apoteket",
        10,
        10,
        8,
    )
    assert Batch.objects.filter(batch_number="NEW1").count() == 1
    assert balance(nurse_a, "NEW1") == 19
    # Another delivery with the same facts is just more stock.
    delivery_receive(
        actor=actor_of(nurse_a),
        supplier="Apoteket",
        lines=[
            line(
                vaccine,
                batch_number="NEW1",
                expiry=days_from_today(90),
                packages=1,
                doses_per_package=10,
                doses_per_vial=10,
            )
        ],
    )
    assert balance(nurse_a, "NEW1") == 29
    assert stock_verify() == []


@pytest.mark.parametrize(
    "changes", [{"expiry": days_from_today(201)}, {"doses_per_package": 10, "doses_per_vial": 10}]
)
def test_a_batch_with_other_facts_than_registered_is_refused(
    nurse_a: User, nurse_a2: User, receive: Receive, vaccine: Product, changes: dict[str, Any]
) -> None:
    receive(nurse_a, packages=5)
    with pytest.raises(ValidationError) as error:
        delivery_receive(
            actor=actor_of(nurse_a2),
            supplier="Apoteket",
            lines=[line(vaccine, batch_number="CD5678"), line(vaccine, **changes)],
        )
    assert "already registered" in error.value.message_dict["__all__"][0]
    # The whole delivery is refused, also its good line.
    assert Delivery.objects.count() == 1
    assert not Batch.objects.filter(batch_number="CD5678").exists()
    assert balance(nurse_a2) == 0 and balance(nurse_a) == 5
    assert batch().expiry == days_from_today(200) and batch().doses_per_vial == 1


def test_a_delivery_against_a_sent_purchase_order_receives_it(
    nurse_a: User, nurse_a2: User, stocked: None, vaccine: Product
) -> None:
    order = purchase_order_create(actor=actor_of(nurse_a), supplier="Apoteket", lines=[(vaccine, 10)])
    with pytest.raises(ValidationError) as error:
        delivery_receive(
            actor=actor_of(nurse_a), supplier="Apoteket", lines=[line(vaccine)], purchase_order=order
        )
    assert set(error.value.message_dict) == {"purchase_order"}
    order = purchase_order_send(actor=actor_of(nurse_a), order=order)
    # Not another unit's order.
    with pytest.raises(ValidationError):
        delivery_receive(
            actor=actor_of(nurse_a2), supplier="Apoteket", lines=[line(vaccine)], purchase_order=order
        )
    assert not Delivery.objects.exists()
    delivery = delivery_receive(
        actor=actor_of(nurse_a), supplier="Apoteket", lines=[line(vaccine)], purchase_order=order
    )
    order.refresh_from_db()
    assert order.status == PurchaseOrderStatus.RECEIVED and order.received_at is not None
    assert delivery.purchase_order_id == order.pk


# --- wastage ----------------------------------------------------------------------------------------------


def test_wastage_books_the_doses_out_with_the_reason(nurse_a: User, receive: Receive) -> None:
    receive(nurse_a, packages=10)
    movement = wastage_record(
        actor=actor_of(nurse_a), batch=batch(), quantity=3, reason=WastageReason.BROKEN, note=" Dropped "
    )
    assert (movement.kind, movement.quantity, movement.wastage_reason, movement.note) == (
        MovementKind.WASTAGE,
        -3,
        WastageReason.BROKEN,
        "Dropped",
    )
    assert movement.created_by == nurse_a
    assert balance(nurse_a) == 7
    assert stock_verify() == []


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"quantity": 0}, "quantity"),
        ({"quantity": 100_001}, "quantity"),
        ({"reason": "lost"}, "reason"),
        ({"reason": WastageReason.OTHER, "note": " "}, "note"),
        ({"location": "elsewhere"}, "location"),
    ],
)
def test_wastage_is_refused_without_a_valid_quantity_reason_or_location(
    nurse_a: User, nurse_a2: User, receive: Receive, changes: dict[str, Any], field: str
) -> None:
    receive(nurse_a, packages=10)
    if changes.get("location") == "elsewhere":
        changes["location"] = StorageLocation.objects.create(care_unit=unit_of(nurse_a2), name="Fridge A2")
    arguments: dict[str, Any] = {"batch": batch(), "quantity": 2, "reason": WastageReason.EXPIRED, **changes}
    with pytest.raises(ValidationError) as error:
        wastage_record(actor=actor_of(nurse_a), **arguments)
    assert set(error.value.message_dict) == {field}
    assert not Movement.objects.filter(kind=MovementKind.WASTAGE).exists()
    assert balance(nurse_a) == 10


def test_wastage_below_zero_is_booked_and_flagged(nurse_a: User, receive: Receive) -> None:
    receive(nurse_a, packages=1)
    wastage_record(actor=actor_of(nurse_a), batch=batch(), quantity=2, reason=WastageReason.COLD_CHAIN)
    assert balance(nurse_a) == -1
    assert StockFlag.objects.filter(kind=FlagKind.NEGATIVE, resolved_at=None).count() == 1


# --- transfers --------------------------------------------------------------------------------------------


def test_a_transfer_leaves_at_once_and_arrives_when_received(
    nurse_a: User, nurse_a2: User, receive: Receive
) -> None:
    receive(nurse_a, packages=10)
    transfer = transfer_send(actor=actor_of(nurse_a), batch=batch(), to_unit=unit_of(nurse_a2), quantity=4)
    assert transfer.status == TransferStatus.SENT
    assert (balance(nurse_a), balance(nurse_a2)) == (6, 0)
    received = transfer_receive(actor=actor_of(nurse_a2), transfer=transfer)
    assert received.status == TransferStatus.RECEIVED and received.received_by == nurse_a2
    assert (balance(nurse_a), balance(nurse_a2)) == (6, 4)
    assert list(Movement.objects.filter(transfer=transfer).values_list("kind", "quantity")) == [
        (MovementKind.TRANSFER_OUT, -4),
        (MovementKind.TRANSFER_IN, 4),
    ]
    assert stock_verify() == []


def test_a_transfer_to_another_care_provider_or_the_own_unit_is_refused(
    nurse_a: User, nurse_b: User, receive: Receive
) -> None:
    receive(nurse_a, packages=10)
    for to_unit in (unit_of(nurse_b), unit_of(nurse_a)):
        with pytest.raises(ValidationError) as error:
            transfer_send(actor=actor_of(nurse_a), batch=batch(), to_unit=to_unit, quantity=1)
        assert set(error.value.message_dict) == {"to_unit"}
    with pytest.raises(ValidationError):
        transfer_send(actor=actor_of(nurse_a), batch=batch(), to_unit=unit_of(nurse_b), quantity=0)
    assert not Transfer.objects.exists()
    assert not Movement.objects.filter(kind=MovementKind.TRANSFER_OUT).exists()
    assert balance(nurse_a) == 10


def test_a_transfer_is_received_once_and_only_by_the_receiving_unit(
    nurse_a: User, nurse_a2: User, nurse_b: User, receive: Receive
) -> None:
    receive(nurse_a, packages=10)
    transfer = transfer_send(actor=actor_of(nurse_a), batch=batch(), to_unit=unit_of(nurse_a2), quantity=4)
    for wrong in (nurse_a, nurse_b):
        with pytest.raises(NotPermitted):
            transfer_receive(actor=actor_of(wrong), transfer=transfer)
    transfer.refresh_from_db()
    assert transfer.status == TransferStatus.SENT and transfer.received_by is None
    assert not Movement.objects.filter(kind=MovementKind.TRANSFER_IN).exists()
    transfer_receive(actor=actor_of(nurse_a2), transfer=transfer)
    with pytest.raises(ConflictError):
        transfer_receive(actor=actor_of(nurse_a2), transfer=transfer)
    assert Movement.objects.filter(kind=MovementKind.TRANSFER_IN).count() == 1
    assert balance(nurse_a2) == 4


# --- stock counts -----------------------------------------------------------------------------------------


def test_one_count_at_a_time_per_unit(nurse_a: User, nurse_a2: User, stocked: None) -> None:
    count = stock_count_start(actor=actor_of(nurse_a))
    with pytest.raises(ConflictError):
        stock_count_start(actor=actor_of(nurse_a))
    assert StockCount.objects.filter(care_unit=unit_of(nurse_a)).count() == 1
    # Another unit counts on its own.
    stock_count_start(actor=actor_of(nurse_a2))
    stock_count_close(actor=actor_of(nurse_a), stock_count=count)
    stock_count_start(actor=actor_of(nurse_a))
    assert StockCount.objects.filter(care_unit=unit_of(nurse_a), status=StockCountStatus.OPEN).count() == 1


def test_closing_a_count_books_each_difference_as_an_adjustment(nurse_a: User, receive: Receive) -> None:
    receive(nurse_a, "AB1234", packages=10)
    receive(nurse_a, "CD5678", packages=5)
    receive(nurse_a, "EF9012", packages=3)
    count = stock_count_start(actor=actor_of(nurse_a))
    stock_count_line_record(actor=actor_of(nurse_a), stock_count=count, batch=batch("AB1234"), counted=8)
    stock_count_line_record(actor=actor_of(nurse_a), stock_count=count, batch=batch("CD5678"), counted=5)
    stock_count_line_record(actor=actor_of(nurse_a), stock_count=count, batch=batch("EF9012"), counted=9)
    # A recount of a batch replaces its line.
    stock_count_line_record(actor=actor_of(nurse_a), stock_count=count, batch=batch("EF9012"), counted=4)
    assert count.lines.count() == 3
    adjustments = stock_count_close(actor=actor_of(nurse_a), stock_count=count)
    assert sorted((m.batch.batch_number, m.quantity) for m in adjustments) == [("AB1234", -2), ("EF9012", 1)]
    assert all(m.kind == MovementKind.ADJUSTMENT and m.stock_count_id == count.pk for m in adjustments)
    assert (balance(nurse_a, "AB1234"), balance(nurse_a, "CD5678"), balance(nurse_a, "EF9012")) == (8, 5, 4)
    count.refresh_from_db()
    assert count.status == StockCountStatus.CLOSED and count.closed_by == nurse_a
    assert stock_verify() == []
    with pytest.raises(ConflictError):
        stock_count_line_record(actor=actor_of(nurse_a), stock_count=count, batch=batch(), counted=1)
    with pytest.raises(ConflictError):
        stock_count_close(actor=actor_of(nurse_a), stock_count=count)
    assert Movement.objects.filter(kind=MovementKind.ADJUSTMENT).count() == 2


def test_doses_given_while_counting_are_not_a_difference(
    nurse_a: User, citizen: Patient, receive: Receive, administration: Callable[..., Administration]
) -> None:
    receive(nurse_a, packages=10)
    count = stock_count_start(actor=actor_of(nurse_a))
    line_ = stock_count_line_record(actor=actor_of(nurse_a), stock_count=count, batch=batch(), counted=10)
    assert line_.expected == 10
    vaccination_record(actor=actor_of(nurse_a), patient=citizen, data=administration(), sign=True)
    assert stock_count_close(actor=actor_of(nurse_a), stock_count=count) == []
    assert balance(nurse_a) == 9


def test_a_count_line_is_refused_for_another_units_count_or_a_negative_number(
    nurse_a: User, nurse_a2: User, receive: Receive
) -> None:
    receive(nurse_a, packages=10)
    count = stock_count_start(actor=actor_of(nurse_a))
    with pytest.raises(NotPermitted):
        stock_count_line_record(actor=actor_of(nurse_a2), stock_count=count, batch=batch(), counted=1)
    with pytest.raises(NotPermitted):
        stock_count_close(actor=actor_of(nurse_a2), stock_count=count)
    with pytest.raises(ValidationError) as error:
        stock_count_line_record(actor=actor_of(nurse_a), stock_count=count, batch=batch(), counted=-1)
    assert set(error.value.message_dict) == {"counted"}
    assert not count.lines.exists()
    count.refresh_from_db()
    assert count.status == StockCountStatus.OPEN


def test_closing_a_count_resolves_the_flags_of_the_counted_batches(nurse_a: User, receive: Receive) -> None:
    receive(nurse_a, "AB1234", packages=1)
    receive(nurse_a, "CD5678", packages=1)
    for number in ("AB1234", "CD5678"):
        wastage_record(actor=actor_of(nurse_a), batch=batch(number), quantity=2, reason=WastageReason.BROKEN)
    assert StockFlag.objects.filter(kind=FlagKind.NEGATIVE, resolved_at=None).count() == 2
    count = stock_count_start(actor=actor_of(nurse_a))
    stock_count_line_record(actor=actor_of(nurse_a), stock_count=count, batch=batch("AB1234"), counted=0)
    stock_count_close(actor=actor_of(nurse_a), stock_count=count)
    resolved = StockFlag.objects.get(batch__batch_number="AB1234")
    assert resolved.resolved_by == nurse_a and str(count.pk) in resolved.resolution
    assert StockFlag.objects.get(batch__batch_number="CD5678").resolved_at is None
    assert balance(nurse_a, "AB1234") == 0


# --- flags ------------------------------------------------------------------------------------------------


def test_a_flag_is_resolved_once_with_a_reason_by_its_own_unit(
    nurse_a: User, nurse_a2: User, receive: Receive
) -> None:
    receive(nurse_a, packages=1)
    wastage_record(actor=actor_of(nurse_a), batch=batch(), quantity=2, reason=WastageReason.BROKEN)
    flag = StockFlag.objects.get()
    with pytest.raises(NotPermitted):
        stock_flag_resolve(actor=actor_of(nurse_a2), flag=flag, resolution="Not ours")
    with pytest.raises(ValidationError) as error:
        stock_flag_resolve(actor=actor_of(nurse_a), flag=flag, resolution="  ")
    assert set(error.value.message_dict) == {"resolution"}
    flag.refresh_from_db()
    assert flag.resolved_at is None
    resolved = stock_flag_resolve(actor=actor_of(nurse_a), flag=flag, resolution=" Miscounted delivery ")
    assert (resolved.resolved_by, resolved.resolution) == (nurse_a, "Miscounted delivery")
    with pytest.raises(ConflictError):
        stock_flag_resolve(actor=actor_of(nurse_a), flag=flag, resolution="Again")
    flag.refresh_from_db()
    assert flag.resolution == "Miscounted delivery"
    # The next problem with the batch is a new flag.
    wastage_record(actor=actor_of(nurse_a), batch=batch(), quantity=1, reason=WastageReason.BROKEN)
    assert StockFlag.objects.filter(resolved_at=None).count() == 1


# --- vials ------------------------------------------------------------------------------------------------


def test_opening_a_vial_explicitly_and_the_next_dose_uses_it(
    nurse_a: User,
    nurse_a2: User,
    citizen: Patient,
    receive: Receive,
    administration: Callable[..., Administration],
) -> None:
    receive(nurse_a, packages=1, doses_per_package=10, doses_per_vial=10, in_use_hours=6)
    receive(nurse_a, "CD5678", packages=2)
    with pytest.raises(ValidationError) as error:
        vial_open(actor=actor_of(nurse_a), batch=batch("CD5678"))
    assert set(error.value.message_dict) == {"batch"}
    elsewhere = StorageLocation.objects.create(care_unit=unit_of(nurse_a2), name="Fridge A2")
    with pytest.raises(ValidationError):
        vial_open(actor=actor_of(nurse_a), batch=batch(), location=elsewhere)
    assert not Vial.objects.exists()
    vial = vial_open(actor=actor_of(nurse_a), batch=batch())
    assert vial.doses == 10 and vial.use_before == vial.opened_at + timedelta(hours=6)
    vaccination_record(actor=actor_of(nurse_a), patient=citizen, data=administration(), sign=True)
    assert Vial.objects.count() == 1
    assert Movement.objects.get(kind=MovementKind.ADMINISTERED).vial_id == vial.pk


# --- reorder levels and purchase orders -------------------------------------------------------------------


def test_a_reorder_level_is_set_once_per_product_and_puts_it_on_the_list(
    nurse_a: User, receive: Receive, vaccine: Product
) -> None:
    receive(nurse_a, packages=5)
    reorder_level_set(actor=actor_of(nurse_a), product=vaccine, reorder_at=3, order_quantity=20)
    assert to_order(unit=unit_of(nurse_a)) == []
    level = reorder_level_set(actor=actor_of(nurse_a), product=vaccine, reorder_at=5, order_quantity=30)
    assert ReorderLevel.objects.get() == level and (level.reorder_at, level.order_quantity) == (5, 30)
    (row,) = to_order(unit=unit_of(nurse_a))
    assert (row.product, row.usable, row.reorder_at, row.on_order, row.suggested) == (vaccine, 5, 5, 0, 30)
    # What is already on order counts.
    purchase_order_create(actor=actor_of(nurse_a), supplier="Apoteket", lines=[(vaccine, 1)])
    assert to_order(unit=unit_of(nurse_a)) == []


@pytest.mark.parametrize(
    ("reorder_at", "order_quantity", "field"), [(-1, 10, "reorder_at"), (5, 0, "order_quantity")]
)
def test_a_reorder_level_needs_sensible_numbers(
    nurse_a: User, stocked: None, vaccine: Product, reorder_at: int, order_quantity: int, field: str
) -> None:
    with pytest.raises(ValidationError) as error:
        reorder_level_set(
            actor=actor_of(nurse_a), product=vaccine, reorder_at=reorder_at, order_quantity=order_quantity
        )
    assert set(error.value.message_dict) == {field}
    assert not ReorderLevel.objects.exists()


def test_a_purchase_order_merges_its_lines_and_goes_draft_sent_cancelled(
    nurse_a: User, nurse_a2: User, stocked: None, vaccine: Product
) -> None:
    other = other_product(vaccine)
    order = purchase_order_create(
        actor=actor_of(nurse_a), supplier=" Apoteket ", lines=[(vaccine, 10), (other, 5), (vaccine, 20)]
    )
    assert order.supplier == "Apoteket" and order.status == PurchaseOrderStatus.DRAFT
    assert sorted(order.lines.values_list("product_id", "quantity")) == sorted(
        [(vaccine.pk, 30), (other.pk, 5)]
    )
    for wrong in (purchase_order_send, purchase_order_cancel):
        with pytest.raises(NotPermitted):
            wrong(actor=actor_of(nurse_a2), order=order)
    order.refresh_from_db()
    assert order.status == PurchaseOrderStatus.DRAFT
    sent = purchase_order_send(actor=actor_of(nurse_a), order=order)
    assert sent.status == PurchaseOrderStatus.SENT and sent.sent_by == nurse_a
    with pytest.raises(ConflictError):
        purchase_order_send(actor=actor_of(nurse_a), order=order)
    assert purchase_order_cancel(actor=actor_of(nurse_a), order=order).status == PurchaseOrderStatus.CANCELLED


def test_a_received_purchase_order_cannot_be_cancelled(
    nurse_a: User, stocked: None, vaccine: Product
) -> None:
    order = purchase_order_create(actor=actor_of(nurse_a), supplier="Apoteket", lines=[(vaccine, 10)])
    order = purchase_order_send(actor=actor_of(nurse_a), order=order)
    delivery_receive(
        actor=actor_of(nurse_a), supplier="Apoteket", lines=[line(vaccine)], purchase_order=order
    )
    with pytest.raises(ConflictError):
        purchase_order_cancel(actor=actor_of(nurse_a), order=order)
    order.refresh_from_db()
    assert order.status == PurchaseOrderStatus.RECEIVED


@pytest.mark.parametrize(
    ("supplier", "lines", "field"),
    [
        (" ", [("vaccine", 1)], "supplier"),
        ("Apoteket", [], "__all__"),
        ("Apoteket", [("vaccine", 0)], "quantity"),
    ],
)
def test_a_purchase_order_needs_a_supplier_and_positive_lines(
    nurse_a: User, stocked: None, vaccine: Product, supplier: str, lines: list[tuple[str, int]], field: str
) -> None:
    with pytest.raises(ValidationError) as error:
        purchase_order_create(
            actor=actor_of(nurse_a),
            supplier=supplier,
            lines=[(vaccine, quantity) for _name, quantity in lines],
        )
    assert set(error.value.message_dict) == {field}
    assert not PurchaseOrder.objects.exists()


def test_storage_location_names_are_unique_per_unit(nurse_a: User, nurse_a2: User, stocked: None) -> None:
    storage_location_create(actor=actor_of(nurse_a), name="Fridge 1")
    with pytest.raises(ValidationError):
        storage_location_create(actor=actor_of(nurse_a), name=" fridge 1 ")
    storage_location_create(actor=actor_of(nurse_a2), name="Fridge 1")
    assert StorageLocation.objects.count() == 2


# --- rights -----------------------------------------------------------------------------------------------


def stock_actions(vaccine: Product, target: CareUnit) -> dict[str, Callable[[User], object]]:
    """Every stock administrator's action, for a user who must not be allowed any of them."""

    def stock(user: User) -> dict[str, Any]:
        return {"actor": actor_of(user)}

    return {
        "receive": lambda u: delivery_receive(**stock(u), supplier="Apoteket", lines=[line(vaccine)]),
        "waste": lambda u: wastage_record(**stock(u), batch=batch(), quantity=1, reason=WastageReason.BROKEN),
        "send": lambda u: transfer_send(**stock(u), batch=batch(), to_unit=target, quantity=1),
        "receive transfer": lambda u: transfer_receive(**stock(u), transfer=Transfer.objects.get()),
        "start count": lambda u: stock_count_start(**stock(u)),
        "count": lambda u: stock_count_line_record(
            **stock(u), stock_count=StockCount.objects.get(), batch=batch(), counted=1
        ),
        "close count": lambda u: stock_count_close(**stock(u), stock_count=StockCount.objects.get()),
        "resolve flag": lambda u: stock_flag_resolve(
            **stock(u), flag=StockFlag.objects.get(), resolution="x"
        ),
        "open vial": lambda u: vial_open(**stock(u), batch=batch("MD1")),
        "location": lambda u: storage_location_create(**stock(u), name="Fridge 9"),
        "reorder level": lambda u: reorder_level_set(
            **stock(u), product=vaccine, reorder_at=1, order_quantity=1
        ),
        "order": lambda u: purchase_order_create(**stock(u), supplier="Apoteket", lines=[(vaccine, 1)]),
        "send order": lambda u: purchase_order_send(**stock(u), order=PurchaseOrder.objects.get()),
        "cancel order": lambda u: purchase_order_cancel(**stock(u), order=PurchaseOrder.objects.get()),
    }


def ledger_state() -> list[tuple[Any, ...]]:
    """Everything a stock action could change, to compare before and after a refused one."""
    return [
        *Movement.objects.order_by("id").values_list("id", "quantity"),
        *StockBalance.objects.order_by("id").values_list("id", "quantity"),
        *Transfer.objects.order_by("id").values_list("id", "status"),
        *StockCount.objects.order_by("id").values_list("id", "status"),
        *StockFlag.objects.order_by("id").values_list("id", "resolved_at"),
        *PurchaseOrder.objects.order_by("id").values_list("id", "status"),
        *Vial.objects.order_by("id").values_list("id", "closed_at"),
        *StorageLocation.objects.order_by("id").values_list("id", "name"),
        *ReorderLevel.objects.order_by("id").values_list("id", "reorder_at"),
        *Delivery.objects.order_by("id").values_list("id", "supplier"),
    ]


@pytest.fixture
def stock_in_progress(nurse_a: User, nurse_a2: User, receive: Receive, vaccine: Product) -> None:
    """One of everything at unit A: stock, a multi-dose batch, a transfer to A, an open count, a flag and an
    order."""
    receive(nurse_a, packages=1)
    receive(nurse_a, "MD1", packages=1, doses_per_package=10, doses_per_vial=10)
    receive(nurse_a2, packages=2)
    transfer_send(actor=actor_of(nurse_a2), batch=batch(), to_unit=unit_of(nurse_a), quantity=2)
    wastage_record(actor=actor_of(nurse_a), batch=batch(), quantity=2, reason=WastageReason.BROKEN)
    stock_count_start(actor=actor_of(nurse_a))
    purchase_order_create(actor=actor_of(nurse_a), supplier="Apoteket", lines=[(vaccine, 1)])


@pytest.mark.parametrize(
    "action",
    [
        "receive",
        "waste",
        "send",
        "receive transfer",
        "start count",
        "count",
        "close count",
        "resolve flag",
        "open vial",
        "location",
        "reorder level",
        "order",
        "send order",
        "cancel order",
    ],
)
def test_staff_without_the_right_cannot_touch_the_stock(
    receptionist_a: User,
    outsider: User,
    nurse_a2: User,
    stock_in_progress: None,
    vaccine: Product,
    action: str,
) -> None:
    act = stock_actions(vaccine, unit_of(nurse_a2))[action]
    before = ledger_state()
    with pytest.raises(NotPermitted) as error:
        act(receptionist_a)
    assert "Manage stock" in error.value.message
    with pytest.raises(NotPermitted):
        act(outsider)
    assert ledger_state() == before


@pytest.mark.parametrize("action", ["receive", "waste", "start count", "open vial", "order", "reorder level"])
def test_a_care_provider_without_the_inventory_module_keeps_no_stock_in_ympa(
    nurse_a: User, nurse_a2: User, stock_in_progress: None, vaccine: Product, action: str
) -> None:
    provider = unit_of(nurse_a).care_provider
    provider.modules = ["journal"]
    provider.save(update_fields=["modules"])
    act = stock_actions(vaccine, unit_of(nurse_a2))[action]
    before = ledger_state()
    with pytest.raises(NotPermitted) as error:
        act(nurse_a)
    assert "does not keep its vaccine stock" in error.value.message
    assert ledger_state() == before


def test_an_assistant_nurse_manages_stock(assistant_a: User, receive: Receive) -> None:
    receive(assistant_a, packages=2)
    wastage_record(actor=actor_of(assistant_a), batch=batch(), quantity=1, reason=WastageReason.EXPIRED)
    assert balance(assistant_a) == 1


def test_an_ended_assignment_cannot_touch_the_stock(nurse_a: User, receive: Receive) -> None:
    receive(nurse_a, packages=2)
    assignment = nurse_a.assignments.get()
    assignment.valid_from = timezone.now() - timedelta(days=30)
    assignment.valid_until = timezone.now() - timedelta(minutes=1)
    assignment.save(update_fields=["valid_from", "valid_until"])
    with pytest.raises(NotPermitted):
        wastage_record(actor=actor_of(nurse_a), batch=batch(), quantity=1, reason=WastageReason.EXPIRED)
    assert balance(nurse_a) == 2


def test_another_providers_wastage_is_booked_at_its_own_unit(
    nurse_a: User, nurse_b: User, receive: Receive
) -> None:
    """Stock is per care unit: naming unit A's batch does not reach unit A's stock."""
    receive(nurse_a, packages=3)
    wastage_record(actor=actor_of(nurse_b), batch=batch(), quantity=1, reason=WastageReason.BROKEN)
    assert balance(nurse_a) == 3 and balance(nurse_b) == -1
