"""The unit's schedule pages: week overview, opening hours and exceptions, resources, appointment types,
slot generation and releases.

None of them shows patient data: slots are counted (booked or free), never named.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any, cast

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ympa.access.routes import no_patient_data
from ympa.authn.decorators import staff_view
from ympa.authn.request import StaffRequest
from ympa.booking.models import AppointmentType, OpeningException, Resource
from ympa.booking.schedule import (
    AppointmentTypeDetails,
    appointment_type_create,
    appointment_type_deactivate,
    appointment_type_update,
    opening_exception_add,
    opening_exception_remove,
    opening_hours_set,
    resource_create,
    resource_deactivate,
    resource_update,
    slot_release_create,
    slots_generate,
    slots_withdraw_day,
    uses_booking,
    vaccine_group_names,
)
from ympa.booking.schedule_forms import (
    AppointmentTypeForm,
    BasePeriodFormSet,
    ExceptionForm,
    GenerateForm,
    PeriodFormSet,
    ReleaseForm,
    ResourceForm,
    WithdrawDayForm,
    parse_monday,
    period_initial,
)
from ympa.booking.schedule_selectors import (
    day_slots,
    declaration_forms_in_use,
    schedule_week,
    slots_to_rebook,
    unit_appointment_types,
    unit_exceptions,
    unit_opening_hours,
    unit_releases,
    unit_resources,
)
from ympa.catalog.models import Product
from ympa.core.dates import SWEDEN
from ympa.core.errors import ConflictError
from ympa.orgs.models import CareUnit
from ympa.orgs.rights import Right


def schedule_page[View: Callable[..., HttpResponse]](view: View) -> View:
    """A schedule page of the assignment's unit, whose care provider uses booking. Put it inside
    `staff_view(right=Right.ADMINISTER_UNIT)`, which has already asked for the assignment and the right."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        unit = cast(StaffRequest, request).assignment.care_unit
        if unit is None:
            message = _("Choose an active assignment at a care unit first.")
        elif not uses_booking(unit):
            message = _("Your care provider does not use booking in Ympa.")
        else:
            return view(request, *args, **kwargs)
        return render(request, "403.html", {"message": message}, status=403)

    return cast(View, wrapper)


def _unit(request: StaffRequest) -> CareUnit:
    unit = request.assignment.care_unit
    # schedule_page refused an assignment without a care unit.
    assert unit is not None
    return unit


def _render(request: StaffRequest, template: str, active: str, context: dict[str, Any]) -> HttpResponse:
    return render(
        request, f"booking/schedule/{template}", {"unit": _unit(request), "active": active, **context}
    )


def _error(request: StaffRequest, exc: ValidationError | ConflictError) -> None:
    text = exc.message if isinstance(exc, ConflictError) else " ".join(exc.messages)
    messages.error(request, text)


@no_patient_data("the unit's slots per resource and day, counted as booked and free")
@staff_view(right=Right.ADMINISTER_UNIT)
@schedule_page
@require_GET
def home(request: StaffRequest) -> HttpResponse:
    unit = _unit(request)
    monday = parse_monday(request.GET.get("week"))
    return _render(
        request,
        "week.html",
        "week",
        {
            "week": schedule_week(care_unit=unit, monday=monday),
            "previous": monday - timedelta(days=7),
            "next": monday + timedelta(days=7),
            "today": timezone.localdate(timezone=SWEDEN),
            "to_rebook": slots_to_rebook(care_unit=unit).count(),
        },
    )


@no_patient_data("withdraws a resource's slots on one day (asked for first); bookings in them are kept")
@staff_view(right=Right.ADMINISTER_UNIT)
@schedule_page
@require_http_methods(["GET", "POST"])
def withdraw_day(request: StaffRequest) -> HttpResponse:
    form = WithdrawDayForm(request.POST if request.method == "POST" else request.GET)
    if not form.is_valid():
        raise Http404
    resource = unit_resources(care_unit=_unit(request)).filter(pk=form.cleaned_data["resource"]).first()
    if resource is None:
        raise Http404
    day = form.cleaned_data["day"]
    if request.method == "GET":
        return _render(
            request,
            "withdraw_day.html",
            "week",
            {"form": form, "resource": resource, "day": day, "counts": day_slots(resource=resource, day=day)},
        )
    count = slots_withdraw_day(actor=request.actor, resource=resource, day=day)
    messages.success(
        request,
        ngettext(
            "%(count)d slot of %(resource)s was withdrawn.",
            "%(count)d slots of %(resource)s were withdrawn.",
            count,
        )
        % {"count": count, "resource": resource.name},
    )
    return redirect(f"{reverse('booking:schedule_home')}?week={parse_monday(day.isoformat()).isoformat()}")


