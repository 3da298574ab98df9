"""The unit's stock planning: stock counts, reorder levels and the list to order, purchase orders, and
consumption and wastage. None of these pages shows a patient: stock is counted in doses and batches."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from uuid import UUID

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import formats, timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ympa.access.routes import no_patient_data
from ympa.authn.decorators import staff_view
from ympa.authn.request import StaffRequest
from ympa.core.errors import ConflictError
from ympa.core.spreadsheet import csv_bytes, csv_download
from ympa.inventory.models import PurchaseOrder, StockCount, StockCountStatus
from ympa.inventory.planning_forms import (
    ConsumptionForm,
    CountSheetForm,
    DraftOrderForm,
    PurchaseOrderForm,
    PurchaseOrderLineFormSet,
    ReorderLevelForm,
    active_products,
)
from ympa.inventory.planning_selectors import (
    CountRow,
    UnitConsumption,
    count_adjustments,
    count_lines,
    count_rows,
    default_period,
    last_supplier,
    open_stock_count,
    planning_unit,
    purchase_orders,
    reorder_levels,
    stock_counts,
    unit_consumption,
)
from ympa.inventory.selectors import to_order
from ympa.inventory.services import (
    purchase_order_cancel,
    purchase_order_create,
    purchase_order_send,
    reorder_level_set,
    stock_count_close,
    stock_count_line_record,
    stock_count_start,
)
from ympa.orgs.rights import Right

PAGE_SIZE = 25

# The consumption chart's geometry, in SVG user units: per month a bar of doses given beside one of wasted.
BAR_WIDTH = 18
GROUP_GAP = 12
CHART_HEIGHT = 160
TOP_SPACE = 18
LABEL_SPACE = 34


# ---------------------------------------------------------------------------------------------------------
# Stock counts.


@no_patient_data("the unit's stock counts: batches, doses and the staff who counted")
@staff_view(right=Right.MANAGE_STOCK)
@require_GET
def count_list(request: StaffRequest) -> HttpResponse:
    unit = planning_unit(request.actor, Right.MANAGE_STOCK)
    page = Paginator(stock_counts(unit=unit), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "inventory/planning/count_list.html",
        {"unit": unit, "page": page, "open_count": open_stock_count(unit=unit)},
    )


@no_patient_data("starts a stock count of the unit's batches")
@staff_view(right=Right.MANAGE_STOCK)
@require_POST
def count_start(request: StaffRequest) -> HttpResponse:
    try:
        stock_count = stock_count_start(actor=request.actor)
    except ConflictError as exc:
        messages.error(request, exc.message)
        return redirect("inventory:count")
    return redirect("inventory:count_detail", stock_count.pk)


@no_patient_data("the counting sheet of the unit's batches: expected and counted doses")
@staff_view(right=Right.MANAGE_STOCK)
@require_http_methods(["GET", "POST"])
def count_detail(request: StaffRequest, count_id: int) -> HttpResponse:
    """The counting sheet while the count is open (one form for all lines; with htmx each line is saved as
    soon as it is left), and what was counted and booked once it is closed."""
    unit = planning_unit(request.actor, Right.MANAGE_STOCK)
    stock_count = get_object_or_404(
        StockCount.objects.select_related("started_by", "closed_by"), pk=count_id, care_unit=unit
    )
    if stock_count.status == StockCountStatus.CLOSED and request.method == "GET":
        return render(
            request,
            "inventory/planning/count_closed.html",
            {
                "count": stock_count,
                "lines": count_lines(stock_count=stock_count),
                "adjustments": count_adjustments(stock_count=stock_count),
            },
        )
    rows = count_rows(unit=unit, stock_count=stock_count)
    if request.method == "GET":
        return _count_sheet(request, stock_count, rows, CountSheetForm(rows=rows))
    if not request.headers.get("HX-Request"):
        form = CountSheetForm(request.POST, rows=rows)
        if form.is_valid() and _record_counts(request, stock_count, form):
            return redirect("inventory:count_detail", stock_count.pk)
        return _count_sheet(request, stock_count, rows, form)
    # htmx: one line, saved when the counter leaves it; the answer is its row.
    posted = [row for row in rows if row.key in request.POST]
    if not posted:
        # The line is no longer on the sheet; 204 leaves the page as it is (htmx swaps nothing).
        return HttpResponse(status=204)
    form = CountSheetForm(request.POST, rows=posted)
    if form.is_valid() and _record_counts(request, stock_count, form):
        fresh = {row.key: row for row in count_rows(unit=unit, stock_count=stock_count)}
        form = CountSheetForm(rows=[fresh[row.key] for row in posted])
    return render(
        request, "inventory/planning/_count_rows.html", {"rows": form.bound_rows(), "count": stock_count}
    )


def _count_sheet(
    request: StaffRequest, stock_count: StockCount, rows: list[CountRow], form: CountSheetForm
) -> HttpResponse:
    return render(
        request,
        "inventory/planning/count_sheet.html",
        {
            "count": stock_count,
            "rows": form.bound_rows(),
            "form": form,
            "first_open": next((row.key for row in rows if row.line is None), ""),
            "counted": sum(1 for row in rows if row.line is not None),
        },
    )


def _record_counts(request: StaffRequest, stock_count: StockCount, form: CountSheetForm) -> bool:
    """Record every changed line; a line the service refuses gets its message. True when all were taken."""
    recorded = 0
    for row, counted in form.changed_counts():
        try:
            stock_count_line_record(
                actor=request.actor,
                stock_count=stock_count,
                batch=row.batch,
                counted=counted,
                location=row.location,
            )
        except ValidationError as exc:
            form.add_error(row.key, exc.messages)
        else:
            recorded += 1
    if recorded and not request.headers.get("HX-Request"):
        messages.success(
            request,
            ngettext("%(n)d line recorded.", "%(n)d lines recorded.", recorded) % {"n": recorded},
        )
    return not form.errors


@no_patient_data("closes a stock count: the differences it books, in batches and doses")
@staff_view(right=Right.MANAGE_STOCK)
@require_http_methods(["GET", "POST"])
def count_close(request: StaffRequest, count_id: int) -> HttpResponse:
    """GET: the differences that closing will book as adjustments. POST: close and book them."""
    unit = planning_unit(request.actor, Right.MANAGE_STOCK)
    stock_count = get_object_or_404(StockCount, pk=count_id, care_unit=unit)
    if request.method == "POST":
        try:
            adjustments = stock_count_close(actor=request.actor, stock_count=stock_count)
        except ConflictError as exc:
            messages.error(request, exc.message)
            return redirect("inventory:count_detail", stock_count.pk)
        messages.success(
            request,
            ngettext(
                "The stock count was closed. %(n)d adjustment was booked.",
                "The stock count was closed. %(n)d adjustments were booked.",
                len(adjustments),
            )
            % {"n": len(adjustments)},
        )
        return redirect("inventory:count_detail", stock_count.pk)
    if stock_count.status == StockCountStatus.CLOSED:
        return redirect("inventory:count_detail", stock_count.pk)
    rows = count_rows(unit=unit, stock_count=stock_count)
    return render(
        request,
        "inventory/planning/count_close.html",
        {
            "count": stock_count,
            "differences": [row for row in rows if row.difference],
            "counted": sum(1 for row in rows if row.line is not None),
            "uncounted": sum(1 for row in rows if row.line is None),
        },
    )


# ---------------------------------------------------------------------------------------------------------
# Reorder levels and the list to order.


@no_patient_data("the unit's reorder levels and the products to order")
@staff_view(right=Right.MANAGE_STOCK)
@require_http_methods(["GET", "POST"])
def reorder(request: StaffRequest) -> HttpResponse:
    unit = planning_unit(request.actor, Right.MANAGE_STOCK)
    products = active_products()
    levels = list(reorder_levels(unit=unit))
    initial: dict[str, object] = {}
    chosen = request.GET.get("product", "")
    level = next((level for level in levels if level.product.code == chosen), None)
    if level is not None:
        initial = {"product": chosen, "reorder_at": level.reorder_at, "order_quantity": level.order_quantity}
    elif chosen in products:
        initial = {"product": chosen}
    form = ReorderLevelForm(
        request.POST if request.method == "POST" else None, products=products, initial=initial
    )
    if request.method == "POST" and form.is_valid():
        try:
            reorder_level_set(
                actor=request.actor,
                product=form.product(),
                reorder_at=form.cleaned_data["reorder_at"],
                order_quantity=form.cleaned_data["order_quantity"],
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, _("The reorder level was saved."))
            return redirect("inventory:reorder")
    draft = DraftOrderForm(suggestions=to_order(unit=unit), initial={"supplier": last_supplier(unit=unit)})
    return render(
        request, "inventory/planning/reorder.html", {"form": form, "draft": draft, "levels": levels}
    )


@no_patient_data("drafts a purchase order from the products to order")
@staff_view(right=Right.MANAGE_STOCK)
@require_POST
def reorder_draft(request: StaffRequest) -> HttpResponse:
    """Draft one purchase order from the list to order. The list is read again: a product someone ordered
    meanwhile is no longer on it, and is not ordered twice."""
    unit = planning_unit(request.actor, Right.MANAGE_STOCK)
    draft = DraftOrderForm(request.POST, suggestions=to_order(unit=unit))
    if draft.is_valid():
        try:
            order = purchase_order_create(
                actor=request.actor, supplier=draft.cleaned_data["supplier"], lines=draft.lines()
            )
        except ValidationError as exc:
            draft.add_service_errors(exc)
        else:
            messages.success(request, _("A draft purchase order was made. Check it and send it."))
            return redirect("inventory:purchase_order_detail", order.pk)
    form = ReorderLevelForm(products=active_products())
    return render(
        request,
        "inventory/planning/reorder.html",
        {"form": form, "draft": draft, "levels": reorder_levels(unit=unit)},
    )


# ---------------------------------------------------------------------------------------------------------
# Purchase orders.


@no_patient_data("the unit's purchase orders: suppliers, vaccines and doses")
@staff_view(right=Right.MANAGE_STOCK)
@require_GET
def purchase_order_list(request: StaffRequest) -> HttpResponse:
    unit = planning_unit(request.actor, Right.MANAGE_STOCK)
    page = Paginator(purchase_orders(unit=unit), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "inventory/planning/purchase_order_list.html", {"page": page})


@no_patient_data("drafts a purchase order: supplier, vaccines and doses")
@staff_view(right=Right.MANAGE_STOCK)
@require_http_methods(["GET", "POST"])
def purchase_order_new(request: StaffRequest) -> HttpResponse:
    unit = planning_unit(request.actor, Right.MANAGE_STOCK)
    data = request.POST if request.method == "POST" else None
    form = PurchaseOrderForm(data, initial={"supplier": last_supplier(unit=unit)})
    lines = PurchaseOrderLineFormSet(data, prefix="lines", form_kwargs={"products": active_products()})
    # Both are validated, so that every error shows at once.
    if request.method == "POST" and all([form.is_valid(), lines.is_valid()]):
        try:
            order = purchase_order_create(
                actor=request.actor,
                supplier=form.cleaned_data["supplier"],
                lines=[line for line_form in lines if (line := line_form.line()) is not None],
                note=form.cleaned_data["note"],
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, _("The purchase order was saved as a draft."))
            return redirect("inventory:purchase_order_detail", order.pk)
    return render(request, "inventory/planning/purchase_order_new.html", {"form": form, "lines": lines})


@no_patient_data("one purchase order of the unit: supplier, vaccines and doses")
@staff_view(right=Right.MANAGE_STOCK)
@require_GET
def purchase_order_detail(request: StaffRequest, order_id: UUID) -> HttpResponse:
    unit = planning_unit(request.actor, Right.MANAGE_STOCK)
    order = get_object_or_404(purchase_orders(unit=unit), pk=order_id)
    return render(
        request,
        "inventory/planning/purchase_order_detail.html",
        {
            "order": order,
            "deliveries": order.deliveries.select_related("received_by").order_by("received_at"),
        },
    )


@no_patient_data("sends a purchase order")
@staff_view(right=Right.MANAGE_STOCK)
@require_POST
def purchase_order_send_view(request: StaffRequest, order_id: UUID) -> HttpResponse:
    # Fetched without the unit: the service refuses another unit's order (403) and says why.
    order = get_object_or_404(PurchaseOrder, pk=order_id)
    try:
        purchase_order_send(actor=request.actor, order=order)
    except ConflictError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The purchase order was marked as sent."))
    return redirect("inventory:purchase_order_detail", order.pk)


@no_patient_data("cancels a purchase order")
@staff_view(right=Right.MANAGE_STOCK)
@require_POST
def purchase_order_cancel_view(request: StaffRequest, order_id: UUID) -> HttpResponse:
    order = get_object_or_404(PurchaseOrder, pk=order_id)
    try:
        purchase_order_cancel(actor=request.actor, order=order)
    except ConflictError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The purchase order was cancelled."))
    return redirect("inventory:purchase_order_detail", order.pk)


# ---------------------------------------------------------------------------------------------------------
# Consumption and wastage.


@dataclass(frozen=True)
class MonthBars:
    month: date
    given: int
    wasted: int
    x: int
    given_y: int
    given_height: int
    wasted_y: int
    wasted_height: int

    @property
    def wasted_x(self) -> int:
        return self.x + BAR_WIDTH

    @property
    def given_center(self) -> int:
        return self.x + BAR_WIDTH // 2

    @property
    def wasted_center(self) -> int:
        return self.x + BAR_WIDTH + BAR_WIDTH // 2

    @property
    def center(self) -> int:
        return self.x + BAR_WIDTH


@dataclass(frozen=True)
class ConsumptionChart:
    months: tuple[MonthBars, ...]
    bar_width: int
    width: int
    height: int
    baseline: int


def _chart(data: UnitConsumption) -> ConsumptionChart:
    """Per month, the doses given beside the doses wasted, on one scale."""
    top = max((*data.administered, *data.wasted, 0))
    baseline = TOP_SPACE + CHART_HEIGHT

    def height(value: int) -> int:
        return round(CHART_HEIGHT * value / top) if value > 0 and top else 0

    months = []
    for index, (month, given, wasted) in enumerate(
        zip(data.months, data.administered, data.wasted, strict=True)
    ):
        x = GROUP_GAP + index * (2 * BAR_WIDTH + GROUP_GAP)
        months.append(
            MonthBars(
                month=month,
                given=given,
                wasted=wasted,
                x=x,
                given_y=baseline - height(given),
                given_height=height(given),
                wasted_y=baseline - height(wasted),
                wasted_height=height(wasted),
            )
        )
    return ConsumptionChart(
        months=tuple(months),
        bar_width=BAR_WIDTH,
        width=GROUP_GAP + len(months) * (2 * BAR_WIDTH + GROUP_GAP),
        height=baseline + LABEL_SPACE,
        baseline=baseline,
    )


def _consumption(request: StaffRequest) -> tuple[ConsumptionForm, UnitConsumption | None]:
    # Refused before the form is read: the page itself is for those who may see the numbers.
    planning_unit(request.actor, Right.MANAGE_STOCK, Right.VIEW_STATISTICS)
    start, end = default_period(timezone.localdate())
    form = ConsumptionForm(request.GET or None, initial={"start": start, "end": end})
    period = form.period((start, end))
    if period is None:
        return form, None
    try:
        return form, unit_consumption(actor=request.actor, start=period[0], end=period[1])
    except ValidationError as exc:
        form.add_service_errors(exc)
        return form, None


@no_patient_data("doses given and wasted per vaccine and month at the unit: counts, no patients")
@staff_view()
@require_GET
def consumption(request: StaffRequest) -> HttpResponse:
    form, data = _consumption(request)
    return render(
        request,
        "inventory/planning/consumption.html",
        {
            "form": form,
            "data": data,
            "chart": _chart(data) if data is not None else None,
            "query": request.GET.urlencode(),
        },
    )


@no_patient_data("the consumption table as CSV: counts per vaccine and month, no patients")
@staff_view()
@require_GET
def consumption_csv(request: StaffRequest) -> HttpResponse:
    form, data = _consumption(request)
    if data is None:
        return render(
            request,
            "inventory/planning/consumption.html",
            {"form": form, "data": None, "chart": None, "query": ""},
        )
    unit = request.assignment.care_unit
    name = f"forbrukning-{slugify(unit.name if unit else '')}-{data.start:%Y%m%d}-{data.end:%Y%m%d}.csv"
    return csv_download(_csv(data), name)


def _percent(value: float | None) -> str:
    return formats.number_format(value, 1) if value is not None else ""


def _csv(data: UnitConsumption) -> bytes:
    given, wasted = _("Given"), _("Wasted")
    rows: list[list[object]] = []
    for product in data.products:
        rows.append(
            [
                product.row.product.name,
                given,
                *product.administered,
                product.row.total_administered,
                _percent(product.wastage_percent),
            ]
        )
        rows.append([product.row.product.name, wasted, *product.wasted, product.row.total_wasted, ""])
    rows.append(
        [
            _("All vaccines"),
            given,
            *data.administered,
            data.total_administered,
            _percent(data.wastage_percent),
        ]
    )
    rows.append([_("All vaccines"), wasted, *data.wasted, data.total_wasted, ""])
    return csv_bytes(
        [
            _("Vaccine"),
            _("Doses"),
            *(f"{month:%Y-%m}" for month in data.months),
            _("Total"),
            _("Wastage rate (%)"),
        ],
        rows,
    )
