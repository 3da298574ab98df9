"""Check-in and the unit's queue: who has arrived, who is called, in progress, done or did not come.

Queue numbers count from 1 per unit and day and are shown instead of names. Two desks that press "call
next" at the same moment get different patients: the waiting row is taken with `FOR UPDATE SKIP LOCKED`.
"""

from __future__ import annotations

from datetime import date
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from ympa.access.models import Action
from ympa.access.services import audit_event_record
from ympa.booking.models import (
    Booking,
    BookingStatus,
    CheckInChannel,
    MassSession,
    QueueEntry,
    QueueStatus,
)
from ympa.booking.services import booking_mark_attended, booking_mark_no_show
from ympa.booking.staff import staff_unit_with
from ympa.core.actor import Actor, ActorKind, Channel
from ympa.core.errors import ConflictError, NotPermitted
from ympa.core.validation import identifier_validation_error
from ympa.identifiers import IdentifierError, parse_patient_identifier
from ympa.journal.models import Vaccination
from ympa.orgs.models import CareUnit
from ympa.orgs.rights import Right
from ympa.patients.models import Patient
from ympa.patients.services import PatientDetails, patient_register

OPEN_STATUSES = (QueueStatus.WAITING, QueueStatus.CALLED, QueueStatus.IN_PROGRESS)

# The moves a desk may make. Done and no-show are final: a patient who turns up after being marked
# no-show is checked in again as a walk-in, so the record of the missed appointment stays.
TRANSITIONS: dict[str, frozenset[str]] = {
    QueueStatus.WAITING: frozenset({QueueStatus.CALLED, QueueStatus.IN_PROGRESS, QueueStatus.NO_SHOW}),
    QueueStatus.CALLED: frozenset(
        {QueueStatus.WAITING, QueueStatus.IN_PROGRESS, QueueStatus.DONE, QueueStatus.NO_SHOW}
    ),
    QueueStatus.IN_PROGRESS: frozenset({QueueStatus.WAITING, QueueStatus.DONE}),
    QueueStatus.DONE: frozenset(),
    QueueStatus.NO_SHOW: frozenset(),
}

# A few retries on the number's unique constraint are enough: each retry reads the new maximum.
_NUMBER_ATTEMPTS = 20


def link_holder_actor(booking: Booking) -> Actor:
    """The holder of a booking's personal link, acting for the booked patient (self check-in, declaration).

    The link is the capability; the holder is not identified beyond it, so the assurance is the lowest.
    """
    identity = booking.booked_by_identity or booking.patient.identifier
    return Actor(
        kind=ActorKind.CITIZEN,
        identity=identity,
        display_name=_("Holder of the booking link"),
        channel=Channel.CITIZEN_APP,
    )


def _staff_unit(actor: Actor) -> CareUnit:
    """The unit of a staff actor who may run its queue."""
    return staff_unit_with(actor, (Right.MANAGE_BOOKINGS,))


def _require_unit_staff(actor: Actor, unit_id: int) -> CareUnit:
    unit = _staff_unit(actor)
    if unit.pk != unit_id:
        raise NotPermitted(_("This belongs to another care unit."))
    return unit


def is_link_holder(actor: Actor, booking: Booking) -> bool:
    """Whether the actor is the one `link_holder_actor` made for this booking."""
    return actor.kind == ActorKind.CITIZEN and actor.identity in {
        booking.booked_by_identity,
        booking.patient.identifier,
    }


def _audit(actor: Actor, entry: QueueEntry, action: Action, detail: dict[str, str]) -> None:
    audit_event_record(
        actor=actor,
        action=action,
        patient=entry.patient,
        object_type="booking.queueentry",
        object_id=str(entry.pk),
        detail=detail,
    )


def _open_entry(unit_id: int, day: date, patient_id: UUID) -> QueueEntry | None:
    return (
        QueueEntry.objects.select_related("patient")
        .filter(care_unit_id=unit_id, day=day, patient_id=patient_id, status__in=OPEN_STATUSES)
        .first()
    )


def _enqueue(
    *,
    unit: CareUnit,
    patient: Patient,
    channel: CheckInChannel,
    booking: Booking | None,
    session: MassSession | None,
) -> tuple[QueueEntry, bool]:
    """The patient's open entry today, created with the next number if there is none; (entry, created).

    The number is the day's maximum plus one; a concurrent check-in that took the same number makes the
    insert fail on the unique constraint and we read the maximum again. A concurrent check-in of the same
    patient fails on `queue_patient_once_open`, and its entry is returned.
    """
    day = timezone.localdate()
    for _attempt in range(_NUMBER_ATTEMPTS):
        existing = _open_entry(unit.pk, day, patient.pk)
        if existing is not None:
            return existing, False
        top = QueueEntry.objects.filter(care_unit=unit, day=day).aggregate(top=Max("number"))["top"] or 0
        entry = QueueEntry(
            care_unit=unit,
            day=day,
            number=top + 1,
            patient=patient,
            booking=booking,
            session=session,
            channel=channel,
        )
        try:
            with transaction.atomic():
                entry.save(force_insert=True)
        except IntegrityError:
            continue
        return entry, True
    raise ConflictError(_("The queue is very busy just now. Try again."), code="queue_busy")


