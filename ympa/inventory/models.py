"""Vaccine stock: batches, an immutable ledger of movements, and what is built on it.

The ledger (`Movement`) is the truth: every receipt, administered dose, returned dose, wastage, transfer
and count adjustment is one row that is never changed or deleted (database triggers refuse it). A unit's
balance of a batch is the sum of its movements. `StockBalance` caches that sum so that a balance page does
not add up a million rows; only `ympa.inventory.services` writes either table, in the same statement
sequence of one transaction, and `stock_verify` proves them equal.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Batch(models.Model):
    """A manufacturer's batch (lot) of one product. Stock of it is held per care unit."""

    product = models.ForeignKey("catalog.Product", on_delete=models.PROTECT, related_name="batches")
    # Upper case, as the journal stores it: read off a vial and typed, case carries no meaning.
    batch_number = models.CharField(max_length=40)
    # Empty when the batch was first seen in a recorded dose rather than in a delivery.
    expiry = models.DateField(null=True, blank=True)
    supplier = models.CharField(max_length=200, blank=True)
    doses_per_package = models.PositiveSmallIntegerField(default=1)
    # More than one: a multi-dose vial, opened once and used for several patients within its in-use period.
    doses_per_vial = models.PositiveSmallIntegerField(default=1)
    # How long an opened multi-dose vial may be used, from the product's summary of product
    # characteristics as entered at receipt. Empty: not known, and an opened vial is not closed by time.
    in_use_hours = models.PositiveSmallIntegerField(null=True, blank=True)
    # True when a dose named this batch before any delivery of it was received anywhere.
    registered_from_dose = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["product", "expiry", "batch_number"]
        constraints = [
            models.UniqueConstraint(fields=["product", "batch_number"], name="batch_unique_per_product"),
            models.CheckConstraint(condition=Q(doses_per_package__gte=1), name="batch_doses_per_package"),
            models.CheckConstraint(condition=Q(doses_per_vial__gte=1), name="batch_doses_per_vial"),
        ]

    def __str__(self) -> str:
        return f"{self.product} {self.batch_number}"

    @property
    def multi_dose(self) -> bool:
        return self.doses_per_vial > 1


class StorageLocation(models.Model):
    """A place in a unit where stock is kept, such as a fridge. Optional: stock may have no location."""

    care_unit = models.ForeignKey("orgs.CareUnit", on_delete=models.PROTECT, related_name="storage_locations")
    name = models.CharField(max_length=100)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["care_unit", "name"]
        constraints = [
            models.UniqueConstraint(fields=["care_unit", "name"], name="storage_location_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name


class MovementKind(models.TextChoices):
    RECEIPT = "receipt", _("Receipt")
    ADMINISTERED = "administered", _("Dose administered")
    RETURNED = "returned", _("Dose returned")
    WASTAGE = "wastage", _("Wastage")
    TRANSFER_OUT = "transfer_out", _("Transfer out")
    TRANSFER_IN = "transfer_in", _("Transfer in")
    ADJUSTMENT = "adjustment", _("Count adjustment")


class WastageReason(models.TextChoices):
    BROKEN = "broken", _("Broken or damaged")
    EXPIRED = "expired", _("Expired")
    COLD_CHAIN = "cold_chain", _("Cold-chain failure")
    OPENED_VIAL = "opened_vial", _("Opened multi-dose vial discarded")
    OTHER = "other", _("Other (see note)")


# Which sign each kind's quantity has; a database constraint holds every row to it.
INBOUND = (MovementKind.RECEIPT, MovementKind.RETURNED, MovementKind.TRANSFER_IN)
OUTBOUND = (MovementKind.ADMINISTERED, MovementKind.WASTAGE, MovementKind.TRANSFER_OUT)


class Delivery(models.Model):
    """A delivery received at a unit, with the supplier's delivery note. Its lines are receipt movements."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    care_unit = models.ForeignKey("orgs.CareUnit", on_delete=models.PROTECT, related_name="deliveries")
    supplier = models.CharField(max_length=200)
    delivery_note = models.CharField(max_length=100, blank=True)
    purchase_order = models.ForeignKey(
        "PurchaseOrder", on_delete=models.PROTECT, null=True, blank=True, related_name="deliveries"
    )
    received_at = models.DateTimeField(default=timezone.now)
    received_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    note = models.TextField(blank=True)
    # A double submit of the receipt form (same user, same key) yields the first delivery, not a second one.
    idempotency_key = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["received_by", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="delivery_idempotency_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.supplier} {self.delivery_note}".strip()


class TransferStatus(models.TextChoices):
    SENT = "sent", _("Sent")
    RECEIVED = "received", _("Received")


class Transfer(models.Model):
    """Stock sent from one unit to another: booked out when sent, booked in when the other end receives."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    from_unit = models.ForeignKey("orgs.CareUnit", on_delete=models.PROTECT, related_name="transfers_out")
    to_unit = models.ForeignKey("orgs.CareUnit", on_delete=models.PROTECT, related_name="transfers_in")
    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="transfers")
    quantity = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=TransferStatus.choices, default=TransferStatus.SENT)
    sent_at = models.DateTimeField(default=timezone.now)
    sent_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    received_at = models.DateTimeField(null=True, blank=True)
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["-sent_at"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="transfer_quantity_positive"),
            models.CheckConstraint(condition=~Q(from_unit=models.F("to_unit")), name="transfer_two_units"),
            models.CheckConstraint(
                condition=Q(status="sent", received_at__isnull=True, received_by__isnull=True)
                | Q(status="received", received_at__isnull=False, received_by__isnull=False),
                name="transfer_receipt_complete",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.batch} {self.from_unit} → {self.to_unit}"


