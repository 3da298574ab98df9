"""Booking services: book (one person or a family in one go), cancel, rebook, mark attended or no-show,
and the waiting list.

A slot is claimed with one conditional UPDATE (`booked = false` → `true`) in the booking transaction; the
partial unique index `booking_one_active_per_slot` backs it up. Nothing checks first and inserts later, so
two patients racing for the last slot cannot both win, whatever the timing.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from uuid import UUID, uuid4

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from ympa.access.models import Action
from ympa.access.services import audit_event_build, audit_event_record, audit_events_save
from ympa.booking.models import (
    AppointmentType,
    Audience,
    Booking,
    BookingChannel,
    BookingStatus,
    Slot,
    SlotRelease,
    WaitingListEntry,
)
from ympa.booking.tokens import group_secret, group_secret_matching, group_tokens, token_digest, token_new
from ympa.core import rows
from ympa.core.actor import Actor, ActorKind
from ympa.core.errors import ConflictError, NotPermitted
from ympa.core.validation import current_language
from ympa.identifiers import IdentifierError, parse_patient_identifier, parse_phone_number
from ympa.orgs.models import CareUnit
from ympa.orgs.rights import Right
from ympa.patients.models import Guardianship, IdentifierKind, LegalSex, Patient

logger = logging.getLogger(__name__)

BOOKING_OBJECT = "booking.booking"
WAITING_LIST_OBJECT = "booking.waiting_list"
# The end reason of a waiting-list entry whose person booked a time of the type after joining.
BOOKED_SINCE = "booked since joining"
PERSONAL_NUMBER_KINDS = (IdentifierKind.PERSONNUMMER, IdentifierKind.SAMORDNINGSNUMMER)
MAX_PERSONS = 8
_SLOT_TABLE = Slot._meta.db_table


class SlotTaken(ConflictError):
    """Someone else booked (or staff withdrew) one of the chosen slots meanwhile; nothing was booked."""

    def __init__(self, slot_ids: Sequence[int]) -> None:
        super().__init__(_("The time you chose was just booked by someone else."), code="slot_taken")
        self.slot_ids = list(slot_ids)


@dataclass(frozen=True)
class BookingPerson:
    """One person to book and their slot: a known patient, or a personnummer and name (registered if new)."""

    slot_id: int
    patient: Patient | None = None
    identifier: str = ""
    given_name: str = ""
    family_name: str = ""


@dataclass(frozen=True)
class Contact:
    phone: str = ""
    email: str = ""
    language: str = "sv"


# --- rules shared by the services ---------------------------------------------------------------------


def uses_booking(unit: CareUnit) -> bool:
    return "booking" in (unit.care_provider.modules or [])


def _require_staff_right(actor: Actor, unit_id: int) -> None:
    assignment = actor.assignment
    if (
        actor.kind != ActorKind.STAFF
        or assignment is None
        or assignment.care_unit_id != unit_id
        or not assignment.is_active()
        or not assignment.has_right(Right.MANAGE_BOOKINGS)
    ):
        raise NotPermitted(_("You may not manage bookings at this care unit."))


def _require_bookable_type(actor: Actor, kind: AppointmentType) -> None:
    if actor.kind == ActorKind.STAFF:
        _require_staff_right(actor, kind.care_unit_id)
    elif actor.kind != ActorKind.CITIZEN or kind.audience != Audience.PUBLIC:
        raise NotPermitted(_("This appointment type cannot be booked here."))
    if not kind.active or not uses_booking(kind.care_unit):
        raise NotPermitted(_("This appointment type cannot be booked here."))


def _may_act_for(actor: Actor, booking: Booking) -> None:
    """A citizen acts on the bookings they made (or their own); staff need the right at the unit."""
    if actor.kind == ActorKind.CITIZEN:
        if actor.identity not in (booking.booked_by_identity, booking.patient.identifier):
            raise NotPermitted(_("You may not change this booking."))
        return
    _require_staff_right(actor, booking.care_unit_id)


def contact_clean(contact: Contact, *, required: bool) -> Contact:
    """The contact details in canonical form (E.164 mobile number, lower-case e-mail), or field errors."""
    errors: dict[str, str] = {}
    phone = ""
    if contact.phone.strip():
        try:
            phone = parse_phone_number(contact.phone).e164
        except IdentifierError as exc:
            errors["phone"] = exc.message(current_language())
    email = contact.email.strip().lower()
    if email:
        try:
            validate_email(email)
        except ValidationError:
            errors["email"] = _("Enter a valid e-mail address, e.g. name@example.se.")
    if required and not phone and not email and not errors:
        errors["phone"] = _("Enter a mobile number or an e-mail address for the confirmation.")
    if errors:
        raise ValidationError(errors)
    return Contact(phone=phone, email=email, language=contact.language[:5] or "sv")


def slot_visible_to(slot: Slot, patient_birth: date | None, now: datetime, *, taken_ok: bool = False) -> str:
    """Why this slot cannot be booked for a person born on `patient_birth`, or "" when it can. With
    `taken_ok` a slot booked meanwhile passes: booking then takes another free slot of the same time."""
    if slot.withdrawn_at is not None or (slot.booked and not taken_ok) or slot.starts_at <= now:
        return _("The time you chose was just booked by someone else.")
    release = slot.release
    if release is None:
        return ""
    if release.release_at > now:
        return _("This time is not open for booking yet.")
    if release.min_age is None and release.max_age is None:
        return ""
    day = timezone.localdate(slot.starts_at)
    if patient_birth is None:
        return _("This time is only for certain ages.")
    age = day.year - patient_birth.year - ((day.month, day.day) < (patient_birth.month, patient_birth.day))
    if (release.min_age is not None and age < release.min_age) or (
        release.max_age is not None and age > release.max_age
    ):
        return _("This time is only for ages %(low)s to %(high)s on the day of the appointment.") % {
            "low": release.min_age if release.min_age is not None else 0,
            "high": release.max_age if release.max_age is not None else "",
        }
    return ""


def forecast_earliest(
    patients: Sequence[Patient], kind: AppointmentType
) -> dict[UUID, tuple[date, date | None]]:
    """The stored forecast's (earliest, recommended) dates of the type's vaccine group, per patient."""
    if not kind.vaccine_group or not patients:
        return {}
    from ympa.journal.forecasts import schedule_key
    from ympa.journal.models import StoredForecast

    # Written out: every booking asks it (see ympa.core.rows).
    columns = rows.Columns(StoredForecast, "f", only=("patient", "earliest", "recommended"))
    pk = Patient._meta.pk
    assert pk is not None
    ids = [pk.get_db_prep_value(p.pk, connection) for p in patients]
    found = rows.fetch_all(
        f"SELECT {columns.select()} FROM {StoredForecast._meta.db_table} f "  # noqa: S608 (from the model)
        f"WHERE f.patient_id IN ({', '.join(['%s'] * len(ids))}) AND f.schedule_key = %s "
        "AND f.vaccine_group = %s AND f.earliest IS NOT NULL",
        [*ids, schedule_key(kind.care_unit.care_provider), kind.vaccine_group],
        (columns,),
    )
    return {
        f.patient_id: (f.earliest, f.recommended)
        for (f,) in found
        if isinstance(f, StoredForecast) and f.earliest is not None
    }


_PATIENT = rows.Columns(Patient, "p")


def _patients_by_number(numbers: list[str]) -> list[Patient]:
    """The registered patients with these personnummer or samordningsnummer (written out: every booking
    asks it)."""
    if not numbers:
        return []
    kinds = [str(kind) for kind in PERSONAL_NUMBER_KINDS]
    found = rows.fetch_all(
        f"SELECT {_PATIENT.select()} FROM {Patient._meta.db_table} p "  # noqa: S608 (from the model)
        f"WHERE p.identifier_kind IN ({', '.join(['%s'] * len(kinds))}) "
        f"AND p.identifier IN ({', '.join(['%s'] * len(numbers))})",
        [*kinds, *numbers],
        (_PATIENT,),
    )
    return [p for (p,) in found if isinstance(p, Patient)]


_SLOT = rows.Columns(Slot, "s")
_RELEASE = rows.Columns(SlotRelease, "r")


def _slots_of_type(slot_ids: list[int], kind: AppointmentType) -> dict[int, Slot]:
    """The slots with these ids of this type, with their release (written out: every booking asks it)."""
    found = rows.fetch_all(
        f"SELECT {_SLOT.select()}, {_RELEASE.select()} FROM {Slot._meta.db_table} s "  # noqa: S608
        f"LEFT JOIN {SlotRelease._meta.db_table} r ON r.id = s.release_id "
        f"WHERE s.id IN ({', '.join(['%s'] * len(slot_ids))}) AND s.appointment_type_id = %s",
        [*slot_ids, kind.pk],
        (_SLOT, _RELEASE),
    )
    slots: dict[int, Slot] = {}
    for slot, release in found:
        assert isinstance(slot, Slot)
        slot.release = release  # type: ignore[assignment]
        slots[slot.pk] = slot
    return slots


# --- booking ------------------------------------------------------------------------------------------


def _idempotent(actor: Actor, key: str) -> list[Booking]:
    if not key:
        return []
    return list(
        Booking.objects.filter(idempotency_key=key, booked_by_identity=actor.identity).select_related(
            "slot", "patient"
        )
    )


def _resolve_patients(
    actor: Actor, persons: Sequence[BookingPerson], today: date
) -> tuple[list[Patient], list[Patient]]:
    """Each person's patient (unsaved when not yet in the register); field errors name the person."""
    errors: dict[str, str] = {}
    parsed: dict[int, tuple[str, str, date | None, str]] = {}
    for index, person in enumerate(persons):
        if person.patient is not None:
            continue
        try:
            pid = parse_patient_identifier(person.identifier, today=today)
        except IdentifierError as exc:
            errors[f"identifier_{index}"] = exc.message(current_language())
            continue
        if pid.kind not in PERSONAL_NUMBER_KINDS:
            errors[f"identifier_{index}"] = _("Enter a personal identity number or a coordination number.")
            continue
        parsed[index] = (pid.kind, pid.value, pid.birth_date, pid.legal_sex or "")
    if errors:
        raise ValidationError(errors)
    known = {p.identifier: p for p in _patients_by_number([v[1] for v in parsed.values()])}
    patients: list[Patient] = []
    new: list[Patient] = []
    for index, person in enumerate(persons):
        if person.patient is not None:
            patients.append(person.patient)
            continue
        kind, value, birth, sex = parsed[index]
        if value in known:
            patients.append(known[value])
            continue
        given, family = person.given_name.strip(), person.family_name.strip()
        if not given or not family:
            errors[f"name_{index}"] = _("Enter the given name and the family name.")
            continue
        patient = Patient(
            identifier_kind=kind,
            identifier=value,
            given_name=given[:100],
            family_name=family[:100],
            birth_date=birth,
            legal_sex=sex or LegalSex.UNKNOWN,
        )
        known[value] = patient
        patients.append(patient)
        new.append(patient)
    if errors:
        raise ValidationError(errors)
    if len({p.identifier for p in patients}) != len(patients):
        raise ValidationError({"persons": _("Each person can only be booked once.")})
    if actor.kind == ActorKind.CITIZEN:
        _check_family(actor, [person.patient for person in persons if person.patient is not None])
    return patients, new


