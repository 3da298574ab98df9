"""Reads for the planning pages: the counting sheet, past counts, purchase orders, reorder levels and the
unit's consumption. Built on `ympa.inventory.selectors`; each read is scoped to the actor's own unit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.core.exceptions import ValidationError
from django.db.models import Count, F, Prefetch, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from ympa.core.actor import Actor
from ympa.core.errors import NotPermitted
from ympa.inventory.models import (
    Batch,
    Movement,
    PurchaseOrder,
    PurchaseOrderLine,
    ReorderLevel,
    StockCount,
    StockCountLine,
    StockCountStatus,
    StorageLocation,
)
from ympa.inventory.selectors import ConsumptionRow, consumption, unit_balances
from ympa.inventory.services import uses_inventory
from ympa.orgs.models import CareUnit
from ympa.orgs.rights import Right
from ympa.reporting.selectors import month_start, months_between

# An empty balance stays on the counting sheet until its batch has been expired this long: a vial of it may
# still be found in the fridge, but a batch gone for months is not worth a line.
EMPTY_EXPIRED_DAYS = 90
# The longest period the consumption page shows, so that the table and the chart stay readable.
MAX_CONSUMPTION_MONTHS = 60


def planning_unit(actor: Actor, *rights: Right) -> CareUnit:
    """The actor's care unit, when the assignment holds one of `rights` and the unit keeps stock in Ympa."""
    assignment = actor.assignment
    if assignment is None or assignment.care_unit is None or not assignment.is_active():
        raise NotPermitted(_("Choose an active assignment at a care unit first."))
    if not any(assignment.has_right(right) for right in rights):
        raise NotPermitted(
            _("Your assignment does not include the right: %(right)s.")
            % {"right": " / ".join(str(right.label) for right in rights)}
        )
    unit = assignment.care_unit
    if not uses_inventory(unit):
        raise NotPermitted(_("Your care provider does not keep its vaccine stock in Ympa."))
    return unit


# ---------------------------------------------------------------------------------------------------------
# Stock counts.


@dataclass(frozen=True)
class CountRow:
    """One line of the counting sheet: a batch at a location, and what was counted of it so far."""

    batch: Batch
    location: StorageLocation | None
    line: StockCountLine | None

    @property
    def slot(self) -> int:
        return self.location.pk if self.location is not None else 0

    @property
    def key(self) -> str:
        return f"line-{self.batch.pk}-{self.slot}"

    @property
    def difference(self) -> int | None:
        return self.line.counted - self.line.expected if self.line is not None else None


def count_rows(*, unit: CareUnit, stock_count: StockCount, today: date | None = None) -> list[CountRow]:
    """Every batch and location to count: what the unit holds, what it recently ran out of, and whatever
    this count has recorded already. Soonest expiry first, as the shelf is sorted. Three queries."""
    day = today or timezone.localdate()
    oldest = day - timedelta(days=EMPTY_EXPIRED_DAYS)
    # Balance rows carry the location's name only; names are unique per unit, so the name finds it.
    locations = {location.name: location for location in StorageLocation.objects.filter(care_unit=unit)}
    lines = {
        (line.batch_id, line.slot): line
        for line in StockCountLine.objects.filter(stock_count=stock_count).select_related(
            "batch__product", "location"
        )
    }
    rows: list[CountRow] = []
    seen: set[tuple[int, int]] = set()
    for balance in unit_balances(unit=unit, today=day, include_empty=True):
        location = locations.get(balance.location) if balance.location else None
        key = (balance.batch.pk, location.pk if location is not None else 0)
        recorded = lines.get(key)
        if (
            balance.quantity == 0
            and recorded is None
            and balance.batch.expiry
            and balance.batch.expiry < oldest
        ):
            continue
        seen.add(key)
        rows.append(CountRow(batch=balance.batch, location=location, line=recorded))
    rows += [
        CountRow(batch=line.batch, location=line.location, line=line)
        for key, line in lines.items()
        if key not in seen
    ]
    return rows


def stock_counts(*, unit: CareUnit) -> QuerySet[StockCount]:
    """The unit's counts, newest first, with their adjustments and who started and closed them."""
    return (
        StockCount.objects.filter(care_unit=unit)
        .select_related("started_by", "closed_by")
        .annotate(line_count=Count("lines", distinct=True))
        .prefetch_related(
            Prefetch(
                "movements",
                queryset=Movement.objects.select_related("batch__product", "location").order_by("id"),
                to_attr="adjustments",
            )
        )
        .order_by("-started_at", "-pk")
    )


