"""Schedule services: resources, appointment types, opening hours, exceptions, slot generation (DST,
drop-in, idempotency, speed), releases and their visibility, withdrawal, and who may change a schedule."""

from __future__ import annotations

import itertools
import time as clock
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone, translation

from conftest import actor_of, make_staff
from ympa.authn.models import User
from ympa.booking.models import (
    AppointmentType,
    Audience,
    Booking,
    BookingChannel,
    DeclarationForm,
    OpeningException,
    OpeningHours,
    Resource,
    ResourceKind,
    Slot,
    SlotRelease,
)
from ympa.booking.schedule import (
    AppointmentTypeDetails,
    Period,
    _generate,
    appointment_type_create,
    appointment_type_deactivate,
    appointment_type_update,
    opening_exception_add,
    opening_exception_remove,
    opening_hours_set,
    resource_create,
    resource_deactivate,
    resource_update,
    slot_release_create,
    slot_withdraw,
    slots_generate,
    slots_withdraw_day,
)
from ympa.booking.schedule_selectors import (
    release_admits,
    schedule_week,
    slots_for_birth_date_filter,
    slots_public_filter,
    slots_to_rebook,
    unit_releases,
)
from ympa.catalog.models import Product
from ympa.core.actor import Actor
from ympa.core.dates import SWEDEN
from ympa.core.errors import ConflictError, NotPermitted
from ympa.orgs.models import CareProvider, CareUnit
from ympa.orgs.rights import Role
from ympa.patients.models import Patient

MONDAY = date(2026, 12, 7)


@pytest.fixture
def admin_a(unit_a: CareUnit, booking_provider: None) -> User:
    return make_staff("admin_a", Role.ADMINISTRATOR, unit=unit_a)


@pytest.fixture
def admin_b(unit_b: CareUnit, booking_provider: None) -> User:
    return make_staff("admin_b", Role.ADMINISTRATOR, unit=unit_b)


@pytest.fixture
def admin(admin_a: User) -> Actor:
    return actor_of(admin_a)


@pytest.fixture
def weekly(admin: Actor) -> None:
    """Mondays to Fridays 08:00-12:00 and 13:00-15:00 (drop-in), Sundays 08:00-09:00 and 01:00-04:00."""
    periods = [Period(d, time(8), time(12)) for d in range(5)]
    periods += [Period(d, time(13), time(15), drop_in=True) for d in range(5)]
    periods += [Period(6, time(8), time(9)), Period(6, time(1), time(4))]
    opening_hours_set(actor=admin, periods=periods)


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=SWEDEN)


# Resources and appointment types


def test_resource_create_update_deactivate(admin: Actor, unit_a: CareUnit) -> None:
    room = resource_create(actor=admin, name=" Rum 2 ", kind=ResourceKind.ROOM)
    assert (room.name, room.kind, room.care_unit) == ("Rum 2", ResourceKind.ROOM, unit_a)
    with pytest.raises(ValidationError) as error:
        resource_create(actor=admin, name="Rum 2")
    assert "name" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        resource_create(actor=admin, name="  ", kind="bed")
    assert set(error.value.message_dict) == {"name", "kind"}
    room = resource_update(actor=admin, resource=room, name="Rum 3", kind=ResourceKind.VACCINATOR)
    assert room.name == "Rum 3"
    resource_deactivate(actor=admin, resource=room)
    room.refresh_from_db()
    assert not room.active
    with pytest.raises(ConflictError):
        resource_deactivate(actor=admin, resource=room)
    assert resource_update(actor=admin, resource=room, name="Rum 3", kind="room", active=True).active
    assert Resource.objects.filter(care_unit=unit_a).count() == 1


