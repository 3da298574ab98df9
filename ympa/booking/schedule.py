"""Schedules: a care unit's resources, appointment types, opening hours and their exceptions, slot
generation in bulk, slot releases and withdrawal.

Who may change a schedule: a staff member whose active assignment at the unit carries the right to
administer the care unit, at a care provider that uses the booking module. A system actor (the demo, the
synthetic data, a benchmark) has no assignment: it names the unit (`care_unit=` on the services that create
something; otherwise the unit of the object it changes) and is trusted for any unit that uses booking.

Times are the unit's local time, Swedish time: a period "08:00-12:00" on the last Sunday of March starts at
06:00 UTC, on the Sunday before at 07:00 UTC. Slots are laid out in real time from the period's start, so
a period across the night's clock change holds as many slots as it really lasts.

Visibility to the public is decided by `ympa.booking.schedule_selectors.slots_public_filter`.
"""

from __future__ import annotations

import bisect
import itertools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.dates import WEEKDAYS
from django.utils.formats import time_format
from django.utils.translation import gettext as _

from ympa.booking.models import (
    AppointmentType,
    Audience,
    DeclarationForm,
    OpeningException,
    OpeningHours,
    Resource,
    ResourceKind,
    Slot,
    SlotRelease,
)
from ympa.catalog.models import Product
from ympa.core.actor import Actor, ActorKind
from ympa.core.dates import SWEDEN
from ympa.core.errors import ConflictError, NotPermitted
from ympa.orgs.models import CareUnit, Module
from ympa.orgs.rights import Right

MAX_DAYS = 366
MAX_DURATION_MINUTES = 480
MAX_PRICE_SEK = 100_000
MAX_AGE = 130
# Rows per executemany call: bounds the memory of one call.
BATCH_SIZE = 2_000


def uses_booking(unit: CareUnit) -> bool:
    """Whether the unit's care provider uses the booking module."""
    return Module.BOOKING.value in (unit.care_provider.modules or [])


def _unit_of(actor: Actor, care_unit: CareUnit | None = None) -> CareUnit:
    """The unit whose schedule the actor may change: its assignment's unit (which must be `care_unit` when
    given), or for a system actor the unit it names. Raises NotPermitted otherwise."""
    if actor.kind == ActorKind.SYSTEM:
        if care_unit is None:
            raise NotPermitted(_("Say which care unit's schedule to change."))
        unit = care_unit
    else:
        assignment = actor.assignment
        if (
            actor.kind != ActorKind.STAFF
            or actor.user is None
            or assignment is None
            or assignment.care_unit is None
            or not assignment.is_active()
        ):
            raise NotPermitted(_("Choose an active assignment at a care unit first."))
        if not assignment.has_right(Right.ADMINISTER_UNIT):
            raise NotPermitted(
                _("Your assignment does not include the right: %(right)s.")
                % {"right": Right.ADMINISTER_UNIT.label}
            )
        unit = assignment.care_unit
        if care_unit is not None and care_unit.pk != unit.pk:
            raise NotPermitted(_("This belongs to another care unit's schedule."))
    if not uses_booking(unit):
        raise NotPermitted(_("Your care provider does not use booking in Ympa."))
    return unit


def local_moment(day: date, at: time) -> datetime:
    """`at` on `day` in Swedish time, as an aware datetime in UTC. A wall time that does not exist (inside
    the hour skipped in March) counts as the moment that many minutes after the change."""
    return datetime.combine(day, at, tzinfo=SWEDEN).astimezone(UTC)


def _hhmm(value: time) -> str:
    return time_format(value, "H:i")


def weekday_name(weekday: int) -> str:
    """The weekday's name (Monday 0 … Sunday 6) in the active language, from Django's own catalogue."""
    return str(WEEKDAYS[weekday]) if 0 <= weekday <= 6 else str(weekday)


# Resources


