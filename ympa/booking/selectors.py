"""Reads of the public booking pages: units, appointment types and free slots (no patient data), and the
identified person's family and bookings (patient data: every patient shown is a logged read)."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Exists, Min, OuterRef, Q, QuerySet
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from ympa.access.models import Action
from ympa.access.services import audit_event_build, audit_events_save
from ympa.booking.models import AppointmentType, Audience, Booking, BookingStatus, Slot
from ympa.booking.services import PERSONAL_NUMBER_KINDS, forecast_earliest, uses_booking
from ympa.booking.tokens import group_tokens, token_digest
from ympa.core.actor import Actor
from ympa.core.microcache import MicroCache
from ympa.orgs.models import CareUnit
from ympa.patients.models import Guardianship, Patient


def public_types() -> QuerySet[AppointmentType]:
    return AppointmentType.objects.filter(active=True, audience=Audience.PUBLIC)


def units_public(*, query: str = "") -> list[CareUnit]:
    """Units whose provider uses booking and that have public appointment types, by name or city."""
    units = (
        CareUnit.objects.filter(Exists(public_types().filter(care_unit=OuterRef("pk"))))
        .select_related("care_provider", "municipality")
        .order_by("name")
    )
    text = query.strip()
    if text:
        units = units.filter(
            Q(name__icontains=text) | Q(city__icontains=text) | Q(municipality__name__icontains=text)
        )
    # Modules are a JSON list; filtered here, the same on SQLite and PostgreSQL.
    return [unit for unit in units[:200] if uses_booking(unit)]


def unit_public(unit_id: int) -> tuple[CareUnit, list[AppointmentType]] | None:
    unit = CareUnit.objects.select_related("care_provider").filter(pk=unit_id).first()
    if unit is None or not uses_booking(unit):
        return None
    kinds: list[AppointmentType] = list(
        public_types()
        .filter(care_unit=unit)
        .prefetch_related("products")
        .annotate(free=Count("slots", filter=Q(slots__booked=False, slots__starts_at__gt=timezone.now())))
    )
    return (unit, kinds) if kinds else None


# The public pages' answers (a type, a week's free times, its rendered buttons), shared by this process's
# requests for `BOOKING_PUBLIC_CACHE_SECONDS`.
public_cache = MicroCache()


def _cached[T](key: Hashable, compute: Callable[[], T]) -> T:
    """`compute()`, kept for `BOOKING_PUBLIC_CACHE_SECONDS` in this process. When booking opens, a surge
    asks the same questions (this type, this week's free times) hundreds of times a second; a second-old
    answer is good enough, because booking itself claims the slot in the database and offers the next free
    times when it went meanwhile. Values are shared as they are: only immutable ones."""
    return public_cache.get_or_compute(key, settings.BOOKING_PUBLIC_CACHE_SECONDS, compute)


def public_cache_render(key: Hashable, template: str, context: dict[str, object]) -> SafeString:
    """A template rendered without a request (so nothing of the visitor's), kept like `_cached`."""
    return _cached(key, lambda: mark_safe(render_to_string(template, context)))  # noqa: S308 (rendered)


def type_public(type_id: int) -> AppointmentType | None:
    """A publicly bookable appointment type (staff-only and inactive ones do not exist here)."""

    def fetch() -> AppointmentType | None:
        kind = public_types().select_related("care_unit__care_provider").filter(pk=type_id).first()
        return kind if kind is not None and uses_booking(kind.care_unit) else None

    return _cached(f"booking:type:{type_id}", fetch)


def _visible(kind: AppointmentType, now: datetime) -> QuerySet[Slot]:
    return Slot.objects.filter(
        appointment_type=kind, booked=False, withdrawn_at__isnull=True, starts_at__gt=now
    ).filter(Q(release__isnull=True) | Q(release__release_at__lte=now))


def _age_band(slots: QuerySet[Slot], birth: date | None) -> QuerySet[Slot]:
    """Only slots whose release admits someone born on `birth` (ages on the slot's day, approximately by
    year here; the service checks the exact age)."""
    if birth is None:
        return slots
    years = timezone.localdate().year - birth.year
    return slots.filter(
        Q(release__isnull=True)
        | (
            (Q(release__min_age__isnull=True) | Q(release__min_age__lte=years + 1))
            & (Q(release__max_age__isnull=True) | Q(release__max_age__gte=years - 1))
        )
    )


@dataclass(frozen=True)
class FreeTime:
    """A time of day with at least one free slot: the visitor chooses a time, not a vaccinator or room.
    `pk` is one free slot of that time; if it goes meanwhile, booking takes another one of the same time."""

    pk: int
    starts_at: datetime
    free: int
    # "HH:MM" in Swedish time, formatted once here: a mass-vaccination week lists a thousand times.
    label: str


@dataclass(frozen=True)
class Day:
    day: date
    slots: tuple[FreeTime, ...]
    recommended: bool = False


def slot_week(
    kind: AppointmentType, *, start: date, birth: date | None = None, recommended: date | None = None
) -> tuple[Day, ...]:
    """The free times of seven days from `start`, per day (days without free times included). Grouped in the
    database: a mass-vaccination unit has thousands of slots a week, but a visitor sees each time once."""
    if birth is None:
        return _cached(
            f"booking:week:{kind.pk}:{start.isoformat()}:{recommended}",
            lambda: _slot_week(kind, start=start, birth=None, recommended=recommended),
        )
    return _slot_week(kind, start=start, birth=birth, recommended=recommended)


def _slot_week(
    kind: AppointmentType, *, start: date, birth: date | None, recommended: date | None
) -> tuple[Day, ...]:
    now = timezone.now()
    zone = timezone.get_current_timezone()
    first = datetime.combine(start, time.min, tzinfo=zone)
    times = (
        _age_band(_visible(kind, now), birth)
        .filter(starts_at__gte=first, starts_at__lt=first + timedelta(days=7))
        .values("starts_at")
        .annotate(first_id=Min("id"), free=Count("id"))
        .order_by("starts_at")
    )
    days: dict[date, list[FreeTime]] = {start + timedelta(days=i): [] for i in range(7)}
    for row in times:
        local = row["starts_at"].astimezone(zone)
        days.setdefault(local.date(), []).append(
            FreeTime(row["first_id"], row["starts_at"], row["free"], local.strftime("%H:%M"))
        )
    return tuple(Day(day, tuple(found), day == recommended) for day, found in days.items())


def next_free(
    kind: AppointmentType, *, after: datetime | None = None, count: int = 5, birth: date | None = None
) -> list[Slot]:
    """The next free slots of the type (from `after`, default now): the alternatives when one is taken."""
    now = timezone.now()
    return list(
        _age_band(_visible(kind, now), birth)
        .filter(starts_at__gte=max(after or now, now))
        .order_by("starts_at", "resource_id")[:count]
    )


@dataclass(frozen=True)
class FamilyMember:
    patient: Patient
    is_self: bool
    earliest: date | None = None
    recommended: date | None = None


def _log_reads(actor: Actor, patients: list[Patient], object_type: str) -> None:
    audit_events_save(
        [
            audit_event_build(
                actor=actor, action=Action.READ, patient=p, object_type=object_type, object_id=str(p.pk)
            )
            for p in patients
        ]
    )


@transaction.atomic
def booking_family(*, actor: Actor, kind: AppointmentType) -> list[FamilyMember]:
    """The identified person (if registered) and their minor children (active guardianship), with the
    stored forecast's dates for the type's vaccine group; each patient shown is a logged read."""
    me = Patient.objects.filter(identifier_kind__in=PERSONAL_NUMBER_KINDS, identifier=actor.identity).first()
    children: list[Patient] = []
    if me is not None:
        today = timezone.localdate()
        children = [
            g.child
            for g in Guardianship.objects.filter(guardian=me, ended_at__isnull=True).select_related("child")
            if g.child.is_minor(today) and g.child.deceased_on is None
        ]
    patients = ([me] if me is not None else []) + sorted(children, key=lambda p: p.given_name)
    dates = forecast_earliest(patients, kind)
    _log_reads(actor, patients, "booking.family")
    return [FamilyMember(p, p is me, *(dates.get(p.pk) or (None, None))) for p in patients]


@dataclass(frozen=True)
class LinkedBooking:
    booking: Booking
    token: str


@transaction.atomic
def bookings_by_link(*, token: str) -> tuple[Booking, list[LinkedBooking]] | None:
    """The booking a personal link opens and the active bookings made with it (a family booked together),
    each with its own link; the read is logged per patient, as the person who booked."""
    digest = token_digest(token)
    booking = (
        Booking.objects.filter(token_hash=digest)
        .select_related("slot", "patient", "appointment_type", "care_unit__care_provider")
        .first()
    )
    if booking is None:
        return None
    base = token.split(".", 1)[0]
    group = list(
        Booking.objects.filter(group=booking.group)
        .exclude(status=BookingStatus.CANCELLED)
        .select_related("slot", "patient", "appointment_type", "care_unit")
        .order_by("slot__starts_at")
    )
    by_digest = {token_digest(t): t for t in group_tokens(base, len(group) + _cancelled(booking.group))}
    linked = [LinkedBooking(b, by_digest[b.token_hash]) for b in group if b.token_hash in by_digest]
    if booking.status == BookingStatus.CANCELLED:
        linked = [LinkedBooking(booking, token), *linked]
    actor = Actor.citizen(booking.booked_by_identity or booking.patient.identifier, "")
    _log_reads(actor, [item.booking.patient for item in linked], "booking.booking")
    return booking, linked


def _cancelled(group: UUID) -> int:
    return Booking.objects.filter(group=group, status=BookingStatus.CANCELLED).count()