def _check_family(actor: Actor, patients: list[Patient]) -> None:
    """A citizen books for themselves, their children and others they name by personnummer; a known patient
    reached any other way than by personnummer (a child's id from the form) must be theirs."""
    others = [p.pk for p in patients if p.identifier != actor.identity]
    if not others:
        return
    wards = set(
        Guardianship.objects.filter(
            child__in=others, guardian__identifier=actor.identity, ended_at__isnull=True
        ).values_list("child_id", flat=True)
    )
    if set(others) - wards:
        raise NotPermitted(_("You may book for yourself, your children and people you name."))


def _claim(slot_ids: list[int], kind: AppointmentType, now: datetime) -> dict[int, tuple[int, int, datetime]]:
    """Mark each slot booked, or when it went meanwhile another free slot of the same type, time and release
    (the visitor chose a time, not a vaccinator). Returns {chosen slot: (claimed slot, its resource, its
    end)}; raises SlotTaken naming the chosen slots whose time has nothing free left.

    Each claim is a conditional UPDATE, so two transactions can never both claim one slot (the partial unique
    index on bookings backs it up). The chosen slot is claimed by its key, which waits for a transaction
    that holds it (a double submit's twin, which this one must then find committed). Only when it is taken is
    a substitute picked, on PostgreSQL with SKIP LOCKED, so concurrent visitors spread over the free slots of
    a time instead of queueing on the same row. Both statements return what the booking needs of the slot."""
    table = _SLOT_TABLE
    # Only the candidate row is locked (OF o): the chosen slot's row is another transaction's claim.
    skip_locked = (
        " FOR UPDATE OF o SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else ""
    )
    claimed: dict[int, tuple[int, int, datetime]] = {}
    gone: list[int] = []
    with connection.cursor() as cursor:
        for slot_id in sorted(slot_ids):
            cursor.execute(
                f"UPDATE {table} SET booked = %s WHERE id = %s AND booked = %s "  # noqa: S608
                "AND withdrawn_at IS NULL AND appointment_type_id = %s AND starts_at > %s "
                "RETURNING id, resource_id, ends_at",
                [True, slot_id, False, kind.pk, now],
            )
            row = cursor.fetchone()
            if row is None:
                taken = [c[0] for c in claimed.values()] or [0]
                marks = ", ".join(["%s"] * len(taken))
                cursor.execute(
                    f"UPDATE {table} SET booked = %s WHERE booked = %s AND id = ("  # noqa: S608
                    f"SELECT o.id FROM {table} o JOIN {table} c ON c.id = %s "
                    "WHERE o.appointment_type_id = c.appointment_type_id AND o.starts_at = c.starts_at "
                    "AND (o.release_id = c.release_id OR (o.release_id IS NULL AND c.release_id IS NULL)) "
                    "AND o.booked = %s AND o.withdrawn_at IS NULL AND o.starts_at > %s "
                    f"AND o.id NOT IN ({marks}) "
                    f"ORDER BY o.id LIMIT 1{skip_locked}) RETURNING id, resource_id, ends_at",
                    [True, False, slot_id, False, now, *taken],
                )
                row = cursor.fetchone()
            if row is None:
                gone.append(slot_id)
                continue
            ends_at = row[2]
            if isinstance(ends_at, str):
                ends_at = datetime.fromisoformat(ends_at)
            if timezone.is_naive(ends_at):
                # SQLite keeps aware times as naive UTC text.
                ends_at = ends_at.replace(tzinfo=UTC)
            claimed[slot_id] = (int(row[0]), int(row[1]), ends_at)
    if gone:
        raise SlotTaken(gone)
    return claimed


