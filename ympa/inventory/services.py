"""Writes to the stock ledger. Two functions insert movements and change cached balances, always together in
one transaction: `_post` for every kind, and `stock_dose_book`'s written-out statements for the usual signed
dose (a known single-dose batch), which the signing path runs for every dose.

Stock never stands in the way of a dose that was given: the journal calls `stock_dose_book` and friends
inside its own transaction, they never raise for stock reasons, and a balance that goes below zero or a
batch nobody received is flagged for the unit's stock administrator instead.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import OuterRef, Subquery, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from ympa.authn.models import User
from ympa.catalog.models import Product
from ympa.core.actor import Actor
from ympa.core.errors import ConflictError, NotPermitted
from ympa.inventory.models import (
    Batch,
    Delivery,
    FlagKind,
    Movement,
    MovementKind,
    PurchaseOrder,
    PurchaseOrderLine,
    PurchaseOrderStatus,
    ReorderLevel,
    StockBalance,
    StockCount,
    StockCountLine,
    StockCountStatus,
    StockFlag,
    StorageLocation,
    Transfer,
    TransferStatus,
    Vial,
    WastageReason,
)
from ympa.orgs.models import Assignment, CareUnit, Module
from ympa.orgs.rights import Right

MAX_BATCH_LENGTH = 40
MAX_QUANTITY = 100_000
MAX_LINES = 50


def uses_inventory(unit: CareUnit) -> bool:
    """Whether the unit's care provider keeps its stock in Ympa (the inventory module)."""
    return Module.INVENTORY.value in (unit.care_provider.modules or [])


def _stock_staff(actor: Actor) -> tuple[User, Assignment, CareUnit]:
    assignment = actor.assignment
    if actor.user is None or assignment is None or assignment.care_unit is None or not assignment.is_active():
        raise NotPermitted(_("Choose an active assignment at a care unit first."))
    if not assignment.has_right(Right.MANAGE_STOCK):
        raise NotPermitted(
            _("Your assignment does not include the right: %(right)s.") % {"right": Right.MANAGE_STOCK.label}
        )
    unit = assignment.care_unit
    if not uses_inventory(unit):
        raise NotPermitted(_("Your care provider does not keep its vaccine stock in Ympa."))
    return actor.user, assignment, unit


def _slot(location: StorageLocation | None) -> int:
    return location.pk if location is not None else 0


def _post(movements: list[Movement]) -> list[Movement]:
    """Book movements: insert them and add each to its cached balance, in this transaction.

    Balances are changed in a fixed order (unit, batch, slot), so two transactions booking the same rows
    lock them in the same order and cannot deadlock. A balance that ends below zero is flagged.
    """
    if not movements:
        return []
    Movement.objects.bulk_create(movements)
    deltas: dict[tuple[int, int, int], int] = defaultdict(int)
    locations: dict[tuple[int, int, int], int | None] = {}
    by_key: dict[tuple[int, int, int], Movement] = {}
    for movement in movements:
        key = (movement.care_unit_id, movement.batch_id, movement.location_id or 0)
        deltas[key] += movement.quantity
        locations[key] = movement.location_id
        by_key[key] = movement
    connection = transaction.get_connection()
    table = connection.ops.quote_name(StockBalance._meta.db_table)
    # Written out: an atomic increment-or-insert that returns the new balance, which the ORM cannot say.
    sql = (
        f"INSERT INTO {table} (care_unit_id, batch_id, location_id, slot, quantity) "  # noqa: S608
        "VALUES (%s, %s, %s, %s, %s) "
        "ON CONFLICT (care_unit_id, batch_id, slot) "
        f"DO UPDATE SET quantity = {table}.quantity + excluded.quantity "
        "RETURNING quantity"
    )
    negative: list[tuple[int, int, Movement]] = []
    with connection.cursor() as cursor:
        for key in sorted(deltas):
            if deltas[key] == 0:
                continue
            unit_id, batch_id, slot = key
            cursor.execute(sql, [unit_id, batch_id, locations[key], slot, deltas[key]])
            (balance,) = cursor.fetchone()
            if balance < 0 and deltas[key] < 0:
                negative.append((unit_id, batch_id, by_key[key]))
    if negative:
        _flag(
            [(unit_id, batch_id, FlagKind.NEGATIVE, movement.pk) for unit_id, batch_id, movement in negative]
        )
    return movements


def _flag(flags: Iterable[tuple[int, int, FlagKind, int]]) -> None:
    # An open flag of the same kind for the same batch already says it; the partial unique constraint keeps
    # one and the conflict is ignored.
    StockFlag.objects.bulk_create(
        [
            StockFlag(care_unit_id=unit_id, batch_id=batch_id, kind=kind, movement_id=movement_id)
            for unit_id, batch_id, kind, movement_id in flags
        ],
        ignore_conflicts=True,
    )


