"""Reads of the stock: balances, the ledger, consumption and wastage, what to order, who got a batch.

Statistics elsewhere reuse these rather than writing their own (the region's recall list is
`dose_recipients`). Balances come from the cached `StockBalance`; `stock_verify` sums the ledger itself.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from django.db.models import DateField, Q, QuerySet, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from ympa.catalog.models import Product
from ympa.core.dates import day_after, day_start
from ympa.inventory.models import (
    Batch,
    Movement,
    MovementKind,
    PurchaseOrderLine,
    PurchaseOrderStatus,
    ReorderLevel,
    StockBalance,
    StockFlag,
    Vial,
)
from ympa.journal.models import EntryStatus, Vaccination
from ympa.orgs.models import CareUnit

# Expiry warnings: a batch expiring within this many days gets the first band it falls in.
EXPIRY_BANDS = (30, 60, 90)


def expiry_band(expiry: date | None, today: date) -> int | None:
    """0 when expired, else the first of 30/60/90 days it expires within; None when later or unknown."""
    if expiry is None:
        return None
    if expiry < today:
        return 0
    days = (expiry - today).days
    return next((band for band in EXPIRY_BANDS if days <= band), None)


@dataclass(frozen=True)
class BalanceRow:
    batch: Batch
    location: str
    quantity: int
    band: int | None
    open_vial_doses: int | None = None
    location_id: int | None = None

    @property
    def expired(self) -> bool:
        return self.band == 0


def unit_balances(
    *, unit: CareUnit, today: date | None = None, include_empty: bool = False
) -> list[BalanceRow]:
    """The unit's stock per batch and location, soonest expiry first. One query (two with open vials)."""
    day = today or timezone.localdate()
    rows = StockBalance.objects.filter(care_unit=unit).select_related("batch__product", "location")
    if not include_empty:
        rows = rows.exclude(quantity=0)
    vials = open_vial_doses(unit=unit)
    result = [
        BalanceRow(
            batch=row.batch,
            location=row.location.name if row.location else "",
            quantity=row.quantity,
            band=expiry_band(row.batch.expiry, day),
            open_vial_doses=vials.get(row.batch_id),
            location_id=row.location_id,
        )
        for row in rows
    ]
    result.sort(
        key=lambda r: (r.batch.expiry or date.max, r.batch.product.name, r.batch.batch_number, r.location)
    )
    return result


def open_vial_doses(*, unit: CareUnit) -> dict[int, int]:
    """Doses left in the unit's open multi-dose vials, per batch (an expired vial counts as none left)."""
    now = timezone.now()
    vials = (
        Vial.objects.filter(care_unit=unit, closed_at__isnull=True)
        .filter(Q(use_before__isnull=True) | Q(use_before__gt=now))
        .annotate(used=Sum("movements__quantity"))
        .values_list("batch_id", "doses", "used")
    )
    left: dict[int, int] = defaultdict(int)
    for batch_id, doses, used in vials:
        left[batch_id] += max(doses + (used or 0), 0)
    return dict(left)


def open_vials(*, unit: CareUnit) -> list[tuple[Vial, int]]:
    """The unit's open vials with doses left, oldest first."""
    now = timezone.now()
    vials = (
        Vial.objects.filter(care_unit=unit, closed_at__isnull=True)
        .select_related("batch__product", "location")
        .annotate(used=Sum("movements__quantity"))
        .order_by("opened_at", "pk")
    )
    return [
        (vial, max(vial.doses + (vial.used or 0), 0))
        for vial in vials
        if vial.use_before is None or vial.use_before > now
    ]


@dataclass(frozen=True)
class BatchChoice:
    """A batch the nurse can pick for a dose: in stock at the unit, soonest expiry first."""

    batch_number: str
    expiry: date | None
    quantity: int
    open_vial_doses: int | None