def _resource_fields(unit: CareUnit, name: str, kind: str, exclude: int | None) -> tuple[str, str]:
    errors: dict[str, str] = {}
    name = name.strip()
    if not name:
        errors["name"] = _("Enter a name.")
    elif len(name) > 100:
        errors["name"] = _("The name is too long (at most %(max)d characters).") % {"max": 100}
    elif Resource.objects.filter(care_unit=unit, name=name).exclude(pk=exclude or 0).exists():
        errors["name"] = _("The unit already has a resource with this name.")
    if kind not in ResourceKind.values:
        errors["kind"] = _("Choose a vaccinator or a room.")
    if errors:
        raise ValidationError(errors)
    return name, kind


@transaction.atomic
def resource_create(
    *, actor: Actor, name: str, kind: str = ResourceKind.VACCINATOR, care_unit: CareUnit | None = None
) -> Resource:
    unit = _unit_of(actor, care_unit)
    name, kind = _resource_fields(unit, name, kind, None)
    return Resource.objects.create(care_unit=unit, name=name, kind=kind)


def _locked_resource(actor: Actor, resource: Resource) -> Resource:
    _unit_of(actor, resource.care_unit)
    return Resource.objects.select_for_update().select_related("care_unit").get(pk=resource.pk)


@transaction.atomic
def resource_update(
    *, actor: Actor, resource: Resource, name: str, kind: str, active: bool | None = None
) -> Resource:
    """Rename a resource or change its kind; `active=True` takes a deactivated resource into use again."""
    resource = _locked_resource(actor, resource)
    resource.name, resource.kind = _resource_fields(resource.care_unit, name, kind, resource.pk)
    if active is not None:
        resource.active = active
    resource.save(update_fields=["name", "kind", "active"])
    return resource


@transaction.atomic
def resource_deactivate(*, actor: Actor, resource: Resource) -> Resource:
    """Take a resource out of use: no new slots are generated for it and its free slots are no longer
    offered to the public. Existing slots and bookings stay."""
    resource = _locked_resource(actor, resource)
    if not resource.active:
        raise ConflictError(_("The resource is already out of use."))
    resource.active = False
    resource.save(update_fields=["active"])
    return resource


# Appointment types


@dataclass(frozen=True)
class AppointmentTypeDetails:
    """What staff choose for an appointment type."""

    name: str
    duration_minutes: int = 10
    products: Sequence[Product] = ()
    price_sek: int = 0
    audience: str = Audience.PUBLIC
    # The forecast's vaccine group for the second-dose interval (e.g. "COVID-19"); empty: none.
    vaccine_group: str = ""
    declaration_form: DeclarationForm | None = None


def vaccine_group_names(unit: CareUnit) -> list[str]:
    """The vaccine groups of the care provider's schedule set (the forecast engine's names)."""
    from ympa.journal.decision import data_for_key
    from ympa.journal.forecasts import schedule_key

    return sorted(data_for_key(schedule_key(unit.care_provider)).vaccine_groups)


def _type_fields(
    unit: CareUnit, details: AppointmentTypeDetails, current: AppointmentType | None
) -> AppointmentTypeDetails:
    errors: dict[str, str] = {}
    name = details.name.strip()
    if not name:
        errors["name"] = _("Enter a name.")
    elif len(name) > 100:
        errors["name"] = _("The name is too long (at most %(max)d characters).") % {"max": 100}
    elif (
        AppointmentType.objects.filter(care_unit=unit, name=name)
        .exclude(pk=current.pk if current else 0)
        .exists()
    ):
        errors["name"] = _("The unit already has an appointment type with this name.")
    if not 1 <= details.duration_minutes <= MAX_DURATION_MINUTES:
        errors["duration_minutes"] = _("The duration must be between 1 and %(max)d minutes.") % {
            "max": MAX_DURATION_MINUTES
        }
    if not 0 <= details.price_sek <= MAX_PRICE_SEK:
        errors["price_sek"] = _("The price must be between 0 and %(max)d kronor.") % {"max": MAX_PRICE_SEK}
    if details.audience not in Audience.values:
        errors["audience"] = _("Choose who may book.")
    group = details.vaccine_group.strip()
    if group and group not in vaccine_group_names(unit):
        errors["vaccine_group"] = _("Choose a vaccine group of the care provider's vaccination schedules.")
    form = details.declaration_form
    if form is not None:
        kept = current is not None and current.declaration_form_id == form.pk
        if form.care_unit_id != unit.pk:
            errors["declaration_form"] = _("Choose one of the unit's health declaration forms.")
        elif form.retired_at is not None and not kept:
            errors["declaration_form"] = _("This health declaration form is retired; choose one in use.")
    if errors:
        raise ValidationError(errors)
    return AppointmentTypeDetails(
        name=name,
        duration_minutes=details.duration_minutes,
        products=list(details.products),
        price_sek=details.price_sek,
        audience=details.audience,
        vaccine_group=group,
        declaration_form=form,
    )