def _normal_batch_number(text: str) -> str:
    return text.strip().upper()


# ---------------------------------------------------------------------------------------------------------
# Doses: called by the journal inside its own transaction.


def _batch_for_dose(unit_id: int, product_id: int, batch_number: str) -> Batch:
    """The batch a dose names, with `likely_location_id`: where the unit holds most of it (None when it holds
    none, or keeps it without a location). Created, marked as first seen in a dose, when no delivery brought
    it. One query in the usual case: the signing path runs it for every dose."""
    number = _normal_batch_number(batch_number)
    likely = (
        StockBalance.objects.filter(care_unit_id=unit_id, batch_id=OuterRef("pk"), quantity__gt=0)
        .order_by("-quantity")
        .values("location_id")[:1]
    )
    found = Batch.objects.filter(product_id=product_id, batch_number=number).annotate(
        likely_location_id=Subquery(likely)
    )
    batch = found.first()
    if batch is None:
        Batch.objects.bulk_create(
            [Batch(product_id=product_id, batch_number=number, registered_from_dose=True)],
            ignore_conflicts=True,
        )
        batch = found.get()
    return batch


def _doses_left(vial: Vial) -> int:
    used = Movement.objects.filter(vial=vial).aggregate(total=Sum("quantity"))["total"] or 0
    return vial.doses + used


def _close_vial(vial: Vial, now: datetime, left: int) -> list[Movement]:
    """Close a vial; what is left in it is wasted (it cannot be used once its in-use period is over)."""
    vial.closed_at = now
    vial.save(update_fields=["closed_at"])
    if left <= 0:
        return []
    return [
        Movement(
            care_unit_id=vial.care_unit_id,
            batch_id=vial.batch_id,
            location_id=vial.location_id,
            kind=MovementKind.WASTAGE,
            quantity=-left,
            wastage_reason=WastageReason.OPENED_VIAL,
            vial=vial,
            occurred_at=vial.use_before if vial.use_before and vial.use_before < now else now,
            created_at=now,
        )
    ]


def _open_vial(unit_id: int, batch: Batch, user: User, now: datetime, location_id: int | None) -> Vial:
    return Vial.objects.create(
        care_unit_id=unit_id,
        batch=batch,
        location_id=location_id,
        doses=batch.doses_per_vial,
        opened_at=now,
        opened_by=user,
        use_before=now + timedelta(hours=batch.in_use_hours) if batch.in_use_hours else None,
    )


def _vial_for_dose(
    unit_id: int, batch: Batch, user: User, now: datetime, location_id: int | None
) -> tuple[Vial, int, list[Movement]]:
    """The open vial a dose comes from (locked), its doses left, and the wastage of vials closed on the way.

    A vial whose in-use period is over is closed and its leftover doses wasted; when no vial has a dose left,
    a new one is opened: the dose was given, so a vial was opened.
    """
    wasted: list[Movement] = []
    vials = Vial.objects.select_for_update().filter(care_unit_id=unit_id, batch=batch, closed_at__isnull=True)
    for vial in vials.order_by("opened_at", "pk"):
        left = _doses_left(vial)
        if (vial.use_before is not None and vial.use_before <= now) or left <= 0:
            wasted += _close_vial(vial, now, left)
            continue
        return vial, left, wasted
    vial = _open_vial(unit_id, batch, user, now, location_id)
    return vial, vial.doses, wasted