def booking_create(
    *,
    actor: Actor,
    appointment_type: AppointmentType,
    persons: list[BookingPerson],
    contact: Contact,
    idempotency_key: str,
    channel: BookingChannel | str,
) -> list[Booking]:
    """Book one slot per person, all or nothing. A repeated idempotency key returns the first bookings.

    Raises ValidationError (field errors: `slot`, `identifier_<i>`, `name_<i>`, `phone`, `email`,
    `persons`), NotPermitted, or SlotTaken when a slot went to someone else meanwhile.

    A double submit is recognised where it shows, so no lookup is spent on every booking: its bookings
    collide with the twin's on the unique (idempotency key, patient), or its time has no free slot left.
    Then the attempt is rolled back whole and the twin's bookings, committed by then, are returned.
    """
    key = idempotency_key.strip()[:64]
    try:
        return _booking_create(
            actor=actor, kind=appointment_type, persons=persons, contact=contact, key=key, channel=channel
        )
    except (SlotTaken, IntegrityError) as exc:
        done = _idempotent(actor, key)
        if done:
            return done
        if isinstance(exc, SlotTaken):
            raise
        # A person registered by someone else at the same moment: the booking is refused as taken.
        raise SlotTaken([p.slot_id for p in persons]) from exc


@transaction.atomic
def _booking_create(
    *,
    actor: Actor,
    kind: AppointmentType,
    persons: list[BookingPerson],
    contact: Contact,
    key: str,
    channel: BookingChannel | str,
) -> list[Booking]:
    _require_bookable_type(actor, kind)
    if not persons:
        raise ValidationError({"persons": _("Choose at least one person to book.")})
    if len(persons) > MAX_PERSONS:
        raise ValidationError(
            {"persons": _("At most %(count)d people can be booked at once.") % {"count": MAX_PERSONS}}
        )
    slot_ids = [p.slot_id for p in persons]
    if len(set(slot_ids)) != len(slot_ids):
        raise ValidationError({"slot": _("Choose a different time for each person.")})
    clean = contact_clean(contact, required=actor.kind == ActorKind.CITIZEN)
    now = timezone.now()
    patients, new = _resolve_patients(actor, persons, timezone.localdate(now))
    slots = _slots_of_type(slot_ids, kind)
    earliest = forecast_earliest([p for p in patients if p.pk is not None and p not in new], kind)
    for slot_id, patient in zip(slot_ids, patients, strict=True):
        slot = slots.get(slot_id)
        if slot is None:
            raise ValidationError({"slot": _("Choose one of the times shown.")})
        why = (
            ""
            if actor.kind == ActorKind.STAFF and slot.release is not None
            else slot_visible_to(slot, patient.birth_date, now, taken_ok=True)
        )
        if why:
            raise ValidationError({"slot": why})
        dates = earliest.get(patient.pk)
        if dates and timezone.localdate(slot.starts_at) < dates[0]:
            raise ValidationError(
                {
                    "slot": _(
                        "%(name)s can have the next dose from %(date)s at the earliest; choose a later time."
                    )
                    % {"name": patient.given_name, "date": dates[0].isoformat()}
                }
            )
    by_citizen = actor.kind == ActorKind.CITIZEN
    group = uuid4()
    claimed: dict[int, int] = {}
    held: dict[int, Slot] = {}
    for chosen, (slot_id, resource_id, ends_at) in _claim(slot_ids, kind, now).items():
        # A substitute shares the chosen slot's type, time and release; only its vaccinator and end differ.
        slot = copy.copy(slots[chosen])
        slot.pk, slot.resource_id, slot.ends_at, slot.booked = slot_id, resource_id, ends_at, True
        held[slot_id] = slot
        claimed[chosen] = slot_id
    for patient in new:
        patient.save(force_insert=True)
    tokens = group_tokens(group_secret(group), len(persons))
    bookings = []
    for index, (chosen, patient) in enumerate(zip(slot_ids, patients, strict=True)):
        slot_id = claimed[chosen]
        bookings.append(
            Booking(
                slot_id=slot_id,
                care_unit_id=kind.care_unit_id,
                appointment_type=kind,
                patient=patient,
                group=group,
                channel=channel,
                booked_by_identity=actor.identity if by_citizen else "",
                booked_by_user=actor.user,
                contact_phone=clean.phone,
                contact_email=clean.email,
                language=clean.language,
                token_hash=token_digest(tokens[index]),
                idempotency_key=key,
                created_at=now,
            )
        )
        bookings[index].slot = held[slot_id]
    if _insert_new(bookings) != len(bookings):
        # The twin of a double submit holds these bookings (unique idempotency key and patient).
        raise SlotTaken(slot_ids)
    events = [
        audit_event_build(
            actor=actor,
            action=Action.CREATE,
            patient=patient,
            object_type="patients.patient",
            object_id=str(patient.pk),
            detail={"identifier_kind": patient.identifier_kind, "via": "booking"},
        )
        for patient in new
    ]
    events += [
        audit_event_build(
            actor=actor,
            action=Action.CREATE,
            patient=booking.patient,
            object_type=BOOKING_OBJECT,
            object_id=str(booking.pk),
            detail={"slot": booking.slot_id, "care_unit": kind.care_unit_id},
        )
        for booking in bookings
    ]
    audit_events_save(events)
    if clean.phone or clean.email:
        _confirm_after_commit(group)
    for booking, token in zip(bookings, tokens, strict=True):
        # Handed to the caller for the personal link; never stored.
        booking.token = token  # type: ignore[attr-defined]
    return bookings