@transaction.atomic
def appointment_type_create(
    *, actor: Actor, details: AppointmentTypeDetails, care_unit: CareUnit | None = None
) -> AppointmentType:
    unit = _unit_of(actor, care_unit)
    clean = _type_fields(unit, details, None)
    kind = AppointmentType.objects.create(
        care_unit=unit,
        name=clean.name,
        duration_minutes=clean.duration_minutes,
        price_sek=clean.price_sek,
        audience=clean.audience,
        vaccine_group=clean.vaccine_group,
        declaration_form=clean.declaration_form,
    )
    kind.products.set(clean.products)
    return kind


@transaction.atomic
def appointment_type_update(
    *,
    actor: Actor,
    appointment_type: AppointmentType,
    details: AppointmentTypeDetails,
    active: bool | None = None,
) -> AppointmentType:
    """Change an appointment type. Slots already generated keep their times; a new duration applies to
    slots generated from now on. `active=True` takes a deactivated type into use again."""
    _unit_of(actor, appointment_type.care_unit)
    kind = AppointmentType.objects.select_for_update().select_related("care_unit").get(pk=appointment_type.pk)
    clean = _type_fields(kind.care_unit, details, kind)
    kind.name = clean.name
    kind.duration_minutes = clean.duration_minutes
    kind.price_sek = clean.price_sek
    kind.audience = clean.audience
    kind.vaccine_group = clean.vaccine_group
    kind.declaration_form = clean.declaration_form
    if active is not None:
        kind.active = active
    kind.save()
    kind.products.set(clean.products)
    return kind


@transaction.atomic
def appointment_type_deactivate(*, actor: Actor, appointment_type: AppointmentType) -> AppointmentType:
    """Stop offering an appointment type: its free slots are no longer offered and no new ones are
    generated. Bookings already made stay."""
    _unit_of(actor, appointment_type.care_unit)
    kind = AppointmentType.objects.select_for_update().select_related("care_unit").get(pk=appointment_type.pk)
    if not kind.active:
        raise ConflictError(_("The appointment type is already out of use."))
    kind.active = False
    kind.save(update_fields=["active"])
    return kind


# Opening hours and exceptions


@dataclass(frozen=True)
class Period:
    """A weekly opening period: weekday (Monday 0 … Sunday 6), opening and closing time, drop-in or not."""

    weekday: int
    opens: time
    closes: time
    drop_in: bool = False


def _overlaps(periods: Iterable[tuple[time, time]]) -> tuple[tuple[time, time], tuple[time, time]] | None:
    """The first two periods that overlap (touching is fine), in order of opening."""
    ordered = sorted(periods)
    for before, after in itertools.pairwise(ordered):
        if after[0] < before[1]:
            return before, after
    return None


@transaction.atomic
def opening_hours_set(
    *, actor: Actor, periods: Sequence[Period], care_unit: CareUnit | None = None
) -> list[OpeningHours]:
    """Replace the unit's weekly opening periods with `periods`. Slots already generated stay."""
    unit = _unit_of(actor, care_unit)
    problems: list[str] = []
    by_day: dict[int, list[tuple[time, time]]] = defaultdict(list)
    for period in periods:
        if not 0 <= period.weekday <= 6:
            problems.append(_("Choose a weekday from Monday to Sunday."))
            continue
        day = weekday_name(period.weekday)
        if period.closes <= period.opens:
            problems.append(
                _("%(day)s: the closing time must be after the opening time (%(opens)s-%(closes)s).")
                % {"day": day, "opens": _hhmm(period.opens), "closes": _hhmm(period.closes)}
            )
            continue
        by_day[period.weekday].append((period.opens, period.closes))
    for weekday in sorted(by_day):
        clash = _overlaps(by_day[weekday])
        if clash is not None:
            problems.append(
                _("%(day)s: the periods %(first)s and %(second)s overlap.")
                % {
                    "day": weekday_name(weekday),
                    "first": f"{_hhmm(clash[0][0])}-{_hhmm(clash[0][1])}",
                    "second": f"{_hhmm(clash[1][0])}-{_hhmm(clash[1][1])}",
                }
            )
    if problems:
        raise ValidationError({"periods": problems})
    OpeningHours.objects.filter(care_unit=unit).delete()
    return OpeningHours.objects.bulk_create(
        OpeningHours(care_unit=unit, weekday=p.weekday, opens=p.opens, closes=p.closes, drop_in=p.drop_in)
        for p in sorted(periods, key=lambda p: (p.weekday, p.opens))
    )


