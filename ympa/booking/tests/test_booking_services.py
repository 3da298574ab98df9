"""Booking services: booking alone and as a family, all or nothing, idempotency, cancel, rebook, marks,
second-dose intervals, releases and age bands, the waiting list, and the confirmation after commit."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone

from conftest import actor_of
from ympa.access.models import Action, AuditEvent
from ympa.authn.models import User
from ympa.booking.models import (
    AppointmentType,
    Audience,
    Booking,
    BookingChannel,
    BookingStatus,
    Resource,
    Slot,
    SlotRelease,
    WaitingListEntry,
)
from ympa.booking.services import (
    BOOKED_SINCE,
    BookingPerson,
    Contact,
    SlotTaken,
    booking_cancel,
    booking_confirmation_send,
    booking_create,
    booking_mark_attended,
    booking_mark_no_show,
    booking_rebook,
    waiting_list_join,
    waiting_list_notify,
)
from ympa.booking.tokens import token_digest
from ympa.core.actor import Actor
from ympa.core.errors import ConflictError, NotPermitted
from ympa.journal.forecasts import schedule_key
from ympa.journal.models import StoredForecast
from ympa.notify.models import Message
from ympa.patients.models import Guardianship, Patient

pytestmark = pytest.mark.django_db

TOLVAN = "191212121212"
CHILD = "20200101-2380"
CONTACT = Contact(phone="070-123 45 67", email="tolvan@example.se")


def tolvan() -> Actor:
    return Actor.citizen(TOLVAN, "Tolvan Tolvansson")


def book(
    kind: AppointmentType, *persons: BookingPerson, actor: Actor | None = None, key: str = ""
) -> list[Booking]:
    return booking_create(
        actor=actor or tolvan(),
        appointment_type=kind,
        persons=list(persons),
        contact=CONTACT,
        idempotency_key=key,
        channel=BookingChannel.PUBLIC,
    )


def me(slot: Slot, patient: Patient) -> BookingPerson:
    return BookingPerson(slot.pk, patient)


def test_booking_claims_the_slot_and_logs(
    citizen: Patient, appointment_type: AppointmentType, make_slots: Callable[..., list[Slot]]
) -> None:
    slot = make_slots(1)[0]
    [booking] = book(appointment_type, me(slot, citizen))
    slot.refresh_from_db()
    assert slot.booked and booking.status == BookingStatus.BOOKED and booking.booked_by_identity == TOLVAN
    assert len(booking.token_hash) == 64 and booking.contact_phone == "+46701234567"
    assert AuditEvent.objects.filter(
        patient=citizen, action=Action.CREATE, object_type="booking.booking", object_id=str(booking.pk)
    ).exists()


def test_a_taken_slot_is_refused_and_nothing_changes(
    citizen: Patient, appointment_type: AppointmentType, make_slots: Callable[..., list[Slot]]
) -> None:
    slot = make_slots(1)[0]
    book(appointment_type, me(slot, citizen))
    with pytest.raises(SlotTaken):
        book(appointment_type, BookingPerson(slot.pk, None, CHILD, "Lill", "Tolvansson"))
    assert Booking.objects.count() == 1 and not Patient.objects.filter(identifier="202001012380").exists()


def test_a_family_is_booked_all_or_nothing(
    citizen: Patient, appointment_type: AppointmentType, make_slots: Callable[..., list[Slot]]
) -> None:
    first, second, third = make_slots(3)
    Slot.objects.filter(pk=third.pk).update(booked=True)
    with pytest.raises(SlotTaken):
        book(appointment_type, me(first, citizen), BookingPerson(third.pk, None, CHILD, "Lill", "Tolvansson"))
    assert not Booking.objects.exists()
    assert not Slot.objects.filter(pk=first.pk, booked=True).exists()
    bookings = book(
        appointment_type, me(first, citizen), BookingPerson(second.pk, None, CHILD, "Lill", "Tolvansson")
    )
    assert len({b.group for b in bookings}) == 1 and len(bookings) == 2
    child = Patient.objects.get(identifier="202001012380")
    assert child.birth_date == date(2020, 1, 1)
    assert AuditEvent.objects.filter(
        patient=child, action=Action.CREATE, object_type="patients.patient"
    ).exists()


def test_invalid_identifiers_change_nothing(
    citizen: Patient, appointment_type: AppointmentType, make_slots: Callable[..., list[Slot]]
) -> None:
    first, second = make_slots(2)
    with pytest.raises(ValidationError) as caught:
        book(appointment_type, me(first, citizen), BookingPerson(second.pk, None, "20200101-2381", "A", "B"))
    assert "identifier_1" in caught.value.message_dict
    assert not Booking.objects.exists() and not Slot.objects.filter(booked=True).exists()
    with pytest.raises(ValidationError) as caught:
        book(appointment_type, BookingPerson(second.pk, None, CHILD, "", ""))
    assert "name_0" in caught.value.message_dict
    with pytest.raises(ValidationError) as caught:
        booking_create(
            actor=tolvan(),
            appointment_type=appointment_type,
            persons=[me(first, citizen)],
            contact=Contact(phone="12"),
            idempotency_key="",
            channel=BookingChannel.PUBLIC,
        )
    assert "phone" in caught.value.message_dict and not Booking.objects.exists()


def test_the_same_idempotency_key_returns_the_same_bookings(
    citizen: Patient, appointment_type: AppointmentType, make_slots: Callable[..., list[Slot]]
) -> None:
    slot = make_slots(1)[0]
    first = book(appointment_type, me(slot, citizen), key="k1")
    again = book(appointment_type, me(slot, citizen), key="k1")
    assert [b.pk for b in first] == [b.pk for b in again] and Booking.objects.count() == 1


def test_a_citizen_may_not_book_someone_elses_known_patient_by_reference(
    citizen: Patient, appointment_type: AppointmentType, make_slots: Callable[..., list[Slot]], nurse_a: User
) -> None:
    slot = make_slots(1)[0]
    stranger = Actor.citizen("194910172398", "Someone")
    with pytest.raises(NotPermitted):
        book(appointment_type, me(slot, citizen), actor=stranger)
    assert not Booking.objects.exists()
    Guardianship.objects.create(
        child=Patient.objects.create(
            identifier_kind="personnummer", identifier="202001012380", given_name="Lill", family_name="T"
        ),
        guardian=citizen,
    )
    child = Patient.objects.get(identifier="202001012380")
    [booking] = book(appointment_type, me(slot, child))
    assert booking.patient == child


def test_staff_only_and_unreleased_slots_are_not_bookable_publicly(
    citizen: Patient, appointment_type: AppointmentType, make_slots: Callable[..., list[Slot]], nurse_a: User
) -> None:
    staff_type = AppointmentType.objects.create(
        care_unit=appointment_type.care_unit, name="Staff only", audience=Audience.STAFF
    )
    slot = make_slots(1, appointment_type=staff_type)[0]
    with pytest.raises(NotPermitted):
        book(staff_type, me(slot, citizen))
    assert not Booking.objects.exists()
    # Staff with the right may book it.
    [booking] = book(staff_type, me(slot, citizen), actor=actor_of(nurse_a))
    assert booking.booked_by_user == nurse_a

    release = SlotRelease.objects.create(
        care_unit=appointment_type.care_unit,
        appointment_type=appointment_type,
        release_at=timezone.now() + timedelta(hours=1),
        min_age=65,
        created_by=nurse_a,
    )
    later = make_slots(1, start=timezone.now() + timedelta(days=2), release=release)[0]
    with pytest.raises(ValidationError):
        book(appointment_type, me(later, citizen))
    SlotRelease.objects.filter(pk=release.pk).update(release_at=timezone.now() - timedelta(minutes=1))
    # Tolvan (born 1912) is old enough; a child is not.
    with pytest.raises(ValidationError):
        book(appointment_type, BookingPerson(later.pk, None, CHILD, "Lill", "Tolvansson"))
    assert book(appointment_type, me(later, citizen))


def test_second_dose_is_not_booked_before_the_earliest_date(
    citizen: Patient, appointment_type: AppointmentType, make_slots: Callable[..., list[Slot]]
) -> None:
    appointment_type.vaccine_group = "Influenza"
    appointment_type.save()
    early, late = make_slots(1)[0], make_slots(1, start=timezone.now() + timedelta(days=40))[0]
    StoredForecast.objects.create(
        patient=citizen,
        schedule_key=schedule_key(appointment_type.care_unit.care_provider),
        vaccine_group="Influenza",
        status="not_complete",
        earliest=timezone.localdate() + timedelta(days=30),
        recommended=timezone.localdate() + timedelta(days=35),
        computed_at=timezone.now(),
        assessment_date=timezone.localdate(),
    )
    with pytest.raises(ValidationError) as caught:
        book(appointment_type, me(early, citizen))
    assert "earliest" in caught.value.messages[0]
    assert book(appointment_type, me(late, citizen))


def test_cancel_frees_the_slot_and_tells_the_waiting_list(
    citizen: Patient,
    appointment_type: AppointmentType,
    make_slots: Callable[..., list[Slot]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    slot = make_slots(1)[0]
    [booking] = book(appointment_type, me(slot, citizen))
    waiting = Actor.citizen("194910172398", "Waiting")
    waiting_list_join(actor=waiting, appointment_type=appointment_type, contact=Contact(email="w@example.se"))
    with django_capture_on_commit_callbacks(execute=True):
        booking_cancel(actor=tolvan(), booking=booking, reason="Sjuk")
    booking.refresh_from_db()
    slot.refresh_from_db()
    assert booking.status == BookingStatus.CANCELLED and booking.cancelled_at and not slot.booked
    entry = WaitingListEntry.objects.get()
    assert entry.notified_at is not None
    assert Message.objects.filter(to="w@example.se", purpose="booking_waiting_list").count() == 1
    # Idempotent: nobody is told twice.
    assert waiting_list_notify(appointment_type=appointment_type) == 0
    with pytest.raises(ConflictError):
        booking_cancel(actor=tolvan(), booking=booking, reason="")
    assert AuditEvent.objects.filter(
        patient=citizen, action=Action.UPDATE, object_type="booking.booking"
    ).exists()


def test_someone_else_cannot_cancel(
    citizen: Patient, appointment_type: AppointmentType, make_slots: Callable[..., list[Slot]], nurse_b: User
) -> None:
    [booking] = book(appointment_type, me(make_slots(1)[0], citizen))
    for actor in (Actor.citizen("194910172398", "X"), actor_of(nurse_b)):
        with pytest.raises(NotPermitted):
            booking_cancel(actor=actor, booking=booking, reason="")
    booking.refresh_from_db()
    assert booking.status == BookingStatus.BOOKED


def test_rebook_moves_the_booking_and_the_link(
    citizen: Patient, appointment_type: AppointmentType, make_slots: Callable[..., list[Slot]]
) -> None:
    first, second = make_slots(2)
    [booking] = book(appointment_type, me(first, citizen))
    digest = booking.token_hash
    new = booking_rebook(actor=tolvan(), booking=booking, slot=second)
    booking.refresh_from_db()
    first.refresh_from_db()
    second.refresh_from_db()
    assert booking.status == BookingStatus.CANCELLED and booking.replaced_by == new
    assert new.token_hash == digest and new.group == booking.group
    assert not first.booked and second.booked


def test_staff_marks_attended_and_no_show(
    citizen: Patient,
    appointment_type: AppointmentType,
    make_slots: Callable[..., list[Slot]],
    receptionist_a: User,
    nurse_b: User,
) -> None:
    slot = make_slots(1, start=timezone.now() + timedelta(minutes=5))[0]
    [booking] = book(appointment_type, me(slot, citizen))
    with pytest.raises(NotPermitted):
        booking_mark_attended(actor=actor_of(nurse_b), booking=booking)
    with pytest.raises(NotPermitted):
        booking_mark_attended(actor=tolvan(), booking=booking)
    with pytest.raises(ConflictError):
        booking_mark_no_show(actor=actor_of(receptionist_a), booking=booking)
    assert (
        booking_mark_attended(actor=actor_of(receptionist_a), booking=booking).status
        == BookingStatus.ATTENDED
    )
    Slot.objects.filter(pk=slot.pk).update(starts_at=timezone.now() - timedelta(minutes=20))
    assert (
        booking_mark_no_show(actor=actor_of(receptionist_a), booking=booking).status == BookingStatus.NO_SHOW
    )


def test_someone_who_booked_since_joining_is_not_told_and_leaves_the_list(
    citizen: Patient, appointment_type: AppointmentType, make_slots: Callable[..., list[Slot]]
) -> None:
    slots = make_slots(2)
    waiting_list_join(
        actor=tolvan(), appointment_type=appointment_type, contact=Contact(email="t@example.se")
    )
    book(appointment_type, me(slots[0], citizen))
    waiting = Actor.citizen("194910172398", "Waiting")
    waiting_list_join(actor=waiting, appointment_type=appointment_type, contact=Contact(email="w@example.se"))

    # One time is free: it goes to the one still waiting, not to Tolvan, who has booked.
    assert waiting_list_notify(appointment_type=appointment_type) == 1

    ended = WaitingListEntry.objects.get(identity=TOLVAN)
    assert ended.notified_at is None and ended.ended_at is not None
    assert ended.ended_by is None and ended.end_reason == BOOKED_SINCE
    assert list(Message.objects.values_list("to", flat=True)) == ["w@example.se"]
    assert WaitingListEntry.objects.get(identity="194910172398").ended_at is None


def _booked_with_contact(
    citizen: Patient, appointment_type: AppointmentType, slot: Slot, callbacks_capture: Any
) -> tuple[Booking, list[Callable[[], object]]]:
    with callbacks_capture(execute=False) as callbacks:
        [booking] = booking_create(
            actor=tolvan(),
            appointment_type=appointment_type,
            persons=[me(slot, citizen)],
            contact=Contact(email="tolvan@example.se"),
            idempotency_key="",
            channel=BookingChannel.PUBLIC,
        )
    return booking, list(callbacks)


def test_the_confirmation_task_carries_no_link_secret(
    citizen: Patient,
    appointment_type: AppointmentType,
    make_slots: Callable[..., list[Slot]],
    django_capture_on_commit_callbacks: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ympa.booking import tasks

    queued: list[tuple[object, ...]] = []
    monkeypatch.setattr(
        tasks, "send_booking_confirmation", SimpleNamespace(enqueue=lambda *a: queued.append(a))
    )
    booking, callbacks = _booked_with_contact(
        citizen, appointment_type, make_slots(1)[0], django_capture_on_commit_callbacks
    )
    link_secret = booking.token  # type: ignore[attr-defined]
    for callback in callbacks:
        callback()

    # The queue (and the task's stored result) holds the group's id only.
    assert queued == [(str(booking.group),)]
    with django_capture_on_commit_callbacks(execute=True):
        assert booking_confirmation_send(group=str(booking.group)) == 1
    [email] = mail.outbox
    # The task derived the same link the booking answer gave, and it opens the booking.
    assert f"/boka/min-bokning/{link_secret}/" in email.body
    assert token_digest(link_secret) == Booking.objects.get(pk=booking.pk).token_hash


def test_a_confirmation_queued_before_the_secret_key_changed(
    citizen: Patient,
    appointment_type: AppointmentType,
    make_slots: Callable[..., list[Slot]],
    django_capture_on_commit_callbacks: Any,
    settings: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The confirmation's task is not run here (its callback is not executed): the test calls the service.
    slots = make_slots(2)
    first, _ = _booked_with_contact(citizen, appointment_type, slots[0], django_capture_on_commit_callbacks)
    old_key = settings.SECRET_KEY
    settings.SECRET_KEY = "a-new-key-" + "x" * 50
    # With the old key among the fallbacks, the link still works.
    settings.SECRET_KEY_FALLBACKS = [old_key]
    with django_capture_on_commit_callbacks(execute=True):
        assert booking_confirmation_send(group=str(first.group)) == 1
    assert f"/boka/min-bokning/{first.token}/" in mail.outbox[0].body  # type: ignore[attr-defined]
    # Without it, no confirmation with a dead link: nothing sent, the booking still unconfirmed, an error.
    settings.SECRET_KEY_FALLBACKS = []
    second = booking_create(
        actor=Actor.citizen("194910172396", "Vera"),
        appointment_type=appointment_type,
        persons=[
            BookingPerson(slot_id=slots[1].pk, identifier="194910172396", given_name="Vera", family_name="T")
        ],
        contact=Contact(email="vera@example.se"),
        idempotency_key="",
        channel=BookingChannel.PUBLIC,
    )[0]
    settings.SECRET_KEY = old_key
    with (
        caplog.at_level("ERROR", logger="ympa.booking.services"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert booking_confirmation_send(group=str(second.group)) == 0
    assert "no secret key gives its link" in caplog.text
    assert Booking.objects.get(pk=second.pk).confirmation_sent_at is None
    assert len(mail.outbox) == 1


def test_confirmation_is_sent_after_commit_once(
    citizen: Patient,
    appointment_type: AppointmentType,
    make_slots: Callable[..., list[Slot]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    booking, callbacks = _booked_with_contact(
        citizen, appointment_type, make_slots(1)[0], django_capture_on_commit_callbacks
    )
    # Nothing before commit.
    assert not Message.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        for callback in callbacks:
            callback()
    booking.refresh_from_db()
    assert booking.confirmation_sent_at is not None
    [email] = mail.outbox
    [(name, content, mime)] = email.attachments
    assert name == "booking.ics" and mime == "text/calendar" and "BEGIN:VEVENT" in content
    assert "/boka/min-bokning/" in email.body
    # A retry sends nothing more.
    assert booking_confirmation_send(group=str(booking.group)) == 0
    assert Message.objects.count() == 1
    # The link's secret does not stay in the database once sent.
    assert "/boka/min-bokning/" not in Message.objects.get().body


def test_a_time_taken_meanwhile_is_booked_at_another_vaccinator(
    citizen: Patient,
    appointment_type: AppointmentType,
    make_slots: Callable[..., list[Slot]],
    unit_a: Any,
) -> None:
    """The visitor chose a time, not a vaccinator: when the chosen slot went, a free slot of the same time
    (another resource) is booked instead, and only when none is left is the time refused."""
    first = make_slots(1)[0]
    other = Resource.objects.create(care_unit=unit_a, name="Rum 2")
    twin = make_slots(1, start=first.starts_at, resource=other)[0]
    someone = Patient.objects.create(
        identifier_kind="personnummer", identifier="194910102383", given_name="Anna", family_name="Andersson"
    )
    book(appointment_type, me(first, someone), actor=Actor.citizen("194910102383", "Anna Andersson"))
    [booking] = book(appointment_type, me(first, citizen))
    assert booking.slot_id == twin.pk
    # The booking handed back holds the slot it got, as the database has it.
    twin.refresh_from_db()
    assert (booking.slot.pk, booking.slot.resource_id, booking.slot.ends_at) == (
        twin.pk,
        other.pk,
        twin.ends_at,
    )
    assert booking.slot.booked and twin.booked
    third = Patient.objects.create(
        identifier_kind="personnummer", identifier="195001012381", given_name="Bo", family_name="Berg"
    )
    with pytest.raises(SlotTaken):
        book(appointment_type, me(first, third), actor=Actor.citizen("195001012381", "Bo Berg"))
    assert not Booking.objects.filter(patient=third).exists()
    assert Booking.objects.filter(slot__in=[first, twin]).exclude(status=BookingStatus.CANCELLED).count() == 2