def _insert_new(bookings: list[Booking]) -> int:
    """Insert the bookings, skipping any that a unique constraint already holds; returns how many were
    inserted. One statement and no savepoint: a conflict is the rare double submit, told by the count."""
    fields = Booking._meta.local_concrete_fields
    columns = ", ".join(connection.ops.quote_name(str(f.column)) for f in fields)
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    values = [f.get_db_prep_save(f.pre_save(b, add=True), connection) for b in bookings for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {Booking._meta.db_table} ({columns}) VALUES "  # noqa: S608
            f"{', '.join([row] * len(bookings))} ON CONFLICT DO NOTHING RETURNING id",
            values,
        )
        return len(cursor.fetchall())


def _confirm_after_commit(group: UUID) -> None:
    from ympa.booking.tasks import send_booking_confirmation

    # Only the group's id: the task derives the link's secret again (see ympa.booking.tokens).
    transaction.on_commit(lambda: send_booking_confirmation.enqueue(str(group)))


# --- after booking ------------------------------------------------------------------------------------


def _locked(booking: Booking) -> Booking:
    return Booking.objects.select_for_update().select_related("slot", "patient").get(pk=booking.pk)


def _audit_update(actor: Actor, booking: Booking, change: str, **detail: object) -> None:
    audit_event_record(
        actor=actor,
        action=Action.UPDATE,
        patient=booking.patient,
        object_type=BOOKING_OBJECT,
        object_id=str(booking.pk),
        detail={"change": change, **detail},
    )