def batch_choices(*, unit: CareUnit, product: Product, today: date | None = None) -> list[BatchChoice]:
    """The unit's usable batches of a product, first expiry first out. One query (two with open vials)."""
    day = today or timezone.localdate()
    sums = (
        StockBalance.objects.filter(care_unit=unit, batch__product=product)
        .filter(Q(batch__expiry__isnull=True) | Q(batch__expiry__gte=day))
        .values("batch_id", "batch__batch_number", "batch__expiry", "batch__doses_per_vial")
        .annotate(total=Sum("quantity"))
        .filter(total__gt=0)
    )
    rows = list(sums)
    vials = open_vial_doses(unit=unit) if any(r["batch__doses_per_vial"] > 1 for r in rows) else {}
    choices = [
        BatchChoice(
            batch_number=r["batch__batch_number"],
            expiry=r["batch__expiry"],
            quantity=r["total"],
            open_vial_doses=vials.get(r["batch_id"]),
        )
        for r in rows
    ]
    # An open vial is used first whatever the expiry of the others: its doses are lost when its time runs out.
    choices.sort(key=lambda c: (c.open_vial_doses is None, c.expiry or date.max, c.batch_number))
    return choices


def ledger(*, unit: CareUnit, batch: Batch | None = None) -> QuerySet[Movement]:
    """The unit's movements, newest first, with what a ledger page shows in the same query."""
    movements = Movement.objects.filter(care_unit=unit)
    if batch is not None:
        movements = movements.filter(batch=batch)
    return movements.select_related(
        "batch__product", "location", "created_by", "transfer", "delivery"
    ).order_by("-id")


def open_flags(*, unit: CareUnit) -> QuerySet[StockFlag]:
    return StockFlag.objects.filter(care_unit=unit, resolved_at__isnull=True).select_related(
        "batch__product", "movement"
    )


def stock_verify() -> list[tuple[int, int, int, int, int]]:
    """Every (unit, batch, slot) whose cached balance differs from the sum of its movements, as
    (unit id, batch id, slot, cached, ledger). Empty when the cache is provably equal to the ledger."""
    ledger_sums: dict[tuple[int, int, int], int] = {
        (unit_id, batch_id, location_id or 0): total
        for unit_id, batch_id, location_id, total in Movement.objects.values_list(
            "care_unit_id", "batch_id", "location_id"
        )
        .annotate(total=Sum("quantity"))
        .order_by()
    }
    cached: dict[tuple[int, int, int], int] = {
        (unit_id, batch_id, slot): quantity
        for unit_id, batch_id, slot, quantity in StockBalance.objects.values_list(
            "care_unit_id", "batch_id", "slot", "quantity"
        )
    }
    return [
        (*key, cached.get(key, 0), ledger_sums.get(key, 0))
        for key in sorted(set(ledger_sums) | set(cached))
        if cached.get(key, 0) != ledger_sums.get(key, 0)
    ]


def ledger_balances(*, unit: CareUnit) -> dict[tuple[int, int], int]:
    """The unit's balance per (batch, slot) summed from the ledger itself, not the cache."""
    return {
        (batch_id, location_id or 0): total
        for batch_id, location_id, total in Movement.objects.filter(care_unit=unit)
        .values_list("batch_id", "location_id")
        .annotate(total=Sum("quantity"))
        .order_by()
    }


@dataclass(frozen=True)
class ToOrder:
    product: Product
    usable: int
    reorder_at: int
    on_order: int
    suggested: int