def test_appointment_type_create_and_update(
    admin: Actor, admin_a: User, unit_a: CareUnit, unit_b: CareUnit
) -> None:
    vaccines = list(Product.objects.filter(code__in=["vaxigriptetra", "comirnaty-jn1"]))
    form = DeclarationForm.objects.create(care_unit=unit_a, name="Standard", created_by=admin_a)
    kind = appointment_type_create(
        actor=admin,
        details=AppointmentTypeDetails(
            name="Covid-19",
            duration_minutes=5,
            products=vaccines,
            price_sek=0,
            audience=Audience.PUBLIC,
            vaccine_group="COVID-19",
            declaration_form=form,
        ),
    )
    assert kind.care_unit == unit_a and kind.duration_minutes == 5
    assert set(kind.products.all()) == set(vaccines)
    assert (kind.vaccine_group, kind.declaration_form) == ("COVID-19", form)

    # A retired form may stay on the type that uses it, but is not chosen anew.
    form.retired_at = timezone.now()
    form.save()
    kept = appointment_type_update(
        actor=admin,
        appointment_type=kind,
        details=AppointmentTypeDetails(
            name="Covid-19", duration_minutes=10, price_sek=250, declaration_form=form
        ),
    )
    assert (kept.duration_minutes, kept.price_sek, kept.products.count()) == (10, 250, 0)
    with pytest.raises(ValidationError) as error:
        appointment_type_create(
            actor=admin, details=AppointmentTypeDetails(name="Influensa", declaration_form=form)
        )
    assert "declaration_form" in error.value.message_dict

    other_form = DeclarationForm.objects.create(care_unit=unit_b, name="B", created_by=admin_a)
    with pytest.raises(ValidationError) as error:
        appointment_type_create(
            actor=admin,
            details=AppointmentTypeDetails(
                name="Covid-19",
                duration_minutes=0,
                price_sek=-1,
                audience="everyone",
                vaccine_group="Smallpox",
                declaration_form=other_form,
            ),
        )
    assert set(error.value.message_dict) == {
        "name",
        "duration_minutes",
        "price_sek",
        "audience",
        "vaccine_group",
        "declaration_form",
    }
    appointment_type_deactivate(actor=admin, appointment_type=kind)
    with pytest.raises(ConflictError):
        appointment_type_deactivate(actor=admin, appointment_type=kind)
    assert AppointmentType.objects.filter(care_unit=unit_a).count() == 1


# Opening hours and exceptions


def test_opening_hours_replace_and_validate(admin: Actor, unit_a: CareUnit, weekly: None) -> None:
    assert OpeningHours.objects.filter(care_unit=unit_a).count() == 12
    bad = [
        Period(7, time(8), time(12)),
        Period(1, time(12), time(8)),
        Period(2, time(8), time(12)),
        Period(2, time(11), time(13)),
    ]
    with pytest.raises(ValidationError) as error, translation.override("en"):
        opening_hours_set(actor=admin, periods=bad)
    problems = error.value.message_dict["periods"]
    assert len(problems) == 3
    assert any("Wednesday" in p and "overlap" in p for p in problems)
    assert any("Tuesday" in p and "after the opening time" in p for p in problems)
    # Nothing changed.
    assert OpeningHours.objects.filter(care_unit=unit_a).count() == 12
    # Touching periods are fine; the new set replaces the old.
    opening_hours_set(actor=admin, periods=[Period(0, time(8), time(10)), Period(0, time(10), time(12))])
    assert list(OpeningHours.objects.filter(care_unit=unit_a).values_list("weekday", "opens")) == [
        (0, time(8)),
        (0, time(10)),
    ]


def test_opening_exceptions(admin: Actor, unit_a: CareUnit) -> None:
    christmas = opening_exception_add(actor=admin, day=date(2026, 12, 24), closed=True, note="Julafton")
    with pytest.raises(ValidationError) as error:
        opening_exception_add(
            actor=admin, day=date(2026, 12, 24), closed=False, opens=time(8), closes=time(9)
        )
    assert "day" in error.value.message_dict
    opening_exception_add(actor=admin, day=date(2026, 12, 23), closed=False, opens=time(8), closes=time(10))
    opening_exception_add(actor=admin, day=date(2026, 12, 23), closed=False, opens=time(14), closes=time(16))
    for opens, closes, field in (
        (time(9), time(11), "opens"),
        (time(11), time(10), "closes"),
        (None, None, "opens"),
    ):
        with pytest.raises(ValidationError) as error:
            opening_exception_add(
                actor=admin, day=date(2026, 12, 23), closed=False, opens=opens, closes=closes
            )
        assert field in error.value.message_dict
    assert OpeningException.objects.filter(care_unit=unit_a).count() == 3
    opening_exception_remove(actor=admin, exception=christmas)
    assert not OpeningException.objects.filter(pk=christmas.pk).exists()


