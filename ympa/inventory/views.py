"""The stock pages of the staff web app: balance, deliveries, ledger, wastage, transfers, storage locations.

None of them shows patient data: a dose in the ledger is "a dose" with a link to its journal entry, and the
journal's page decides whether the reader may open it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast
from uuid import UUID

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ympa.access.routes import no_patient_data
from ympa.authn.decorators import staff_view
from ympa.authn.request import StaffRequest
from ympa.inventory.forms import (
    DeliveryForm,
    DeliveryLineForm,
    DeliveryLineFormSet,
    FlagResolveForm,
    LedgerFilterForm,
    LocationForm,
    StorageLocationForm,
    TransferForm,
    VialOpenForm,
    WastageForm,
    add_delivery_errors,
)
from ympa.inventory.models import PurchaseOrder, PurchaseOrderLine
from ympa.inventory.selectors import ledger, open_flags, open_vials, unit_balances
from ympa.inventory.services import (
    MAX_LINES,
    delivery_receive,
    stock_flag_resolve,
    storage_location_create,
    transfer_receive,
    transfer_send,
    uses_inventory,
    vial_open,
    wastage_record,
)
from ympa.inventory.stock_selectors import (
    delivery_lines,
    held_slot,
    ledger_batches,
    sent_purchase_orders,
    stock_flag,
    stock_held,
    storage_locations,
    transfer_by_id,
    transfer_targets,
    unit_deliveries,
    unit_delivery,
    unit_transfers,
)
from ympa.journal.forms import product_choices
from ympa.orgs.models import CareUnit
from ympa.orgs.rights import Right

View = TypeVar("View", bound=Callable[..., HttpResponse])

PAGE_SIZE = 50


def stock_page(*, manage: bool = False) -> Callable[[View], View]:
    """A stock page of the assignment's care unit: its care provider keeps its stock in Ympa, and the
    assignment has the right to manage stock (`manage`), or to manage stock or view statistics. Put it
    inside `staff_view`, which has already asked for a login and an assignment."""

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            assignment = cast(StaffRequest, request).assignment
            if manage and not assignment.has_right(Right.MANAGE_STOCK):
                message = _("Your assignment does not include the right: %(right)s.") % {
                    "right": Right.MANAGE_STOCK.label
                }
            elif not (
                assignment.has_right(Right.MANAGE_STOCK) or assignment.has_right(Right.VIEW_STATISTICS)
            ):
                message = _(
                    "Your assignment does not include the right to manage stock or to view statistics."
                )
            elif assignment.care_unit is None:
                message = _("Choose an active assignment at a care unit first.")
            elif not uses_inventory(assignment.care_unit):
                message = _("Your care provider does not keep its vaccine stock in Ympa.")
            else:
                return view(request, *args, **kwargs)
            return render(request, "403.html", {"message": message}, status=403)

        return cast(View, wrapper)

    return decorator


def _unit(request: StaffRequest) -> CareUnit:
    unit = request.assignment.care_unit
    # stock_page refused an assignment without a care unit.
    assert unit is not None
    return unit


def _can_manage(request: StaffRequest) -> bool:
    return request.assignment.has_right(Right.MANAGE_STOCK)


@no_patient_data("the unit's stock per batch and storage location, open vials and stock flags")
@staff_view()
@stock_page()
@require_GET
def balance(request: StaffRequest) -> HttpResponse:
    unit = _unit(request)
    return render(
        request,
        "inventory/balance.html",
        {
            "unit": unit,
            "rows": unit_balances(unit=unit),
            "vials": open_vials(unit=unit),
            "flags": list(open_flags(unit=unit)),
            "can_manage": _can_manage(request),
        },
    )


@no_patient_data("resolves a stock flag of the unit; the flag names a batch, not a patient")
@staff_view()
@stock_page(manage=True)
@require_POST
def flag_resolve(request: StaffRequest, flag_id: int) -> HttpResponse:
    flag = stock_flag(flag_id=flag_id)
    if flag is None:
        raise Http404
    form = FlagResolveForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Say how the problem was resolved."))
        return redirect("inventory:balance")
    try:
        stock_flag_resolve(actor=request.actor, flag=flag, resolution=form.cleaned_data["resolution"])
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("The flag was resolved."))
    return redirect("inventory:balance")


@no_patient_data("opens a multi-dose vial of a batch the unit holds")
@staff_view()
@stock_page(manage=True)
@require_POST
def vial_open_view(request: StaffRequest) -> HttpResponse:
    form = VialOpenForm(request.POST)
    slot = (
        held_slot(
            unit=_unit(request),
            batch_id=form.cleaned_data["batch"],
            location_id=form.cleaned_data["location"],
        )
        if form.is_valid()
        else None
    )
    if slot is None:
        raise Http404
    try:
        vial = vial_open(actor=request.actor, batch=slot.batch, location=slot.location)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            _("A vial of batch %(batch)s was opened: %(doses)d doses.")
            % {"batch": slot.batch.batch_number, "doses": vial.doses},
        )
    return redirect("inventory:balance")


@no_patient_data("the unit's deliveries: supplier, delivery note and who received them")
@staff_view()
@stock_page()
@require_GET
def delivery_list(request: StaffRequest) -> HttpResponse:
    page = Paginator(unit_deliveries(unit=_unit(request)), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "inventory/deliveries.html",
        {"unit": _unit(request), "page": page, "can_manage": _can_manage(request)},
    )


@no_patient_data("one delivery of the unit and its lines (batches and doses)")
@staff_view()
@stock_page()
@require_GET
def delivery_detail(request: StaffRequest, delivery_id: UUID) -> HttpResponse:
    delivery = unit_delivery(unit=_unit(request), delivery_id=delivery_id)
    if delivery is None:
        raise Http404
    return render(
        request,
        "inventory/delivery.html",
        {"unit": _unit(request), "delivery": delivery, "lines": list(delivery_lines(delivery=delivery))},
    )


def _with_one_more_line(data: QueryDict) -> QueryDict:
    """The posted delivery with one more, empty line: its fields hold their initial values, as a line the
    page showed empty does, so that leaving it empty leaves it out."""
    more = data.copy()
    try:
        total = int(data.get("lines-TOTAL_FORMS", ""))
    except ValueError:
        return more
    if total >= MAX_LINES:
        return more
    more["lines-TOTAL_FORMS"] = str(total + 1)
    for name, field in DeliveryLineForm.base_fields.items():
        if field.initial is not None:
            more[f"lines-{total}-{name}"] = str(field.initial)
    return more


@no_patient_data("receives a delivery into the unit's stock")
@staff_view()
@stock_page(manage=True)
@require_http_methods(["GET", "POST"])
def delivery_new(request: StaffRequest) -> HttpResponse:
    unit = _unit(request)
    orders = list(sent_purchase_orders(unit=unit))
    line_kwargs = {"products": product_choices(), "locations": list(storage_locations(unit=unit))}
    more = request.method == "POST" and request.POST.get("action") == "more"
    if request.method == "POST":
        data = _with_one_more_line(request.POST) if more else request.POST
        form = DeliveryForm(data, orders=orders)
        formset = DeliveryLineFormSet(data, prefix="lines", form_kwargs=line_kwargs)
    else:
        initial = {"idempotency_key": uuid.uuid4().hex}
        # Opened from a purchase order: the order and its supplier are chosen, and what was ordered is shown
        # beside the lines (batch, expiry and packages are read off what actually came).
        ordered = next((o for o in orders if str(o.pk) == request.GET.get("purchase_order")), None)
        if ordered is not None:
            initial |= {"purchase_order": str(ordered.pk), "supplier": ordered.supplier}
        form = DeliveryForm(initial=initial, orders=orders)
        formset = DeliveryLineFormSet(prefix="lines", form_kwargs=line_kwargs)
    if request.method == "POST" and not more:
        form_valid = form.is_valid()
        if formset.is_valid() and form_valid:
            lines, line_forms = formset.lines()
            try:
                delivery = delivery_receive(
                    actor=request.actor,
                    supplier=form.cleaned_data["supplier"],
                    delivery_note=form.cleaned_data["delivery_note"],
                    note=form.cleaned_data["note"],
                    purchase_order=form.chosen_order,
                    lines=lines,
                    idempotency_key=form.cleaned_data["idempotency_key"],
                )
            except ValidationError as exc:
                add_delivery_errors(form, line_forms, exc)
            else:
                messages.success(request, _("The delivery was received into stock."))
                return redirect("inventory:delivery", delivery_id=delivery.pk)
    return render(
        request,
        "inventory/delivery_new.html",
        # Adding a line re-shows what was typed without judging it yet.
        {
            "unit": unit,
            "form": form,
            "formset": formset,
            "hide_errors": more,
            "ordered_lines": _ordered_lines(form, orders),
        },
    )


def _ordered_lines(form: DeliveryForm, orders: list[PurchaseOrder]) -> list[PurchaseOrderLine]:
    chosen = form["purchase_order"].value()
    order = next((o for o in orders if str(o.pk) == chosen), None)
    return list(order.lines.select_related("product").order_by("product__name")) if order else []


@no_patient_data(
    "the unit's stock movements; a dose given or returned shows as a dose with a link to its journal "
    "entry, which checks access itself, never the patient"
)
@staff_view()
@stock_page()
@require_GET
def ledger_view(request: StaffRequest) -> HttpResponse:
    unit = _unit(request)
    form = LedgerFilterForm(request.GET or None, batches=list(ledger_batches(unit=unit)))
    batch = form.chosen_batch if form.is_bound else None
    movements = ledger(unit=unit, batch=batch).select_related("transfer__from_unit", "transfer__to_unit")
    page = Paginator(movements, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request, "inventory/ledger.html", {"unit": unit, "form": form, "page": page, "batch": batch}
    )


@no_patient_data("records wasted doses of a batch the unit holds")
@staff_view()
@stock_page(manage=True)
@require_http_methods(["GET", "POST"])
def wastage_new(request: StaffRequest) -> HttpResponse:
    unit = _unit(request)
    form = WastageForm(
        request.POST if request.method == "POST" else None,
        held=list(stock_held(unit=unit)),
        initial={"slot": request.GET.get("slot", "")},
    )
    if form.is_bound and form.is_valid():
        try:
            wastage_record(
                actor=request.actor,
                batch=form.batch,
                location=form.location,
                quantity=form.cleaned_data["quantity"],
                reason=form.cleaned_data["reason"],
                note=form.cleaned_data["note"],
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, _("The wastage was recorded."))
            return redirect("inventory:balance")
    return render(request, "inventory/wastage_new.html", {"unit": unit, "form": form})


@no_patient_data("the unit's transfers of stock to and from the provider's other units")
@staff_view()
@stock_page()
@require_GET
def transfer_list(request: StaffRequest) -> HttpResponse:
    unit = _unit(request)
    return render(
        request,
        "inventory/transfers.html",
        {
            "unit": unit,
            "incoming": unit_transfers(unit=unit, incoming=True),
            "outgoing": unit_transfers(unit=unit, incoming=False),
            "locations": list(storage_locations(unit=unit)),
            "can_manage": _can_manage(request),
        },
    )


@no_patient_data("sends stock of a batch to another unit of the same care provider")
@staff_view()
@stock_page(manage=True)
@require_http_methods(["GET", "POST"])
def transfer_new(request: StaffRequest) -> HttpResponse:
    unit = _unit(request)
    form = TransferForm(
        request.POST if request.method == "POST" else None,
        held=list(stock_held(unit=unit)),
        targets=list(transfer_targets(unit=unit)),
        initial={"slot": request.GET.get("slot", "")},
    )
    if form.is_bound and form.is_valid():
        try:
            transfer_send(
                actor=request.actor,
                batch=form.batch,
                location=form.location,
                to_unit=form.target_unit,
                quantity=form.cleaned_data["quantity"],
                note=form.cleaned_data["note"],
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, _("The transfer was sent."))
            return redirect("inventory:transfers")
    return render(request, "inventory/transfer_new.html", {"unit": unit, "form": form})


@no_patient_data("books a transfer sent to the unit into its stock")
@staff_view()
@stock_page(manage=True)
@require_POST
def transfer_receive_view(request: StaffRequest, transfer_id: UUID) -> HttpResponse:
    transfer = transfer_by_id(transfer_id=transfer_id)
    if transfer is None:
        raise Http404
    form = LocationForm(request.POST, locations=list(storage_locations(unit=_unit(request))))
    if not form.is_valid():
        messages.error(request, _("Choose a storage location of your own care unit."))
        return redirect("inventory:transfers")
    try:
        transfer_receive(actor=request.actor, transfer=transfer, location=form.chosen_location)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("The transfer was received into stock."))
    return redirect("inventory:transfers")


@no_patient_data("the unit's storage locations")
@staff_view()
@stock_page()
@require_http_methods(["GET", "POST"])
def locations(request: StaffRequest) -> HttpResponse:
    unit = _unit(request)
    form = StorageLocationForm(request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        # The service refuses an assignment without the right to manage stock.
        try:
            storage_location_create(actor=request.actor, name=form.cleaned_data["name"])
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, _("The storage location was added."))
            return redirect("inventory:locations")
    return render(
        request,
        "inventory/locations.html",
        {
            "unit": unit,
            "locations": list(storage_locations(unit=unit, active_only=False)),
            "form": form,
            "can_manage": _can_manage(request),
        },
    )
