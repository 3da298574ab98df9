"""Races that only a real database shows (PostgreSQL; skipped on SQLite): many clients, each with its own
connection, book the same slot or a small pool of slots at once. Exactly one wins each slot, the losers get
SlotTaken (never another exception), and the counts add up."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connection, connections

from ympa.booking.models import AppointmentType, Booking, BookingChannel, BookingStatus, Resource, Slot
from ympa.booking.services import BookingPerson, Contact, SlotTaken, booking_create
from ympa.core.actor import Actor
from ympa.identifiers._common import luhn_check_digit

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL's concurrency"),
]

CLIENTS = 16


def _pnr(index: int) -> str:
    """A valid personnummer per client, born 1950-1-1 plus a serial."""
    payload = f"500101{100 + index:03d}"
    return f"19{payload}{luhn_check_digit(payload)}"


def _race(kind: AppointmentType, choose: Callable[[int], int], clients: int = CLIENTS) -> dict[str, int]:
    barrier = threading.Barrier(clients)
    outcomes: dict[str, int] = {"won": 0, "taken": 0}
    errors: list[BaseException] = []
    lock = threading.Lock()

    def attempt(index: int) -> None:
        pnr = _pnr(index)
        try:
            barrier.wait()
            booking_create(
                actor=Actor.citizen(pnr, f"Person {index}"),
                appointment_type=kind,
                persons=[BookingPerson(choose(index), None, pnr, "Person", str(index))],
                contact=Contact(phone="070-123 45 67"),
                idempotency_key=f"key-{index}",
                channel=BookingChannel.PUBLIC,
            )
            result = "won"
        except SlotTaken:
            result = "taken"
        except BaseException as exc:  # the test asserts that none leaks
            with lock:
                errors.append(exc)
            return
        finally:
            connections.close_all()
        with lock:
            outcomes[result] += 1

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(attempt, range(clients)))
    assert errors == []
    return outcomes


def test_one_slot_many_clients(
    appointment_type: AppointmentType, make_slots: Callable[..., list[Slot]]
) -> None:
    slot = make_slots(1)[0]
    outcomes = _race(appointment_type, lambda _index: slot.pk)
    assert outcomes == {"won": 1, "taken": CLIENTS - 1}
    assert Booking.objects.filter(slot=slot, status=BookingStatus.BOOKED).count() == 1
    assert Slot.objects.get(pk=slot.pk).booked


def test_a_small_pool_of_slots(
    appointment_type: AppointmentType, make_slots: Callable[..., list[Slot]]
) -> None:
    pool = make_slots(4)
    outcomes = _race(appointment_type, lambda index: pool[index % len(pool)].pk)
    assert outcomes == {"won": len(pool), "taken": CLIENTS - len(pool)}
    booked = list(Booking.objects.values_list("slot_id", flat=True))
    assert sorted(booked) == sorted(s.pk for s in pool)
    assert Slot.objects.filter(pk__in=[s.pk for s in pool], booked=True).count() == len(pool)


def test_double_submits_race_to_the_same_bookings(
    appointment_type: AppointmentType, make_slots: Callable[..., list[Slot]]
) -> None:
    slot = make_slots(1)[0]
    pnr = _pnr(0)
    barrier = threading.Barrier(4)
    results: list[list[str]] = []

    def submit(_index: int) -> None:
        try:
            barrier.wait()
            bookings = booking_create(
                actor=Actor.citizen(pnr, "Person"),
                appointment_type=appointment_type,
                persons=[BookingPerson(slot.pk, None, pnr, "Person", "Zero")],
                contact=Contact(phone="070-123 45 67"),
                idempotency_key="same",
                channel=BookingChannel.PUBLIC,
            )
            results.append([str(b.pk) for b in bookings])
        finally:
            connections.close_all()

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(submit, range(4)))
    assert len(results) == 4 and len({tuple(r) for r in results}) == 1
    assert Booking.objects.count() == 1


def test_one_time_at_several_vaccinators_seats_everyone_it_can(
    appointment_type: AppointmentType, make_slots: Callable[..., list[Slot]], unit_a: Any
) -> None:
    """Everyone chose the same time, which four vaccinators offer: four are booked (each on another
    vaccinator's slot, picked past the rows other transactions hold), the rest are told the time is full."""
    first = make_slots(1)[0]
    for n in range(2, 5):
        make_slots(
            1, start=first.starts_at, resource=Resource.objects.create(care_unit=unit_a, name=f"Rum {n}")
        )
    outcomes = _race(appointment_type, lambda _index: first.pk)
    assert outcomes == {"won": 4, "taken": CLIENTS - 4}
    active = Booking.objects.filter(slot__starts_at=first.starts_at, status=BookingStatus.BOOKED)
    assert active.count() == 4 and len({b.slot_id for b in active}) == 4
    assert Slot.objects.filter(starts_at=first.starts_at, booked=True).count() == 4