def to_order(*, unit: CareUnit, today: date | None = None) -> list[ToOrder]:
    """Products at or below their reorder level, counting usable (unexpired) stock and what is on order."""
    day = today or timezone.localdate()
    levels = list(ReorderLevel.objects.filter(care_unit=unit).select_related("product"))
    if not levels:
        return []
    usable = dict(
        StockBalance.objects.filter(care_unit=unit)
        .filter(Q(batch__expiry__isnull=True) | Q(batch__expiry__gte=day))
        .values_list("batch__product_id")
        .annotate(total=Sum("quantity"))
        .order_by()
    )
    ordered = dict(
        PurchaseOrderLine.objects.filter(
            purchase_order__care_unit=unit,
            purchase_order__status__in=[PurchaseOrderStatus.DRAFT, PurchaseOrderStatus.SENT],
        )
        .values_list("product_id")
        .annotate(total=Sum("quantity"))
        .order_by()
    )
    result = []
    for level in levels:
        have = usable.get(level.product_id, 0)
        coming = ordered.get(level.product_id, 0)
        if have + coming <= level.reorder_at:
            result.append(
                ToOrder(
                    product=level.product,
                    usable=have,
                    reorder_at=level.reorder_at,
                    on_order=coming,
                    suggested=level.order_quantity,
                )
            )
    return sorted(result, key=lambda r: r.product.name)


@dataclass
class ConsumptionRow:
    product: Product
    administered: dict[date, int] = field(default_factory=dict)
    wasted: dict[date, int] = field(default_factory=dict)

    @property
    def total_administered(self) -> int:
        return sum(self.administered.values())

    @property
    def total_wasted(self) -> int:
        return sum(self.wasted.values())

    @property
    def wastage_rate(self) -> float | None:
        """Wasted doses as a share of all doses used (given and wasted); None when nothing was used."""
        used = self.total_administered + self.total_wasted
        return self.total_wasted / used if used else None


def consumption(
    *, units: QuerySet[CareUnit] | list[CareUnit], start: date, end: date
) -> list[ConsumptionRow]:
    """Doses given (net of returns) and wasted per product and month, from `start` to `end` (local dates,
    both included), at the given units. One query."""
    grouped = (
        Movement.objects.filter(
            care_unit__in=units,
            kind__in=[MovementKind.ADMINISTERED, MovementKind.RETURNED, MovementKind.WASTAGE],
            occurred_at__gte=day_start(start),
            occurred_at__lt=day_after(end),
        )
        .annotate(month=TruncMonth("occurred_at", output_field=DateField()))
        .values_list("batch__product_id", "kind", "month")
        .annotate(total=Sum("quantity"))
        .order_by()
    )
    rows: dict[int, ConsumptionRow] = {}
    for product_id, kind, month, total in grouped:
        row = rows.setdefault(product_id, ConsumptionRow(product=Product(pk=product_id)))
        target = row.wasted if kind == MovementKind.WASTAGE else row.administered
        target[month] = target.get(month, 0) - total
    for product in Product.objects.filter(pk__in=list(rows)):
        rows[product.pk].product = product
    return sorted(rows.values(), key=lambda r: r.product.name)


def dose_recipients(
    *,
    scope: Q,
    product: Product | None,
    batch_number: str = "",
    start: date | None = None,
    end: date | None = None,
) -> QuerySet[Vaccination]:
    """The doses that match a recall: of one batch (or any batch of a product), optionally in a period,
    given at the care units `scope` selects (a Q on Vaccination, e.g. one provider or one region).

    The journal is the truth about who got what, whether or not the dose was booked in stock. Unsigned
    entries are included (the dose was given); nullified ones are not (recorded in error). The batch number
    is matched without regard to case, as it is read off a vial and typed. Oldest first, with what a recall
    list shows fetched in the same query.
    """
    doses = Vaccination.objects.filter(scope).exclude(status=EntryStatus.NULLIFIED)
    if product is not None:
        doses = doses.filter(current_version__product=product)
    if batch_number:
        doses = doses.filter(current_version__batch_number__iexact=batch_number)
    if start is not None:
        doses = doses.filter(current_version__administered_at__gte=day_start(start))
    if end is not None:
        doses = doses.filter(current_version__administered_at__lt=day_after(end))
    return doses.select_related("patient", "care_unit__care_provider", "current_version__product").order_by(
        "current_version__administered_at", "pk"
    )