def open_stock_count(*, unit: CareUnit) -> StockCount | None:
    return StockCount.objects.filter(care_unit=unit, status=StockCountStatus.OPEN).first()


def count_lines(*, stock_count: StockCount) -> QuerySet[StockCountLine]:
    return (
        StockCountLine.objects.filter(stock_count=stock_count)
        .select_related("batch__product", "location", "counted_by")
        .annotate(difference=F("counted") - F("expected"))
        .order_by("batch__product__name", "batch__expiry", "batch__batch_number", "slot")
    )


def count_adjustments(*, stock_count: StockCount) -> QuerySet[Movement]:
    """The adjustments closing the count booked, one per line whose count differed."""
    return stock_count.movements.select_related("batch__product", "location").order_by("id")


# ---------------------------------------------------------------------------------------------------------
# Reorder levels and purchase orders.


def reorder_levels(*, unit: CareUnit) -> QuerySet[ReorderLevel]:
    return ReorderLevel.objects.filter(care_unit=unit).select_related("product").order_by("product__name")


def purchase_orders(*, unit: CareUnit) -> QuerySet[PurchaseOrder]:
    """The unit's purchase orders, newest first, with their lines and products in one more query."""
    return (
        PurchaseOrder.objects.filter(care_unit=unit)
        .select_related("created_by", "sent_by")
        .prefetch_related(
            Prefetch(
                "lines",
                queryset=PurchaseOrderLine.objects.select_related("product").order_by("product__name"),
            )
        )
        .order_by("-created_at", "-pk")
    )


def last_supplier(*, unit: CareUnit) -> str:
    """The supplier of the unit's latest purchase order: most units order from one wholesaler."""
    return (
        PurchaseOrder.objects.filter(care_unit=unit)
        .order_by("-created_at")
        .values_list("supplier", flat=True)
        .first()
        or ""
    )


# ---------------------------------------------------------------------------------------------------------
# Consumption and wastage.


@dataclass(frozen=True)
class ProductConsumption:
    """A product's doses given and wasted in each month of the period (zero where nothing happened)."""

    row: ConsumptionRow
    administered: tuple[int, ...]
    wasted: tuple[int, ...]

    @property
    def wastage_percent(self) -> float | None:
        rate = self.row.wastage_rate
        return rate * 100 if rate is not None else None


@dataclass(frozen=True)
class UnitConsumption:
    start: date
    end: date
    months: tuple[date, ...]
    products: tuple[ProductConsumption, ...]
    administered: tuple[int, ...]
    wasted: tuple[int, ...]

    @property
    def total_administered(self) -> int:
        return sum(self.administered)

    @property
    def total_wasted(self) -> int:
        return sum(self.wasted)

    @property
    def wastage_percent(self) -> float | None:
        used = self.total_administered + self.total_wasted
        return self.total_wasted * 100 / used if used else None


def unit_consumption(*, actor: Actor, start: date, end: date) -> UnitConsumption:
    """Doses given (net of returns) and wasted at the actor's unit per product and month. Two queries."""
    unit = planning_unit(actor, Right.MANAGE_STOCK, Right.VIEW_STATISTICS)
    if end < start:
        raise ValidationError({"end": _("The end date must not be before the start date.")})
    months = tuple(months_between(start, end))
    if len(months) > MAX_CONSUMPTION_MONTHS:
        raise ValidationError(
            {"start": _("Choose a period of at most %(n)d months.") % {"n": MAX_CONSUMPTION_MONTHS}}
        )
    rows = consumption(units=[unit], start=start, end=end)
    products = tuple(
        ProductConsumption(
            row=row,
            administered=tuple(row.administered.get(month, 0) for month in months),
            wasted=tuple(row.wasted.get(month, 0) for month in months),
        )
        for row in rows
    )
    return UnitConsumption(
        start=start,
        end=end,
        months=months,
        products=products,
        administered=tuple(sum(p.administered[i] for p in products) for i in range(len(months))),
        wasted=tuple(sum(p.wasted[i] for p in products) for i in range(len(months))),
    )


def default_period(today: date) -> tuple[date, date]:
    """The last twelve months: this month so far and the eleven before it."""
    return month_start(today, -11), today