class StockCountStatus(models.TextChoices):
    OPEN = "open", _("Open")
    CLOSED = "closed", _("Closed")


class StockCount(models.Model):
    """An inventering: staff count what is on the shelf; closing it books the differences as adjustments."""

    care_unit = models.ForeignKey("orgs.CareUnit", on_delete=models.PROTECT, related_name="stock_counts")
    status = models.CharField(max_length=10, choices=StockCountStatus.choices, default=StockCountStatus.OPEN)
    started_at = models.DateTimeField(default=timezone.now)
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            # One count at a time per unit: two would book the same difference twice.
            models.UniqueConstraint(
                fields=["care_unit"], condition=Q(status="open"), name="stock_count_one_open_per_unit"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.care_unit} {self.started_at:%Y-%m-%d}"


class StockCountLine(models.Model):
    """One batch (at one location) counted: what the ledger said at that moment, and what was there."""

    stock_count = models.ForeignKey(StockCount, on_delete=models.PROTECT, related_name="lines")
    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey(StorageLocation, on_delete=models.PROTECT, null=True, blank=True)
    # The location's id, 0 for none: NULLs are distinct in a unique index, this key is not.
    slot = models.PositiveIntegerField(default=0)
    expected = models.IntegerField()
    counted = models.PositiveIntegerField()
    counted_at = models.DateTimeField(default=timezone.now)
    counted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["stock_count", "batch", "slot"], name="stock_count_line_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.batch_id}: {self.counted} ({self.expected})"


class Vial(models.Model):
    """An opened multi-dose vial. Its doses left are derived from the movements that name it."""

    care_unit = models.ForeignKey("orgs.CareUnit", on_delete=models.PROTECT, related_name="vials")
    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="vials")
    location = models.ForeignKey(StorageLocation, on_delete=models.PROTECT, null=True, blank=True)
    doses = models.PositiveSmallIntegerField()
    opened_at = models.DateTimeField(default=timezone.now)
    opened_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # opened_at + the batch's in-use period; empty when the period is not known.
    use_before = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["opened_at"]
        indexes = [
            models.Index(
                fields=["care_unit", "batch"], condition=Q(closed_at__isnull=True), name="vial_open_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.batch} {self.opened_at:%Y-%m-%d %H:%M}"


class Movement(models.Model):
    """One line of the stock ledger, in doses: positive in, negative out. Never changed or deleted."""

    id = models.BigAutoField(primary_key=True)
    # Every signed dose inserts a row, and every index is one more write per dose: the foreign keys get no
    # index of their own where the composite indexes below serve (unit, batch), and only partial indexes
    # where most rows are empty (a dose has no delivery, transfer, count, vial or location).
    care_unit = models.ForeignKey(
        "orgs.CareUnit", on_delete=models.PROTECT, related_name="stock_movements", db_index=False
    )
    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="movements", db_index=False)
    location = models.ForeignKey(
        StorageLocation, on_delete=models.PROTECT, null=True, blank=True, db_index=False
    )
    kind = models.CharField(max_length=14, choices=MovementKind.choices)
    quantity = models.IntegerField()
    wastage_reason = models.CharField(max_length=12, choices=WastageReason.choices, blank=True)
    vaccination = models.ForeignKey(
        "journal.Vaccination", on_delete=models.PROTECT, null=True, blank=True, related_name="stock_movements"
    )
    delivery = models.ForeignKey(
        Delivery, on_delete=models.PROTECT, null=True, blank=True, related_name="movements", db_index=False
    )
    transfer = models.ForeignKey(
        Transfer, on_delete=models.PROTECT, null=True, blank=True, related_name="movements", db_index=False
    )
    stock_count = models.ForeignKey(
        StockCount, on_delete=models.PROTECT, null=True, blank=True, related_name="movements", db_index=False
    )
    vial = models.ForeignKey(
        Vial, on_delete=models.PROTECT, null=True, blank=True, related_name="movements", db_index=False
    )
    note = models.TextField(blank=True)
    # When it happened (a dose: when it was given); created_at is when it was booked.
    occurred_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(default=timezone.now)
    # Empty for the system's own bookings (an expired vial's leftover doses).
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(kind__in=[k.value for k in INBOUND]) & Q(quantity__gt=0))
                | (Q(kind__in=[k.value for k in OUTBOUND]) & Q(quantity__lt=0))
                | (Q(kind="adjustment") & ~Q(quantity=0)),
                name="movement_quantity_sign",
            ),
            models.CheckConstraint(
                condition=Q(kind="wastage", wastage_reason__gt="")
                | (~Q(kind="wastage") & Q(wastage_reason="")),
                name="movement_wastage_reason",
            ),
            models.CheckConstraint(
                condition=~Q(kind__in=["administered", "returned"]) | Q(vaccination__isnull=False),
                name="movement_dose_has_vaccination",
            ),
            models.CheckConstraint(
                condition=~Q(kind="receipt") | Q(delivery__isnull=False), name="movement_receipt_has_delivery"
            ),
            models.CheckConstraint(
                condition=~Q(kind__in=["transfer_out", "transfer_in"]) | Q(transfer__isnull=False),
                name="movement_transfer_has_transfer",
            ),
        ]
        indexes = [
            # Holds every column a balance needs: summing a unit's ledger reads the index alone.
            models.Index(
                fields=["care_unit", "batch", "location", "quantity"], name="movement_unit_batch_idx"
            ),
            models.Index(fields=["care_unit", "kind", "occurred_at"], name="movement_unit_kind_time_idx"),
            *(
                models.Index(
                    fields=[name], condition=Q(**{f"{name}__isnull": False}), name=f"movement_{name}_idx"
                )
                for name in ("delivery", "transfer", "stock_count", "vial", "location")
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.quantity} {self.batch}"


class StockBalance(models.Model):
    """The cached sum of a unit's movements of one batch at one location (see the module docstring)."""

    care_unit = models.ForeignKey("orgs.CareUnit", on_delete=models.PROTECT, related_name="stock_balances")
    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="balances")
    location = models.ForeignKey(StorageLocation, on_delete=models.PROTECT, null=True, blank=True)
    slot = models.PositiveIntegerField(default=0)
    quantity = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["care_unit", "batch", "slot"], name="stock_balance_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.care_unit} {self.batch}: {self.quantity}"