def _release_slot(slot_id: int) -> None:
    Slot.objects.filter(pk=slot_id).update(booked=False)


@transaction.atomic
def booking_cancel(*, actor: Actor, booking: Booking, reason: str) -> Booking:
    """Cancel a booking and free its slot; the waiting list is told after commit."""
    current = _locked(booking)
    _may_act_for(actor, current)
    if current.status != BookingStatus.BOOKED:
        raise ConflictError(_("This booking is no longer active."), code="not_active")
    now = timezone.now()
    if actor.kind == ActorKind.CITIZEN and current.slot.starts_at <= now:
        raise ConflictError(_("The appointment time has passed; the booking can no longer be changed."))
    current.status = BookingStatus.CANCELLED
    current.cancelled_at = now
    current.status_changed_at = now
    current.cancel_reason = reason.strip()[:200]
    current.save(update_fields=["status", "cancelled_at", "status_changed_at", "cancel_reason"])
    _release_slot(current.slot_id)
    _audit_update(actor, current, "cancel", reason=current.cancel_reason)
    kind_id = current.appointment_type_id
    transaction.on_commit(lambda: _notify_waiting_list(kind_id))
    return current


def _notify_waiting_list(kind_id: int) -> None:
    from ympa.booking.tasks import notify_waiting_list

    notify_waiting_list.enqueue(kind_id)


