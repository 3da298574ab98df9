"""Public booking pages (no login): find a unit, pick a time, identify, book, and manage the booking from
the personal link. Thin: input is parsed by `public_forms`, rules are in `services`, reads in `selectors`."""

from __future__ import annotations

import secrets
from datetime import date, datetime, time, timedelta
from typing import Any
from uuid import UUID

from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ympa.access.routes import no_patient_data, returns_patient_data
from ympa.authn.middleware import session_free_partial
from ympa.authn.models import CodePurpose
from ympa.authn.request import client_ip
from ympa.authn.services import OneTimeCodeLimited, one_time_code_send, one_time_code_verify
from ympa.booking.identity import Identity, identity_get, identity_set
from ympa.booking.models import AppointmentType, Booking, BookingChannel, BookingStatus, Slot
from ympa.booking.public_forms import (
    AUTO,
    NEW,
    SELF,
    CancelForm,
    CodeForm,
    ContactForm,
    IdentifyForm,
    PersonRow,
    person_rows,
)
from ympa.booking.selectors import (
    FamilyMember,
    booking_family,
    bookings_by_link,
    next_free,
    public_cache_render,
    slot_week,
    type_public,
    unit_public,
    units_public,
)
from ympa.booking.services import (
    BookingPerson,
    Contact,
    SlotTaken,
    booking_cancel,
    booking_create,
    booking_rebook,
    waiting_list_join,
)
from ympa.core.actor import Actor
from ympa.core.errors import ConflictError, NotPermitted
from ympa.core.validation import current_language
from ympa.identifiers import IdentifierError, parse_personnummer
from ympa.notify.models import MessageChannel
from ympa.patients.models import Patient

OTP_SESSION = "ympa_booking_otp"
# Free times offered in each person's list on the booking form.
OPTIONS = 40


