"""Check-in and the queue's services: numbers, idempotent check-in, walk-ins, call next, transitions, and
what other units' staff and link holders may not do."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from conftest import actor_of
from ympa.access.models import AuditEvent
from ympa.authn.models import User
from ympa.booking.models import BookingStatus, CheckInChannel, MassSession, QueueEntry, QueueStatus
from ympa.booking.queue import (
    checkin,
    link_holder_actor,
    queue_call_next,
    queue_entry_finish,
    queue_entry_set_status,
    walk_in_add,
)
from ympa.booking.tests.route_calls_queue import booking_at
from ympa.catalog.models import Product
from ympa.core.actor import Actor
from ympa.core.errors import ConflictError, NotPermitted
from ympa.orgs.models import CareUnit
from ympa.patients.models import Patient

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("booking_provider")]

NEW = "19800101-0019"


@pytest.fixture(autouse=True)
def noon(time_machine: Any) -> None:
    """Midday, so that an appointment an hour before or after is today's."""
    time_machine.move_to(timezone.localtime().replace(hour=12, minute=0, second=0, microsecond=0), tick=True)


def test_reception_checks_in_and_again_gets_the_same_entry(
    receptionist_a: User, citizen: Patient, unit_a: CareUnit
) -> None:
    booking, _token = booking_at(citizen, unit_a)
    actor = actor_of(receptionist_a)
    entry = checkin(actor=actor, booking=booking, channel=CheckInChannel.RECEPTION)
    again = checkin(actor=actor, booking=booking, channel=CheckInChannel.RECEPTION)
    assert again.pk == entry.pk
    assert (entry.number, entry.status, entry.day) == (1, QueueStatus.WAITING, timezone.localdate())
    assert QueueEntry.objects.count() == 1
    assert AuditEvent.objects.filter(patient=citizen, object_type="booking.queueentry").count() == 1


def test_the_link_holder_checks_in_on_the_day_only(citizen: Patient, unit_a: CareUnit) -> None:
    tomorrow, _t = booking_at(citizen, unit_a, timezone.now() + timedelta(days=1))
    with pytest.raises(ConflictError) as refused:
        checkin(actor=link_holder_actor(tomorrow), booking=tomorrow, channel=CheckInChannel.SELF)
    assert refused.value.code == "checkin_wrong_day"
    today, _t = booking_at(citizen, unit_a)
    entry = checkin(actor=link_holder_actor(today), booking=today, channel=CheckInChannel.SELF)
    assert entry.channel == CheckInChannel.SELF
    assert QueueEntry.objects.count() == 1


def test_another_providers_nurse_and_other_link_holders_cannot_check_in(
    nurse_b: User, nurse_a: User, citizen: Patient, unit_a: CareUnit
) -> None:
    booking, _t = booking_at(citizen, unit_a)
    with pytest.raises(NotPermitted):
        checkin(actor=actor_of(nurse_b), booking=booking, channel=CheckInChannel.RECEPTION)
    stranger = Actor.citizen("198001010019", "Someone Else")
    with pytest.raises(NotPermitted):
        checkin(actor=stranger, booking=booking, channel=CheckInChannel.SELF)
    # Staff may not pretend to be the link holder.
    with pytest.raises(NotPermitted):
        checkin(actor=actor_of(nurse_a), booking=booking, channel=CheckInChannel.SELF)
    assert not QueueEntry.objects.exists()


def test_a_cancelled_booking_is_not_checked_in(
    receptionist_a: User, citizen: Patient, unit_a: CareUnit
) -> None:
    booking, _t = booking_at(citizen, unit_a)
    booking.status, booking.cancelled_at = BookingStatus.CANCELLED, timezone.now()
    booking.save()
    with pytest.raises(ConflictError):
        checkin(actor=actor_of(receptionist_a), booking=booking, channel=CheckInChannel.RECEPTION)
    assert not QueueEntry.objects.exists()


def test_walk_ins_are_found_or_registered_and_numbered(
    receptionist_a: User, citizen: Patient, unit_a: CareUnit
) -> None:
    actor = actor_of(receptionist_a)
    first = walk_in_add(actor=actor, identifier="19121212-1212")
    assert first.patient == citizen and first.number == 1 and first.channel == CheckInChannel.WALK_IN
    with pytest.raises(ValidationError) as missing:
        walk_in_add(actor=actor, identifier=NEW)
    assert set(missing.value.message_dict) == {"given_name", "family_name"}
    second = walk_in_add(actor=actor, identifier=NEW, given_name="Test", family_name="Testsson")
    assert second.number == 2 and second.patient.family_name == "Testsson"
    assert walk_in_add(actor=actor, identifier=NEW).pk == second.pk
    with pytest.raises(ValidationError):
        walk_in_add(actor=actor, identifier="not a number")


def test_a_walk_in_with_a_booking_today_is_checked_in_on_it(
    receptionist_a: User, citizen: Patient, unit_a: CareUnit
) -> None:
    booking, _t = booking_at(citizen, unit_a)
    entry = walk_in_add(actor=actor_of(receptionist_a), identifier="191212121212")
    assert entry.booking == booking and entry.channel == CheckInChannel.RECEPTION