@transaction.atomic
def opening_exception_add(
    *,
    actor: Actor,
    day: date,
    closed: bool,
    opens: time | None = None,
    closes: time | None = None,
    note: str = "",
    care_unit: CareUnit | None = None,
) -> OpeningException:
    """A day that differs from the weekly hours: closed, or open at other times (several periods of a day
    are several exceptions). A day is either closed or has other hours, not both."""
    unit = _unit_of(actor, care_unit)
    errors: dict[str, str] = {}
    note = note.strip()
    if len(note) > 200:
        errors["note"] = _("The note is too long (at most %(max)d characters).") % {"max": 200}
    same_day = list(OpeningException.objects.select_for_update().filter(care_unit=unit, day=day))
    if closed:
        opens = closes = None
        if same_day:
            errors["day"] = _("The day already has an exception; remove it first.")
    else:
        if opens is None:
            errors["opens"] = _("Enter the opening time.")
        if closes is None:
            errors["closes"] = _("Enter the closing time.")
        if opens is not None and closes is not None:
            if closes <= opens:
                errors["closes"] = _("The closing time must be after the opening time.")
            elif any(e.closed for e in same_day):
                errors["day"] = _("The day is already marked closed; remove that first.")
            elif _overlaps(
                [(opens, closes)] + [(e.opens, e.closes) for e in same_day if e.opens and e.closes]
            ):
                errors["opens"] = _("These hours overlap other hours of the same day.")
    if errors:
        raise ValidationError(errors)
    return OpeningException.objects.create(
        care_unit=unit, day=day, closed=closed, opens=opens, closes=closes, note=note
    )


@transaction.atomic
def opening_exception_remove(*, actor: Actor, exception: OpeningException) -> None:
    _unit_of(actor, exception.care_unit)
    OpeningException.objects.filter(pk=exception.pk).delete()


# Slot generation


@dataclass(frozen=True)
class UnitHours:
    """A unit's opening hours for slot generation, read once."""

    weekly: dict[int, list[tuple[time, time]]] = field(default_factory=dict)
    # None: closed that day; a list: the day's other hours.
    exceptions: dict[date, list[tuple[time, time]] | None] = field(default_factory=dict)

    def periods(self, day: date) -> list[tuple[time, time]]:
        if day in self.exceptions:
            return self.exceptions[day] or []
        return self.weekly.get(day.weekday(), [])


def unit_hours(unit: CareUnit, start: date, end: date) -> UnitHours:
    """The bookable (not drop-in) weekly periods and the exceptions between `start` and `end`."""
    weekly: dict[int, list[tuple[time, time]]] = defaultdict(list)
    for row in OpeningHours.objects.filter(care_unit=unit, drop_in=False).order_by("weekday", "opens"):
        weekly[row.weekday].append((row.opens, row.closes))
    exceptions: dict[date, list[tuple[time, time]] | None] = {}
    for exc in OpeningException.objects.filter(care_unit=unit, day__range=(start, end)).order_by("opens"):
        if exc.closed or exc.opens is None or exc.closes is None:
            exceptions[exc.day] = None
        elif exceptions.get(exc.day, []) is not None:
            exceptions.setdefault(exc.day, []).append((exc.opens, exc.closes))  # type: ignore[union-attr]
    return UnitHours(weekly=dict(weekly), exceptions=exceptions)


