"""Calls for `access/tests/test_route_declarations.py` (see `route_calls.py`): the mass-vaccination desk and
the staff's day of bookings and waiting list, each acting on Tolvan at clinic A."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from django.urls import reverse
from django.utils import timezone


def _unit(record: Any) -> Any:
    unit = record.nurse.assignments.get().care_unit
    provider = unit.care_provider
    if "booking" not in provider.modules:
        provider.modules = [*provider.modules, "booking"]
        provider.save(update_fields=["modules"])
    return unit


def _session(record: Any) -> Any:
    from ympa.booking.models import MassSession
    from ympa.catalog.models import Product

    unit = _unit(record)
    session, _created = MassSession.objects.get_or_create(
        care_unit=unit,
        name="Route calls",
        defaults={
            "product": Product.objects.get(code="vaxigriptetra"),
            "batch_number": "AB1234",
            "default_site": "left_deltoid",
            "started_by": record.nurse,
        },
    )
    return session


def _queued(record: Any, *, called: bool) -> Any:
    """Tolvan in today's queue of the session, called to the nurse's desk when `called`."""
    from conftest import actor_of
    from ympa.booking.queue import queue_call_next, walk_in_add

    session = _session(record)
    actor = actor_of(record.nurse)
    entry = walk_in_add(actor=actor, identifier=record.patient.identifier, session=session)
    if called and entry.status == "waiting":
        queue_call_next(actor=actor, session=session)
    return session


def _desk(name: str, *, called: bool) -> Any:
    def url(record: Any) -> str:
        return reverse(f"booking:{name}", args=[_queued(record, called=called).pk])

    return url


def _sign_body(record: Any) -> dict[str, Any]:
    from ympa.booking.models import QueueEntry

    entry = QueueEntry.objects.get(patient=record.patient, status="called")
    return {
        "entry": str(entry.pk),
        "idempotency_key": "route-call",
        "dose_number": "2",
        "site": "left_deltoid",
        "override_reason": "Given: decision support is not what this test is about",
    }


def _slot(record: Any, start: datetime) -> Any:
    from ympa.booking.models import AppointmentType, Resource, Slot

    unit = _unit(record)
    kind, _created = AppointmentType.objects.get_or_create(care_unit=unit, name="Route calls")
    resource, _created = Resource.objects.get_or_create(care_unit=unit, name="Route calls")
    slot, _created = Slot.objects.get_or_create(
        resource=resource,
        starts_at=start,
        defaults={
            "care_unit": unit,
            "appointment_type": kind,
            "ends_at": start + timedelta(minutes=10),
        },
    )
    return slot


def _booking(record: Any, *, days: int = 0) -> Any:
    """Tolvan's booking at 08:00 `days` from today (a past one can be marked no-show)."""
    from ympa.booking.models import Booking, Slot

    start = timezone.localtime().replace(hour=8, minute=0, second=0, microsecond=0) + timedelta(days=days)
    slot = _slot(record, start)
    Slot.objects.filter(pk=slot.pk).update(booked=True)
    booking, _created = Booking.objects.get_or_create(
        slot=slot,
        defaults={
            "care_unit": slot.care_unit,
            "appointment_type": slot.appointment_type,
            "patient": record.patient,
            "channel": "staff",
            "token_hash": hashlib.sha256(str(slot.pk).encode()).hexdigest(),
        },
    )
    return booking


def _day_url(name: str, days: int = 0) -> Any:
    def url(record: Any) -> str:
        return reverse(f"booking:{name}", args=[_booking(record, days=days).pk])

    return url


def _waiting(record: Any) -> Any:
    """Tolvan on the waiting list of the unit's appointment type (open: a new entry once one has ended)."""
    from ympa.booking.models import AppointmentType, WaitingListEntry

    kind, _created = AppointmentType.objects.get_or_create(care_unit=_unit(record), name="Route calls")
    entry, _created = WaitingListEntry.objects.get_or_create(
        appointment_type=kind,
        identity=record.patient.identifier,
        ended_at=None,
        defaults={"care_unit": kind.care_unit, "contact_email": "tolvan@example.se"},
    )
    return entry


def _free_slot(record: Any) -> dict[str, Any]:
    start = timezone.localtime().replace(hour=8, minute=0, second=0, microsecond=0) + timedelta(days=2)
    return {"slot": _slot(record, start).pk}


def calls() -> dict[str, tuple[Any, ...]]:
    from ympa.access.models import Action
    from ympa.access.tests.test_route_declarations import Call

    return {
        "booking:mass_desk": (Call("GET", _desk("mass_desk", called=True), 200),),
        "booking:mass_next": (Call("POST", _desk("mass_next", called=False), 302),),
        "booking:mass_sign": (Call("POST", _desk("mass_sign", called=True), 302, Action.SIGN, _sign_body),),
        "booking:mass_walk_in": (
            Call(
                "POST",
                _desk("mass_walk_in", called=False),
                302,
                body=lambda r: {"identifier": "191212121212"},
            ),
        ),
        "booking:day_list": (
            Call(
                "GET", lambda r: f"{reverse('booking:day_list')}?day={_booking(r).slot.starts_at.date()}", 200
            ),
        ),
        "booking:day_rebook": (
            Call("GET", _day_url("day_rebook", days=1), 200),
            Call("POST", _day_url("day_rebook", days=1), 302, Action.UPDATE, _free_slot),
        ),
        "booking:waiting_list": (
            Call("GET", lambda r: _waiting(r) and reverse("booking:waiting_list"), 200),
        ),
        "booking:waiting_add": (
            Call(
                "POST",
                lambda r: reverse("booking:waiting_add"),
                302,
                Action.CREATE,
                lambda r: {
                    "appointment_type": _waiting(r).appointment_type_id,
                    "identifier": r.patient.identifier,
                    "email": "tolvan@example.se",
                },
            ),
        ),
        "booking:waiting_end": (
            Call(
                "POST",
                lambda r: reverse("booking:waiting_end", args=[_waiting(r).pk]),
                302,
                Action.UPDATE,
                lambda r: {"reason": "Bokad per telefon"},
            ),
        ),
        "booking:day_no_show": (Call("POST", _day_url("day_no_show", days=-1), 302, Action.UPDATE),),
        "booking:day_cancel": (
            Call("POST", _day_url("day_cancel", days=1), 302, Action.UPDATE, lambda r: {"reason": "Sjuk"}),
        ),
    }
