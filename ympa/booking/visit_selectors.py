"""Reads for the visit: the booking behind a personal link or a declaration QR code, the unit's queue today,
today's bookings at reception, and a patient's health declarations. Every read that names a patient is
logged (the link holder's own, or through the access gate for staff)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from uuid import UUID

from django.core import signing
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ympa.access.models import Action
from ympa.access.services import audit_event_record, patient_access, patient_access_many
from ympa.booking.models import Booking, BookingStatus, HealthDeclaration, QueueEntry, QueueStatus
from ympa.booking.queue import OPEN_STATUSES, TRANSITIONS, link_holder_actor
from ympa.booking.tokens import token_digest
from ympa.core.actor import Actor
from ympa.core.errors import NotPermitted
from ympa.orgs.models import CareUnit
from ympa.patients.models import Patient

# A declaration QR code shown at reception is a capability like the booking link, but short-lived: it
# works for the visit, not for days. The booking link itself cannot be shown (only its hash is stored).
QR_SALT = "ympa.booking.declaration-qr"
QR_MAX_AGE = timedelta(hours=4)
READ_LIMIT = 200


def booking_by_token(token: str) -> Booking | None:
    """The booking a personal link opens, without logging (for pages that show no patient data)."""
    if not token or len(token) > 200:
        return None
    return (
        Booking.objects.select_related("patient", "slot", "care_unit", "appointment_type__declaration_form")
        .filter(token_hash=token_digest(token))
        .first()
    )


def qr_code_value(booking: Booking) -> str:
    """The signed value of a booking's declaration QR code."""
    return signing.dumps(str(booking.pk), salt=QR_SALT)


def booking_by_qr(value: str) -> Booking | None:
    """The booking a declaration QR code opens, while it is valid."""
    try:
        booking_id = signing.loads(value, salt=QR_SALT, max_age=QR_MAX_AGE)
    except signing.BadSignature:
        return None
    return (
        Booking.objects.select_related("patient", "slot", "care_unit", "appointment_type__declaration_form")
        .filter(pk=booking_id)
        .first()
    )


@transaction.atomic
def visit_booking_read(*, booking: Booking) -> Actor:
    """Log that the link holder opened their visit page (it shows the patient's name); their Actor."""
    actor = link_holder_actor(booking)
    audit_event_record(
        actor=actor,
        action=Action.READ,
        patient=booking.patient,
        object_type="booking.booking",
        object_id=str(booking.pk),
        detail={"page": "visit"},
    )
    return actor


def latest_declaration_of(booking: Booking) -> HealthDeclaration | None:
    return HealthDeclaration.objects.filter(booking=booking).order_by("-submitted_at").first()


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _unit(actor: Actor) -> CareUnit:
    assignment = actor.assignment
    if assignment is None or assignment.care_unit is None:
        raise NotPermitted("no care unit")
    return assignment.care_unit


@dataclass(frozen=True)
class QueueRow:
    entry: QueueEntry
    # Minutes from check-in until called (or until now while waiting).
    waited: int
    # "flagged", "unconfirmed", "confirmed" or "" (no declaration).
    declaration: str

    @property
    def moves(self) -> list[QueueStatus]:
        """The statuses a desk may move the entry to, in a fixed order."""
        allowed = TRANSITIONS[self.entry.status]
        return [status for status in QueueStatus if status in allowed]