def test_call_next_takes_the_longest_waiting_and_none_when_empty(
    receptionist_a: User, nurse_a: User, citizen: Patient, unit_a: CareUnit
) -> None:
    reception = actor_of(receptionist_a)
    first = walk_in_add(actor=reception, identifier="19121212-1212")
    second = walk_in_add(actor=reception, identifier=NEW, given_name="Test", family_name="Testsson")
    nurse = actor_of(nurse_a)
    called = queue_call_next(actor=nurse)
    assert called is not None and called.pk == first.pk and called.status == QueueStatus.CALLED
    assert called.called_by == nurse_a and called.called_at is not None
    called_second = queue_call_next(actor=nurse)
    assert called_second is not None and called_second.pk == second.pk
    assert queue_call_next(actor=nurse) is None


def test_call_next_of_another_unit_sees_nothing(
    receptionist_a: User, nurse_b: User, citizen: Patient, unit_a: CareUnit
) -> None:
    walk_in_add(actor=actor_of(receptionist_a), identifier="19121212-1212")
    assert queue_call_next(actor=actor_of(nurse_b)) is None
    assert QueueEntry.objects.get().status == QueueStatus.WAITING


def test_transitions_and_the_bookings_outcome(
    receptionist_a: User, nurse_a: User, citizen: Patient, unit_a: CareUnit
) -> None:
    booking, _t = booking_at(citizen, unit_a)
    entry = checkin(actor=actor_of(receptionist_a), booking=booking, channel=CheckInChannel.RECEPTION)
    nurse = actor_of(nurse_a)
    with pytest.raises(ConflictError):
        queue_entry_set_status(actor=nurse, entry=entry, status=QueueStatus.DONE)
    entry = queue_entry_set_status(actor=nurse, entry=entry, status=QueueStatus.IN_PROGRESS)
    assert entry.started_at is not None and entry.called_at is not None
    entry = queue_entry_set_status(actor=nurse, entry=entry, status=QueueStatus.WAITING)
    assert entry.called_at is None and entry.number == 1
    entry = queue_entry_set_status(actor=nurse, entry=entry, status=QueueStatus.CALLED)
    entry = queue_entry_finish(actor=nurse, entry=entry)
    assert entry.status == QueueStatus.DONE and entry.finished_at is not None
    booking.refresh_from_db()
    assert booking.status == BookingStatus.ATTENDED and booking.status_changed_at is not None
    with pytest.raises(ConflictError):
        queue_entry_set_status(actor=nurse, entry=entry, status=QueueStatus.WAITING)
    # Done is final: checking in again is refused, not a second entry.
    with pytest.raises(ConflictError):
        checkin(actor=nurse, booking=booking, channel=CheckInChannel.RECEPTION)
    assert QueueEntry.objects.count() == 1


def test_no_show_marks_the_booking(receptionist_a: User, citizen: Patient, unit_a: CareUnit) -> None:
    booking, _t = booking_at(citizen, unit_a, timezone.now() - timedelta(minutes=20))
    actor = actor_of(receptionist_a)
    entry = checkin(actor=actor, booking=booking, channel=CheckInChannel.RECEPTION)
    queue_entry_set_status(actor=actor, entry=entry, status=QueueStatus.NO_SHOW)
    booking.refresh_from_db()
    assert booking.status == BookingStatus.NO_SHOW


def test_another_providers_nurse_cannot_change_the_queue(
    receptionist_a: User, nurse_b: User, citizen: Patient, unit_a: CareUnit
) -> None:
    entry = walk_in_add(actor=actor_of(receptionist_a), identifier="19121212-1212")
    before = AuditEvent.objects.count()
    for status in (QueueStatus.CALLED, QueueStatus.NO_SHOW):
        with pytest.raises(NotPermitted):
            queue_entry_set_status(actor=actor_of(nurse_b), entry=entry, status=status)
    with pytest.raises(NotPermitted):
        queue_entry_finish(actor=actor_of(nurse_b), entry=entry)
    entry.refresh_from_db()
    assert entry.status == QueueStatus.WAITING and AuditEvent.objects.count() == before


def test_a_session_calls_its_own_and_unassigned_entries(
    receptionist_a: User, nurse_a: User, citizen: Patient, unit_a: CareUnit, vaccine: Product
) -> None:
    session = MassSession.objects.create(
        care_unit=unit_a,
        name="Mass",
        product=vaccine,
        batch_number="AB1",
        default_site="left_deltoid",
        started_by=nurse_a,
    )
    entry = walk_in_add(actor=actor_of(receptionist_a), identifier="19121212-1212", session=session)
    assert entry.session == session
    called = queue_call_next(actor=actor_of(nurse_a), session=session)
    assert called is not None and called.pk == entry.pk
    session.ended_at = timezone.now()
    session.save()
    with pytest.raises(ConflictError):
        queue_call_next(actor=actor_of(nurse_a), session=session)


def test_checking_in_a_booking_of_a_patient_already_in_the_queue_joins_the_entry(
    receptionist_a: User, citizen: Patient, unit_a: CareUnit
) -> None:
    actor = actor_of(receptionist_a)
    walked_in = walk_in_add(actor=actor, identifier="19121212-1212")
    booking, _t = booking_at(citizen, unit_a)
    entry = checkin(actor=actor, booking=booking, channel=CheckInChannel.RECEPTION)
    assert entry.pk == walked_in.pk and entry.booking == booking
    assert QueueEntry.objects.count() == 1
