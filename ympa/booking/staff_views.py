"""The unit's day of bookings (per resource, with rebooking, no-show marking and cancelling), its waiting
lists, and the booking statistics."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from itertools import groupby
from typing import Any
from uuid import UUID

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ympa.access.routes import no_patient_data, returns_patient_data
from ympa.access.services import patient_access, patient_access_many
from ympa.authn.decorators import staff_view
from ympa.authn.request import StaffRequest
from ympa.booking.models import AppointmentType, Audience, Booking, Slot
from ympa.booking.services import (
    Contact,
    booking_cancel,
    booking_mark_no_show,
    booking_rebook,
    waiting_list_add,
    waiting_list_entry_end,
    waiting_list_notify_now,
)
from ympa.booking.staff_forms import CancelForm, StatsForm, WaitingAddForm, WaitingEndForm
from ympa.booking.staff_selectors import (
    ENDED_SHOWN_DAYS,
    BookingStats,
    StatsRow,
    booking_for_staff,
    booking_stats,
    bookings_to_rebook,
    day_bookings,
    day_bounds,
    rebook_choices,
    waiting_ended,
    waiting_entry_for_staff,
    waiting_lists,
)
from ympa.core.errors import ConflictError, NotPermitted
from ympa.orgs.rights import Right


def _day(value: str | None) -> date:
    parsed = parse_date(value or "") if value else None
    return parsed or timezone.localdate()


def _day_url(day: date) -> str:
    return f"{reverse('booking:day_list')}?day={day.isoformat()}"


def _booking_or_404(request: StaffRequest, booking_id: UUID) -> Booking:
    booking = booking_for_staff(actor=request.actor, booking_id=booking_id)
    if booking is None:
        raise Http404
    return booking


@returns_patient_data
@staff_view(right=Right.MANAGE_BOOKINGS)
@require_GET
def day_list(request: StaffRequest) -> HttpResponse:
    day = _day(request.GET.get("day"))
    bookings = day_bookings(actor=request.actor, day=day)
    withdrawn = bookings_to_rebook(actor=request.actor)
    patient_access_many(
        actor=request.actor,
        patients=[b.patient for b in bookings] + [b.patient for b in withdrawn],
        object_type="booking.day_list",
        object_id=day.isoformat(),
    )
    per_resource = [
        (resource, list(rows)) for resource, rows in groupby(bookings, key=lambda b: b.slot.resource)
    ]
    return render(
        request,
        "booking/staff/day.html",
        {
            "day": day,
            "previous": day - timedelta(days=1),
            "next": day + timedelta(days=1),
            "today": timezone.localdate(),
            "per_resource": per_resource,
            "withdrawn": withdrawn,
            "now": timezone.now(),
            "cancel_form": CancelForm(),
        },
    )


@returns_patient_data
@staff_view(right=Right.MANAGE_BOOKINGS)
@require_http_methods(["GET", "POST"])
def day_rebook(request: StaffRequest, booking_id: UUID) -> HttpResponse:
    booking = _booking_or_404(request, booking_id)
    back = _day_url(timezone.localdate(booking.slot.starts_at))
    error = ""
    if request.method == "POST":
        chosen = request.POST.get("slot", "")
        slot = (
            Slot.objects.filter(pk=int(chosen), care_unit_id=booking.care_unit_id).first()
            if chosen.isdigit()
            else None
        )
        if slot is None:
            error = _("Choose one of the times shown.")
        else:
            try:
                new = booking_rebook(actor=request.actor, booking=booking, slot=slot)
            except ValidationError as exc:
                error = " ".join(exc.messages)
            except ConflictError as exc:
                error = str(exc.message)
            except NotPermitted as exc:
                return render(request, "403.html", {"message": exc.message, "back": back}, status=403)
            else:
                messages.success(
                    request,
                    _("%(name)s is rebooked to %(time)s.")
                    % {
                        "name": new.patient.full_name,
                        "time": timezone.localtime(new.slot.starts_at).strftime("%Y-%m-%d %H:%M"),
                    },
                )
                return redirect(_day_url(timezone.localdate(new.slot.starts_at)))
    patient_access(
        actor=request.actor, patient=booking.patient, object_type="booking.booking", object_id=str(booking.pk)
    )
    after = parse_date(request.GET.get("from") or "")
    slots = rebook_choices(booking=booking, after=day_bounds(after)[0] if after else None)
    return render(
        request,
        "booking/staff/rebook.html",
        {"booking": booking, "slots": slots, "error": error, "back": back},
        status=200 if not error else 400,
    )


@returns_patient_data
@staff_view(right=Right.MANAGE_BOOKINGS)
@require_POST
def day_no_show(request: StaffRequest, booking_id: UUID) -> HttpResponse:
    booking = _booking_or_404(request, booking_id)
    back = _day_url(timezone.localdate(booking.slot.starts_at))
    try:
        booking_mark_no_show(actor=request.actor, booking=booking)
    except ConflictError as exc:
        messages.error(request, exc.message)
    except NotPermitted as exc:
        return render(request, "403.html", {"message": exc.message, "back": back}, status=403)
    else:
        messages.success(request, _("%(name)s is marked as not come.") % {"name": booking.patient.full_name})
    return redirect(back)


@returns_patient_data
@staff_view(right=Right.MANAGE_BOOKINGS)
@require_POST
def day_cancel(request: StaffRequest, booking_id: UUID) -> HttpResponse:
    booking = _booking_or_404(request, booking_id)
    back = _day_url(timezone.localdate(booking.slot.starts_at))
    form = CancelForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Say why the booking is cancelled."))
        return redirect(back)
    try:
        booking_cancel(actor=request.actor, booking=booking, reason=form.cleaned_data["reason"])
    except ConflictError as exc:
        messages.error(request, exc.message)
    except NotPermitted as exc:
        return render(request, "403.html", {"message": exc.message, "back": back}, status=403)
    else:
        messages.success(
            request, _("The booking of %(name)s is cancelled.") % {"name": booking.patient.full_name}
        )
    return redirect(back)


# --- waiting list ------------------------------------------------------------------------------------


@returns_patient_data
@staff_view(right=Right.MANAGE_BOOKINGS)
@require_GET
def waiting_list(request: StaffRequest) -> HttpResponse:
    return _waiting_page(request, WaitingAddForm(types=_waiting_types(request)))


def _waiting_types(request: StaffRequest) -> list[tuple[int, str]]:
    """The unit's public appointment types: the ones a waiting list's message can send someone to book."""
    return list(
        AppointmentType.objects.filter(
            care_unit_id=request.assignment.care_unit_id, active=True, audience=Audience.PUBLIC
        )
        .order_by("name")
        .values_list("pk", "name")
    )


def _waiting_page(request: StaffRequest, add_form: WaitingAddForm, *, status: int = 200) -> HttpResponse:
    lists = waiting_lists(actor=request.actor)
    ended = waiting_ended(actor=request.actor)
    # Read rows for the registered patients shown; an identity no patient has is not in the record.
    shown = [w.patient for kind in lists for w in kind.waiting] + [e.patient for e in ended]
    patient_access_many(
        actor=request.actor,
        patients=[patient for patient in shown if patient is not None],
        object_type="booking.waiting_list",
    )
    context = {
        "lists": lists,
        "ended": ended,
        "ended_days": ENDED_SHOWN_DAYS,
        "now": timezone.now(),
        "end_form": WaitingEndForm(),
        "add_form": add_form,
    }
    return render(request, "booking/staff/waiting.html", context, status=status)


@returns_patient_data
@staff_view(right=Right.MANAGE_BOOKINGS)
@require_POST
def waiting_add(request: StaffRequest) -> HttpResponse:
    form = WaitingAddForm(request.POST, types=_waiting_types(request))
    if form.is_valid():
        kind = AppointmentType.objects.get(pk=form.cleaned_data["appointment_type"])
        try:
            waiting_list_add(
                actor=request.actor,
                appointment_type=kind,
                identifier=form.cleaned_data["identifier"],
                contact=Contact(phone=form.cleaned_data["phone"], email=form.cleaned_data["email"]),
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        except ConflictError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("%(type)s: added to the waiting list.") % {"type": kind.name})
            return redirect("booking:waiting_list")
    return _waiting_page(request, form, status=400)


@returns_patient_data
@staff_view(right=Right.MANAGE_BOOKINGS)
@require_POST
def waiting_end(request: StaffRequest, entry_id: UUID) -> HttpResponse:
    entry = waiting_entry_for_staff(actor=request.actor, entry_id=entry_id)
    if entry is None:
        raise Http404
    form = WaitingEndForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Say why the entry is ended."))
        return redirect("booking:waiting_list")
    try:
        waiting_list_entry_end(actor=request.actor, entry=entry, reason=form.cleaned_data["reason"])
    except ConflictError as exc:
        messages.error(request, exc.message)
    except NotPermitted as exc:
        return render(request, "403.html", {"message": exc.message}, status=403)
    else:
        messages.success(request, _("The entry is taken off the waiting list."))
    return redirect("booking:waiting_list")


@no_patient_data("tells the oldest waiting entries of a type that times are free; shows no one")
@staff_view(right=Right.MANAGE_BOOKINGS)
@require_POST
def waiting_notify(request: StaffRequest, type_id: int) -> HttpResponse:
    kind = AppointmentType.objects.filter(pk=type_id, care_unit_id=request.assignment.care_unit_id).first()
    if kind is None:
        raise Http404
    try:
        told = waiting_list_notify_now(actor=request.actor, appointment_type=kind)
    except NotPermitted as exc:
        return render(request, "403.html", {"message": exc.message}, status=403)
    if told:
        messages.success(
            request,
            ngettext(
                "%(n)s person on the waiting list was told that times are free.",
                "%(n)s people on the waiting list were told that times are free.",
                told,
            )
            % {"n": told},
        )
    else:
        messages.info(request, _("No one was told: there are no free times, or everyone has been told."))
    return redirect("booking:waiting_list")


# --- statistics --------------------------------------------------------------------------------------

CHART_HEIGHT = 160
CHART_BAR = 24
CHART_GAP = 8
# The stacked parts of an appointment bar, bottom up: (attribute, CSS class of the colour).
PARTS = (("attended", "bar-attended"), ("no_show", "bar-no-show"), ("cancelled", "bar-cancelled"))


@dataclass(frozen=True)
class Bar:
    x: int
    label: str
    title: str
    rects: list[tuple[int, int, str]]  # (y, height, class)


def _bars(per_period: list[StatsRow], weekly: bool) -> tuple[list[Bar], int]:
    """Stacked bars of the appointments per period, scaled to the busiest period; and the chart's width."""
    top = max((row.appointments for row in per_period), default=0) or 1
    bars = []
    for index, row in enumerate(per_period):
        x = index * (CHART_BAR + CHART_GAP)
        base = CHART_HEIGHT
        rects = []
        booked = row.appointments - row.attended - row.no_show - row.cancelled
        for value, css in (*((getattr(row, name), css) for name, css in PARTS), (booked, "bar-booked")):
            height = round(value * CHART_HEIGHT / top)
            if height:
                base -= height
                rects.append((base, height, css))
        label = f"v{row.period.isocalendar().week}" if weekly else row.period.strftime("%d/%m")
        title = _(
            "%(period)s: %(n)s appointments, %(attended)s attended, %(no_show)s no-show, "
            "%(cancelled)s cancelled"
        ) % {
            "period": label,
            "n": row.appointments,
            "attended": row.attended,
            "no_show": row.no_show,
            "cancelled": row.cancelled,
        }
        bars.append(Bar(x=x, label=label, title=title, rects=rects))
    return bars, max(len(per_period) * (CHART_BAR + CHART_GAP), CHART_BAR)