# Slot generation


def test_generate_in_opening_hours_without_drop_in_and_idempotent(
    admin: Actor, appointment_type: AppointmentType, vaccinator: Resource, weekly: None
) -> None:
    room = resource_create(actor=admin, name="Rum 2")
    created = slots_generate(
        actor=admin, appointment_type=appointment_type, resources=[vaccinator, room], start=MONDAY, end=MONDAY
    )
    # 08:00-12:00 in 10-minute slots, two resources; none in the drop-in afternoon.
    assert created == 2 * 24
    starts = sorted({s.astimezone(SWEDEN) for s in Slot.objects.values_list("starts_at", flat=True)})
    assert starts[0] == local(MONDAY, 8) and starts[-1] == local(MONDAY, 11, 50)
    assert not Slot.objects.filter(starts_at__gte=local(MONDAY, 12)).exists()
    # Again: nothing new, nothing duplicated.
    assert (
        slots_generate(
            actor=admin,
            appointment_type=appointment_type,
            resources=[vaccinator, room],
            start=MONDAY,
            end=MONDAY,
        )
        == 0
    )
    assert Slot.objects.count() == 48


def test_generate_skips_overlapping_slots_of_another_duration(
    admin: Actor, appointment_type: AppointmentType, vaccinator: Resource, weekly: None
) -> None:
    slots_generate(
        actor=admin, appointment_type=appointment_type, resources=[vaccinator], start=MONDAY, end=MONDAY
    )
    longer = appointment_type_create(
        actor=admin, details=AppointmentTypeDetails(name="Resa", duration_minutes=30)
    )
    assert (
        slots_generate(actor=admin, appointment_type=longer, resources=[vaccinator], start=MONDAY, end=MONDAY)
        == 0
    )
    assert Slot.objects.filter(appointment_type=longer).count() == 0


def test_generate_honours_exceptions(
    admin: Actor, appointment_type: AppointmentType, vaccinator: Resource, weekly: None
) -> None:
    tuesday, wednesday = MONDAY + timedelta(days=1), MONDAY + timedelta(days=2)
    opening_exception_add(actor=admin, day=MONDAY, closed=True)
    opening_exception_add(actor=admin, day=tuesday, closed=False, opens=time(14), closes=time(15))
    created = slots_generate(
        actor=admin, appointment_type=appointment_type, resources=[vaccinator], start=MONDAY, end=wednesday
    )
    assert created == 6 + 24
    days = {s.astimezone(SWEDEN).date() for s in Slot.objects.values_list("starts_at", flat=True)}
    assert days == {tuesday, wednesday}
    assert Slot.objects.filter(starts_at__date=tuesday).earliest("starts_at").starts_at == local(tuesday, 14)


@pytest.mark.parametrize(
    ("sunday", "before", "period_hours", "utc_hours"),
    [
        # Summer time starts: 02:00 becomes 03:00, the night period lasts two hours.
        (date(2026, 3, 29), date(2026, 3, 22), 2, (7, 6)),
        # Summer time ends: 03:00 becomes 02:00, the night period lasts four hours.
        (date(2026, 10, 25), date(2026, 10, 18), 4, (6, 7)),
    ],
)
def test_generate_across_daylight_saving_change(
    admin: Actor,
    appointment_type: AppointmentType,
    vaccinator: Resource,
    weekly: None,
    sunday: date,
    before: date,
    period_hours: int,
    utc_hours: tuple[int, int],
) -> None:
    slots_generate(
        actor=admin, appointment_type=appointment_type, resources=[vaccinator], start=before, end=sunday
    )
    for day, utc_hour in zip((before, sunday), utc_hours, strict=True):
        morning = Slot.objects.filter(starts_at__gte=local(day, 8), starts_at__lt=local(day, 9))
        first = morning.earliest("starts_at").starts_at
        # 08:00 in Stockholm, whatever the offset that day.
        assert first.astimezone(SWEDEN).time() == time(8)
        assert first.astimezone(UTC).hour == utc_hour
        assert morning.count() == 6
    night = Slot.objects.filter(starts_at__gte=local(sunday, 1), starts_at__lt=local(sunday, 4))
    assert night.count() == period_hours * 6
    # Slots follow each other in real time, without gaps or overlaps.
    times = list(night.order_by("starts_at").values_list("starts_at", "ends_at"))
    assert all(end == nxt for (_s, end), (nxt, _e) in itertools.pairwise(times))