@transaction.atomic
def checkin(*, actor: Actor, booking: Booking, channel: CheckInChannel) -> QueueEntry:
    """Check in a booked patient on the appointment's day; checking in again returns the same open entry.

    Staff with the right to manage bookings at the booking's unit check in at reception; the holder of the
    booking link checks in themselves (`link_holder_actor`, channel SELF).
    """
    locked = (
        Booking.objects.select_for_update(of=("self",))
        .select_related("patient", "care_unit", "slot")
        .get(pk=booking.pk)
    )
    if channel == CheckInChannel.SELF:
        if not is_link_holder(actor, locked):
            raise NotPermitted(_("Only the holder of the booking link can check in with it."))
    else:
        _require_unit_staff(actor, locked.care_unit_id)
    if locked.status != BookingStatus.BOOKED:
        if locked.status == BookingStatus.ATTENDED:
            raise ConflictError(_("This visit is already finished."), code="checkin_finished")
        raise ConflictError(
            _("This booking is not active, so it cannot be checked in."), code="checkin_inactive"
        )
    today = timezone.localdate()
    if timezone.localdate(locked.slot.starts_at) != today:
        raise ConflictError(
            _("Check-in opens on the day of the appointment (%(day)s).")
            % {"day": timezone.localdate(locked.slot.starts_at).isoformat()},
            code="checkin_wrong_day",
        )
    existing = QueueEntry.objects.select_related("patient").filter(booking=locked).first()
    if existing is not None:
        if existing.status in OPEN_STATUSES:
            return existing
        raise ConflictError(_("This visit is already finished."), code="checkin_finished")
    entry, created = _enqueue(
        unit=locked.care_unit, patient=locked.patient, channel=channel, booking=locked, session=None
    )
    if not created:
        # The patient was already in today's queue (e.g. as a walk-in): the booking joins that entry.
        if entry.booking_id is None:
            entry.booking = locked
            entry.save(update_fields=["booking"])
            _audit(actor, entry, Action.UPDATE, {"event": "booking_linked", "booking": str(locked.pk)})
        return entry
    _audit(actor, entry, Action.CREATE, {"event": "checkin", "channel": channel, "number": str(entry.number)})
    return entry


def _validate_session(session: MassSession | None, unit: CareUnit) -> None:
    if session is None:
        return
    if session.care_unit_id != unit.pk:
        raise NotPermitted(_("This belongs to another care unit."))
    if session.ended_at is not None:
        raise ConflictError(_("This session has ended."), code="session_ended")


@transaction.atomic
def walk_in_add(
    *,
    actor: Actor,
    identifier: str,
    given_name: str = "",
    family_name: str = "",
    session: MassSession | None = None,
) -> QueueEntry:
    """Put a patient who came without a booking in today's queue, registering them if they are new.

    A patient who does have a booking today at the unit is checked in on it instead.
    """
    unit = _staff_unit(actor)
    _validate_session(session, unit)
    try:
        parsed = parse_patient_identifier(identifier, today=timezone.localdate())
    except IdentifierError as exc:
        raise identifier_validation_error("identifier", exc) from exc
    patient = Patient.objects.filter(
        identifier_kind=parsed.kind, identifier=parsed.value, reserve_scheme=parsed.scheme or ""
    ).first()
    if patient is None:
        errors = {}
        if not given_name.strip():
            errors["given_name"] = _("Enter the given name.")
        if not family_name.strip():
            errors["family_name"] = _("Enter the family name.")
        if errors:
            raise ValidationError(errors)
        patient = patient_register(
            actor=actor,
            identifier=identifier,
            details=PatientDetails(given_name=given_name, family_name=family_name),
        )
    today = timezone.localdate()
    booking = (
        Booking.objects.select_for_update(of=("self",))
        .filter(
            care_unit=unit,
            patient=patient,
            status=BookingStatus.BOOKED,
            slot__starts_at__date=today,
            queue_entry__isnull=True,
        )
        .first()
    )
    channel = CheckInChannel.RECEPTION if booking is not None else CheckInChannel.WALK_IN
    entry, created = _enqueue(unit=unit, patient=patient, channel=channel, booking=booking, session=session)
    if created:
        _audit(
            actor, entry, Action.CREATE, {"event": "checkin", "channel": channel, "number": str(entry.number)}
        )
    return entry