def _generate(
    appointment_type: AppointmentType,
    resources: Sequence[Resource],
    start: date,
    end: date,
    release: SlotRelease | None = None,
) -> int:
    """Create the slots of `appointment_type` for each resource and each day from `start` to `end`, inside
    the unit's bookable opening periods. No rights are checked: the services below and trusted callers
    (demo, synthetic data, benchmarks) call it inside their transaction.

    A slot is skipped when it would overlap one the resource already has (the unique constraint on
    resource and start backs this up against concurrent generation), so generating twice creates
    nothing the second time. Returns the number of slots created.
    """
    unit = appointment_type.care_unit
    hours = unit_hours(unit, start, end)
    step = timedelta(minutes=appointment_type.duration_minutes)
    resource_ids = [r.pk for r in resources]
    window_start, window_end = local_moment(start, time.min), local_moment(end + timedelta(days=1), time.min)
    taken: dict[int, tuple[list[datetime], list[datetime]]] = {pk: ([], []) for pk in resource_ids}
    for resource_id, starts_at, ends_at in (
        Slot.objects.filter(resource_id__in=resource_ids, starts_at__lt=window_end, ends_at__gt=window_start)
        .order_by("starts_at")
        .values_list("resource_id", "starts_at", "ends_at")
    ):
        taken[resource_id][0].append(starts_at)
        taken[resource_id][1].append(ends_at)

    def free(resource_id: int, begins: datetime, ends: datetime) -> bool:
        starts, stops = taken[resource_id]
        # The existing slot that starts last before `ends` is the only one that may overlap, because a
        # resource's slots never overlap each other.
        i = bisect.bisect_left(starts, ends) - 1
        return i < 0 or stops[i] <= begins

    adapt = transaction.get_connection().ops.adapt_datetimefield_value
    release_id = release.pk if release is not None else None
    rows: list[tuple[object, ...]] = []
    day = start
    while day <= end:
        for opens, closes in hours.periods(day):
            begins, period_end = local_moment(day, opens), local_moment(day, closes)
            while begins + step <= period_end:
                ends = begins + step
                for resource_id in resource_ids:
                    if free(resource_id, begins, ends):
                        rows.append(
                            (
                                unit.pk,
                                appointment_type.pk,
                                resource_id,
                                adapt(begins),
                                adapt(ends),
                                release_id,
                            )
                        )
                begins = ends
        day += timedelta(days=1)
    return _insert_slots(rows)


def _insert_slots(rows: list[tuple[object, ...]]) -> int:
    """Insert slot rows (unit, type, resource, starts, ends, release), skipping any whose resource and
    start already exist; returns how many were inserted.

    Written out instead of `bulk_create`: building and compiling 10,000 model instances costs most of a
    second, one prepared statement run many times a tenth of that, and its row count is exact.
    """
    if not rows:
        return 0
    connection = transaction.get_connection()
    table = connection.ops.quote_name(Slot._meta.db_table)
    sql = (
        f"INSERT INTO {table} "  # noqa: S608 - table name from the model, values bound
        "(care_unit_id, appointment_type_id, resource_id, starts_at, ends_at, release_id, booked, "
        "withdrawn_at) VALUES (%s, %s, %s, %s, %s, %s, %s, NULL) "
        "ON CONFLICT (resource_id, starts_at) DO NOTHING"
    )
    inserted = 0
    with connection.cursor() as cursor:
        for first in range(0, len(rows), BATCH_SIZE):
            cursor.executemany(sql, [(*row, False) for row in rows[first : first + BATCH_SIZE]])
            inserted += max(cursor.rowcount, 0)
    return inserted


