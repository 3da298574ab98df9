"""Reads for infection control (smittskydd) across a region: dose counts, and the doses of one batch.

Everything here is scoped to one region: the care providers whose region it is. Which region an actor may
read is `officer_region`'s decision; the services call it before any read and log what was read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db.models import Count, DateField, Q, QuerySet
from django.db.models.functions import TruncMonth
from django.utils.translation import gettext as _

from ympa.catalog.models import Product
from ympa.core.actor import Actor
from ympa.core.dates import day_after, day_start
from ympa.core.errors import NotPermitted
from ympa.inventory.selectors import dose_recipients
from ympa.journal.models import EntryStatus, Vaccination
from ympa.orgs.models import Purpose, Region

# Counts from 1 to SUPPRESS_BELOW - 1 are withheld: so few doses in a month may point to a person.
SUPPRESS_BELOW = 5


def officer_region(actor: Actor) -> Region:
    """The region of the actor's infection-control assignment; NotPermitted for anyone else.

    Only an active assignment to a region with the purpose infection control counts: a unit assignment (a
    nurse's, whatever her rights) reads nothing here.
    """
    assignment = actor.assignment
    if (
        actor.user is None
        or assignment is None
        or assignment.region_id is None
        or assignment.purpose != Purpose.INFECTION_CONTROL
        or not assignment.is_active()
    ):
        raise NotPermitted(_("Choose an active infection-control assignment for a region to see this page."))
    region = assignment.region
    assert region is not None
    return region


def suppressed(count: int) -> int | None:
    """The count as it may be shown: None (shown as "<5") for 1 to 4, else rounded to the nearest 5.

    Withholding small counts alone is not enough: a row or month total, or the other table (per vaccine
    against per care provider), would give a withheld count back by subtraction. Rounding every shown count
    (totals too, from the true sums) to a multiple of 5 leaves only intervals to subtract.
    """
    if 0 < count < SUPPRESS_BELOW:
        return None
    return SUPPRESS_BELOW * ((count + SUPPRESS_BELOW // 2) // SUPPRESS_BELOW)


def month_start(day: date, months_later: int = 0) -> date:
    """The first day of the month `months_later` months after the one `day` is in (negative: before)."""
    index = day.year * 12 + day.month - 1 + months_later
    return date(index // 12, index % 12 + 1, 1)


def months_between(start: date, end: date) -> list[date]:
    """The first day of every month from `start`'s to `end`'s, both included."""
    months = [month_start(start)]
    while months[-1] < month_start(end):
        months.append(month_start(months[-1], 1))
    return months


@dataclass(frozen=True)
class CountRow:
    """One line of counts: one per month of the period (None: withheld), and the period's total."""

    label: str
    counts: tuple[int | None, ...]
    total: int | None


@dataclass(frozen=True)
class RegionCounts:
    """Signed doses given in a region in a period, counted per month (shown through `suppressed`)."""

    region: Region
    start: date
    end: date
    months: tuple[date, ...]
    by_product: tuple[CountRow, ...]
    by_provider: tuple[CountRow, ...]
    month_totals: CountRow


def _count_row(label: str, raw: list[int]) -> CountRow:
    return CountRow(label, tuple(suppressed(n) for n in raw), suppressed(sum(raw)))


def region_dose_counts(*, region: Region, start: date, end: date) -> RegionCounts:
    """Signed, not nullified doses given at the region's care providers from `start` to `end` (local dates,
    both included), per vaccine and per care provider per month. One query, whatever the number of doses."""
    months = months_between(start, end)
    column = {month: index for index, month in enumerate(months)}
    grouped = (
        Vaccination.objects.filter(
            care_unit__care_provider__region=region,
            status=EntryStatus.SIGNED,
            current_version__administered_at__gte=day_start(start),
            current_version__administered_at__lt=day_after(end),
        )
        # Months in Swedish time: a dose given just after midnight on the 1st belongs to the new month.
        .annotate(month=TruncMonth("current_version__administered_at", output_field=DateField()))
        .values_list(
            "month",
            "current_version__product_id",
            "current_version__product__name",
            "care_unit__care_provider_id",
            "care_unit__care_provider__name",
        )
        .annotate(doses=Count("pk"))
        .order_by()
    )
    products: dict[int, tuple[str, list[int]]] = {}
    providers: dict[int, tuple[str, list[int]]] = {}
    totals = [0] * len(months)
    for month, product_id, product_name, provider_id, provider_name, doses in grouped:
        index = column[month]
        products.setdefault(product_id, (product_name, [0] * len(months)))[1][index] += doses
        providers.setdefault(provider_id, (provider_name, [0] * len(months)))[1][index] += doses
        totals[index] += doses
    return RegionCounts(
        region=region,
        start=start,
        end=end,
        months=tuple(months),
        by_product=tuple(sorted((_count_row(*v) for v in products.values()), key=lambda r: r.label)),
        by_provider=tuple(sorted((_count_row(*v) for v in providers.values()), key=lambda r: r.label)),
        month_totals=_count_row(_("Total"), totals),
    )


def batch_doses(
    *,
    region: Region,
    product: Product,
    batch_number: str = "",
    start: date | None = None,
    end: date | None = None,
) -> QuerySet[Vaccination]:
    """The doses of one batch (or of any batch of the product, in the period) given at the region's care
    providers, oldest first (the inventory's recall selector, scoped to the region)."""
    return dose_recipients(
        scope=Q(care_unit__care_provider__region=region),
        product=product,
        batch_number=batch_number,
        start=start,
        end=end,
    )
