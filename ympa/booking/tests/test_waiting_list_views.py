"""The unit's waiting lists for its staff: who waits for which appointment type and since when, who has been
told and who has booked since, telling the next in line, and taking someone off the list (never deleted)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from conftest import actor_of, make_staff, staff_client
from ympa.access.models import Action, AuditEvent
from ympa.authn.models import User
from ympa.booking.models import AppointmentType, Booking, Slot, WaitingListEntry
from ympa.booking.services import Contact, waiting_list_join, waiting_list_notify
from ympa.core.actor import Actor
from ympa.notify.models import Message
from ympa.orgs.models import CareUnit
from ympa.orgs.rights import Role
from ympa.patients.models import Patient
from ympa.patients.services import PatientDetails, patient_register

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("booking_provider")]
PAGE = "booking:waiting_list"


def join(kind: AppointmentType, identity: str, **contact: str) -> WaitingListEntry:
    return waiting_list_join(
        actor=Actor.citizen(identity, "Väntande"), appointment_type=kind, contact=Contact(**contact)
    )


def book(slot: Slot, patient: Patient) -> Booking:
    """The patient's booking of the slot, made directly: how it was booked is not tested here."""
    Slot.objects.filter(pk=slot.pk).update(booked=True)
    return Booking.objects.create(
        slot=slot,
        care_unit=slot.care_unit,
        appointment_type=slot.appointment_type,
        patient=patient,
        channel="public",
        token_hash=secrets.token_hex(32),
    )


@pytest.fixture
def protected(nurse_a: User) -> Patient:
    return patient_register(
        actor=actor_of(nurse_a),
        identifier="19800101-0019",
        details=PatientDetails(given_name="Skyddad", family_name="Person", protected_identity=True),
    )


def test_the_list_per_type_oldest_first_with_free_times_and_what_happened(
    receptionist_a: User,
    citizen: Patient,
    protected: Patient,
    appointment_type: AppointmentType,
    make_slots: Callable[..., list[Slot]],
) -> None:
    start = timezone.now() - timedelta(days=2)
    with time_machine.travel(start, tick=False):
        first = join(appointment_type, citizen.identifier, phone="0701234567")
    with time_machine.travel(start + timedelta(hours=1), tick=False):
        join(appointment_type, protected.identifier, email="skyddad@example.se")
    join(appointment_type, "194910172398", email="okand@example.se")
    slots = make_slots(3)
    # Tolvan booked a time of the type after joining.
    book(slots[0], citizen)

    page = staff_client(receptionist_a).get(reverse(PAGE))

    assert page.status_code == 200 and page["Cache-Control"].startswith("no-store")
    html = page.content.decode()
    section = html[html.index(f'data-testid="waiting-type-{appointment_type.pk}"') :]
    assert '<span class="badge text-bg-success" data-testid="free-slots">' in section
    assert "2 free times" in section and "3 waiting" in section
    # Oldest first: Tolvan, the protected person, then someone not registered as a patient.
    assert section.index("Tolvan") < section.index("Skyddad") < section.index("19491017-2398")
    assert "not registered as a patient" in section
    assert f"Booked a time {timezone.localtime(timezone.now()):%Y-%m-%d}" in section
    assert "070-123 45 67" not in section and "+46701234567" in section
    # A protected identity's contact details are never shown.
    assert "skyddad@example.se" not in html and "Protected identity" in section
    assert "okand@example.se" in section
    # Each registered patient shown is logged as read, in one go; the unregistered identity has no record.
    logged = AuditEvent.objects.filter(object_type="booking.waiting_list", action=Action.READ)
    assert {e.patient_id for e in logged} == {citizen.pk, protected.pk}
    assert f'data-entry="{first.pk}"' in section