def _no_store(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"
    return response


def _kind_or_404(type_id: int) -> AppointmentType:
    kind = type_public(type_id)
    if kind is None:
        raise Http404
    return kind


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


@no_patient_data("the list of care units that take bookings")
@require_GET
def units_view(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "")[:100]
    return render(request, "booking/public/units.html", {"units": units_public(query=query), "q": query})


@no_patient_data("a care unit's public appointment types")
@require_GET
def unit_view(request: HttpRequest, unit_id: int) -> HttpResponse:
    found = unit_public(unit_id)
    if found is None:
        raise Http404
    unit, kinds = found
    return render(request, "booking/public/unit.html", {"unit": unit, "kinds": kinds})


@session_free_partial
@no_patient_data("free times of an appointment type; the start day comes from the query, not the record")
@require_GET
def slots_view(request: HttpRequest, type_id: int) -> HttpResponse:
    kind = _kind_or_404(type_id)
    today = timezone.localdate()
    earliest = _day(request.GET.get("from"))
    start = max(_day(request.GET.get("week")) or earliest or today, earliest or today, today)
    recommended = _day(request.GET.get("rec"))
    days = slot_week(kind, start=start, recommended=recommended)
    # The buttons of a mass-vaccination week are the page's cost: rendered once per language and kept as
    # long as the week's free times are (nothing in them depends on the visitor).
    days_html = public_cache_render(
        ("week-html", kind.pk, start, recommended, get_language()),
        "booking/public/_week_days.html",
        {"days": days, "book_url": reverse("public_booking:book", args=[kind.pk])},
    )
    context = {
        "kind": kind,
        "days_html": days_html,
        "start": start,
        "previous": start - timedelta(days=7) if start - timedelta(days=7) >= (earliest or today) else None,
        "next": start + timedelta(days=7),
        "earliest": earliest,
        "recommended": recommended,
        "empty": not any(d.slots for d in days),
    }
    template = (
        "booking/public/_week.html" if request.headers.get("HX-Request") else "booking/public/slots.html"
    )
    return render(request, template, context)


# --- identification -----------------------------------------------------------------------------------


def _next_url(request: HttpRequest) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(candidate, allowed_hosts={request.get_host()}):
        return candidate
    return reverse("public_booking:units")


@no_patient_data("identification by personnummer and a one-time code; shows no record")
@never_cache
@require_http_methods(["GET", "POST"])
def identify_view(request: HttpRequest) -> HttpResponse:
    next_url = _next_url(request)
    form = IdentifyForm(request.POST if request.method == "POST" else None)
    context: dict[str, Any] = {"form": form, "next": next_url, "code_form": None}
    if request.method == "POST" and form.is_valid():
        try:
            pnr = parse_personnummer(form.cleaned_data["pnr"], today=timezone.localdate()).value
        except IdentifierError as exc:
            form.add_error("pnr", exc.message(current_language()))
        else:
            channel = MessageChannel(form.cleaned_data["channel"])
            try:
                challenge = one_time_code_send(
                    purpose=CodePurpose.BOOKING,
                    identity=pnr,
                    channel=channel,
                    destination=form.cleaned_data["destination"],
                    ip=client_ip(request),
                    language=current_language(),
                )
            except OneTimeCodeLimited as exc:
                context["error"] = _("Too many codes. Try again after %(time)s.") % {
                    "time": timezone.localtime(exc.until).strftime("%H:%M")
                }
            except ValidationError as exc:
                form.add_error("destination", exc.message_dict.get("to", exc.messages))
            else:
                destination = form.cleaned_data["destination"].strip()
                request.session[OTP_SESSION] = {
                    "challenge": str(challenge.pk),
                    "pnr": pnr,
                    "contact": {"phone" if channel == MessageChannel.SMS else "email": destination},
                }
                context["code_form"] = CodeForm()
    return render(request, "booking/public/identify.html", context)


@no_patient_data("checks a one-time code; shows no record")
@never_cache
@require_POST
def identify_code_view(request: HttpRequest) -> HttpResponse:
    next_url = _next_url(request)
    pending = request.session.get(OTP_SESSION)
    code_form = CodeForm(request.POST)
    context: dict[str, Any] = {"form": IdentifyForm(), "next": next_url, "code_form": code_form}
    if not isinstance(pending, dict):
        context["code_form"] = None
        context["error"] = _("The code has expired. Ask for a new one.")
        return render(request, "booking/public/identify.html", context, status=400)
    if code_form.is_valid():
        check = one_time_code_verify(
            challenge_id=pending["challenge"],
            purpose=CodePurpose.BOOKING,
            code=code_form.cleaned_data["code"],
            ip=client_ip(request),
        )
        if check.ok:
            request.session.pop(OTP_SESSION, None)
            identity_set(request, pnr=pending["pnr"], method="otp")
            request.session["ympa_booking_contact"] = pending.get("contact") or {}
            return redirect(next_url)
        if check.outcome == "wrong":
            code_form.add_error(
                "code", _("Wrong code. %(left)d attempts left.") % {"left": check.attempts_left or 0}
            )
        elif check.outcome == "locked" and check.locked_until is not None:
            context["code_form"] = None
            context["error"] = _("Too many wrong codes. Try again after %(time)s.") % {
                "time": timezone.localtime(check.locked_until).strftime("%H:%M")
            }
        else:
            context["code_form"] = None
            context["error"] = _("The code has expired. Ask for a new one.")
    return render(request, "booking/public/identify.html", context, status=400)


# --- booking ------------------------------------------------------------------------------------------


def _slot_options(kind: AppointmentType, around: Slot | None, birth: date | None = None) -> list[Slot]:
    start = timezone.localtime(around.starts_at).replace(hour=0, minute=0) if around is not None else None
    return next_free(kind, after=start, count=OPTIONS, birth=birth)


def _rows_for(
    family: list[FamilyMember], posted: list[PersonRow] | None, chosen: str
) -> list[dict[str, Any]]:
    """The form's rows: the identified person, their children and two rows for others, as posted."""
    by_person = {row.person: row for row in posted or [] if row.person != NEW}
    new_rows = [row for row in posted or [] if row.person == NEW]
    rows: list[dict[str, Any]] = []
    has_self = any(m.is_self for m in family)
    if not has_self:
        row = by_person.get(SELF)
        rows.append({"person": SELF, "member": None, "row": row, "slot": row.slot if row else chosen})
    for member in family:
        key = SELF if member.is_self else str(member.patient.pk)
        row = by_person.get(key)
        default = chosen if member.is_self else ""
        rows.append({"person": key, "member": member, "row": row, "slot": row.slot if row else default})
    for index in range(max(2, len(new_rows))):
        row = new_rows[index] if index < len(new_rows) else None
        rows.append({"person": NEW, "member": None, "row": row, "slot": row.slot if row else ""})
    return rows


def _book_page(
    request: HttpRequest,
    kind: AppointmentType,
    identity: Identity,
    *,
    posted: list[PersonRow] | None = None,
    contact: ContactForm | None = None,
    errors: dict[str, list[str]] | None = None,
    taken: list[Slot] | None = None,
    status: int = 200,
) -> HttpResponse:
    chosen = request.POST.get("slot") or request.GET.get("slot", "")
    family = booking_family(actor=identity.actor, kind=kind)
    around = Slot.objects.filter(pk=int(chosen), appointment_type=kind).first() if chosen.isdigit() else None
    options = _slot_options(kind, around)
    if around is not None and not any(s.pk == around.pk for s in options) and not around.booked:
        options.insert(0, around)
    remembered = request.session.get("ympa_booking_contact") or {}
    errors = errors or {}
    rows = _rows_for(family, posted, chosen)
    for index, row in enumerate(rows):
        row["errors"] = errors.get(f"identifier_{index}", []) + errors.get(f"name_{index}", [])
    context = {
        "kind": kind,
        "identity": identity,
        "rows": rows,
        "options": options,
        "contact": contact
        or ContactForm(initial={**remembered, "idempotency_key": secrets.token_urlsafe(24)}),
        "errors": {k: v for k, v in errors.items() if not k.startswith(("identifier_", "name_"))},
        "taken": taken,
        "chosen": around,
    }
    return _no_store(render(request, "booking/public/book.html", context, status=status))


@returns_patient_data
@require_GET
def book_view(request: HttpRequest, type_id: int) -> HttpResponse:
    """The booking form for the identified person and their family; else the way to identify first."""
    kind = _kind_or_404(type_id)
    identity = identity_get(request)
    if identity is None:
        return _no_store(
            render(
                request, "booking/public/identify_first.html", {"kind": kind, "next": request.get_full_path()}
            )
        )
    return _book_page(request, kind, identity)


def _persons(
    rows: list[PersonRow], kind: AppointmentType, identity: Identity
) -> tuple[list[BookingPerson], list[int]]:
    """The rows to book as the service's persons; `auto` rows get the next free times after the chosen."""
    chosen = [int(r.slot) for r in rows if r.slot.isdigit()]
    autos = sum(1 for r in rows if r.slot == AUTO)
    proposed = iter(_proposed(kind, chosen, autos) if autos else [])
    children = {r.person for r in rows if r.person not in (SELF, NEW) and r.slot}
    ids = [found for c in children if (found := _uuid(c))]
    patients = {str(p.pk): p for p in Patient.objects.filter(pk__in=ids)} if ids else {}
    persons: list[BookingPerson] = []
    for row in rows:
        if not row.slot:
            continue
        slot_id = int(row.slot) if row.slot.isdigit() else next(proposed, 0)
        if row.person == SELF:
            persons.append(
                BookingPerson(
                    slot_id=slot_id,
                    identifier=identity.pnr,
                    given_name=row.given_name or identity.given_name,
                    family_name=row.family_name or identity.family_name,
                )
            )
        elif row.person == NEW:
            persons.append(BookingPerson(slot_id, None, row.identifier, row.given_name, row.family_name))
        elif row.person in patients:
            persons.append(BookingPerson(slot_id, patients[row.person]))
        else:
            raise NotPermitted(_("You may book for yourself, your children and people you name."))
    return persons, [p.slot_id for p in persons]


def _proposed(kind: AppointmentType, chosen: list[int], count: int) -> list[int]:
    """The next free slots after the latest chosen one: a family side by side."""
    after = (
        Slot.objects.filter(pk__in=chosen).order_by("-starts_at").values_list("starts_at", flat=True).first()
    )
    return [s.pk for s in next_free(kind, after=after, count=count + len(chosen)) if s.pk not in chosen][
        :count
    ]


def _uuid(value: str) -> UUID | None:
    try:
        return UUID(value)
    except ValueError:
        return None


def _field_errors(exc: ValidationError, rows: list[PersonRow]) -> dict[str, list[str]]:
    """Service errors named per booked person (`identifier_<i>`) mapped to the form's row index."""
    booked = [index for index, row in enumerate(rows) if row.slot]
    errors: dict[str, list[str]] = {}
    for field, messages in exc.message_dict.items():
        name, _sep, number = field.rpartition("_")
        if name in ("identifier", "name") and number.isdigit() and int(number) < len(booked):
            field = f"{name}_{booked[int(number)]}"
        errors[field] = messages
    return errors


@returns_patient_data
@require_POST
def confirm_view(request: HttpRequest, type_id: int) -> HttpResponse:
    """Book: one slot per person (fields `person`, `slot`, `identifier`, `given_name`, `family_name`,
    repeated per row), contact (`phone`, `email`) and `idempotency_key`. 303 to the personal link."""
    kind = _kind_or_404(type_id)
    identity = identity_get(request)
    if identity is None:
        return _no_store(redirect(f"{reverse('public_booking:book', args=[kind.pk])}"))
    rows = person_rows(request.POST)
    contact = ContactForm(request.POST)
    contact.is_valid()
    data = contact.cleaned_data
    try:
        persons, _slots = _persons(rows, kind, identity)
        bookings = booking_create(
            actor=identity.actor,
            appointment_type=kind,
            persons=persons,
            contact=Contact(
                phone=data.get("phone", ""), email=data.get("email", ""), language=current_language()
            ),
            idempotency_key=data.get("idempotency_key", ""),
            channel=BookingChannel.PUBLIC,
        )
    except SlotTaken as exc:
        alternatives = next_free(kind, count=5 + len(exc.slot_ids))
        taken = [s for s in alternatives if s.pk not in exc.slot_ids][:5]
        fresh = [
            PersonRow(
                r.person,
                str(taken[0].pk) if r.slot.isdigit() and int(r.slot) in exc.slot_ids and taken else r.slot,
                r.identifier,
                r.given_name,
                r.family_name,
            )
            for r in rows
        ]
        return _book_page(request, kind, identity, posted=fresh, contact=contact, taken=taken, status=409)
    except ValidationError as exc:
        return _book_page(
            request, kind, identity, posted=rows, contact=contact, errors=_field_errors(exc, rows)
        )
    except NotPermitted as exc:
        return _book_page(
            request,
            kind,
            identity,
            posted=rows,
            contact=contact,
            errors={"persons": [exc.message]},
            status=403,
        )
    token = getattr(bookings[0], "token", None)
    if token is None:
        # A double submit: the first request's link was shown to it; this one goes to the same booking's page.
        return _no_store(HttpResponseRedirect(reverse("public_booking:done"), status=303))
    response = HttpResponseRedirect(reverse("public_booking:manage", args=[token]), status=303)
    return _no_store(response)


@no_patient_data("a fixed message: the booking was made and its link sent")
@require_GET
def done_view(request: HttpRequest) -> HttpResponse:
    return render(request, "booking/public/done.html")


@no_patient_data("joins a waiting list with the identified person's contact details; shows no record")
@never_cache
@require_POST
def waiting_list_view(request: HttpRequest, type_id: int) -> HttpResponse:
    kind = _kind_or_404(type_id)
    identity = identity_get(request)
    if identity is None:
        return redirect(reverse("public_booking:book", args=[kind.pk]))
    contact = ContactForm(request.POST)
    contact.is_valid()
    try:
        waiting_list_join(
            actor=identity.actor,
            appointment_type=kind,
            contact=Contact(
                phone=contact.cleaned_data.get("phone", ""),
                email=contact.cleaned_data.get("email", ""),
                language=current_language(),
            ),
        )
    except ValidationError as exc:
        return render(
            request, "booking/public/waiting.html", {"kind": kind, "errors": exc.message_dict}, status=400
        )
    except ConflictError:
        pass
    return render(request, "booking/public/waiting.html", {"kind": kind, "joined": True})


# --- the personal link --------------------------------------------------------------------------------


def _link_actor(booking: Booking) -> Actor:
    return Actor.citizen(booking.booked_by_identity or booking.patient.identifier, "")


def _expired(booking: Booking) -> bool:
    return booking.slot.starts_at <= timezone.now() or booking.status != BookingStatus.BOOKED


def _linked(token: str) -> tuple[Booking, list[Any]]:
    found = bookings_by_link(token=token)
    if found is None:
        raise Http404
    return found


def _expired_page(request: HttpRequest) -> HttpResponse:
    return _no_store(render(request, "booking/public/expired.html", status=410))


@returns_patient_data
@require_GET
def manage_view(request: HttpRequest, token: str) -> HttpResponse:
    booking = _lookup(token)
    if booking.slot.starts_at <= timezone.now():
        return _expired_page(request)
    _booking, linked = _linked(token)
    items = [
        {
            "booking": item.booking,
            "token": item.token,
            "active": item.booking.status == BookingStatus.BOOKED,
        }
        for item in linked
    ]
    return _no_store(render(request, "booking/public/manage.html", {"items": items, "booking": booking}))


def _lookup(token: str) -> Booking:
    from ympa.booking.tokens import token_digest

    booking = Booking.objects.filter(token_hash=token_digest(token)).select_related("slot", "patient").first()
    if booking is None:
        raise Http404
    return booking


@returns_patient_data
@require_POST
def cancel_view(request: HttpRequest, token: str) -> HttpResponse:
    booking = _lookup(token)
    if _expired(booking):
        return _expired_page(request)
    form = CancelForm(request.POST)
    form.is_valid()
    try:
        booking_cancel(
            actor=_link_actor(booking), booking=booking, reason=form.cleaned_data.get("reason", "")
        )
    except ConflictError:
        return _expired_page(request)
    return _no_store(render(request, "booking/public/cancelled.html", {"booking": booking}))


@returns_patient_data
@require_http_methods(["GET", "POST"])
def rebook_view(request: HttpRequest, token: str) -> HttpResponse:
    booking = _lookup(token)
    if _expired(booking):
        return _expired_page(request)
    actor = _link_actor(booking)
    kind = booking.appointment_type
    error = ""
    status = 200
    if request.method == "POST":
        chosen = request.POST.get("slot", "")
        slot = (
            Slot.objects.filter(pk=int(chosen), care_unit=booking.care_unit_id).first()
            if chosen.isdigit()
            else None
        )
        if slot is None:
            error = _("Choose one of the times shown.")
        else:
            try:
                booking_rebook(actor=actor, booking=booking, slot=slot)
            except SlotTaken:
                error, status = _("The time you chose was just booked by someone else."), 409
            except ValidationError as exc:
                error = " ".join(exc.messages)
            else:
                return _no_store(redirect("public_booking:manage", token))
    start = _day(request.GET.get("from")) or timezone.localdate()
    first = datetime.combine(start, time.min, tzinfo=timezone.get_current_timezone())
    options = next_free(kind, after=first, count=OPTIONS, birth=booking.patient.birth_date)
    _booking, _linked_items = _linked(token)
    return _no_store(
        render(
            request,
            "booking/public/rebook.html",
            {"booking": booking, "options": options, "error": error, "token": token},
            status=status,
        )
    )
