"""Reads for the unit's staff: the day's bookings, the bookings that must be rebooked, free slots, and the
booking statistics (aggregates only), and the waiting lists. Each is scoped to the actor's care unit."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from uuid import UUID

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncDate, TruncWeek
from django.utils import timezone

from ympa.booking.models import AppointmentType, Booking, BookingStatus, Slot, WaitingListEntry
from ympa.booking.services import BOOKED_SINCE, bookable_free
from ympa.core.actor import Actor
from ympa.patients.models import Patient


def _unit_id(actor: Actor) -> int | None:
    assignment = actor.assignment
    return assignment.care_unit_id if assignment is not None else None


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The local day as an aware half-open interval (a DST day is 23 or 25 hours long)."""
    zone = timezone.get_current_timezone()
    start = datetime.combine(day, time.min, tzinfo=zone)
    return start, datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)


def _listed(bookings: QuerySet[Booking]) -> QuerySet[Booking]:
    return bookings.select_related(
        "slot__resource", "appointment_type", "patient", "queue_entry", "replaced_by__slot"
    )


def day_bookings(*, actor: Actor, day: date) -> list[Booking]:
    """The unit's bookings with a time on the day, per resource and time; one query."""
    unit_id = _unit_id(actor)
    if unit_id is None:
        return []
    start, end = day_bounds(day)
    return list(
        _listed(
            Booking.objects.filter(care_unit_id=unit_id, slot__starts_at__gte=start, slot__starts_at__lt=end)
        ).order_by("slot__resource__name", "slot__starts_at", "created_at")
    )


def bookings_to_rebook(*, actor: Actor) -> list[Booking]:
    """Active bookings from today on whose slot staff withdrew: each must be moved to another time."""
    unit_id = _unit_id(actor)
    if unit_id is None:
        return []
    start, _end = day_bounds(timezone.localdate())
    return list(
        _listed(
            Booking.objects.filter(
                care_unit_id=unit_id,
                status=BookingStatus.BOOKED,
                slot__withdrawn_at__isnull=False,
                slot__starts_at__gte=start,
            )
        ).order_by("slot__starts_at")
    )


def booking_for_staff(*, actor: Actor, booking_id: UUID | str) -> Booking | None:
    unit_id = _unit_id(actor)
    if unit_id is None:
        return None
    return _listed(Booking.objects.filter(pk=booking_id, care_unit_id=unit_id)).first()


def rebook_choices(*, booking: Booking, after: datetime | None = None, limit: int = 40) -> list[Slot]:
    """Free slots of the booking's appointment type from now (or `after`) on, first first."""
    moment = max(after, timezone.now()) if after is not None else timezone.now()
    return list(
        Slot.objects.filter(
            appointment_type_id=booking.appointment_type_id,
            booked=False,
            withdrawn_at__isnull=True,
            starts_at__gt=moment,
        )
        .exclude(pk=booking.slot_id)
        .select_related("resource")
        .order_by("starts_at", "resource__name")[:limit]
    )


# --- statistics --------------------------------------------------------------------------------------


@dataclass
class StatsRow:
    period: date
    type_name: str
    made: int = 0
    appointments: int = 0
    cancelled: int = 0
    attended: int = 0
    no_show: int = 0

    @property
    def no_show_rate(self) -> float | None:
        """No-shows among the appointments that came due (attended or not); None before any did."""
        due = self.attended + self.no_show
        return self.no_show / due if due else None


@dataclass
class BookingStats:
    rows: list[StatsRow] = field(default_factory=list)
    periods: list[date] = field(default_factory=list)

    def totals(self) -> StatsRow:
        total = StatsRow(period=date.min, type_name="")
        for row in self.rows:
            total.made += row.made
            total.appointments += row.appointments
            total.cancelled += row.cancelled
            total.attended += row.attended
            total.no_show += row.no_show
        return total

    def per_period(self) -> list[StatsRow]:
        """All appointment types added up per period (the chart's bars)."""
        summed = {p: StatsRow(period=p, type_name="") for p in self.periods}
        for row in self.rows:
            target = summed[row.period]
            target.made += row.made
            target.appointments += row.appointments
            target.cancelled += row.cancelled
            target.attended += row.attended
            target.no_show += row.no_show
        return [summed[p] for p in self.periods]