@no_patient_data("the unit's weekly opening hours and exceptions")
@staff_view(right=Right.ADMINISTER_UNIT)
@schedule_page
@require_http_methods(["GET", "POST"])
def hours(request: StaffRequest) -> HttpResponse:
    unit = _unit(request)
    formset = PeriodFormSet(
        request.POST or None,
        prefix="periods",
        initial=None if request.method == "POST" else period_initial(unit_opening_hours(care_unit=unit)),
    )
    problems: list[str] = []
    if request.method == "POST" and formset.is_valid():
        try:
            opening_hours_set(actor=request.actor, periods=cast(BasePeriodFormSet, formset).periods())
        except ValidationError as exc:
            problems = exc.messages
        else:
            messages.success(request, _("The opening hours were saved."))
            return redirect("booking:schedule_hours")
    return _render(
        request,
        "hours.html",
        "hours",
        {
            "formset": formset,
            "problems": problems,
            "exception_form": ExceptionForm(),
            "exceptions": unit_exceptions(care_unit=unit, since=timezone.localdate(timezone=SWEDEN)),
        },
    )


@no_patient_data("adds a day with other opening hours, or closed, to the unit's schedule")
@staff_view(right=Right.ADMINISTER_UNIT)
@schedule_page
@require_POST
def exception_add(request: StaffRequest) -> HttpResponse:
    form = ExceptionForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            opening_exception_add(
                actor=request.actor,
                day=data["day"],
                closed=data["closed"],
                opens=data["opens"],
                closes=data["closes"],
                note=data["note"],
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, _("The exception was added."))
            return redirect("booking:schedule_hours")
    unit = _unit(request)
    return _render(
        request,
        "hours.html",
        "hours",
        {
            "formset": PeriodFormSet(
                prefix="periods", initial=period_initial(unit_opening_hours(care_unit=unit))
            ),
            "problems": [],
            "exception_form": form,
            "exceptions": unit_exceptions(care_unit=unit, since=timezone.localdate(timezone=SWEDEN)),
        },
    )


@no_patient_data("removes an exception from the unit's opening hours")
@staff_view(right=Right.ADMINISTER_UNIT)
@schedule_page
@require_POST
def exception_remove(request: StaffRequest, exception_id: int) -> HttpResponse:
    exception = OpeningException.objects.filter(pk=exception_id, care_unit=_unit(request)).first()
    if exception is None:
        raise Http404
    opening_exception_remove(actor=request.actor, exception=exception)
    messages.success(request, _("The exception was removed."))
    return redirect("booking:schedule_hours")


@no_patient_data("the unit's resources (vaccinators and rooms)")
@staff_view(right=Right.ADMINISTER_UNIT)
@schedule_page
@require_http_methods(["GET", "POST"])
def resources(request: StaffRequest) -> HttpResponse:
    form = ResourceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            resource_create(
                actor=request.actor, name=form.cleaned_data["name"], kind=form.cleaned_data["kind"]
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, _("The resource was added."))
            return redirect("booking:schedule_resources")
    return _render(
        request,
        "resources.html",
        "resources",
        {"form": form, "resources": unit_resources(care_unit=_unit(request))},
    )


def _resource(request: StaffRequest, resource_id: int) -> Resource:
    resource = unit_resources(care_unit=_unit(request)).filter(pk=resource_id).first()
    if resource is None:
        raise Http404
    return resource


@no_patient_data("edits one of the unit's resources")
@staff_view(right=Right.ADMINISTER_UNIT)
@schedule_page
@require_http_methods(["GET", "POST"])
def resource_edit(request: StaffRequest, resource_id: int) -> HttpResponse:
    resource = _resource(request, resource_id)
    form = ResourceForm(request.POST or None, initial={"name": resource.name, "kind": resource.kind})
    if request.method == "POST" and form.is_valid():
        try:
            resource_update(
                actor=request.actor,
                resource=resource,
                name=form.cleaned_data["name"],
                kind=form.cleaned_data["kind"],
                active=True if request.POST.get("activate") else None,
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, _("The resource was saved."))
            return redirect("booking:schedule_resources")
    return _render(request, "resource_edit.html", "resources", {"form": form, "resource": resource})


@no_patient_data("takes one of the unit's resources out of use")
@staff_view(right=Right.ADMINISTER_UNIT)
@schedule_page
@require_POST
def resource_deactivate_view(request: StaffRequest, resource_id: int) -> HttpResponse:
    try:
        resource_deactivate(actor=request.actor, resource=_resource(request, resource_id))
    except ConflictError as exc:
        _error(request, exc)
    else:
        messages.success(request, _("The resource was taken out of use."))
    return redirect("booking:schedule_resources")


def _type_form(request: StaffRequest, **kwargs: Any) -> AppointmentTypeForm:
    unit = _unit(request)
    return AppointmentTypeForm(
        request.POST or None,
        products=list(Product.objects.filter(active=True).order_by("vaccine_group", "name")),
        groups=vaccine_group_names(unit),
        declaration_forms=list(declaration_forms_in_use(care_unit=unit)),
        **kwargs,
    )


