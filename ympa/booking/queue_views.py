"""Reception and the unit's live queue: check in today's bookings, add walk-ins, call the next patient and
move entries along; the queue polls with htmx (`X-Ympa-Poll: 1`, so an open screen is not activity). The
waiting-room screen shows numbers only and needs no login."""

from __future__ import annotations

import uuid
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ympa.access.routes import no_patient_data, returns_patient_data
from ympa.authn.decorators import staff_view
from ympa.authn.request import StaffRequest
from ympa.booking.models import CheckInChannel, QueueStatus
from ympa.booking.queue import checkin as queue_checkin
from ympa.booking.queue import queue_call_next, queue_entry_set_status, walk_in_add
from ympa.booking.visit_forms import ReceptionSearchForm, StatusForm, WalkInForm
from ympa.booking.visit_selectors import (
    booking_today_get,
    bookings_today,
    queue_display,
    queue_entry_get,
    queue_today,
)
from ympa.core.errors import ConflictError, NotPermitted
from ympa.orgs.models import CareUnit
from ympa.orgs.rights import Right

POLL_SECONDS = 5


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _board_context(request: StaffRequest) -> dict[str, object]:
    rows = queue_today(actor=request.actor)
    return {
        "rows": rows,
        "waiting": sum(1 for row in rows if row.entry.status == QueueStatus.WAITING),
        "poll_seconds": POLL_SECONDS,
        "statuses": QueueStatus,
    }


@returns_patient_data
@staff_view(right=Right.MANAGE_BOOKINGS)
@require_GET
def board(request: StaffRequest) -> HttpResponse:
    return render(request, "booking/queue/board.html", {**_board_context(request), "walk_in": WalkInForm()})


@returns_patient_data
@staff_view(right=Right.MANAGE_BOOKINGS)
@require_GET
def rows(request: StaffRequest) -> HttpResponse:
    return render(request, "booking/queue/_rows.html", _board_context(request))


def _back_to_board(request: StaffRequest) -> HttpResponse:
    if _is_htmx(request):
        return render(request, "booking/queue/_rows.html", _board_context(request))
    return redirect("booking:queue_board")


@returns_patient_data
@staff_view(right=Right.MANAGE_BOOKINGS)
@require_POST
def call_next(request: StaffRequest) -> HttpResponse:
    entry = queue_call_next(actor=request.actor)
    if entry is None:
        messages.info(request, _("Nobody is waiting."))
    else:
        messages.success(
            request,
            _("Number %(number)s called: %(name)s.") % {"number": entry.number, "name": entry.patient},
        )
    return _back_to_board(request)


@returns_patient_data
@staff_view(right=Right.MANAGE_BOOKINGS)
@require_POST
def set_status(request: StaffRequest, entry_id: uuid.UUID) -> HttpResponse:
    entry = queue_entry_get(actor=request.actor, entry_id=entry_id)
    if entry is None:
        raise Http404
    form = StatusForm(request.POST)
    if not form.is_valid():
        return HttpResponse(_("Choose a status."), status=400)
    try:
        queue_entry_set_status(
            actor=request.actor, entry=entry, status=QueueStatus(form.cleaned_data["status"])
        )
    except ConflictError as exc:
        messages.error(request, exc.message)
    return _back_to_board(request)


@returns_patient_data
@staff_view(right=Right.MANAGE_BOOKINGS)
@require_GET
def reception(request: StaffRequest) -> HttpResponse:
    search = ReceptionSearchForm(request.GET or None)
    query = search.cleaned_data["q"] if search.is_valid() else ""
    bookings = bookings_today(actor=request.actor, query=query)
    template = "booking/queue/_bookings.html" if _is_htmx(request) else "booking/queue/reception.html"
    return render(
        request,
        template,
        {"search": search, "bookings": bookings, "query": query, "walk_in": WalkInForm()},
    )


@returns_patient_data
@staff_view(right=Right.MANAGE_BOOKINGS)
@require_POST
def checkin(request: StaffRequest, booking_id: uuid.UUID) -> HttpResponse:
    booking = booking_today_get(actor=request.actor, booking_id=booking_id)
    if booking is None:
        raise Http404
    try:
        entry = queue_checkin(actor=request.actor, booking=booking, channel=CheckInChannel.RECEPTION)
    except ConflictError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            _("%(name)s is checked in as number %(number)s.")
            % {"name": booking.patient, "number": entry.number},
        )
    url = reverse("booking:queue_reception")
    query = request.POST.get("q", "")
    return redirect(f"{url}?{urlencode({'q': query})}" if query else url)


@returns_patient_data
@staff_view(right=Right.MANAGE_BOOKINGS)
@require_http_methods(["POST"])
def walk_in(request: StaffRequest) -> HttpResponse:
    form = WalkInForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            entry = walk_in_add(
                actor=request.actor,
                identifier=data["identifier"],
                given_name=data["given_name"],
                family_name=data["family_name"],
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        except NotPermitted as exc:
            return render(request, "403.html", {"message": exc.message}, status=403)
        else:
            messages.success(
                request,
                _("%(name)s is checked in as number %(number)s.")
                % {"name": entry.patient, "number": entry.number},
            )
            return redirect(
                "booking:queue_board" if request.POST.get("back") == "board" else "booking:queue_reception"
            )
    return render(
        request,
        "booking/queue/reception.html",
        {"search": ReceptionSearchForm(), "bookings": bookings_today(actor=request.actor), "walk_in": form},
        status=400,
    )


@no_patient_data("queue numbers only, for the waiting-room screen; no names")
@require_GET
def display(request: HttpRequest, unit_id: int) -> HttpResponse:
    unit = get_object_or_404(CareUnit, pk=unit_id)
    template = "booking/queue/_display_numbers.html" if _is_htmx(request) else "booking/queue/display.html"
    response = render(
        request, template, {"unit": unit, "display": queue_display(unit=unit), "poll_seconds": POLL_SECONDS}
    )
    response["Cache-Control"] = "no-store"
    return response