def test_generate_refuses_long_ranges_and_bad_choices(
    admin: Actor, appointment_type: AppointmentType, vaccinator: Resource, unit_b: CareUnit, weekly: None
) -> None:
    with pytest.raises(ValidationError) as error:
        slots_generate(
            actor=admin,
            appointment_type=appointment_type,
            resources=[vaccinator],
            start=MONDAY,
            end=MONDAY + timedelta(days=366),
        )
    assert "end" in error.value.message_dict
    foreign = Resource.objects.create(care_unit=unit_b, name="B")
    for resources, field in (([], "resources"), ([foreign], "resources")):
        with pytest.raises(ValidationError) as error:
            slots_generate(
                actor=admin, appointment_type=appointment_type, resources=resources, start=MONDAY, end=MONDAY
            )
        assert field in error.value.message_dict
    with pytest.raises(ValidationError):
        slots_generate(
            actor=admin,
            appointment_type=appointment_type,
            resources=[vaccinator],
            start=MONDAY,
            end=MONDAY - timedelta(days=1),
        )
    assert not Slot.objects.exists()


def test_generate_ten_thousand_slots_quickly(
    admin: Actor, appointment_type: AppointmentType, unit_a: CareUnit, capsys: Any
) -> None:
    opening_hours_set(actor=admin, periods=[Period(d, time(8), time(16)) for d in range(7)])
    resources = [resource_create(actor=admin, name=f"Vaccinatör {i}") for i in range(10)]
    began = clock.perf_counter()
    created = slots_generate(
        actor=admin,
        appointment_type=appointment_type,
        resources=resources,
        start=MONDAY,
        end=MONDAY + timedelta(days=20),
    )
    elapsed = clock.perf_counter() - began
    with capsys.disabled():
        print(f"\n10,080 slots generated in {elapsed:.3f} s")  # noqa: T201 - the measured time, for the report
    assert created == 10 * 21 * 48 == Slot.objects.filter(care_unit=unit_a).count()
    assert elapsed < 5


def test_system_actor_generates_for_a_named_unit(
    appointment_type: AppointmentType, vaccinator: Resource, unit_a: CareUnit
) -> None:
    system = Actor.system("demo")
    opening_hours_set(actor=system, periods=[Period(MONDAY.weekday(), time(9), time(10))], care_unit=unit_a)
    assert (
        slots_generate(
            actor=system, appointment_type=appointment_type, resources=[vaccinator], start=MONDAY, end=MONDAY
        )
        == 6
    )
    with pytest.raises(NotPermitted):
        opening_hours_set(actor=system, periods=[])
    # The internal function, without rights, is idempotent too.
    assert _generate(appointment_type, [vaccinator], MONDAY, MONDAY) == 0


# Releases


@pytest.fixture
def release(
    admin: Actor, appointment_type: AppointmentType, vaccinator: Resource, weekly: None
) -> SlotRelease:
    return slot_release_create(
        actor=admin,
        appointment_type=appointment_type,
        release_at=local(MONDAY - timedelta(days=7), 8),
        min_age=65,
        max_age=74,
        note="65-74 år",
        start=MONDAY,
        end=MONDAY,
        resources=[vaccinator],
    )


def test_release_hidden_until_release_time(release: SlotRelease, appointment_type: AppointmentType) -> None:
    assert release.slots.count() == 24
    slots = Slot.objects.filter(appointment_type=appointment_type)
    assert not slots_public_filter(slots, local(MONDAY - timedelta(days=7), 7, 59)).exists()
    assert slots_public_filter(slots, local(MONDAY - timedelta(days=7), 8)).count() == 24
    with time_machine.travel(
        local(
            MONDAY - timedelta(days=7),
            7,
            59,
        ),
        tick=False,
    ):
        assert not slots_public_filter(slots, timezone.now()).exists()
    # Staff-only types and resources out of use are not offered to the public.
    appointment_type.audience = Audience.STAFF
    appointment_type.save()
    assert not slots_public_filter(slots, local(MONDAY, 7)).exists()


