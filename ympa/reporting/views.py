"""The infection-control officer's pages: the region's dose counts, and the batch recall list."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ympa.access.routes import no_patient_data, returns_patient_data
from ympa.authn.decorators import reauthenticated, staff_view
from ympa.authn.request import StaffRequest
from ympa.core.spreadsheet import csv_bytes, csv_download
from ympa.inventory.recall_forms import RecallForm
from ympa.orgs.rights import Right
from ympa.reporting.forms import PeriodForm
from ympa.reporting.selectors import CountRow, officer_region
from ympa.reporting.services import BatchRecall, batch_recall_list, region_aggregate

# The bar chart's geometry, in SVG user units.
BAR_WIDTH = 36
BAR_GAP = 8
CHART_HEIGHT = 160
LABEL_SPACE = 36


@dataclass(frozen=True)
class Bar:
    month: date
    value: int | None
    x: int
    y: int
    height: int

    @property
    def center(self) -> int:
        return self.x + BAR_WIDTH // 2


@dataclass(frozen=True)
class Chart:
    bars: tuple[Bar, ...]
    bar_width: int
    width: int
    height: int
    baseline: int


def _chart(months: tuple[date, ...], totals: CountRow) -> Chart:
    """Bars for the doses per month. A withheld month gets no bar, only its "<5" label: a bar's height
    would show the count the table withholds."""
    top = max((n for n in totals.counts if n), default=0)
    bars = []
    for index, (month, value) in enumerate(zip(months, totals.counts, strict=True)):
        height = round(CHART_HEIGHT * value / top) if value and top else 0
        x = BAR_GAP + index * (BAR_WIDTH + BAR_GAP)
        bars.append(Bar(month, value, x, LABEL_SPACE // 2 + CHART_HEIGHT - height, height))
    return Chart(
        bars=tuple(bars),
        bar_width=BAR_WIDTH,
        width=BAR_GAP + len(months) * (BAR_WIDTH + BAR_GAP),
        height=CHART_HEIGHT + LABEL_SPACE * 3 // 2,
        baseline=LABEL_SPACE // 2 + CHART_HEIGHT,
    )


@no_patient_data(
    "aggregates only: dose counts per month, vaccine and care provider in the officer's region, counts "
    "under five withheld; no identified patient's data is returned, and the read is still logged"
)
@staff_view(right=Right.VIEW_STATISTICS)
@require_GET
def region_view(request: StaffRequest) -> HttpResponse:
    # Refused (403, through ServiceErrorMiddleware) unless the assignment is a region's.
    officer_region(request.actor)
    form = PeriodForm(request.GET or None, initial=PeriodForm.default(timezone.localdate()))
    context: dict[str, object] = {"form": form}
    if not form.is_bound or form.is_valid():
        if form.is_bound:
            start, end = form.period()
        else:
            start = form.initial["start"]
            end = timezone.localdate()
        try:
            counts = region_aggregate(actor=request.actor, start=start, end=end)
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            context.update(counts=counts, chart=_chart(counts.months, counts.month_totals))
    return render(request, "reporting/region.html", context)


@returns_patient_data
@staff_view()
@require_http_methods(["GET", "POST"])
def recall_view(request: StaffRequest) -> HttpResponse:
    """GET: the form. POST: the list. A POST, so that the batch and the reason stay out of URLs and the
    server's access logs."""
    # Refused (403, through ServiceErrorMiddleware) unless the assignment is a region's.
    officer_region(request.actor)
    form = RecallForm(request.POST if request.method == "POST" else None)
    recall: BatchRecall | None = None
    if form.is_bound and form.is_valid():
        try:
            recall = batch_recall_list(actor=request.actor, **form.cleaned_data)
        except ValidationError as exc:
            form.add_service_errors(exc)
    return render(request, "reporting/recall.html", {"form": form, "recall": recall})


@returns_patient_data
@staff_view()
@reauthenticated()
@require_POST
def recall_csv_view(request: StaffRequest) -> HttpResponse:
    """The recall list as a file for the officer's follow-up, from the same form as the page."""
    # Refused (403, through ServiceErrorMiddleware) unless the assignment is a region's.
    officer_region(request.actor)
    form = RecallForm(request.POST)
    if form.is_valid():
        try:
            recall = batch_recall_list(actor=request.actor, export=True, **form.cleaned_data)
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            what = slugify(recall.batch_number or recall.product.code) or "batch"
            name = f"aterkallelse-{what}-{timezone.localdate():%Y%m%d}.csv"
            return csv_download(_csv(recall), name)
    return render(request, "reporting/recall.html", {"form": form, "recall": None})


def _csv(recall: BatchRecall) -> bytes:
    # A list of one batch has it in its name; a list of every batch of a vaccine says which batch each
    # dose was.
    by_batch = not recall.batch_number
    return csv_bytes(
        [
            _("Patient"),
            _("Identity number"),
            _("Given at"),
            _("Care unit"),
            _("Care provider"),
            *([_("Batch")] if by_batch else []),
            _("Phone"),
            _("Status"),
        ],
        (
            [
                row.name,
                row.identifier,
                timezone.localtime(row.given_at).strftime("%Y-%m-%d %H:%M"),
                row.care_unit,
                row.care_provider,
                *([row.batch_number] if by_batch else []),
                _("Protected identity") if row.protected_identity else row.phone,
                _("Signed") if row.signed else _("Unsigned"),
            ]
            for row in recall.rows
        ),
    )
