"""Calls for `access/tests/test_route_declarations.py` (see `route_calls.py`): the public booking pages that
show or change patient data, called by Tolvan (a citizen session counts as identified; the personal link's
pages act as the person who booked)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.urls import reverse
from django.utils import timezone


def _kind(record: Any) -> Any:
    from ympa.booking.models import AppointmentType

    unit = record.nurse.assignments.get().care_unit
    provider = unit.care_provider
    if "booking" not in provider.modules:
        provider.modules = [*provider.modules, "booking"]
        provider.save(update_fields=["modules"])
    kind, _created = AppointmentType.objects.get_or_create(care_unit=unit, name="Route calls")
    return kind


def _booking_token(record: Any) -> str:
    """A new booking of Tolvan's (each call books the next slot) and its personal link's secret."""
    from ympa.booking.models import BookingChannel, Resource, Slot
    from ympa.booking.services import BookingPerson, Contact, booking_create
    from ympa.core.actor import Actor

    kind = _kind(record)
    resource, _created = Resource.objects.get_or_create(care_unit=kind.care_unit, name="Route calls")
    start = timezone.now().replace(microsecond=0) + timedelta(days=1, minutes=10 * Slot.objects.count())
    slot = Slot.objects.create(
        care_unit=kind.care_unit,
        appointment_type=kind,
        resource=resource,
        starts_at=start,
        ends_at=start + timedelta(minutes=10),
    )
    [booking] = booking_create(
        actor=Actor.citizen(record.patient.identifier, record.patient.full_name),
        appointment_type=kind,
        persons=[BookingPerson(slot.pk, record.patient)],
        contact=Contact(phone="070-123 45 67"),
        idempotency_key="",
        channel=BookingChannel.PUBLIC,
    )
    return str(getattr(booking, "token"))  # noqa: B009 - set by booking_create, not a field


def calls() -> dict[str, tuple[Any, ...]]:
    from ympa.access.models import Action
    from ympa.access.tests.test_route_declarations import Call

    def kind_url(name: str) -> Any:
        return lambda record: reverse(name, args=[_kind(record).pk])

    def link_url(name: str) -> Any:
        return lambda record: reverse(name, args=[_booking_token(record)])

    return {
        # The booking form lists Tolvan (and his children) by name.
        "public_booking:book": (Call("GET", kind_url("public_booking:book"), 200, citizen=True),),
        # Posted without a time, the form comes back with the family listed.
        "public_booking:confirm": (Call("POST", kind_url("public_booking:confirm"), 200, citizen=True),),
        "public_booking:manage": (Call("GET", link_url("public_booking:manage"), 200, citizen=True),),
        "public_booking:cancel": (
            Call("POST", link_url("public_booking:cancel"), 200, Action.UPDATE, citizen=True),
        ),
        "public_booking:rebook": (
            Call("GET", link_url("public_booking:rebook"), 200, citizen=True),
            Call("POST", link_url("public_booking:rebook"), 200, citizen=True),
        ),
    }