@transaction.atomic
def booking_rebook(*, actor: Actor, booking: Booking, slot: Slot) -> Booking:
    """Move the booking to another free slot of the same unit: a new booking, the old one cancelled and
    pointing to it. The personal link follows the appointment: the new booking takes over its digest."""
    current = _locked(booking)
    _may_act_for(actor, current)
    if current.status != BookingStatus.BOOKED:
        raise ConflictError(_("This booking is no longer active."), code="not_active")
    now = timezone.now()
    if actor.kind == ActorKind.CITIZEN and current.slot.starts_at <= now:
        raise ConflictError(_("The appointment time has passed; the booking can no longer be changed."))
    if slot.care_unit_id != current.care_unit_id or slot.pk == current.slot_id:
        raise ValidationError({"slot": _("Choose one of the times shown.")})
    target = Slot.objects.select_related("release").get(pk=slot.pk)
    why = (
        ""
        if actor.kind == ActorKind.STAFF and target.release is not None
        else slot_visible_to(target, current.patient.birth_date, now)
    )
    if why and target.booked:
        raise SlotTaken([target.pk])
    if why:
        raise ValidationError({"slot": why})
    dates = forecast_earliest([current.patient], target.appointment_type)
    if current.patient.pk in dates and timezone.localdate(target.starts_at) < dates[current.patient.pk][0]:
        raise ValidationError(
            {
                "slot": _("The next dose can be given from %(date)s at the earliest; choose a later time.")
                % {"date": dates[current.patient.pk][0].isoformat()}
            }
        )
    link_digest = current.token_hash
    current.status = BookingStatus.CANCELLED
    current.cancelled_at = now
    current.status_changed_at = now
    current.cancel_reason = _("Rebooked")[:200]
    current.token_hash = token_new()[1]
    current.save(update_fields=["status", "cancelled_at", "status_changed_at", "cancel_reason", "token_hash"])
    _release_slot(current.slot_id)
    try:
        with transaction.atomic():
            slot_id, resource_id, ends_at = _claim([target.pk], target.appointment_type, now)[target.pk]
            if slot_id != target.pk:
                # Taken meanwhile: another free slot of the same time, as in booking_create.
                target = copy.copy(target)
                target.pk, target.resource_id, target.ends_at = slot_id, resource_id, ends_at
            target.booked = True
            new = Booking.objects.create(
                slot=target,
                care_unit_id=current.care_unit_id,
                appointment_type_id=target.appointment_type_id,
                patient=current.patient,
                group=current.group,
                channel=current.channel,
                booked_by_identity=current.booked_by_identity,
                booked_by_user=actor.user or current.booked_by_user,
                contact_phone=current.contact_phone,
                contact_email=current.contact_email,
                language=current.language,
                token_hash=link_digest,
                created_at=now,
            )
    except IntegrityError as exc:
        raise SlotTaken([target.pk]) from exc
    current.replaced_by = new
    current.save(update_fields=["replaced_by"])
    _audit_update(actor, current, "rebook", replaced_by=str(new.pk))
    audit_event_record(
        actor=actor,
        action=Action.CREATE,
        patient=new.patient,
        object_type=BOOKING_OBJECT,
        object_id=str(new.pk),
        detail={"slot": target.pk, "replaces": str(current.pk)},
    )
    kind_id = current.appointment_type_id
    transaction.on_commit(lambda: _notify_waiting_list(kind_id))
    return new


def _mark(actor: Actor, booking: Booking, status: BookingStatus) -> Booking:
    current = _locked(booking)
    _require_staff_right(actor, current.care_unit_id)
    if current.status not in (BookingStatus.BOOKED, BookingStatus.ATTENDED, BookingStatus.NO_SHOW):
        raise ConflictError(_("This booking is no longer active."), code="not_active")
    if status == BookingStatus.NO_SHOW and current.slot.starts_at > timezone.now():
        raise ConflictError(_("A booking can be marked as no-show only after its time."))
    current.status = status
    current.status_changed_at = timezone.now()
    current.save(update_fields=["status", "status_changed_at"])
    _audit_update(actor, current, str(status))
    return current


@transaction.atomic
def booking_mark_no_show(*, actor: Actor, booking: Booking) -> Booking:
    return _mark(actor, booking, BookingStatus.NO_SHOW)


@transaction.atomic
def booking_mark_attended(*, actor: Actor, booking: Booking) -> Booking:
    return _mark(actor, booking, BookingStatus.ATTENDED)


# --- waiting list -------------------------------------------------------------------------------------


@transaction.atomic
def waiting_list_join(
    *, actor: Actor, appointment_type: AppointmentType, contact: Contact
) -> WaitingListEntry:
    """Put the identified person on the type's waiting list (once: joining again updates the contact)."""
    _require_bookable_type(actor, appointment_type)
    return _waiting_list_put(appointment_type, actor.identity, contact_clean(contact, required=True))