def booking_stats(*, actor: Actor, start: date, end: date, weekly: bool = False) -> BookingStats:
    """Counts per day (or ISO week) and appointment type of the unit: bookings made (by the day they were
    made), and of the appointments in the period (by their day) how many were cancelled, attended and missed.

    Two queries, aggregated in the database; no patient is read.
    """
    unit_id = _unit_id(actor)
    if unit_id is None:
        return BookingStats()
    zone = timezone.get_current_timezone()
    first, _ = day_bounds(start)
    _, last = day_bounds(end)
    trunc = TruncWeek if weekly else TruncDate

    def period_of(value: date | datetime) -> date:
        return value.date() if isinstance(value, datetime) else value

    rows: dict[tuple[date, str], StatsRow] = {}

    def row(period: date, name: str) -> StatsRow:
        return rows.setdefault((period, name), StatsRow(period=period, type_name=name))

    made = (
        Booking.objects.filter(care_unit_id=unit_id, created_at__gte=first, created_at__lt=last)
        .annotate(period=trunc("created_at", tzinfo=zone))
        .values("period", "appointment_type__name")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for values in made:
        row(period_of(values["period"]), values["appointment_type__name"]).made = values["n"]
    # A rebooked appointment moved: it counts once, at its new time, not also as a cancellation.
    due = (
        Booking.objects.filter(
            care_unit_id=unit_id,
            slot__starts_at__gte=first,
            slot__starts_at__lt=last,
            replaced_by__isnull=True,
        )
        .annotate(period=trunc("slot__starts_at", tzinfo=zone))
        .values("period", "appointment_type__name")
        .annotate(
            n=Count("pk"),
            cancelled=Count("pk", filter=Q(status=BookingStatus.CANCELLED)),
            attended=Count("pk", filter=Q(status=BookingStatus.ATTENDED)),
            no_show=Count("pk", filter=Q(status=BookingStatus.NO_SHOW)),
        )
        .order_by()
    )
    for values in due:
        target = row(period_of(values["period"]), values["appointment_type__name"])
        target.appointments = values["n"]
        target.cancelled = values["cancelled"]
        target.attended = values["attended"]
        target.no_show = values["no_show"]
    periods = _periods(start, end, weekly)
    return BookingStats(rows=sorted(rows.values(), key=lambda r: (r.period, r.type_name)), periods=periods)


def _periods(start: date, end: date, weekly: bool) -> list[date]:
    """Every day (or every Monday of a week) in the range, so empty periods show as empty bars."""
    step = timedelta(days=7 if weekly else 1)
    current = start - timedelta(days=start.weekday()) if weekly else start
    periods = []
    while current <= end:
        periods.append(current)
        current += step
    return periods


# --- waiting list -------------------------------------------------------------------------------------


def _identity_display(value: str) -> str:
    """YYYYMMDD-NNNN for a personnummer or samordningsnummer, as the journal shows them."""
    return f"{value[:8]}-{value[8:]}" if len(value) == 12 and value.isdigit() else value


@dataclass(frozen=True)
class Waiting:
    """An open waiting-list entry as the unit's staff see it. `patient` is the registered patient with the
    entry's identity, if any (contact details are not shown for a protected identity); `booked_at` is when
    that person booked a time of the type after joining, if they did (the entry can then be ended)."""

    entry: WaitingListEntry
    position: int
    patient: Patient | None
    booked_at: datetime | None

    @property
    def identity_display(self) -> str:
        return _identity_display(self.entry.identity)

    @property
    def contact_hidden(self) -> bool:
        return self.patient is not None and self.patient.protected_identity


@dataclass(frozen=True)
class WaitingForType:
    appointment_type: AppointmentType
    free_slots: int
    waiting: list[Waiting]

    @property
    def untold(self) -> int:
        return sum(1 for w in self.waiting if w.entry.notified_at is None)


def waiting_lists(*, actor: Actor, now: datetime | None = None) -> list[WaitingForType]:
    """The unit's open waiting-list entries per appointment type, oldest first, with each type's bookable
    free slots. Four queries however long the lists are."""
    unit_id = _unit_id(actor)
    if unit_id is None:
        return []
    moment = now or timezone.now()
    entries = list(
        WaitingListEntry.objects.filter(care_unit_id=unit_id, ended_at__isnull=True)
        .select_related("appointment_type")
        .order_by("appointment_type__name", "appointment_type_id", "created_at")
    )
    if not entries:
        return []
    identities = {entry.identity for entry in entries}
    patients = _patients_with(entries)
    # The bookings of each (identity, type) made since the oldest entry joined; each entry takes its own.
    booked: dict[tuple[str, int], list[datetime]] = {}
    for identifier, kind_id, created in (
        Booking.objects.filter(
            care_unit_id=unit_id,
            patient__identifier__in=identities,
            appointment_type_id__in={entry.appointment_type_id for entry in entries},
            created_at__gte=min(entry.created_at for entry in entries),
        )
        .exclude(status=BookingStatus.CANCELLED)
        .values_list("patient__identifier", "appointment_type_id", "created_at")
    ):
        booked.setdefault((identifier, kind_id), []).append(created)
    free = dict(
        bookable_free(
            Slot.objects.filter(
                care_unit_id=unit_id, appointment_type_id__in={entry.appointment_type_id for entry in entries}
            ),
            moment,
        )
        .values("appointment_type_id")
        .annotate(n=Count("id"))
        .values_list("appointment_type_id", "n")
    )
    lists: list[WaitingForType] = []
    for entry in entries:
        if not lists or lists[-1].appointment_type.pk != entry.appointment_type_id:
            kind = entry.appointment_type
            lists.append(WaitingForType(appointment_type=kind, free_slots=free.get(kind.pk, 0), waiting=[]))
        since = [
            at for at in booked.get((entry.identity, entry.appointment_type_id), []) if at >= entry.created_at
        ]
        current = lists[-1]
        current.waiting.append(
            Waiting(
                entry=entry,
                position=len(current.waiting) + 1,
                patient=patients.get(entry.identity),
                booked_at=min(since) if since else None,
            )
        )
    return lists


# How far back the waiting-list page shows who was taken off the lists, and at most how many.
ENDED_SHOWN_DAYS = 14
ENDED_SHOWN = 50


@dataclass(frozen=True)
class Ended:
    """A waiting-list entry ended recently: by whom (None: automatically, see `booked_since`) and why."""

    entry: WaitingListEntry
    patient: Patient | None

    @property
    def identity_display(self) -> str:
        return _identity_display(self.entry.identity)

    @property
    def booked_since(self) -> bool:
        return self.entry.end_reason == BOOKED_SINCE and self.entry.ended_by_id is None


def waiting_ended(*, actor: Actor, now: datetime | None = None) -> list[Ended]:
    """The unit's entries taken off a waiting list in the last `ENDED_SHOWN_DAYS` days, newest first, so that
    no one leaves a list unseen. Two queries."""
    unit_id = _unit_id(actor)
    if unit_id is None:
        return []
    since = (now or timezone.now()) - timedelta(days=ENDED_SHOWN_DAYS)
    entries = list(
        WaitingListEntry.objects.filter(care_unit_id=unit_id, ended_at__gte=since)
        .select_related("appointment_type", "ended_by")
        .order_by("-ended_at")[:ENDED_SHOWN]
    )
    patients = _patients_with(entries)
    return [Ended(entry=entry, patient=patients.get(entry.identity)) for entry in entries]


def _patients_with(entries: list[WaitingListEntry]) -> dict[str, Patient]:
    """The registered patients with the entries' identities, by identifier (one query)."""
    if not entries:
        return {}
    return {p.identifier: p for p in Patient.objects.filter(identifier__in={e.identity for e in entries})}


def waiting_entry_for_staff(*, actor: Actor, entry_id: UUID) -> WaitingListEntry | None:
    unit_id = _unit_id(actor)
    if unit_id is None:
        return None
    return WaitingListEntry.objects.filter(pk=entry_id, care_unit_id=unit_id).first()