def _type_details(form: AppointmentTypeForm) -> AppointmentTypeDetails:
    data = form.cleaned_data
    return AppointmentTypeDetails(
        name=data["name"],
        duration_minutes=data["duration_minutes"],
        products=form.chosen_products(),
        price_sek=data["price_sek"],
        audience=data["audience"],
        vaccine_group=data["vaccine_group"],
        declaration_form=form.chosen_declaration_form(),
    )


@no_patient_data("the unit's appointment types")
@staff_view(right=Right.ADMINISTER_UNIT)
@schedule_page
@require_http_methods(["GET", "POST"])
def types(request: StaffRequest) -> HttpResponse:
    form = _type_form(request)
    if request.method == "POST" and form.is_valid():
        try:
            appointment_type_create(actor=request.actor, details=_type_details(form))
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, _("The appointment type was added."))
            return redirect("booking:schedule_types")
    return _render(
        request,
        "types.html",
        "types",
        {"form": form, "kinds": unit_appointment_types(care_unit=_unit(request))},
    )


def _kind(request: StaffRequest, type_id: int) -> AppointmentType:
    kind = unit_appointment_types(care_unit=_unit(request)).filter(pk=type_id).first()
    if kind is None:
        raise Http404
    return kind


@no_patient_data("edits one of the unit's appointment types")
@staff_view(right=Right.ADMINISTER_UNIT)
@schedule_page
@require_http_methods(["GET", "POST"])
def type_edit(request: StaffRequest, type_id: int) -> HttpResponse:
    kind = _kind(request, type_id)
    form = _type_form(request, initial=AppointmentTypeForm.initial_of(kind))
    if kind.declaration_form is not None and kind.declaration_form.retired_at is not None:
        # A retired form stays selectable on the type that already uses it.
        retired = kind.declaration_form
        form.declaration_forms[retired.pk] = retired
        form.fields["declaration_form"].choices = [  # type: ignore[attr-defined]
            *form.fields["declaration_form"].choices,  # type: ignore[attr-defined]
            (retired.pk, f"{retired.name} ({_('retired')})"),
        ]
    if request.method == "POST" and form.is_valid():
        try:
            appointment_type_update(
                actor=request.actor,
                appointment_type=kind,
                details=_type_details(form),
                active=True if request.POST.get("activate") else None,
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, _("The appointment type was saved."))
            return redirect("booking:schedule_types")
    return _render(request, "type_edit.html", "types", {"form": form, "kind": kind})


@no_patient_data("takes one of the unit's appointment types out of use")
@staff_view(right=Right.ADMINISTER_UNIT)
@schedule_page
@require_POST
def type_deactivate_view(request: StaffRequest, type_id: int) -> HttpResponse:
    try:
        appointment_type_deactivate(actor=request.actor, appointment_type=_kind(request, type_id))
    except ConflictError as exc:
        _error(request, exc)
    else:
        messages.success(request, _("The appointment type was taken out of use."))
    return redirect("booking:schedule_types")


def _generation_choices(request: StaffRequest) -> dict[str, Any]:
    unit = _unit(request)
    return {
        "kinds": list(unit_appointment_types(care_unit=unit, active_only=True).order_by("name")),
        "resources": list(unit_resources(care_unit=unit, active_only=True).order_by("name")),
    }


@no_patient_data("generates slots in the unit's opening hours; shows how many were created")
@staff_view(right=Right.ADMINISTER_UNIT)
@schedule_page
@require_http_methods(["GET", "POST"])
def generate(request: StaffRequest) -> HttpResponse:
    form = GenerateForm(request.POST or None, **_generation_choices(request))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            count = slots_generate(
                actor=request.actor,
                appointment_type=form.chosen_type(),
                resources=form.chosen_resources(),
                start=data["start"],
                end=data["end"],
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(
                request,
                ngettext("%(count)d slot was created.", "%(count)d slots were created.", count)
                % {"count": count},
            )
            return redirect(f"{reverse('booking:schedule_home')}?week={data['start'].isoformat()}")
    return _render(request, "generate.html", "generate", {"form": form})


@no_patient_data("the unit's slot releases with their slots counted as booked and free")
@staff_view(right=Right.ADMINISTER_UNIT)
@schedule_page
@require_http_methods(["GET", "POST"])
def releases(request: StaffRequest) -> HttpResponse:
    form = ReleaseForm(request.POST or None, **_generation_choices(request))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            release = slot_release_create(
                actor=request.actor,
                appointment_type=form.chosen_type(),
                release_at=data["release_at"],
                min_age=data["min_age"],
                max_age=data["max_age"],
                note=data["note"],
                start=data["start"],
                end=data["end"],
                resources=form.chosen_resources(),
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            count = release.slots.count()
            messages.success(
                request,
                ngettext(
                    "The release was created with %(count)d slot.",
                    "The release was created with %(count)d slots.",
                    count,
                )
                % {"count": count},
            )
            return redirect("booking:schedule_releases")
    return _render(
        request,
        "releases.html",
        "releases",
        {"form": form, "releases": unit_releases(care_unit=_unit(request)), "now": timezone.now()},
    )