def _dose_statements() -> tuple[str, str, str, str]:
    """The signing path's statements, written out once: the ORM took more CPU to build them per dose than
    the database took to run them. Table names come from the models; every value is a parameter.

    `find` returns the batch (id, doses per vial, first seen in a dose, the location where the unit holds
    most of it). On PostgreSQL `book` finds the batch and, for a known single-dose batch, inserts the
    movement and adds it to the balance: one round trip, returning the batch's columns, the movement id
    and the new balance (both empty when the batch needs the general path). SQLite has no writing CTEs,
    and no round trips to save: it runs `find`, `insert` and `upsert`.
    """
    batch = Batch._meta.db_table
    balance = StockBalance._meta.db_table
    movement = Movement._meta.db_table
    find = (
        f"SELECT b.id, b.doses_per_vial, b.registered_from_dose, (SELECT s.location_id FROM {balance} s "  # noqa: S608
        "WHERE s.care_unit_id = %(unit)s AND s.batch_id = b.id AND s.quantity > 0 "
        "ORDER BY s.quantity DESC LIMIT 1) AS location_id "
        f"FROM {batch} b WHERE b.product_id = %(product)s AND b.batch_number = %(number)s"
    )
    columns = (
        f"INSERT INTO {movement} (care_unit_id, batch_id, location_id, kind, quantity, wastage_reason, "
        "vaccination_id, note, occurred_at, created_at, created_by_id) "
    )
    dose = "'administered', -1, '', %(vaccination)s, '', %(occurred)s, %(created)s, %(user)s"
    insert = f"{columns} VALUES (%(unit)s, %(batch)s, %(location)s, {dose}) RETURNING id"
    add = (
        f"ON CONFLICT (care_unit_id, batch_id, slot) DO UPDATE SET quantity = {balance}.quantity + "
        "excluded.quantity RETURNING quantity"
    )
    upsert = (
        f"INSERT INTO {balance} (care_unit_id, batch_id, location_id, slot, quantity) "  # noqa: S608
        f"VALUES (%(unit)s, %(batch)s, %(location)s, %(slot)s, -1) {add}"
    )
    book = (
        f"WITH b AS ({find}), "  # noqa: S608
        f"m AS ({columns} SELECT %(unit)s, b.id, b.location_id, {dose} FROM b WHERE b.doses_per_vial = 1 "
        "RETURNING id, batch_id, location_id), "
        f"t AS (INSERT INTO {balance} (care_unit_id, batch_id, location_id, slot, quantity) "
        f"SELECT %(unit)s, m.batch_id, m.location_id, COALESCE(m.location_id, 0), -1 FROM m {add}) "
        "SELECT b.id, b.doses_per_vial, b.registered_from_dose, b.location_id, m.id, t.quantity "
        "FROM b LEFT JOIN m ON TRUE LEFT JOIN t ON TRUE"
    )
    return find, insert, upsert, book


FIND_DOSE_BATCH, INSERT_DOSE, UPSERT_DOSE_BALANCE, BOOK_DOSE = _dose_statements()
# The fields that turn the statements' values into the database's form (UUIDs, datetimes on SQLite).
MOVEMENT_FIELDS = {f.attname: f for f in Movement._meta.concrete_fields}


def stock_dose_book(
    *,
    unit: CareUnit,
    vaccination_id: UUID,
    product_id: int,
    batch_number: str,
    given_at: datetime,
    user: User,
) -> int | None:
    """Book a signed dose out of the unit's stock of its batch; returns the movement's id, or None when the
    provider keeps no stock here.

    Called by the journal in the signing transaction, before its log write (every signer takes the balance
    row first, then the log's chain lock, so the two cannot deadlock, and the provider-wide chain lock is
    held the shortest). It never refuses: unknown batches and stock below zero are recorded and flagged. The
    usual case, a known single-dose batch, is one statement on PostgreSQL (`_dose_statements`).
    """
    if not uses_inventory(unit):
        return None
    number = _normal_batch_number(batch_number)
    connection = transaction.get_connection()
    field = MOVEMENT_FIELDS.__getitem__
    params: dict[str, object] = {
        "unit": unit.pk,
        "product": product_id,
        "number": number,
        "vaccination": field("vaccination_id").get_db_prep_save(vaccination_id, connection),
        "occurred": field("occurred_at").get_db_prep_save(given_at, connection),
        "created": field("created_at").get_db_prep_save(timezone.now(), connection),
        "user": user.pk,
    }
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(BOOK_DOSE, params)
            row = cursor.fetchone()
            if row is None or row[4] is None:
                return _dose_book_general(unit, vaccination_id, product_id, number, given_at, user)
            batch_id, _per_vial, unknown, _location, movement_id, balance = row
        else:
            cursor.execute(FIND_DOSE_BATCH, params)
            found = cursor.fetchone()
            if found is None or found[1] > 1:
                return _dose_book_general(unit, vaccination_id, product_id, number, given_at, user)
            batch_id, _per_vial, unknown, location_id = found
            params |= {"batch": batch_id, "location": location_id, "slot": location_id or 0}
            cursor.execute(INSERT_DOSE, params)
            (movement_id,) = cursor.fetchone()
            cursor.execute(UPSERT_DOSE_BALANCE, params)
            (balance,) = cursor.fetchone()
    flags = [(unit.pk, batch_id, FlagKind.NEGATIVE, movement_id)] if balance < 0 else []
    if unknown:
        flags.append((unit.pk, batch_id, FlagKind.UNKNOWN_BATCH, movement_id))
    _flag(flags)
    return int(movement_id)