@transaction.atomic
def waiting_list_add(
    *, actor: Actor, appointment_type: AppointmentType, identifier: str, contact: Contact
) -> WaitingListEntry:
    """Staff put someone on the type's waiting list, e.g. a caller who found no free time: by personnummer
    or samordningsnummer, with a mobile number or e-mail address to tell them by. Logged for a registered
    patient."""
    _require_staff_right(actor, appointment_type.care_unit_id)
    errors: dict[str, str] = {}
    identity = ""
    try:
        parsed = parse_patient_identifier(identifier)
    except IdentifierError as exc:
        errors["identifier"] = exc.message(current_language())
    else:
        if parsed.kind in PERSONAL_NUMBER_KINDS:
            identity = parsed.value
        else:
            errors["identifier"] = _("Enter a personal identity number or a coordination number.")
    try:
        clean = contact_clean(contact, required=True)
    except ValidationError as exc:
        errors.update({field: " ".join(messages) for field, messages in exc.message_dict.items()})
    if errors:
        raise ValidationError(errors)
    entry = _waiting_list_put(appointment_type, identity, clean)
    audit_event_record(
        actor=actor,
        action=Action.CREATE,
        patient=Patient.objects.filter(identifier=identity).first(),
        object_type=WAITING_LIST_OBJECT,
        object_id=str(entry.pk),
        detail={"change": "add", "appointment_type": appointment_type.pk},
    )
    return entry


def _waiting_list_put(kind: AppointmentType, identity: str, clean: Contact) -> WaitingListEntry:
    """The person's open entry on the type's list with these contact details, created if there is none."""
    entry = (
        WaitingListEntry.objects.select_for_update()
        .filter(appointment_type=kind, identity=identity, ended_at__isnull=True)
        .first()
    )
    if entry is None:
        entry = WaitingListEntry(care_unit_id=kind.care_unit_id, appointment_type=kind, identity=identity)
    entry.contact_phone, entry.contact_email, entry.language = clean.phone, clean.email, clean.language
    entry.notified_at = None
    try:
        with transaction.atomic():
            entry.save()
    except IntegrityError as exc:
        # The same person joined twice at once: the first entry stands.
        raise ConflictError(_("You are already on the waiting list.")) from exc
    return entry


@transaction.atomic
def waiting_list_entry_end(*, actor: Actor, entry: WaitingListEntry, reason: str) -> WaitingListEntry:
    """Take someone off the unit's waiting list (staff, with the right to manage bookings): the entry is
    ended with who and why, never deleted. An entry already ended is refused, nothing changed."""
    _require_staff_right(actor, entry.care_unit_id)
    why = reason.strip()
    if not why:
        raise ValidationError({"reason": _("Say why the entry is ended.")})
    current = WaitingListEntry.objects.select_for_update().get(pk=entry.pk)
    if current.ended_at is not None:
        raise ConflictError(_("This entry has already been taken off the waiting list."), code="ended")
    current.ended_at = timezone.now()
    current.ended_by = actor.user
    current.end_reason = why[:200]
    current.save(update_fields=["ended_at", "ended_by", "end_reason"])
    patient = Patient.objects.filter(identifier=current.identity).first()
    audit_event_record(
        actor=actor,
        action=Action.UPDATE,
        patient=patient,
        object_type=WAITING_LIST_OBJECT,
        object_id=str(current.pk),
        detail={"change": "end", "reason": current.end_reason},
    )
    return current


@transaction.atomic
def waiting_list_notify_now(*, actor: Actor, appointment_type: AppointmentType) -> int:
    """Staff ask for the waiting list to be told now (as after a cancellation): the oldest untold entries,
    as many as there are free slots. Returns how many were told."""
    _require_staff_right(actor, appointment_type.care_unit_id)
    return waiting_list_notify(appointment_type=appointment_type)


def bookable_free(slots: QuerySet[Slot], moment: datetime) -> QuerySet[Slot]:
    """Those of `slots` anyone could book at `moment`: released, in the future, free."""
    return slots.filter(booked=False, withdrawn_at__isnull=True, starts_at__gt=moment).filter(
        Q(release__isnull=True) | Q(release__release_at__lte=moment)
    )


def free_slots(kind: AppointmentType, now: datetime | None = None) -> int:
    """How many slots of the type anyone could book now."""
    return bookable_free(Slot.objects.filter(appointment_type=kind), now or timezone.now()).count()