def test_the_list_costs_the_same_queries_however_long(
    receptionist_a: User,
    appointment_type: AppointmentType,
    make_slots: Callable[..., list[Slot]],
    django_assert_max_num_queries: Any,
) -> None:
    make_slots(2)
    join(appointment_type, "194910172398", email="a@example.se")
    client = staff_client(receptionist_a)
    client.get(reverse(PAGE))
    with django_assert_max_num_queries(20) as one:
        client.get(reverse(PAGE))
    for n in range(30):
        join(appointment_type, f"19491017{n:03d}"[:11] + "8", email=f"p{n}@example.se")
    with django_assert_max_num_queries(len(one.captured_queries)):
        assert client.get(reverse(PAGE)).status_code == 200


def test_tell_the_next_in_line_now_tells_as_many_as_there_are_free_times(
    receptionist_a: User,
    appointment_type: AppointmentType,
    make_slots: Callable[..., list[Slot]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    for n, identity in enumerate(("194910172398", "191212121212", "198001010019")):
        join(appointment_type, identity, email=f"w{n}@example.se")
    make_slots(2)
    client = staff_client(receptionist_a)

    with django_capture_on_commit_callbacks(execute=True):
        told = client.post(reverse("booking:waiting_notify", args=[appointment_type.pk]), follow=True)

    assert "2 people on the waiting list were told that times are free." in told.content.decode()
    assert set(Message.objects.values_list("to", flat=True)) == {"w0@example.se", "w1@example.se"}
    # No one is told twice; the times are still free, so the third is told now, then no one.
    with django_capture_on_commit_callbacks(execute=True):
        again = client.post(reverse("booking:waiting_notify", args=[appointment_type.pk]), follow=True)
    assert "1 person on the waiting list was told that times are free." in again.content.decode()
    last = client.post(reverse("booking:waiting_notify", args=[appointment_type.pk]), follow=True)
    assert "No one was told" in last.content.decode()
    assert sorted(Message.objects.values_list("to", flat=True)) == [f"w{n}@example.se" for n in range(3)]


def test_taking_someone_off_the_list_keeps_the_entry_with_who_and_why(
    receptionist_a: User, citizen: Patient, appointment_type: AppointmentType
) -> None:
    entry = join(appointment_type, citizen.identifier, phone="0701234567")
    client = staff_client(receptionist_a)
    url = reverse("booking:waiting_end", args=[entry.pk])

    missing = client.post(url, {"reason": "  "}, follow=True)
    entry.refresh_from_db()
    assert "Say why the entry is ended." in missing.content.decode() and entry.ended_at is None

    done = client.post(url, {"reason": "Bokad per telefon"}, follow=True)

    entry.refresh_from_db()
    assert "The entry is taken off the waiting list." in done.content.decode()
    assert entry.ended_at is not None and entry.ended_by == receptionist_a
    assert entry.end_reason == "Bokad per telefon"
    assert "No one is on the waiting list." in done.content.decode()
    change = AuditEvent.objects.get(object_type="booking.waiting_list", action=Action.UPDATE)
    assert change.patient_id == citizen.pk
    assert change.detail == {"change": "end", "reason": "Bokad per telefon"}
    # A double submit changes nothing more.
    twice = client.post(url, {"reason": "Igen"}, follow=True)
    entry.refresh_from_db()
    assert "already been taken off" in twice.content.decode() and entry.end_reason == "Bokad per telefon"
    # The person may join again: a new entry, the ended one kept.
    join(appointment_type, citizen.identifier, phone="0701234567")
    assert WaitingListEntry.objects.filter(identity=citizen.identifier).count() == 2


def test_another_units_staff_and_those_without_the_right_see_and_change_nothing(
    nurse_b: User,
    outsider: User,
    unit_a: CareUnit,
    citizen: Patient,
    appointment_type: AppointmentType,
    make_slots: Callable[..., list[Slot]],
) -> None:
    entry = join(appointment_type, citizen.identifier, email="t@example.se")
    make_slots(1)
    assistant = make_staff("assistant.a", Role.ASSISTANT_NURSE, unit=unit_a)
    assistant.assignments.update(rights_revoked=["manage_bookings"])
    # Another provider's nurse sees her own unit's (empty) list; someone without an assignment is sent to
    # choose one; without the right, refused.
    for user, page_status in ((nurse_b, 200), (outsider, 302), (assistant, 403)):
        client = staff_client(user)
        page = client.get(reverse(PAGE))
        assert page.status_code == page_status, user
        assert "t@example.se" not in page.content.decode()
        end = client.post(reverse("booking:waiting_end", args=[entry.pk]), {"reason": "Nej"})
        notify = client.post(reverse("booking:waiting_notify", args=[appointment_type.pk]))
        assert end.status_code == notify.status_code == {nurse_b: 404, outsider: 302}.get(user, 403), user
    entry.refresh_from_db()
    assert entry.ended_at is None and entry.notified_at is None
    assert not Message.objects.exists()
    assert not AuditEvent.objects.filter(object_type="booking.waiting_list").exists()


def test_reception_puts_a_caller_on_the_list(
    receptionist_a: User, citizen: Patient, appointment_type: AppointmentType
) -> None:
    client = staff_client(receptionist_a)
    url = reverse("booking:waiting_add")
    base = {"appointment_type": appointment_type.pk, "identifier": "19121212-1212"}

    wrong = client.post(url, {**base, "identifier": "19121212-1213", "phone": "0701234567"})
    no_contact = client.post(url, base)

    assert wrong.status_code == no_contact.status_code == 400
    assert "check digit" in wrong.content.decode()
    assert "Enter a mobile number or an e-mail address" in no_contact.content.decode()
    assert not WaitingListEntry.objects.exists()

    added = client.post(url, {**base, "phone": "070-123 45 67"}, follow=True)
    again = client.post(url, {**base, "email": "tolvan@example.se"}, follow=True)

    assert "Vaccination: added to the waiting list." in added.content.decode()
    entry = WaitingListEntry.objects.get()
    assert entry.identity == "191212121212" and entry.appointment_type == appointment_type
    # Adding again updates the one open entry.
    assert entry.contact_email == "tolvan@example.se" and entry.contact_phone == ""
    assert "tolvan@example.se" in again.content.decode()
    logged = AuditEvent.objects.filter(object_type="booking.waiting_list", action=Action.CREATE)
    assert [e.patient_id for e in logged] == [citizen.pk, citizen.pk]


def test_another_units_staff_cannot_put_anyone_on_this_units_list(
    nurse_b: User, appointment_type: AppointmentType
) -> None:
    page = staff_client(nurse_b).post(
        reverse("booking:waiting_add"),
        {"appointment_type": appointment_type.pk, "identifier": "19121212-1212", "phone": "0701234567"},
    )
    assert page.status_code == 400
    assert not WaitingListEntry.objects.exists()


def test_who_left_a_list_lately_is_shown_with_by_whom_and_why(
    receptionist_a: User,
    citizen: Patient,
    appointment_type: AppointmentType,
    make_slots: Callable[..., list[Slot]],
) -> None:
    slots = make_slots(2)
    join(appointment_type, citizen.identifier, email="t@example.se")
    book(slots[0], citizen)
    other = join(appointment_type, "194910172398", email="v@example.se")
    waiting_list_notify(appointment_type=appointment_type)
    client = staff_client(receptionist_a)
    client.post(reverse("booking:waiting_end", args=[other.pk]), {"reason": "Vill inte längre"})

    html = client.get(reverse(PAGE)).content.decode()

    ended = html[html.index('data-testid="waiting-ended"') :]
    assert "Taken off a list in the last 14 days: 2" in ended
    tolvan_row = ended[ended.index("Tolvan Tolvansson") :]
    assert "automatically" in tolvan_row and "Has booked a time of the type since joining" in tolvan_row
    other_row = ended[ended.index(f'data-ended="{other.pk}"') :]
    assert "Vill inte längre" in other_row and receptionist_a.get_full_name() in other_row
    assert "No one is on the waiting list." in html