def _session_filter(session: MassSession) -> Q:
    """A session's desk takes its own entries and those no session took yet that fit its appointment type."""
    unassigned = Q(session__isnull=True)
    if session.appointment_type_id is not None:
        unassigned &= Q(booking__isnull=True) | Q(booking__appointment_type_id=session.appointment_type_id)
    return Q(session=session) | unassigned


@transaction.atomic
def queue_call_next(*, actor: Actor, session: MassSession | None = None) -> QueueEntry | None:
    """Call the longest-waiting patient of the actor's unit today (of the session, when given); None when
    nobody waits. A row another desk is calling right now is skipped, so no patient is called twice."""
    unit = _staff_unit(actor)
    _validate_session(session, unit)
    waiting = QueueEntry.objects.filter(care_unit=unit, day=timezone.localdate(), status=QueueStatus.WAITING)
    if session is not None:
        waiting = waiting.filter(_session_filter(session))
    entry = (
        waiting.select_for_update(skip_locked=True, of=("self",)).order_by("checked_in_at", "number").first()
    )
    if entry is None:
        return None
    entry.status = QueueStatus.CALLED
    entry.called_at = timezone.now()
    entry.called_by = actor.user
    changed = ["status", "called_at", "called_by"]
    if session is not None and entry.session_id is None:
        entry.session = session
        changed.append("session")
    entry.save(update_fields=changed)
    entry = QueueEntry.objects.select_related("patient", "booking").get(pk=entry.pk)
    _audit(actor, entry, Action.UPDATE, {"event": "called", "number": str(entry.number)})
    return entry


def _mark_booking(actor: Actor, booking_id: UUID, status: QueueStatus) -> None:
    """The booking's outcome follows the queue's, through the booking services (which log it)."""
    booking = Booking.objects.select_related("patient").get(pk=booking_id)
    if booking.status != BookingStatus.BOOKED:
        return
    if status == QueueStatus.DONE:
        booking_mark_attended(actor=actor, booking=booking)
    else:
        booking_mark_no_show(actor=actor, booking=booking)


def _transition(
    actor: Actor, entry: QueueEntry, status: QueueStatus, vaccination: Vaccination | None = None
) -> QueueEntry:
    locked = QueueEntry.objects.select_for_update(of=("self",)).select_related("patient").get(pk=entry.pk)
    _require_unit_staff(actor, locked.care_unit_id)
    status = QueueStatus(status)
    if status not in TRANSITIONS[locked.status]:
        raise ConflictError(
            _("A patient who is %(current)s cannot be marked %(next)s.")
            % {"current": QueueStatus(locked.status).label.lower(), "next": status.label.lower()},
            code="queue_transition",
        )
    now = timezone.now()
    locked.status = status
    changed = ["status"]
    if status == QueueStatus.WAITING:
        # Put back in the queue: it keeps its number and place (checked_in_at).
        locked.called_at = locked.started_at = None
        locked.called_by = None
        changed += ["called_at", "started_at", "called_by"]
    elif status == QueueStatus.CALLED:
        locked.called_at, locked.called_by = now, actor.user
        changed += ["called_at", "called_by"]
    elif status == QueueStatus.IN_PROGRESS:
        locked.started_at = now
        changed.append("started_at")
        if locked.called_at is None:
            locked.called_at, locked.called_by = now, actor.user
            changed += ["called_at", "called_by"]
    else:
        locked.finished_at = now
        changed.append("finished_at")
    if vaccination is not None:
        locked.vaccination = vaccination
        changed.append("vaccination")
    locked.save(update_fields=changed)
    if locked.booking_id is not None and status in (QueueStatus.DONE, QueueStatus.NO_SHOW):
        _mark_booking(actor, locked.booking_id, status)
    detail = {"event": "status", "status": status.value, "number": str(locked.number)}
    if vaccination is not None:
        detail["vaccination"] = str(vaccination.pk)
    _audit(actor, locked, Action.UPDATE, detail)
    return locked


@transaction.atomic
def queue_entry_set_status(*, actor: Actor, entry: QueueEntry, status: QueueStatus) -> QueueEntry:
    """Move an entry along (see TRANSITIONS). No-show marks the booking no-show; done marks it attended."""
    return _transition(actor, entry, status)


@transaction.atomic
def queue_entry_finish(
    *, actor: Actor, entry: QueueEntry, vaccination: Vaccination | None = None
) -> QueueEntry:
    """Mark the entry done, linked to the dose given at the visit when there is one."""
    if vaccination is not None and (
        vaccination.patient_id != entry.patient_id or vaccination.care_unit_id != entry.care_unit_id
    ):
        raise ValidationError({"vaccination": _("The vaccination is not this patient's at this unit.")})
    return _transition(actor, entry, QueueStatus.DONE, vaccination)