def _may_see_stats(request: StaffRequest) -> bool:
    return request.assignment.care_unit_id is not None and (
        request.assignment.has_right(Right.VIEW_STATISTICS)
        or request.assignment.has_right(Right.MANAGE_BOOKINGS)
    )


@no_patient_data("counts of bookings per day or week and appointment type, never a patient")
@staff_view()
@require_GET
def stats_bookings(request: StaffRequest) -> HttpResponse:
    if not _may_see_stats(request):
        return render(
            request,
            "403.html",
            {
                "message": _("Your assignment does not include the right: %(right)s.")
                % {"right": Right.VIEW_STATISTICS.label}
            },
            status=403,
        )
    today = timezone.localdate()
    form = StatsForm(request.GET or None, initial={"period": "day"})
    start, end, weekly = today - timedelta(days=13), today + timedelta(days=7), False
    if form.is_bound and form.is_valid():
        start = form.cleaned_data["start"] or start
        end = form.cleaned_data["end"] or end
        weekly = form.cleaned_data["period"] == "week"
    stats: BookingStats = booking_stats(actor=request.actor, start=start, end=end, weekly=weekly)
    per_period = stats.per_period()
    bars, width = _bars(per_period, weekly)
    context: dict[str, Any] = {
        "form": form,
        "start": start,
        "end": end,
        "weekly": weekly,
        "stats": stats,
        "totals": stats.totals(),
        "bars": bars,
        "chart_width": width,
        "chart_height": CHART_HEIGHT,
        "bar_width": CHART_BAR,
    }
    return render(request, "booking/staff/stats.html", context)
