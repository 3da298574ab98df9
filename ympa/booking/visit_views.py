"""The patient's own visit pages, no login: the health declaration and check-in, opened with the booking's
personal link (or a declaration QR code shown at reception). The link is the capability; a wrong or
expired one shows the same "not valid" page and changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from ympa.access.routes import no_patient_data, returns_patient_data
from ympa.booking.declaration import declaration_form_for, declaration_submit, questions_of
from ympa.booking.models import Booking, BookingStatus, CheckInChannel, DeclarationChannel, QueueEntry
from ympa.booking.queue import OPEN_STATUSES
from ympa.booking.queue import checkin as queue_checkin
from ympa.booking.visit_forms import DeclarationAnswersForm
from ympa.booking.visit_selectors import (
    booking_by_qr,
    booking_by_token,
    latest_declaration_of,
    visit_booking_read,
)
from ympa.core.errors import ConflictError, NotPermitted
from ympa.orgs.models import CareUnit


def _no_store(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """The pages name the patient: never kept in a cache."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        response["Cache-Control"] = "no-store"
        return response

    return wrapper


def _invalid(request: HttpRequest) -> HttpResponse:
    return render(request, "booking/visit/invalid.html", status=404)


def _closed(booking: Booking) -> str:
    """Why the visit pages no longer accept anything for this booking, or ""."""
    if booking.status == BookingStatus.CANCELLED:
        return _("This booking is cancelled.")
    if booking.status == BookingStatus.NO_SHOW:
        return _("This appointment has passed.")
    if timezone.localdate(booking.slot.starts_at) < timezone.localdate():
        return _("This appointment has passed.")
    return ""


def _declaration_page(
    request: HttpRequest, booking: Booking, channel: DeclarationChannel, checkin_url: str = ""
) -> HttpResponse:
    action_url = request.path
    actor = visit_booking_read(booking=booking)
    closed = _closed(booking) or (
        _("Your visit is finished.") if booking.status == BookingStatus.ATTENDED else ""
    )
    form_in_use = declaration_form_for(booking)
    questions = questions_of(form_in_use)
    form = DeclarationAnswersForm(request.POST or None, questions=questions)
    if request.method == "POST" and not closed and form.is_valid():
        try:
            declaration_submit(
                actor=actor,
                booking=booking,
                form=form_in_use,
                answers=form.answers(),
                channel=channel,
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        except (ConflictError, NotPermitted) as exc:
            closed = exc.message
        else:
            messages.success(request, _("Thank you. Your answers have been sent to the clinic."))
            return redirect(action_url)
    return render(
        request,
        "booking/visit/declaration.html",
        {
            "booking": booking,
            "form": form,
            "closed": closed,
            "latest": latest_declaration_of(booking),
            "guardian": booking.booked_by_identity not in ("", booking.patient.identifier),
            "action_url": action_url,
            "checkin_url": checkin_url,
        },
        status=400 if request.method == "POST" and form.errors else 200,
    )


@returns_patient_data
@_no_store
@require_http_methods(["GET", "POST"])
def declaration(request: HttpRequest, token: str) -> HttpResponse:
    booking = booking_by_token(token)
    if booking is None:
        return _invalid(request)
    return _declaration_page(
        request, booking, DeclarationChannel.LINK, reverse("visit:checkin", args=[token])
    )


@returns_patient_data
@_no_store
@require_http_methods(["GET", "POST"])
def declaration_qr(request: HttpRequest, value: str) -> HttpResponse:
    booking = booking_by_qr(value)
    if booking is None:
        return _invalid(request)
    return _declaration_page(request, booking, DeclarationChannel.QR)


@returns_patient_data
@_no_store
@require_http_methods(["GET", "POST"])
def checkin(request: HttpRequest, token: str) -> HttpResponse:
    booking = booking_by_token(token)
    if booking is None:
        return _invalid(request)
    actor = visit_booking_read(booking=booking)
    entry = QueueEntry.objects.filter(booking=booking).first()
    problem = _closed(booking)
    day = timezone.localdate(booking.slot.starts_at)
    if not problem and entry is None and day != timezone.localdate():
        problem = _("You can check in on the day of your appointment, %(day)s.") % {"day": day.isoformat()}
    if request.method == "POST" and not problem and entry is None:
        try:
            queue_checkin(actor=actor, booking=booking, channel=CheckInChannel.SELF)
        except (ConflictError, NotPermitted) as exc:
            problem = exc.message
        else:
            return redirect(request.path)
    return render(
        request,
        "booking/visit/checkin.html",
        {
            "booking": booking,
            "entry": entry,
            "waiting": entry is not None and entry.status in OPEN_STATUSES,
            "problem": problem,
            "token": token,
        },
        status=409 if request.method == "POST" and problem else 200,
    )


@no_patient_data("the care unit's entrance page: how to check in and answer the health declaration")
@require_GET
def unit(request: HttpRequest, unit_id: int) -> HttpResponse:
    care_unit = get_object_or_404(CareUnit, pk=unit_id)
    return render(request, "booking/visit/unit.html", {"unit": care_unit})
