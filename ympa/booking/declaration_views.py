"""Staff pages of the health declaration: a patient's declarations and the nurse's confirmation, today's
declaration on the patient overview, the unit's forms, the tablet at arrival, and QR codes."""

from __future__ import annotations

import uuid

import segno
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ympa.access.routes import no_patient_data, returns_patient_data
from ympa.access.services import patient_access_many
from ympa.authn.decorators import staff_view
from ympa.authn.request import StaffRequest
from ympa.booking.declaration import (
    declaration_confirm,
    declaration_form_create,
    declaration_form_for,
    declaration_form_retire,
    declaration_submit,
    questions_of,
)
from ympa.booking.models import DeclarationChannel, DeclarationForm
from ympa.booking.visit_forms import ConfirmForm, DeclarationAnswersForm, DeclarationFormCreateForm
from ympa.booking.visit_selectors import (
    booking_today_get,
    bookings_today,
    declaration_get,
    declaration_today,
    declarations_for_patient,
    qr_code_value,
)
from ympa.core.errors import ConflictError, NotPermitted
from ympa.orgs.rights import Right
from ympa.patients.models import Patient


def _qr_svg(url: str, title: str) -> str:
    return str(segno.make(url, error="m").svg_inline(scale=8, title=title))


@returns_patient_data
@staff_view(right=Right.ADMINISTER)
@require_GET
def patient(request: StaffRequest, patient_id: uuid.UUID) -> HttpResponse:
    subject = get_object_or_404(Patient, pk=patient_id)
    declarations = declarations_for_patient(actor=request.actor, patient=subject)
    return render(
        request,
        "booking/declaration/patient.html",
        {"patient": subject, "declarations": declarations, "confirm": ConfirmForm()},
    )


@returns_patient_data
@staff_view(right=Right.ADMINISTER)
@require_GET
def today(request: StaffRequest, patient_id: uuid.UUID) -> HttpResponse:
    """Today's unconfirmed declaration, loaded into the patient overview (empty when there is none)."""
    subject = get_object_or_404(Patient, pk=patient_id)
    try:
        found = declaration_today(actor=request.actor, patient=subject)
    except NotPermitted:
        found = None
    return render(
        request,
        "booking/declaration/_today.html",
        {"declaration": found, "confirm_next": reverse("patients:overview", args=[subject.pk])},
    )


@returns_patient_data
@staff_view(right=Right.ADMINISTER)
@require_POST
def confirm(request: StaffRequest, declaration_id: uuid.UUID) -> HttpResponse:
    found = declaration_get(actor=request.actor, declaration_id=declaration_id)
    if found is None:
        raise Http404
    form = ConfirmForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    try:
        declaration_confirm(actor=request.actor, declaration=found, note=note)
    except (ValidationError, ConflictError) as exc:
        messages.error(request, exc.messages[0] if isinstance(exc, ValidationError) else exc.message)
    else:
        messages.success(request, _("The health declaration is confirmed."))
    following = request.POST.get("next", "")
    if following and url_has_allowed_host_and_scheme(following, allowed_hosts={request.get_host()}):
        return redirect(following)
    return redirect("booking:declaration_patient", patient_id=found.patient_id)


@no_patient_data("the unit's health declaration forms: names and questions")
@staff_view(right=Right.ADMINISTER_UNIT)
@require_http_methods(["GET", "POST"])
def forms(request: StaffRequest) -> HttpResponse:
    form = DeclarationFormCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            declaration_form_create(
                actor=request.actor, name=form.cleaned_data["name"], questions=form.cleaned_data["questions"]
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, _("The form is created."))
            return redirect("booking:declaration_forms")
    unit_forms = DeclarationForm.objects.filter(care_unit=request.assignment.care_unit).order_by(
        "-created_at"
    )
    return render(
        request,
        "booking/declaration/forms.html",
        {
            "form": form,
            "unit_forms": [(item, questions_of(item)) for item in unit_forms],
            "standard": questions_of(None),
        },
        status=400 if form.errors else 200,
    )


@no_patient_data("retires a health declaration form; no patient data")
@staff_view(right=Right.ADMINISTER_UNIT)
@require_POST
def form_retire(request: StaffRequest, form_id: int) -> HttpResponse:
    item = get_object_or_404(DeclarationForm, pk=form_id, care_unit=request.assignment.care_unit)
    try:
        declaration_form_retire(actor=request.actor, form=item)
    except ConflictError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The form is retired."))
    return redirect("booking:declaration_forms")


@returns_patient_data
@staff_view(right=Right.MANAGE_BOOKINGS)
@require_GET
def tablet(request: StaffRequest) -> HttpResponse:
    """The tablet's start: reception picks the arriving patient's booking, then hands the tablet over."""
    bookings = bookings_today(actor=request.actor, only_booked=True)
    return render(request, "booking/declaration/tablet.html", {"bookings": bookings})


@returns_patient_data
@staff_view(right=Right.MANAGE_BOOKINGS)
@require_http_methods(["GET", "POST"])
def tablet_answer(request: StaffRequest, booking_id: uuid.UUID) -> HttpResponse:
    booking = booking_today_get(actor=request.actor, booking_id=booking_id)
    if booking is None:
        raise Http404
    form_in_use = declaration_form_for(booking)
    form = DeclarationAnswersForm(request.POST or None, questions=questions_of(form_in_use))
    if request.method == "POST" and form.is_valid():
        try:
            declaration_submit(
                actor=request.actor,
                booking=booking,
                form=form_in_use,
                answers=form.answers(),
                channel=DeclarationChannel.TABLET,
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        except ConflictError as exc:
            messages.error(request, exc.message)
            return redirect("booking:declaration_tablet")
        else:
            # Back to the start: the next person to hold the tablet must not see these answers.
            messages.success(request, _("Thank you! Please hand the tablet back to reception."))
            return redirect("booking:declaration_tablet")
    else:
        patient_access_many(actor=request.actor, patients=[booking.patient], object_type="booking.booking")
    return render(
        request,
        "booking/declaration/tablet_answer.html",
        {"booking": booking, "form": form},
        status=400 if form.errors else 200,
    )


@returns_patient_data
@staff_view(right=Right.MANAGE_BOOKINGS)
@require_GET
def qr(request: StaffRequest, booking_id: uuid.UUID) -> HttpResponse:
    """A QR code the patient scans with their own phone to answer the declaration (valid for the visit)."""
    booking = booking_today_get(actor=request.actor, booking_id=booking_id)
    if booking is None:
        raise Http404
    patient_access_many(actor=request.actor, patients=[booking.patient], object_type="booking.booking")
    url = request.build_absolute_uri(reverse("visit:declaration_qr", args=[qr_code_value(booking)]))
    return render(
        request,
        "booking/declaration/qr.html",
        {"booking": booking, "svg": _qr_svg(url, _("Health declaration")), "url": url},
    )


@no_patient_data("a QR code of the unit's entrance page")
@staff_view(right=Right.MANAGE_BOOKINGS)
@require_GET
def unit_qr(request: StaffRequest) -> HttpResponse:
    unit = request.assignment.care_unit
    if unit is None:
        raise Http404
    url = request.build_absolute_uri(reverse("visit:unit", args=[unit.pk]))
    return render(
        request,
        "booking/declaration/unit_qr.html",
        {"unit": unit, "svg": _qr_svg(url, unit.name), "url": url},
    )