class FlagKind(models.TextChoices):
    NEGATIVE = "negative", _("Stock below zero")
    UNKNOWN_BATCH = "unknown_batch", _("Dose from a batch never received")


class StockFlag(models.Model):
    """Something the unit's stock administrator should look at. A dose is never refused for stock: it is
    recorded, and the problem is flagged here until someone resolves it (usually with a count)."""

    care_unit = models.ForeignKey("orgs.CareUnit", on_delete=models.PROTECT, related_name="stock_flags")
    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="flags")
    kind = models.CharField(max_length=14, choices=FlagKind.choices)
    movement = models.ForeignKey(Movement, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    resolution = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # One open flag per problem: the hundredth dose into negative stock does not add a hundredth flag.
            models.UniqueConstraint(
                fields=["care_unit", "batch", "kind"],
                condition=Q(resolved_at__isnull=True),
                name="stock_flag_one_open",
            ),
            models.CheckConstraint(
                condition=Q(resolved_at__isnull=True, resolved_by__isnull=True)
                | (Q(resolved_at__isnull=False, resolved_by__isnull=False) & ~Q(resolution="")),
                name="stock_flag_resolution_complete",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.batch_id}"


class ReorderLevel(models.Model):
    """When a unit's usable stock of a product falls to `reorder_at` doses, it goes on the "to order" list."""

    care_unit = models.ForeignKey("orgs.CareUnit", on_delete=models.PROTECT, related_name="reorder_levels")
    product = models.ForeignKey("catalog.Product", on_delete=models.PROTECT, related_name="+")
    reorder_at = models.PositiveIntegerField()
    order_quantity = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["care_unit", "product"], name="reorder_level_unique"),
            models.CheckConstraint(condition=Q(order_quantity__gte=1), name="reorder_quantity_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.product_id} ≤ {self.reorder_at}"


class PurchaseOrderStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SENT = "sent", _("Sent")
    RECEIVED = "received", _("Received")
    CANCELLED = "cancelled", _("Cancelled")


class PurchaseOrder(models.Model):
    """A beställning to a supplier: drafted, sent, then received against a delivery."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    care_unit = models.ForeignKey("orgs.CareUnit", on_delete=models.PROTECT, related_name="purchase_orders")
    supplier = models.CharField(max_length=200)
    status = models.CharField(
        max_length=10, choices=PurchaseOrderStatus.choices, default=PurchaseOrderStatus.DRAFT
    )
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    sent_at = models.DateTimeField(null=True, blank=True)
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    received_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.supplier} {self.created_at:%Y-%m-%d}"


class PurchaseOrderLine(models.Model):
    purchase_order = models.ForeignKey(PurchaseOrder, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey("catalog.Product", on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["purchase_order", "product"], name="purchase_order_line_unique"),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="purchase_order_line_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.product_id}: {self.quantity}"