def _minutes(delta: timedelta) -> int:
    return max(0, int(delta.total_seconds() // 60))


STATUS_ORDER = {
    QueueStatus.CALLED: 0,
    QueueStatus.IN_PROGRESS: 1,
    QueueStatus.WAITING: 2,
    QueueStatus.DONE: 3,
    QueueStatus.NO_SHOW: 4,
}


def queue_today(*, actor: Actor) -> list[QueueRow]:
    """The actor's unit's queue today: called and in progress first, then waiting in turn, then the
    finished ones; each patient shown is a logged read. A fixed number of queries however long."""
    unit = _unit(actor)
    now = timezone.now()
    entries = list(
        QueueEntry.objects.filter(care_unit=unit, day=timezone.localdate())
        .select_related("patient", "booking__slot", "session")
        .order_by("checked_in_at", "number")[:READ_LIMIT]
    )
    patients = [entry.patient for entry in entries]
    states: dict[UUID, str] = {}
    open_patients = [entry.patient_id for entry in entries if entry.status in OPEN_STATUSES]
    since = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=14)
    for patient_id, flagged, confirmed in (
        HealthDeclaration.objects.filter(
            patient_id__in=open_patients, care_unit=unit, submitted_at__gte=since
        )
        .order_by("submitted_at")
        .values_list("patient_id", "flagged", "confirmed_at")
    ):
        # Ordered oldest first: the latest declaration of each patient wins.
        states[patient_id] = "confirmed" if confirmed else ("flagged" if flagged else "unconfirmed")
    patient_access_many(actor=actor, patients=patients, object_type="booking.queue")
    rows = []
    for entry in entries:
        until = entry.called_at or entry.started_at or entry.finished_at or now
        rows.append(QueueRow(entry, _minutes(until - entry.checked_in_at), states.get(entry.patient_id, "")))
    rows.sort(key=lambda row: (STATUS_ORDER[QueueStatus(row.entry.status)], row.entry.checked_in_at))
    return rows


@dataclass(frozen=True)
class Display:
    called: list[int]
    waiting: list[int]


def queue_display(*, unit: CareUnit) -> Display:
    """Numbers only, for the waiting-room screen: who is called now, and who waits."""
    rows = list(
        QueueEntry.objects.filter(
            care_unit=unit, day=timezone.localdate(), status__in=(QueueStatus.WAITING, QueueStatus.CALLED)
        )
        .order_by("checked_in_at", "number")
        .values_list("number", "status")
    )
    return Display(
        called=[number for number, status in rows if status == QueueStatus.CALLED],
        waiting=[number for number, status in rows if status == QueueStatus.WAITING],
    )


_TIME = re.compile(r"^(\d{1,2})[:.](\d{2})$")


def bookings_today(*, actor: Actor, query: str = "", only_booked: bool = False) -> list[Booking]:
    """Today's bookings at the actor's unit, optionally matching a name, identity number or time (HH:MM);
    each patient shown is a logged read."""
    unit = _unit(actor)
    today = timezone.localdate()
    start = _day_start(today)
    bookings = Booking.objects.filter(
        care_unit=unit, slot__starts_at__gte=start, slot__starts_at__lt=start + timedelta(days=1)
    ).exclude(status=BookingStatus.CANCELLED)
    if only_booked:
        bookings = bookings.filter(status=BookingStatus.BOOKED)
    text = query.strip()
    time_match = _TIME.match(text)
    if time_match:
        hour, minute = int(time_match[1]), int(time_match[2])
        if hour < 24 and minute < 60:
            at = start.replace(hour=hour, minute=minute)
            bookings = bookings.filter(
                slot__starts_at__gte=at, slot__starts_at__lt=at + timedelta(minutes=30)
            )
    elif text.replace("-", "").replace("+", "").isdigit():
        bookings = bookings.filter(patient__identifier__contains=text.replace("-", "").replace("+", ""))
    elif text:
        for word in text.split()[:3]:
            bookings = bookings.filter(
                Q(patient__given_name__icontains=word) | Q(patient__family_name__icontains=word)
            )
    found = list(
        bookings.select_related("patient", "slot", "appointment_type", "queue_entry").order_by(
            "slot__starts_at"
        )[:READ_LIMIT]
    )
    patient_access_many(actor=actor, patients=[b.patient for b in found], object_type="booking.booking")
    return found


@transaction.atomic
def declarations_for_patient(*, actor: Actor, patient: Patient) -> list[HealthDeclaration]:
    """The patient's declarations at the actor's unit, newest first, through the access gate."""
    unit = _unit(actor)
    patient_access(actor=actor, patient=patient, object_type="booking.healthdeclaration")
    return list(
        HealthDeclaration.objects.filter(patient=patient, care_unit=unit)
        .select_related("form", "booking__slot", "confirmed_by", "visit")
        .order_by("-submitted_at")[:50]
    )


@transaction.atomic
def declaration_today(*, actor: Actor, patient: Patient) -> HealthDeclaration | None:
    """The latest unconfirmed declaration for today's visit at the actor's unit (for a booking today, or
    given today), through the access gate; None when there is none (and then nothing is logged)."""
    unit = _unit(actor)
    today = timezone.localdate()
    start = _day_start(today)
    end = start + timedelta(days=1)
    found = (
        HealthDeclaration.objects.filter(patient=patient, care_unit=unit, confirmed_at__isnull=True)
        .filter(
            Q(booking__slot__starts_at__gte=start, booking__slot__starts_at__lt=end)
            | Q(booking__isnull=True, submitted_at__gte=start, submitted_at__lt=end)
        )
        .select_related("form")
        .order_by("-submitted_at")
        .first()
    )
    if found is not None:
        patient_access(
            actor=actor, patient=patient, object_type="booking.healthdeclaration", object_id=str(found.pk)
        )
    return found


def declaration_get(*, actor: Actor, declaration_id: UUID) -> HealthDeclaration | None:
    """A declaration of the actor's unit (the confirming service checks again)."""
    return (
        HealthDeclaration.objects.filter(pk=declaration_id, care_unit=_unit(actor))
        .select_related("patient")
        .first()
    )


def queue_entry_get(*, actor: Actor, entry_id: UUID) -> QueueEntry | None:
    return QueueEntry.objects.filter(pk=entry_id, care_unit=_unit(actor)).select_related("patient").first()


def booking_today_get(*, actor: Actor, booking_id: UUID) -> Booking | None:
    return (
        Booking.objects.filter(pk=booking_id, care_unit=_unit(actor))
        .select_related("patient", "slot", "care_unit", "appointment_type__declaration_form")
        .first()
    )
