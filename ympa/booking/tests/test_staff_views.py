"""The day's bookings per resource, rebooking, no-show, cancelling, and the booking statistics."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from conftest import actor_of, make_staff, staff_client
from ympa.access.models import Action, AuditEvent
from ympa.authn.models import User
from ympa.booking.models import AppointmentType, Booking, BookingStatus, Resource, Slot
from ympa.booking.queue import checkin
from ympa.booking.staff_selectors import booking_stats
from ympa.orgs.models import CareUnit
from ympa.orgs.rights import Role
from ympa.patients.models import Patient
from ympa.patients.services import PatientDetails, patient_register

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("booking_provider")]
NOON = datetime(2026, 11, 24, 12, 0, tzinfo=ZoneInfo("Europe/Stockholm"))


def book(slot: Slot, patient: Patient, **changes: Any) -> Booking:
    Slot.objects.filter(pk=slot.pk).update(booked=True)
    return Booking.objects.create(
        slot=slot,
        care_unit=slot.care_unit,
        appointment_type=slot.appointment_type,
        patient=patient,
        channel="staff",
        token_hash=secrets.token_hex(32),
        **changes,
    )


@pytest.fixture
def patients(nurse_a: User, citizen: Patient) -> list[Patient]:
    others = [
        patient_register(
            actor=actor_of(nurse_a),
            identifier=identifier,
            details=PatientDetails(given_name=name, family_name="Testsson"),
        )
        for identifier, name in (("19800101-0019", "Vera"), ("19900101-0017", "Nils"))
    ]
    return [citizen, *others]


@pytest.fixture
def today_at_nine() -> datetime:
    """09:00 today, or tomorrow once today's has (nearly) passed: the tests check in before it, and staff
    assignments created now are not active in the past."""
    now = timezone.localtime()
    nine = now.replace(hour=9, minute=0, second=0, microsecond=0)
    return nine if nine - timedelta(minutes=10) > now else nine + timedelta(days=1)


def _day_url(day: Any) -> str:
    return f"{reverse('booking:day_list')}?day={day.isoformat()}"


def test_the_day_per_resource_with_queue_state(
    receptionist_a: User,
    patients: list[Patient],
    make_slots: Callable[..., list[Slot]],
    unit_a: CareUnit,
    appointment_type: AppointmentType,
    today_at_nine: datetime,
) -> None:
    room2 = Resource.objects.create(care_unit=unit_a, name="Rum 2")
    slots = make_slots(3, start=today_at_nine)
    other = make_slots(1, start=today_at_nine, resource=room2)
    first = book(slots[0], patients[0])
    book(slots[1], patients[1])
    book(other[0], patients[2])
    with time_machine.travel(today_at_nine - timedelta(minutes=5), tick=False):
        checkin(actor=actor_of(receptionist_a), booking=first, channel="reception")
    client = staff_client(receptionist_a)
    response = client.get(_day_url(today_at_nine.date()))
    html = response.content.decode()
    assert response.status_code == 200
    assert (
        html.index("Rum 1")
        < html.index("Tolvan Tolvansson")
        < html.index("Vera Testsson")
        < html.index("Rum 2")
    )
    assert "#1 · Waiting" in html
    # Every listed patient is logged as read, once.
    for patient in patients:
        assert (
            AuditEvent.objects.filter(
                action=Action.READ, patient=patient, object_type="booking.day_list", user=receptionist_a
            ).count()
            == 1
        )


def test_the_day_list_costs_the_same_queries_however_long(
    receptionist_a: User,
    nurse_a: User,
    make_slots: Callable[..., list[Slot]],
    today_at_nine: datetime,
    django_assert_max_num_queries: Any,
) -> None:
    slots = make_slots(30, start=today_at_nine)
    for index, slot in enumerate(slots):
        patient = Patient.objects.create(
            identifier_kind="personnummer",
            identifier=f"1980010{index:05d}"[:12],
            given_name=f"P{index}",
            family_name="X",
        )
        book(slot, patient)
    client = staff_client(receptionist_a)
    # Session, user and assignment, the two lists, and the access log's rows for all patients at once.
    with django_assert_max_num_queries(12):
        response = client.get(_day_url(today_at_nine.date()))
    assert response.status_code == 200 and response.content.count(b"data-booking=") == 30


def test_nobody_else_sees_the_day(
    nurse_b: User,
    assistant_a: User,
    make_slots: Callable[..., list[Slot]],
    citizen: Patient,
    today_at_nine: datetime,
) -> None:
    book(make_slots(1, start=today_at_nine)[0], citizen)
    other = staff_client(nurse_b).get(_day_url(today_at_nine.date()))
    assert other.status_code == 200 and b"Tolvansson" not in other.content
    assert not AuditEvent.objects.filter(user=nurse_b).exists()
    outsider = make_staff("admin_b", Role.INFECTION_CONTROL, unit=None)
    assert staff_client(outsider).get(_day_url(today_at_nine.date())).status_code in (302, 403)


def test_rebook_to_a_free_slot_of_the_same_type(
    receptionist_a: User, citizen: Patient, make_slots: Callable[..., list[Slot]]
) -> None:
    slots = make_slots(4)
    booking = book(slots[0], citizen)
    client = staff_client(receptionist_a)
    page = client.get(reverse("booking:day_rebook", args=[booking.pk]))
    assert page.status_code == 200
    assert f'value="{slots[2].pk}"'.encode() in page.content
    assert f'value="{slots[0].pk}"'.encode() not in page.content
    response = client.post(reverse("booking:day_rebook", args=[booking.pk]), {"slot": slots[2].pk})
    assert response.status_code == 302
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CANCELLED and booking.replaced_by is not None
    assert booking.replaced_by.slot == slots[2]


def test_rebooking_into_a_taken_slot_says_so(
    receptionist_a: User, patients: list[Patient], make_slots: Callable[..., list[Slot]]
) -> None:
    slots = make_slots(2)
    booking = book(slots[0], patients[0])
    book(slots[1], patients[1])
    response = staff_client(receptionist_a).post(
        reverse("booking:day_rebook", args=[booking.pk]), {"slot": slots[1].pk}
    )
    assert response.status_code == 400 and b"rebook-error" in response.content
    booking.refresh_from_db()
    assert booking.status == BookingStatus.BOOKED and booking.slot == slots[0]


def test_withdrawn_slots_are_listed_to_rebook(
    receptionist_a: User, citizen: Patient, make_slots: Callable[..., list[Slot]]
) -> None:
    slot = make_slots(1)[0]
    book(slot, citizen)
    Slot.objects.filter(pk=slot.pk).update(withdrawn_at=timezone.now())
    html = staff_client(receptionist_a).get(reverse("booking:day_list")).content.decode()
    assert 'data-testid="withdrawn"' in html and "Tolvan Tolvansson" in html


def test_no_show_after_the_time_and_cancel_with_reason(
    receptionist_a: User,
    patients: list[Patient],
    make_slots: Callable[..., list[Slot]],
    today_at_nine: datetime,
) -> None:
    slots = make_slots(2, start=today_at_nine - timedelta(days=1))
    missed = book(slots[0], patients[0])
    cancelled = book(slots[1], patients[1])
    client = staff_client(receptionist_a)
    assert client.post(reverse("booking:day_no_show", args=[missed.pk])).status_code == 302
    missed.refresh_from_db()
    assert missed.status == BookingStatus.NO_SHOW
    # A reason is needed.
    client.post(reverse("booking:day_cancel", args=[cancelled.pk]), {"reason": ""})
    cancelled.refresh_from_db()
    assert cancelled.status == BookingStatus.BOOKED
    client.post(reverse("booking:day_cancel", args=[cancelled.pk]), {"reason": "Sjuk"})
    cancelled.refresh_from_db()
    assert cancelled.status == BookingStatus.CANCELLED and cancelled.cancel_reason == "Sjuk"


def test_a_future_booking_cannot_be_marked_no_show(
    receptionist_a: User, citizen: Patient, make_slots: Callable[..., list[Slot]]
) -> None:
    booking = book(make_slots(1)[0], citizen)
    staff_client(receptionist_a).post(reverse("booking:day_no_show", args=[booking.pk]))
    booking.refresh_from_db()
    assert booking.status == BookingStatus.BOOKED


def test_another_providers_nurse_cannot_act_on_a_booking(
    nurse_b: User, citizen: Patient, make_slots: Callable[..., list[Slot]]
) -> None:
    slots = make_slots(2)
    booking = book(slots[0], citizen)
    client = staff_client(nurse_b)
    assert client.post(reverse("booking:day_cancel", args=[booking.pk]), {"reason": "x"}).status_code == 404
    assert (
        client.post(reverse("booking:day_rebook", args=[booking.pk]), {"slot": slots[1].pk}).status_code
        == 404
    )
    booking.refresh_from_db()
    assert booking.status == BookingStatus.BOOKED


# --- statistics --------------------------------------------------------------------------------------


@pytest.fixture
def history(
    patients: list[Patient], make_slots: Callable[..., list[Slot]], appointment_type: AppointmentType
) -> None:
    """On the 24th: made three bookings for that day: one attended, one no-show, one cancelled."""
    moment = NOON
    with time_machine.travel(moment, tick=False):
        slots = make_slots(3, start=moment.replace(hour=8))
        book(slots[0], patients[0], status=BookingStatus.ATTENDED, created_at=moment - timedelta(days=1))
        book(slots[1], patients[1], status=BookingStatus.NO_SHOW, created_at=moment - timedelta(days=1))
        book(
            slots[2],
            patients[2],
            status=BookingStatus.CANCELLED,
            cancelled_at=moment,
            created_at=moment - timedelta(days=2),
        )


def test_stats_per_day(nurse_a: User, history: None, django_assert_max_num_queries: Any) -> None:
    start = NOON.date() - timedelta(days=3)
    actor = actor_of(nurse_a)
    with django_assert_max_num_queries(2):
        stats = booking_stats(actor=actor, start=start, end=NOON.date())
    by_day = {row.period: row for row in stats.rows}
    assert by_day[NOON.date() - timedelta(days=1)].made == 2
    assert by_day[NOON.date() - timedelta(days=2)].made == 1
    day = by_day[NOON.date()]
    assert (day.appointments, day.attended, day.no_show, day.cancelled) == (3, 1, 1, 1)
    assert day.no_show_rate == 0.5
    assert len(stats.periods) == 4


def test_stats_per_week(nurse_a: User, history: None) -> None:
    stats = booking_stats(
        actor=actor_of(nurse_a), start=NOON.date() - timedelta(days=7), end=NOON.date(), weekly=True
    )
    totals = stats.totals()
    assert (totals.made, totals.appointments, totals.no_show) == (3, 3, 1)
    assert all(row.period.weekday() == 0 for row in stats.rows)


def test_stats_page(nurse_a: User, history: None, django_assert_max_num_queries: Any) -> None:
    client = staff_client(nurse_a)
    url = reverse("booking:stats_bookings")
    with django_assert_max_num_queries(8):
        response = client.get(url, {"start": "2026-11-20", "end": "2026-11-26", "period": "day"})
    html = response.content.decode()
    assert response.status_code == 200 and "<svg" in html and "50 %" in html
    assert "Tolvan" not in html
    assert client.get(url, {"start": "2026-11-20", "end": "2026-11-26", "period": "week"}).status_code == 200
    assert b"before the start date" in client.get(url, {"start": "2026-11-20", "end": "2026-11-01"}).content


def test_stats_need_a_right(assistant_a: User, receptionist_a: User, officer: User) -> None:
    url = reverse("booking:stats_bookings")
    assert staff_client(receptionist_a).get(url).status_code == 200
    assert staff_client(officer).get(url).status_code == 403