def _generation_args(
    unit: CareUnit, appointment_type: AppointmentType, resources: Sequence[Resource], start: date, end: date
) -> None:
    errors: dict[str, str] = {}
    if appointment_type.care_unit_id != unit.pk or not appointment_type.active:
        errors["appointment_type"] = _("Choose one of the unit's appointment types in use.")
    if not resources:
        errors["resources"] = _("Choose at least one resource.")
    elif any(r.care_unit_id != unit.pk or not r.active for r in resources):
        errors["resources"] = _("Choose among the unit's resources in use.")
    if end < start:
        errors["end"] = _("The last day must not be before the first day.")
    elif (end - start).days + 1 > MAX_DAYS:
        errors["end"] = _("Generate at most %(days)d days at a time.") % {"days": MAX_DAYS}
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def slots_generate(
    *,
    actor: Actor,
    appointment_type: AppointmentType,
    resources: Sequence[Resource],
    start: date,
    end: date,
    release: SlotRelease | None = None,
) -> int:
    """Generate slots of `appointment_type` for `resources` from `start` to `end` (both included) in the
    unit's bookable opening hours; see `_generate`. Returns the number of slots created."""
    unit = _unit_of(actor, appointment_type.care_unit)
    _generation_args(unit, appointment_type, resources, start, end)
    if release is not None and (
        release.care_unit_id != unit.pk or release.appointment_type_id != appointment_type.pk
    ):
        raise ValidationError({"release": _("The release belongs to another appointment type.")})
    return _generate(appointment_type, resources, start, end, release)


@transaction.atomic
def slot_release_create(
    *,
    actor: Actor,
    appointment_type: AppointmentType,
    release_at: datetime,
    min_age: int | None,
    max_age: int | None,
    note: str,
    start: date,
    end: date,
    resources: Sequence[Resource],
) -> SlotRelease:
    """Generate slots that the public can book from `release_at` on, for people whose age on the day of
    the appointment is within [min_age, max_age] (either end may be open). Only slots that are new are
    part of the release; a release that would hold no slot is refused."""
    unit = _unit_of(actor, appointment_type.care_unit)
    if actor.user is None:
        raise NotPermitted(_("A slot release is made by a staff member."))
    errors: dict[str, str] = {}
    if timezone.is_naive(release_at):
        errors["release_at"] = _("Enter the release time with its time zone.")
    for name, age in (("min_age", min_age), ("max_age", max_age)):
        if age is not None and not 0 <= age <= MAX_AGE:
            errors[name] = _("Enter an age between 0 and %(max)d.") % {"max": MAX_AGE}
    if min_age is not None and max_age is not None and max_age < min_age and "max_age" not in errors:
        errors["max_age"] = _("The highest age must not be below the lowest age.")
    note = note.strip()
    if len(note) > 200:
        errors["note"] = _("The note is too long (at most %(max)d characters).") % {"max": 200}
    try:
        _generation_args(unit, appointment_type, resources, start, end)
    except ValidationError as exc:
        errors.update({k: v[0] for k, v in exc.message_dict.items()})
    if errors:
        raise ValidationError(errors)
    release = SlotRelease.objects.create(
        care_unit=unit,
        appointment_type=appointment_type,
        release_at=release_at,
        min_age=min_age,
        max_age=max_age,
        note=note,
        created_by=actor.user,
    )
    if _generate(appointment_type, resources, start, end, release) == 0:
        raise ValidationError(
            {"end": _("No new slots fit in the opening hours of these days; nothing was released.")}
        )
    return release


# Withdrawal


@transaction.atomic
def slot_withdraw(*, actor: Actor, slot: Slot) -> Slot:
    """Take a slot out of offer (the vaccinator is ill). A booking in it is kept and listed for rebooking
    (`schedule_selectors.slots_to_rebook`)."""
    _unit_of(actor, slot.care_unit)
    slot = Slot.objects.select_for_update().get(pk=slot.pk)
    if slot.withdrawn_at is not None:
        raise ConflictError(_("The slot is already withdrawn."))
    slot.withdrawn_at = timezone.now()
    slot.save(update_fields=["withdrawn_at"])
    return slot


@transaction.atomic
def slots_withdraw_day(*, actor: Actor, resource: Resource, day: date) -> int:
    """Withdraw all of a resource's slots on one day that have not started yet; returns how many."""
    _unit_of(actor, resource.care_unit)
    now = timezone.now()
    return Slot.objects.filter(
        resource=resource,
        withdrawn_at__isnull=True,
        starts_at__gte=max(now, local_moment(day, time.min)),
        starts_at__lt=local_moment(day + timedelta(days=1), time.min),
    ).update(withdrawn_at=now)