def _dose_book_general(
    unit: CareUnit, vaccination_id: UUID, product_id: int, number: str, given_at: datetime, user: User
) -> int:
    """A dose from a batch nobody has registered, or from a multi-dose vial."""
    now = timezone.now()
    batch = _batch_for_dose(unit.pk, product_id, number)
    location_id: int | None = batch.likely_location_id  # type: ignore[attr-defined]
    vial: Vial | None = None
    left = 0
    extra: list[Movement] = []
    if batch.multi_dose:
        vial, left, extra = _vial_for_dose(unit.pk, batch, user, now, location_id)
        location_id = vial.location_id
    dose = Movement(
        care_unit=unit,
        batch=batch,
        location_id=location_id,
        kind=MovementKind.ADMINISTERED,
        quantity=-1,
        vaccination_id=vaccination_id,
        vial=vial,
        occurred_at=given_at,
        created_at=now,
        created_by=user,
    )
    _post([*extra, dose])
    if vial is not None and left <= 1:
        _close_vial(vial, now, 0)
    if batch.registered_from_dose:
        _flag([(unit.pk, batch.pk, FlagKind.UNKNOWN_BATCH, dose.pk)])
    return dose.pk


def stock_dose_return(*, vaccination_id: UUID, user: User, note: str) -> list[Movement]:
    """Give a dose back to the stock it was booked from (the entry was nullified, or its batch corrected).

    Nothing happens when no dose is booked for the entry (signed before the unit kept stock in Ympa, or
    already returned). A dose from a multi-dose vial that has since been closed cannot go back into use: it
    is returned and wasted with the vial.
    """
    booked = list(
        Movement.objects.filter(vaccination_id=vaccination_id).select_related("vial").order_by("-id")
    )
    if sum(m.quantity for m in booked) >= 0:
        return []
    last = next(m for m in booked if m.kind == MovementKind.ADMINISTERED)
    now = timezone.now()
    back = Movement(
        care_unit_id=last.care_unit_id,
        batch_id=last.batch_id,
        location_id=last.location_id,
        kind=MovementKind.RETURNED,
        quantity=1,
        vaccination_id=vaccination_id,
        vial=last.vial,
        note=note,
        occurred_at=now,
        created_at=now,
        created_by=user,
    )
    movements = [back]
    if last.vial is not None:
        vial = Vial.objects.select_for_update().get(pk=last.vial.pk)
        if vial.closed_at is not None or (vial.use_before is not None and vial.use_before <= now):
            movements.append(
                Movement(
                    care_unit_id=last.care_unit_id,
                    batch_id=last.batch_id,
                    location_id=last.location_id,
                    kind=MovementKind.WASTAGE,
                    quantity=-1,
                    wastage_reason=WastageReason.OPENED_VIAL,
                    vial=vial,
                    note=note,
                    occurred_at=now,
                    created_at=now,
                    created_by=user,
                )
            )
    return _post(movements)


def stock_dose_rebook(
    *,
    unit: CareUnit,
    vaccination_id: UUID,
    product_id: int,
    batch_number: str,
    given_at: datetime,
    user: User,
    note: str,
) -> None:
    """A signed entry's product or batch was corrected: the dose goes back to the old batch and out of the
    new one (at the unit that gave it)."""
    # An entry signed before its unit kept stock in Ympa has no booked dose: nothing to move.
    if stock_dose_return(vaccination_id=vaccination_id, user=user, note=note):
        stock_dose_book(
            unit=unit,
            vaccination_id=vaccination_id,
            product_id=product_id,
            batch_number=batch_number,
            given_at=given_at,
            user=user,
        )


# ---------------------------------------------------------------------------------------------------------
# Deliveries, wastage, transfers, counts, vials: the stock administrator's actions.


@dataclass(frozen=True)
class ReceiptLine:
    """One line of a delivery note: a batch and how many packages of it came."""

    product: Product
    batch_number: str
    expiry: date
    packages: int
    doses_per_package: int = 1
    doses_per_vial: int = 1
    in_use_hours: int | None = None
    location: StorageLocation | None = None

    @property
    def doses(self) -> int:
        return self.packages * self.doses_per_package


def _check_location(location: StorageLocation | None, unit: CareUnit, field: str) -> None:
    if location is not None and (location.care_unit_id != unit.pk or not location.active):
        raise ValidationError({field: _("Choose a storage location of your own care unit.")})


