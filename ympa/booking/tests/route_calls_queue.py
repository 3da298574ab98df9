"""Calls for `access/tests/test_route_declarations.py` (see `route_calls.py`): the visit pages (health
declaration and check-in from the booking link), the declarations and the queue. `booking_at` builds a
booking directly with the ORM, for these calls and the visit tests."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from ympa.booking.models import AppointmentType, Booking, BookingChannel, Resource, Slot
from ympa.booking.tokens import token_digest, token_new
from ympa.orgs.models import CareUnit
from ympa.patients.models import Patient


def booking_at(
    patient: Patient,
    unit: CareUnit,
    starts_at: datetime | None = None,
    *,
    appointment_type: AppointmentType | None = None,
    token: str = "",
) -> tuple[Booking, str]:
    """A booking of `patient` at `unit` (default: in an hour, today) and its link secret."""
    start = starts_at or timezone.now().replace(microsecond=0) + timedelta(hours=1)
    if starts_at is None and timezone.localdate(start) != timezone.localdate():
        # Late in the evening an hour ahead is tomorrow; an appointment an hour ago is still today's.
        start -= timedelta(hours=2)
    kind = appointment_type or AppointmentType.objects.get_or_create(care_unit=unit, name="Vaccination")[0]
    resource = Resource.objects.get_or_create(care_unit=unit, name="Rum 1")[0]
    slot = Slot.objects.create(
        care_unit=unit,
        appointment_type=kind,
        resource=resource,
        starts_at=start,
        ends_at=start + timedelta(minutes=kind.duration_minutes),
        booked=True,
    )
    if token:
        digest = token_digest(token)
    else:
        token, digest = token_new()
    booking = Booking.objects.create(
        slot=slot,
        care_unit=unit,
        appointment_type=kind,
        patient=patient,
        channel=BookingChannel.PUBLIC,
        booked_by_identity=patient.identifier,
        token_hash=digest,
    )
    return booking, token


ROUTE_TOKEN = "route-call-link-secret"


def _todays_booking(record: Any) -> Booking:
    """Tolvan's booking today at the nurse's unit, made once (the calls' url is computed twice)."""
    existing = Booking.objects.filter(token_hash=token_digest(ROUTE_TOKEN)).first()
    if existing is not None:
        return existing
    unit = record.nurse.assignments.get().care_unit
    return booking_at(record.patient, unit, token=ROUTE_TOKEN)[0]


def _entry(record: Any) -> Any:
    from conftest import actor_of
    from ympa.booking.queue import walk_in_add

    return walk_in_add(actor=actor_of(record.nurse), identifier=record.patient.identifier)


def _declaration(record: Any) -> Any:
    from ympa.booking.declaration import declaration_submit
    from ympa.booking.models import DeclarationChannel, HealthDeclaration
    from ympa.booking.queue import link_holder_actor

    booking = _todays_booking(record)
    existing = HealthDeclaration.objects.filter(booking=booking).first()
    if existing is not None:
        return existing
    answers = {
        "allergies": {"answer": "yes", "details": "Penicillin"},
        "illness": {"answer": "no"},
        "pregnancy": "no",
        "immunosuppression": {"answer": "no"},
        "bleeding": {"answer": "no"},
        "medications": {"answer": "no"},
    }
    return declaration_submit(
        actor=link_holder_actor(booking),
        booking=booking,
        form=None,
        answers=answers,
        channel=DeclarationChannel.LINK,
    )


def calls() -> dict[str, tuple[Any, ...]]:
    from django.urls import reverse

    from ympa.access.models import Action
    from ympa.access.tests.test_route_declarations import Call
    from ympa.booking.visit_selectors import qr_code_value

    def url(name: str, make: Any = None, attribute: str = "pk") -> Any:
        def build(record: Any) -> str:
            if make is None:
                return reverse(name)
            return reverse(name, args=[getattr(make(record), attribute)])

        return build

    def with_entry(name: str) -> Any:
        def build(record: Any) -> str:
            _entry(record)
            return reverse(name)

        return build

    def with_booking(name: str) -> Any:
        def build(record: Any) -> str:
            _todays_booking(record)
            return reverse(name)

        return build

    def link(name: str) -> Any:
        def build(record: Any) -> str:
            _todays_booking(record)
            return reverse(name, args=[ROUTE_TOKEN])

        return build

    def qr_link(record: Any) -> str:
        return reverse("visit:declaration_qr", args=[qr_code_value(_todays_booking(record))])

    return {
        "visit:declaration": (Call("GET", link("visit:declaration"), 200, citizen=True),),
        "visit:declaration_qr": (Call("GET", qr_link, 200, citizen=True),),
        "visit:checkin": (Call("GET", link("visit:checkin"), 200, citizen=True),),
        "booking:queue_board": (Call("GET", with_entry("booking:queue_board"), 200),),
        "booking:queue_rows": (Call("GET", with_entry("booking:queue_rows"), 200),),
        "booking:queue_next": (Call("POST", with_entry("booking:queue_next"), 302, action=Action.UPDATE),),
        "booking:queue_status": (
            Call(
                "POST",
                url("booking:queue_status", _entry),
                302,
                action=Action.UPDATE,
                body=lambda record: {"status": "called"},
            ),
        ),
        "booking:queue_reception": (Call("GET", with_booking("booking:queue_reception"), 200),),
        "booking:queue_checkin": (
            Call("POST", url("booking:queue_checkin", _todays_booking), 302, action=Action.CREATE),
        ),
        "booking:queue_walk_in": (
            Call(
                "POST",
                url("booking:queue_walk_in"),
                302,
                action=Action.CREATE,
                body=lambda record: {"identifier": record.patient.identifier},
            ),
        ),
        "booking:declaration_patient": (
            Call("GET", url("booking:declaration_patient", lambda record: record.patient), 200),
        ),
        "booking:declaration_today": (
            Call(
                "GET",
                url("booking:declaration_today", _declaration, attribute="patient_id"),
                200,
            ),
        ),
        "booking:declaration_confirm": (
            Call("POST", url("booking:declaration_confirm", _declaration), 302, action=Action.UPDATE),
        ),
        "booking:declaration_tablet": (Call("GET", with_booking("booking:declaration_tablet"), 200),),
        "booking:declaration_tablet_answer": (
            Call("GET", url("booking:declaration_tablet_answer", _todays_booking), 200),
        ),
        "booking:declaration_qr": (Call("GET", url("booking:declaration_qr", _todays_booking), 200),),
    }