@transaction.atomic
def waiting_list_notify(*, appointment_type: AppointmentType) -> int:
    """Tell the oldest waiting entries (as many as there are free slots) that times are free. Each entry is
    told once (`notified_at`, under a row lock); returns how many were told.

    Someone who has booked a time of the type since joining is not told: their entry is ended first (by no
    one, reason `BOOKED_SINCE`). This is done here, where it costs nothing to the booking itself."""
    from django.conf import settings
    from django.urls import reverse
    from django.utils import translation

    from ympa.notify.services import email_queue, sms_queue

    booked_since = Booking.objects.filter(
        appointment_type=appointment_type,
        patient__identifier=OuterRef("identity"),
        created_at__gte=OuterRef("created_at"),
    ).exclude(status=BookingStatus.CANCELLED)
    WaitingListEntry.objects.filter(appointment_type=appointment_type, ended_at__isnull=True).filter(
        Exists(booked_since)
    ).update(ended_at=timezone.now(), end_reason=BOOKED_SINCE)
    free = free_slots(appointment_type)
    if free == 0:
        return 0
    entries = list(
        WaitingListEntry.objects.select_for_update(skip_locked=True)
        .filter(appointment_type=appointment_type, ended_at__isnull=True, notified_at__isnull=True)
        .order_by("created_at")[:free]
    )
    link = settings.PUBLIC_URL + reverse("public_booking:slots", args=[appointment_type.pk])
    now = timezone.now()
    for entry in entries:
        with translation.override(entry.language):
            body = _("Free times for %(type)s at %(unit)s can now be booked: %(link)s") % {
                "type": appointment_type.name,
                "unit": appointment_type.care_unit.name,
                "link": link,
            }
            if entry.contact_phone:
                sms_queue(to=entry.contact_phone, body=body, purpose="booking_waiting_list")
            else:
                email_queue(
                    to=entry.contact_email,
                    subject=_("Free times to book"),
                    body=body,
                    purpose="booking_waiting_list",
                )
        entry.notified_at = now
        entry.save(update_fields=["notified_at"])
    return len(entries)


# The confirmation's wording lives here with the rules; the task only calls it.
@transaction.atomic
def booking_confirmation_send(*, group: str) -> int:
    """Queue the confirmation of a group of bookings (e-mail with the calendar file, and/or SMS with the
    personal link, whose secret is derived again from the group's id). Idempotent: bookings already
    confirmed are skipped, under a row lock."""
    from django.conf import settings
    from django.urls import reverse
    from django.utils import translation

    from ympa.booking.ics import CalendarEvent, calendar
    from ympa.notify.services import email_queue, sms_queue

    bookings = list(
        Booking.objects.select_for_update(of=("self",))
        .filter(group=group, confirmation_sent_at__isnull=True, status=BookingStatus.BOOKED)
        .select_related("slot", "patient", "appointment_type", "care_unit")
        .order_by("slot__starts_at")
    )
    if not bookings:
        return 0
    first = bookings[0]
    base = group_secret_matching(first.group, {b.token_hash for b in bookings}, MAX_PERSONS)
    if base is None:
        # The secret key changed since booking and the old one is not among the fallbacks: the link could
        # not be computed, and a confirmation with a dead link would be worse than none.
        logger.error("booking group %s: no secret key gives its link; confirmation not sent", group)
        return 0
    link = settings.PUBLIC_URL + reverse("public_booking:manage", args=[base])
    now = timezone.now()
    with translation.override(first.language):
        lines = [
            f"{b.patient.given_name}: {timezone.localtime(b.slot.starts_at):%Y-%m-%d %H:%M}" for b in bookings
        ]
        place = ", ".join(
            x for x in (first.care_unit.name, first.care_unit.street_address, first.care_unit.city) if x
        )
        if first.contact_phone:
            sms_queue(
                to=first.contact_phone,
                body=_("Booked at %(unit)s: %(times)s. Cancel or rebook: %(link)s")
                % {"unit": first.care_unit.name, "times": "; ".join(lines), "link": link},
                purpose="booking_confirmation",
                patient=first.patient,
                secret=True,
            )
        if first.contact_email:
            events = [
                CalendarEvent(
                    uid=f"{b.pk}@ympa",
                    starts_at=b.slot.starts_at,
                    ends_at=b.slot.ends_at,
                    summary=f"{b.appointment_type.name}: {b.patient.given_name}",
                    location=place,
                    description=_("Cancel or rebook: %(link)s") % {"link": link},
                )
                for b in bookings
            ]
            email_queue(
                to=first.contact_email,
                subject=_("Your booking at %(unit)s") % {"unit": first.care_unit.name},
                body="\n".join(
                    [
                        _("Your booking is confirmed."),
                        "",
                        f"{first.appointment_type.name}, {place}",
                        *lines,
                        "",
                        _("Cancel or rebook: %(link)s") % {"link": link},
                    ]
                ),
                purpose="booking_confirmation",
                patient=first.patient,
                secret=True,
                attachment=("booking.ics", "text/calendar", calendar(events, now=now)),
            )
    Booking.objects.filter(pk__in=[b.pk for b in bookings]).update(confirmation_sent_at=now)
    return len(bookings)