def _line_errors(index: int, line: ReceiptLine, unit: CareUnit, today: date) -> dict[str, str]:
    prefix = f"lines-{index}-"
    errors: dict[str, str] = {}
    number = _normal_batch_number(line.batch_number)
    if not number:
        errors[prefix + "batch_number"] = _("Enter the batch number from the package.")
    elif len(number) > MAX_BATCH_LENGTH:
        errors[prefix + "batch_number"] = _("The batch number is longer than 40 characters.")
    if line.expiry < today:
        errors[prefix + "expiry"] = _("This batch expired on %(expiry)s. Do not receive expired vaccine.") % {
            "expiry": line.expiry.isoformat()
        }
    if not 1 <= line.packages <= MAX_QUANTITY:
        errors[prefix + "packages"] = _("Enter a number of packages from 1 to %(max)d.") % {
            "max": MAX_QUANTITY
        }
    if not 1 <= line.doses_per_package <= 1000:
        errors[prefix + "doses_per_package"] = _("Enter the doses per package (1 to 1000).")
    if not 1 <= line.doses_per_vial <= 100 or line.doses_per_vial > line.doses_per_package:
        errors[prefix + "doses_per_vial"] = _(
            "Enter the doses per vial (1 to 100, at most the doses per package)."
        )
    if line.in_use_hours is not None and not 1 <= line.in_use_hours <= 24 * 30:
        errors[prefix + "in_use_hours"] = _("Enter the in-use period in hours (1 to 720), or leave it empty.")
    if line.location is not None and (line.location.care_unit_id != unit.pk or not line.location.active):
        errors[prefix + "location"] = _("Choose a storage location of your own care unit.")
    return errors


def _receipt_batch(line: ReceiptLine, supplier: str) -> Batch:
    """The batch of a receipt line: created, or completed from the delivery when a dose named it first.

    A batch already known with other facts (another expiry or vial size) is refused: one of the two is a
    typing error, and the stock of both would be mixed up.
    """
    number = _normal_batch_number(line.batch_number)
    batch = Batch.objects.select_for_update().filter(product=line.product, batch_number=number).first()
    if batch is None:
        try:
            with transaction.atomic():
                return Batch.objects.create(
                    product=line.product,
                    batch_number=number,
                    expiry=line.expiry,
                    supplier=supplier,
                    doses_per_package=line.doses_per_package,
                    doses_per_vial=line.doses_per_vial,
                    in_use_hours=line.in_use_hours,
                )
        except IntegrityError:
            batch = Batch.objects.select_for_update().get(product=line.product, batch_number=number)
    if batch.registered_from_dose:
        batch.expiry = line.expiry
        batch.supplier = supplier
        batch.doses_per_package = line.doses_per_package
        batch.doses_per_vial = line.doses_per_vial
        batch.in_use_hours = line.in_use_hours
        batch.registered_from_dose = False
        batch.save()
        return batch
    if batch.expiry != line.expiry or batch.doses_per_vial != line.doses_per_vial:
        raise ValidationError(
            {
                "__all__": _(
                    "Batch %(batch)s of %(product)s is already registered with expiry %(expiry)s and "
                    "%(per_vial)d doses per vial. Check the package."
                )
                % {
                    "batch": number,
                    "product": line.product.name,
                    "expiry": batch.expiry.isoformat() if batch.expiry else "-",
                    "per_vial": batch.doses_per_vial,
                }
            }
        )
    return batch


@transaction.atomic
def delivery_receive(
    *,
    actor: Actor,
    supplier: str,
    lines: list[ReceiptLine],
    delivery_note: str = "",
    note: str = "",
    purchase_order: PurchaseOrder | None = None,
    idempotency_key: str = "",
) -> Delivery:
    """Receive a delivery: one receipt movement per line. The same idempotency key returns the first one."""
    user, _assignment, unit = _stock_staff(actor)
    key = idempotency_key.strip()[:64]
    if key:
        existing = Delivery.objects.filter(received_by=user, idempotency_key=key).first()
        if existing is not None:
            return existing
    errors: dict[str, str] = {}
    supplier = supplier.strip()
    if not supplier:
        errors["supplier"] = _("Enter the supplier.")
    if not lines:
        errors["__all__"] = _("Add at least one line from the delivery note.")
    if len(lines) > MAX_LINES:
        errors["__all__"] = _("A delivery can have at most %(n)d lines.") % {"n": MAX_LINES}
    today = timezone.localdate()
    for index, line in enumerate(lines):
        errors.update(_line_errors(index, line, unit, today))
    if purchase_order is not None:
        # Read again under a lock: two deliveries must not both receive one order, nor one a cancelled order.
        purchase_order = PurchaseOrder.objects.select_for_update().get(pk=purchase_order.pk)
    if purchase_order is not None and (
        purchase_order.care_unit_id != unit.pk or purchase_order.status != PurchaseOrderStatus.SENT
    ):
        errors["purchase_order"] = _("Choose a sent purchase order of your own care unit.")
    if errors:
        raise ValidationError(errors)
    now = timezone.now()
    try:
        with transaction.atomic():
            delivery = Delivery.objects.create(
                care_unit=unit,
                supplier=supplier,
                delivery_note=delivery_note.strip()[:100],
                purchase_order=purchase_order,
                received_at=now,
                received_by=user,
                note=note.strip(),
                idempotency_key=key,
            )
    except IntegrityError:
        # A concurrent double submit won the race on the idempotency constraint: its delivery is this one.
        existing = Delivery.objects.filter(received_by=user, idempotency_key=key).first() if key else None
        if existing is None:
            raise
        return existing
    movements = [
        Movement(
            care_unit=unit,
            batch=_receipt_batch(line, supplier),
            location=line.location,
            kind=MovementKind.RECEIPT,
            quantity=line.doses,
            delivery=delivery,
            occurred_at=now,
            created_at=now,
            created_by=user,
        )
        for line in lines
    ]
    _post(movements)
    if purchase_order is not None:
        purchase_order.status = PurchaseOrderStatus.RECEIVED
        purchase_order.received_at = now
        purchase_order.save(update_fields=["status", "received_at"])
    return delivery