def test_release_age_band(
    release: SlotRelease, appointment_type: AppointmentType, vaccinator: Resource
) -> None:
    turns_65_on_monday = date(MONDAY.year - 65, MONDAY.month, MONDAY.day)
    assert release_admits(release, turns_65_on_monday, MONDAY)
    assert not release_admits(release, turns_65_on_monday, MONDAY - timedelta(days=1))
    assert not release_admits(release, date(MONDAY.year - 75, 1, 1), MONDAY)
    assert release_admits(None, date(2020, 1, 1), MONDAY)
    unreleased = Slot.objects.create(
        care_unit=appointment_type.care_unit,
        appointment_type=appointment_type,
        resource=vaccinator,
        starts_at=local(MONDAY, 15),
        ends_at=local(MONDAY, 15, 10),
    )
    slots = Slot.objects.filter(appointment_type=appointment_type)
    assert slots_for_birth_date_filter(slots, turns_65_on_monday, [release]).count() == 25
    assert list(slots_for_birth_date_filter(slots, date(1990, 1, 1), [release])) == [unreleased]
    assert list(slots_for_birth_date_filter(slots, date(MONDAY.year - 75, 1, 1), [release])) == [unreleased]
    counted: Any = unit_releases(care_unit=appointment_type.care_unit).get()
    assert (counted.total, counted.booked, counted.free) == (24, 0, 24)


def test_release_validation(
    admin: Actor, appointment_type: AppointmentType, vaccinator: Resource, weekly: None
) -> None:
    values: dict[str, Any] = {
        "actor": admin,
        "appointment_type": appointment_type,
        "release_at": local(MONDAY, 8),
        "note": "",
        "start": MONDAY,
        "end": MONDAY,
        "resources": [vaccinator],
    }
    with pytest.raises(ValidationError) as error:
        slot_release_create(**values, min_age=75, max_age=65)
    assert "max_age" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        naive = datetime(2026, 12, 1, 8)  # noqa: DTZ001 - naive on purpose
        slot_release_create(**values | {"release_at": naive}, min_age=None, max_age=200)
    assert {"release_at", "max_age"} <= set(error.value.message_dict)
    slot_release_create(**values, min_age=None, max_age=None)
    # The same days again: no new slots, so no empty release.
    with pytest.raises(ValidationError) as error:
        slot_release_create(**values, min_age=None, max_age=None)
    assert "end" in error.value.message_dict
    assert SlotRelease.objects.count() == 1


# Withdrawal


def test_withdraw_keeps_the_booking_for_rebooking(
    admin: Actor, make_slots: Any, citizen: Patient, appointment_type: AppointmentType, vaccinator: Resource
) -> None:
    free, taken = make_slots(count=2)
    Slot.objects.filter(pk=taken.pk).update(booked=True)
    booking = Booking.objects.create(
        slot=taken,
        care_unit=taken.care_unit,
        appointment_type=appointment_type,
        patient=citizen,
        channel=BookingChannel.STAFF,
        token_hash="x" * 64,
    )
    slot_withdraw(actor=admin, slot=taken)
    with pytest.raises(ConflictError):
        slot_withdraw(actor=admin, slot=taken)
    booking.refresh_from_db()
    assert booking.status == "booked"
    assert list(slots_to_rebook(care_unit=taken.care_unit)) == [taken]
    assert not slots_public_filter(Slot.objects.all(), timezone.now()).filter(pk=taken.pk).exists()
    assert (
        slots_withdraw_day(actor=admin, resource=vaccinator, day=free.starts_at.astimezone(SWEDEN).date())
        == 1
    )
    assert Slot.objects.filter(withdrawn_at__isnull=True).count() == 0


# Rights


