"""Reads of a unit's schedule, and the rule for which slots the public sees.

How visibility works. A slot is offered to the public (`slots_public_filter`) when it starts after `now`,
is neither booked nor withdrawn, its appointment type and resource are in use, the type is open to the
public (`Audience.PUBLIC`), and either it belongs to no release or its release's `release_at` has passed.
A released slot is further limited to an age band: the person's age on the day of the appointment must lie
within the release's `min_age` and `max_age` (inclusive, either may be empty). Check one slot with
`release_admits(slot.release, birth_date, day)`, or narrow a queryset for one person with
`slots_for_birth_date_filter`. Staff (reception) may book any free slot: `slots_free_filter`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from ympa.booking.models import (
    AppointmentType,
    Audience,
    BookingStatus,
    DeclarationForm,
    OpeningException,
    OpeningHours,
    Resource,
    Slot,
    SlotRelease,
)
from ympa.booking.schedule import local_moment
from ympa.core.dates import SWEDEN
from ympa.orgs.models import CareUnit


def slots_free_filter(queryset: QuerySet[Slot], now: datetime) -> QuerySet[Slot]:
    """Slots that start after `now` and are neither booked nor withdrawn."""
    return queryset.filter(starts_at__gt=now, booked=False, withdrawn_at__isnull=True)


def slots_public_filter(queryset: QuerySet[Slot], now: datetime) -> QuerySet[Slot]:
    """The free slots the public may see at `now`: see the module's docstring. Age bands are not applied
    here (the person is not known yet); use `slots_for_birth_date_filter` or `release_admits` for that."""
    return slots_free_filter(queryset, now).filter(
        Q(release__isnull=True) | Q(release__release_at__lte=now),
        appointment_type__active=True,
        appointment_type__audience=Audience.PUBLIC,
        resource__active=True,
    )


def age_on(birth_date: date, day: date) -> int:
    """Age in whole years on `day` (someone born on 29 February turns a year older on 1 March)."""
    return day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))


def _turns(birth_date: date, years: int) -> date:
    """The first day on which the person is `years` old."""
    try:
        return birth_date.replace(year=birth_date.year + years)
    except ValueError:
        return date(birth_date.year + years, 3, 1)


def release_admits(release: SlotRelease | None, birth_date: date, day: date) -> bool:
    """Whether a person born on `birth_date` is within the release's age band on `day`, the appointment's
    day in Swedish time. A slot without a release admits everyone."""
    if release is None:
        return True
    age = age_on(birth_date, day)
    return (release.min_age is None or age >= release.min_age) and (
        release.max_age is None or age <= release.max_age
    )


def slots_for_birth_date_filter(
    queryset: QuerySet[Slot], birth_date: date, releases: Iterable[SlotRelease]
) -> QuerySet[Slot]:
    """Narrow `queryset` to the slots a person born on `birth_date` may book by age: slots without a
    release, and slots of `releases` on the days the person's age is within the release's band. Pass the
    releases the queryset may contain (e.g. the unit's releases of the appointment type)."""
    allowed = Q(release__isnull=True)
    for release in releases:
        band = Q(release=release)
        if release.min_age is not None:
            band &= Q(starts_at__gte=local_moment(_turns(birth_date, release.min_age), time.min))
        if release.max_age is not None:
            band &= Q(starts_at__lt=local_moment(_turns(birth_date, release.max_age + 1), time.min))
        allowed |= band
    return queryset.filter(allowed)


def slots_to_rebook(*, care_unit: CareUnit) -> QuerySet[Slot]:
    """Withdrawn slots that still hold an active booking: the booking must be moved to another slot."""
    return (
        Slot.objects.filter(care_unit=care_unit, withdrawn_at__isnull=False, booked=True)
        .filter(bookings__status=BookingStatus.BOOKED)
        .select_related("resource", "appointment_type")
        .order_by("starts_at")
        .distinct()
    )


def unit_resources(*, care_unit: CareUnit, active_only: bool = False) -> QuerySet[Resource]:
    resources = Resource.objects.filter(care_unit=care_unit)
    return resources.filter(active=True) if active_only else resources.order_by("-active", "name")


def unit_appointment_types(*, care_unit: CareUnit, active_only: bool = False) -> QuerySet[AppointmentType]:
    kinds = (
        AppointmentType.objects.filter(care_unit=care_unit)
        .select_related("declaration_form")
        .prefetch_related("products")
    )
    return kinds.filter(active=True) if active_only else kinds.order_by("-active", "name")


def unit_opening_hours(*, care_unit: CareUnit) -> QuerySet[OpeningHours]:
    return OpeningHours.objects.filter(care_unit=care_unit).order_by("weekday", "opens")


def unit_exceptions(*, care_unit: CareUnit, since: date) -> QuerySet[OpeningException]:
    return OpeningException.objects.filter(care_unit=care_unit, day__gte=since).order_by("day", "opens")


def declaration_forms_in_use(*, care_unit: CareUnit) -> QuerySet[DeclarationForm]:
    """The unit's health declaration forms that are not retired, for an appointment type to use."""
    return DeclarationForm.objects.filter(care_unit=care_unit, retired_at__isnull=True).order_by("name")


@dataclass
class DayCounts:
    day: date
    total: int = 0
    booked: int = 0

    @property
    def free(self) -> int:
        return self.total - self.booked

    @property
    def booked_percent(self) -> int:
        return round(100 * self.booked / self.total) if self.total else 0


@dataclass
class ResourceWeek:
    resource: Resource
    days: list[DayCounts] = field(default_factory=list)


@dataclass
class Week:
    monday: date
    days: list[date]
    rows: list[ResourceWeek]
    totals: list[DayCounts]


def schedule_week(*, care_unit: CareUnit, monday: date) -> Week:
    """The unit's slots (not withdrawn) in the week from `monday`, counted per resource and Swedish day:
    total, booked and free. One query for the counts, one for the resources."""
    days = [monday + timedelta(days=i) for i in range(7)]
    counts = (
        Slot.objects.filter(
            care_unit=care_unit,
            withdrawn_at__isnull=True,
            starts_at__gte=local_moment(monday, time.min),
            starts_at__lt=local_moment(monday + timedelta(days=7), time.min),
        )
        .annotate(day=TruncDate("starts_at", tzinfo=SWEDEN))
        .values("resource_id", "day")
        .annotate(total=Count("id"), booked=Count("id", filter=Q(booked=True)))
        .order_by()
    )
    by_key = {(row["resource_id"], row["day"]): row for row in counts}
    with_slots = {resource_id for resource_id, _day in by_key}
    rows: list[ResourceWeek] = []
    totals = [DayCounts(day) for day in days]
    for resource in Resource.objects.filter(care_unit=care_unit).order_by("name"):
        if not resource.active and resource.pk not in with_slots:
            continue
        week = ResourceWeek(resource)
        for i, day in enumerate(days):
            row = by_key.get((resource.pk, day), {"total": 0, "booked": 0})
            week.days.append(DayCounts(day, row["total"], row["booked"]))
            totals[i].total += row["total"]
            totals[i].booked += row["booked"]
        rows.append(week)
    return Week(monday=monday, days=days, rows=rows, totals=totals)


def day_slots(*, resource: Resource, day: date) -> DayCounts:
    """A resource's slots on one Swedish day that have not started and are not withdrawn: what withdrawing
    the day would take out of offer, and how many of them are booked."""
    counts = Slot.objects.filter(
        resource=resource,
        withdrawn_at__isnull=True,
        starts_at__gte=max(timezone.now(), local_moment(day, time.min)),
        starts_at__lt=local_moment(day + timedelta(days=1), time.min),
    ).aggregate(total=Count("id"), booked=Count("id", filter=Q(booked=True)))
    return DayCounts(day, counts["total"], counts["booked"])


def unit_releases(*, care_unit: CareUnit) -> QuerySet[SlotRelease]:
    """The unit's slot releases, latest first, each with its slots counted: `total`, `booked`,
    `withdrawn` and `free` (annotations)."""
    return (
        SlotRelease.objects.filter(care_unit=care_unit)
        .select_related("appointment_type")
        .annotate(
            total=Count("slots"),
            booked=Count("slots", filter=Q(slots__booked=True)),
            withdrawn=Count("slots", filter=Q(slots__withdrawn_at__isnull=False)),
            free=Count("slots", filter=Q(slots__booked=False, slots__withdrawn_at__isnull=True)),
        )
        .order_by("-release_at", "-pk")
    )