def _check_quantity(quantity: int, field: str = "quantity") -> None:
    if not 1 <= quantity <= MAX_QUANTITY:
        raise ValidationError(
            {field: _("Enter a number of doses from 1 to %(max)d.") % {"max": MAX_QUANTITY}}
        )


@transaction.atomic
def wastage_record(
    *,
    actor: Actor,
    batch: Batch,
    quantity: int,
    reason: str,
    note: str = "",
    location: StorageLocation | None = None,
) -> Movement:
    """Book doses that were thrown away, with the reason."""
    user, _assignment, unit = _stock_staff(actor)
    _check_quantity(quantity)
    _check_location(location, unit, "location")
    if reason not in WastageReason.values:
        raise ValidationError({"reason": _("Choose why the doses were discarded.")})
    if reason == WastageReason.OTHER and not note.strip():
        raise ValidationError({"note": _("Say what happened to the doses.")})
    now = timezone.now()
    (movement,) = _post(
        [
            Movement(
                care_unit=unit,
                batch=batch,
                location=location,
                kind=MovementKind.WASTAGE,
                quantity=-quantity,
                wastage_reason=reason,
                note=note.strip(),
                occurred_at=now,
                created_at=now,
                created_by=user,
            )
        ]
    )
    return movement


@transaction.atomic
def transfer_send(
    *,
    actor: Actor,
    batch: Batch,
    to_unit: CareUnit,
    quantity: int,
    note: str = "",
    location: StorageLocation | None = None,
) -> Transfer:
    """Send stock to another unit of the same care provider; it is out of this unit's stock at once."""
    user, _assignment, unit = _stock_staff(actor)
    _check_quantity(quantity)
    _check_location(location, unit, "location")
    if to_unit.pk == unit.pk:
        raise ValidationError({"to_unit": _("Choose another care unit than your own.")})
    if to_unit.care_provider_id != unit.care_provider_id:
        raise ValidationError({"to_unit": _("Stock can only be sent to units of your own care provider.")})
    now = timezone.now()
    transfer = Transfer.objects.create(
        from_unit=unit, to_unit=to_unit, batch=batch, quantity=quantity, sent_at=now, sent_by=user, note=note
    )
    _post(
        [
            Movement(
                care_unit=unit,
                batch=batch,
                location=location,
                kind=MovementKind.TRANSFER_OUT,
                quantity=-quantity,
                transfer=transfer,
                occurred_at=now,
                created_at=now,
                created_by=user,
            )
        ]
    )
    return transfer


@transaction.atomic
def transfer_receive(
    *, actor: Actor, transfer: Transfer, location: StorageLocation | None = None
) -> Transfer:
    """The receiving unit books the sent stock in."""
    user, _assignment, unit = _stock_staff(actor)
    locked = Transfer.objects.select_for_update().get(pk=transfer.pk)
    if locked.to_unit_id != unit.pk:
        raise NotPermitted(_("Only the receiving care unit can receive this transfer."))
    if locked.status != TransferStatus.SENT:
        raise ConflictError(_("This transfer has already been received."), code="received")
    _check_location(location, unit, "location")
    now = timezone.now()
    locked.status = TransferStatus.RECEIVED
    locked.received_at = now
    locked.received_by = user
    locked.save(update_fields=["status", "received_at", "received_by"])
    _post(
        [
            Movement(
                care_unit=unit,
                batch_id=locked.batch_id,
                location=location,
                kind=MovementKind.TRANSFER_IN,
                quantity=locked.quantity,
                transfer=locked,
                occurred_at=now,
                created_at=now,
                created_by=user,
            )
        ]
    )
    return locked