@pytest.mark.parametrize("who", ["nurse_b", "outsider", "nurse_a", "admin_b", "receptionist_a"])
def test_others_cannot_change_clinic_a_schedule(
    who: str,
    request: pytest.FixtureRequest,
    admin: Actor,
    appointment_type: AppointmentType,
    vaccinator: Resource,
    weekly: None,
    admin_b: User,
) -> None:
    actor = actor_of(request.getfixturevalue(who))
    exception = opening_exception_add(actor=admin, day=MONDAY, closed=True)
    slot = Slot.objects.create(
        care_unit=vaccinator.care_unit,
        appointment_type=appointment_type,
        resource=vaccinator,
        starts_at=local(MONDAY + timedelta(days=1), 8),
        ends_at=local(MONDAY + timedelta(days=1), 8, 10),
    )
    attempts = [
        lambda: resource_create(actor=actor, name="Intruder", care_unit=vaccinator.care_unit),
        lambda: resource_update(actor=actor, resource=vaccinator, name="Renamed", kind="room"),
        lambda: resource_deactivate(actor=actor, resource=vaccinator),
        lambda: appointment_type_update(
            actor=actor, appointment_type=appointment_type, details=AppointmentTypeDetails(name="Renamed")
        ),
        lambda: appointment_type_deactivate(actor=actor, appointment_type=appointment_type),
        lambda: opening_hours_set(actor=actor, periods=[], care_unit=vaccinator.care_unit),
        lambda: opening_exception_remove(actor=actor, exception=exception),
        lambda: slots_generate(
            actor=actor,
            appointment_type=appointment_type,
            resources=[vaccinator],
            start=MONDAY,
            end=MONDAY + timedelta(days=7),
        ),
        lambda: slot_release_create(
            actor=actor,
            appointment_type=appointment_type,
            release_at=local(MONDAY, 8),
            min_age=None,
            max_age=None,
            note="",
            start=MONDAY,
            end=MONDAY,
            resources=[vaccinator],
        ),
        lambda: slot_withdraw(actor=actor, slot=slot),
        lambda: slots_withdraw_day(actor=actor, resource=vaccinator, day=MONDAY + timedelta(days=1)),
    ]
    for attempt in attempts:
        with pytest.raises(NotPermitted):
            attempt()
    vaccinator.refresh_from_db()
    appointment_type.refresh_from_db()
    assert (vaccinator.name, vaccinator.active, appointment_type.name, appointment_type.active) == (
        "Rum 1",
        True,
        "Vaccination",
        True,
    )
    assert OpeningHours.objects.filter(care_unit=vaccinator.care_unit).count() == 12
    assert OpeningException.objects.filter(pk=exception.pk).exists()
    assert list(Slot.objects.values_list("pk", "withdrawn_at")) == [(slot.pk, None)]
    assert not SlotRelease.objects.exists()
    assert not Resource.objects.filter(name="Intruder").exists()


def test_provider_without_booking_cannot_use_schedules(admin_a: User, provider_a: CareProvider) -> None:
    provider_a.modules = ["journal"]
    provider_a.save()
    with pytest.raises(NotPermitted):
        resource_create(actor=actor_of(admin_a), name="Rum 9")
    assert not Resource.objects.filter(name="Rum 9").exists()


# Selectors


def test_week_counts_in_two_queries(
    admin: Actor,
    appointment_type: AppointmentType,
    vaccinator: Resource,
    weekly: None,
    django_assert_num_queries: Any,
) -> None:
    room = resource_create(actor=admin, name="Rum 2")
    slots_generate(
        actor=admin,
        appointment_type=appointment_type,
        resources=[vaccinator, room],
        start=MONDAY,
        end=MONDAY + timedelta(days=6),
    )
    Slot.objects.filter(resource=vaccinator, starts_at__lt=local(MONDAY, 9)).update(booked=True)
    Slot.objects.filter(resource=room, starts_at__lt=local(MONDAY, 8, 30)).update(withdrawn_at=timezone.now())
    with django_assert_num_queries(2):
        week = schedule_week(care_unit=vaccinator.care_unit, monday=MONDAY)
    by_name = {row.resource.name: row for row in week.rows}
    monday = by_name["Rum 1"].days[0]
    assert (monday.total, monday.booked, monday.free) == (24, 6, 18)
    assert by_name["Rum 2"].days[0].total == 21
    # Sunday holds the morning hour and the night period.
    assert by_name["Rum 1"].days[6].total == 6 + 18
    assert week.totals[0].total == 45 and week.totals[5].total == 0