@transaction.atomic
def stock_count_start(*, actor: Actor) -> StockCount:
    user, _assignment, unit = _stock_staff(actor)
    if StockCount.objects.filter(care_unit=unit, status=StockCountStatus.OPEN).exists():
        raise ConflictError(_("A stock count is already open at your care unit."), code="count_open")
    try:
        with transaction.atomic():
            return StockCount.objects.create(care_unit=unit, started_by=user)
    except IntegrityError as error:
        raise ConflictError(
            _("A stock count is already open at your care unit."), code="count_open"
        ) from error


def _open_count(unit: CareUnit, stock_count: StockCount) -> StockCount:
    locked = StockCount.objects.select_for_update().get(pk=stock_count.pk)
    if locked.care_unit_id != unit.pk:
        raise NotPermitted(_("This stock count belongs to another care unit."))
    if locked.status != StockCountStatus.OPEN:
        raise ConflictError(_("This stock count is closed."), code="count_closed")
    return locked


@transaction.atomic
def stock_count_line_record(
    *,
    actor: Actor,
    stock_count: StockCount,
    batch: Batch,
    counted: int,
    location: StorageLocation | None = None,
) -> StockCountLine:
    """Record what was counted of a batch. The ledger's balance at this moment is kept beside it, so doses
    given while the count goes on do not count as a difference."""
    user, _assignment, unit = _stock_staff(actor)
    locked = _open_count(unit, stock_count)
    _check_location(location, unit, "location")
    if not 0 <= counted <= MAX_QUANTITY:
        raise ValidationError({"counted": _("Enter the number of doses counted (0 or more).")})
    slot = _slot(location)
    expected = (
        StockBalance.objects.filter(care_unit=unit, batch=batch, slot=slot)
        .values_list("quantity", flat=True)
        .first()
        or 0
    )
    line, _created = StockCountLine.objects.update_or_create(
        stock_count=locked,
        batch=batch,
        slot=slot,
        defaults={
            "location": location,
            "expected": expected,
            "counted": counted,
            "counted_at": timezone.now(),
            "counted_by": user,
        },
    )
    return line


@transaction.atomic
def stock_count_close(*, actor: Actor, stock_count: StockCount) -> list[Movement]:
    """Close the count: each difference becomes an adjustment, and the unit's open stock flags for the
    counted batches are resolved by it."""
    user, _assignment, unit = _stock_staff(actor)
    locked = _open_count(unit, stock_count)
    now = timezone.now()
    lines = list(locked.lines.all())
    movements = [
        Movement(
            care_unit=unit,
            batch_id=line.batch_id,
            location_id=line.location_id,
            kind=MovementKind.ADJUSTMENT,
            quantity=line.counted - line.expected,
            stock_count=locked,
            occurred_at=line.counted_at,
            created_at=now,
            created_by=user,
        )
        for line in lines
        if line.counted != line.expected
    ]
    _post(movements)
    locked.status = StockCountStatus.CLOSED
    locked.closed_at = now
    locked.closed_by = user
    locked.save(update_fields=["status", "closed_at", "closed_by"])
    StockFlag.objects.filter(
        care_unit=unit, batch_id__in=[line.batch_id for line in lines], resolved_at__isnull=True
    ).update(resolved_at=now, resolved_by=user, resolution=_("Stock count %(id)d") % {"id": locked.pk})
    return movements


@transaction.atomic
def stock_flag_resolve(*, actor: Actor, flag: StockFlag, resolution: str) -> StockFlag:
    user, _assignment, unit = _stock_staff(actor)
    locked = StockFlag.objects.select_for_update().get(pk=flag.pk)
    if locked.care_unit_id != unit.pk:
        raise NotPermitted(_("This flag belongs to another care unit."))
    if locked.resolved_at is not None:
        raise ConflictError(_("This flag is already resolved."), code="resolved")
    text = resolution.strip()
    if not text:
        raise ValidationError({"resolution": _("Say how the problem was resolved.")})
    locked.resolved_at = timezone.now()
    locked.resolved_by = user
    locked.resolution = text
    locked.save(update_fields=["resolved_at", "resolved_by", "resolution"])
    return locked


@transaction.atomic
def vial_open(*, actor: Actor, batch: Batch, location: StorageLocation | None = None) -> Vial:
    """Open a multi-dose vial explicitly (doses given from the batch also open one when none is open)."""
    user, _assignment, unit = _stock_staff(actor)
    if not batch.multi_dose:
        raise ValidationError({"batch": _("This batch has one dose per vial.")})
    _check_location(location, unit, "location")
    return _open_vial(unit.pk, batch, user, timezone.now(), location.pk if location else None)


@transaction.atomic
def vials_expire(*, now: datetime | None = None) -> int:
    """Close every open vial whose in-use period is over and waste what is left in it. Returns the number
    closed. Idempotent: a closed vial is not touched again."""
    moment = now or timezone.now()
    wasted: list[Movement] = []
    closed = 0
    expired = Vial.objects.select_for_update(skip_locked=True).filter(
        closed_at__isnull=True, use_before__lte=moment
    )
    for vial in expired.order_by("pk"):
        wasted += _close_vial(vial, moment, _doses_left(vial))
        closed += 1
    _post(wasted)
    return closed


@transaction.atomic
def storage_location_create(*, actor: Actor, name: str) -> StorageLocation:
    _user, _assignment, unit = _stock_staff(actor)
    text = name.strip()
    if not text or len(text) > 100:
        raise ValidationError({"name": _("Enter a name of at most 100 characters.")})
    if StorageLocation.objects.filter(care_unit=unit, name__iexact=text).exists():
        raise ValidationError({"name": _("Your care unit already has a storage location with that name.")})
    return StorageLocation.objects.create(care_unit=unit, name=text)


# ---------------------------------------------------------------------------------------------------------
# Reorder levels and purchase orders.


@transaction.atomic
def reorder_level_set(
    *, actor: Actor, product: Product, reorder_at: int, order_quantity: int
) -> ReorderLevel:
    _user, _assignment, unit = _stock_staff(actor)
    if not 0 <= reorder_at <= MAX_QUANTITY:
        raise ValidationError({"reorder_at": _("Enter the level in doses (0 or more).")})
    _check_quantity(order_quantity, "order_quantity")
    level, _created = ReorderLevel.objects.update_or_create(
        care_unit=unit, product=product, defaults={"reorder_at": reorder_at, "order_quantity": order_quantity}
    )
    return level


@transaction.atomic
def purchase_order_create(
    *, actor: Actor, supplier: str, lines: list[tuple[Product, int]], note: str = ""
) -> PurchaseOrder:
    user, _assignment, unit = _stock_staff(actor)
    text = supplier.strip()
    if not text:
        raise ValidationError({"supplier": _("Enter the supplier.")})
    if not lines:
        raise ValidationError({"__all__": _("Add at least one product to order.")})
    merged: dict[int, tuple[Product, int]] = {}
    for product, quantity in lines:
        _check_quantity(quantity)
        previous = merged.get(product.pk)
        merged[product.pk] = (product, quantity + (previous[1] if previous else 0))
    order = PurchaseOrder.objects.create(care_unit=unit, supplier=text, created_by=user, note=note.strip())
    PurchaseOrderLine.objects.bulk_create(
        [PurchaseOrderLine(purchase_order=order, product=p, quantity=q) for p, q in merged.values()]
    )
    return order


def _own_order(unit: CareUnit, order: PurchaseOrder) -> PurchaseOrder:
    locked = PurchaseOrder.objects.select_for_update().get(pk=order.pk)
    if locked.care_unit_id != unit.pk:
        raise NotPermitted(_("This purchase order belongs to another care unit."))
    return locked


@transaction.atomic
def purchase_order_send(*, actor: Actor, order: PurchaseOrder) -> PurchaseOrder:
    user, _assignment, unit = _stock_staff(actor)
    locked = _own_order(unit, order)
    if locked.status != PurchaseOrderStatus.DRAFT:
        raise ConflictError(_("Only a draft purchase order can be sent."), code="not_draft")
    locked.status = PurchaseOrderStatus.SENT
    locked.sent_at = timezone.now()
    locked.sent_by = user
    locked.save(update_fields=["status", "sent_at", "sent_by"])
    return locked


@transaction.atomic
def purchase_order_cancel(*, actor: Actor, order: PurchaseOrder) -> PurchaseOrder:
    _user, _assignment, unit = _stock_staff(actor)
    locked = _own_order(unit, order)
    if locked.status not in (PurchaseOrderStatus.DRAFT, PurchaseOrderStatus.SENT):
        raise ConflictError(_("A received purchase order cannot be cancelled."), code="received")
    locked.status = PurchaseOrderStatus.CANCELLED
    locked.save(update_fields=["status"])
    return locked
