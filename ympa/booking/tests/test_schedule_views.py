"""The schedule pages: they render, their forms work through the services, and only unit administrators
of a provider that uses booking get in."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from django.urls import reverse

from conftest import make_staff, staff_client
from ympa.authn.models import User
from ympa.booking.models import AppointmentType, OpeningException, OpeningHours, Resource, Slot, SlotRelease
from ympa.booking.schedule import Period, opening_hours_set
from ympa.core.dates import SWEDEN
from ympa.orgs.models import CareProvider, CareUnit
from ympa.orgs.rights import Role

MONDAY = date(2026, 12, 7)

PAGES = [
    "booking:schedule_home",
    "booking:schedule_hours",
    "booking:schedule_resources",
    "booking:schedule_types",
    "booking:schedule_generate",
    "booking:schedule_releases",
]


@pytest.fixture
def admin_a(unit_a: CareUnit, booking_provider: None) -> User:
    return make_staff("admin_a", Role.ADMINISTRATOR, unit=unit_a)


@pytest.fixture
def client(admin_a: User) -> Any:
    return staff_client(admin_a)


@pytest.fixture
def open_weekdays(admin_a: User, unit_a: CareUnit) -> None:
    from conftest import actor_of

    opening_hours_set(actor=actor_of(admin_a), periods=[Period(d, time(8), time(12)) for d in range(5)])


@pytest.mark.parametrize("name", PAGES)
def test_pages_render(
    client: Any, name: str, appointment_type: AppointmentType, vaccinator: Resource
) -> None:
    response = client.get(reverse(name))
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    assert b"Clinic A" in response.content


@pytest.mark.parametrize("name", PAGES)
def test_receptionist_and_other_provider_get_403(
    name: str, receptionist_a: User, nurse_b: User, booking_provider: None
) -> None:
    for user in (receptionist_a, nurse_b):
        assert staff_client(user).get(reverse(name)).status_code == 403


def test_receptionist_cannot_post(receptionist_a: User, booking_provider: None, unit_a: CareUnit) -> None:
    response = staff_client(receptionist_a).post(
        reverse("booking:schedule_resources"), {"name": "Rum 9", "kind": "room"}
    )
    assert response.status_code == 403
    assert not Resource.objects.filter(care_unit=unit_a).exists()


def test_provider_without_booking_gets_403(client: Any, provider_a: CareProvider) -> None:
    provider_a.modules = ["journal"]
    provider_a.save()
    assert client.get(reverse("booking:schedule_home")).status_code == 403


def test_opening_hours_form(client: Any, unit_a: CareUnit) -> None:
    url = reverse("booking:schedule_hours")
    data = {
        "periods-TOTAL_FORMS": "4",
        "periods-INITIAL_FORMS": "0",
        "periods-0-weekday": "0",
        "periods-0-opens": "08:00",
        "periods-0-closes": "12:00",
        "periods-1-weekday": "0",
        "periods-1-opens": "13:00",
        "periods-1-closes": "15:00",
        "periods-1-drop_in": "on",
        "periods-2-weekday": "2",
        "periods-2-opens": "09:00",
        "periods-2-closes": "11:00",
    }
    response = client.post(url, data)
    assert response.status_code == 302
    assert list(OpeningHours.objects.filter(care_unit=unit_a).values_list("weekday", "opens", "drop_in")) == [
        (0, time(8), False),
        (0, time(13), True),
        (2, time(9), False),
    ]
    page = client.get(url)
    assert (
        b"The opening hours were saved." in page.content or "Öppettiderna sparades".encode() in page.content
    )
    # An overlap is shown and nothing changes; a row marked for removal is left out.
    overlap = data | {"periods-2-weekday": "0", "periods-2-opens": "11:00", "periods-3-weekday": "4"}
    response = client.post(url, overlap)
    assert response.status_code == 200
    assert response.context["problems"] or response.context["formset"].errors
    assert OpeningHours.objects.filter(care_unit=unit_a).count() == 3
    # Saving the page unchanged keeps the periods it shows.
    assert client.post(url, data | {"periods-INITIAL_FORMS": "3"}).status_code == 302
    assert OpeningHours.objects.filter(care_unit=unit_a).count() == 3
    response = client.post(url, data | {"periods-2-DELETE": "on"})
    assert response.status_code == 302
    assert OpeningHours.objects.filter(care_unit=unit_a).count() == 2


def test_exception_add_and_remove(client: Any, unit_a: CareUnit) -> None:
    response = client.post(
        reverse("booking:schedule_exception_add"), {"day": "2026-12-24", "closed": "on", "note": "Julafton"}
    )
    assert response.status_code == 302
    exception = OpeningException.objects.get(care_unit=unit_a)
    assert exception.closed and exception.note == "Julafton"
    response = client.post(reverse("booking:schedule_exception_add"), {"day": "2026-12-23", "opens": "10:00"})
    assert response.status_code == 200
    assert "closes" in response.context["exception_form"].errors
    assert client.post(reverse("booking:schedule_exception_remove", args=[exception.pk])).status_code == 302
    assert not OpeningException.objects.exists()


def test_resource_pages(client: Any, unit_a: CareUnit, vaccinator: Resource) -> None:
    assert (
        client.post(reverse("booking:schedule_resources"), {"name": "Rum 2", "kind": "room"}).status_code
        == 302
    )
    response = client.post(reverse("booking:schedule_resources"), {"name": "Rum 2", "kind": "room"})
    assert response.status_code == 200 and "name" in response.context["form"].errors
    url = reverse("booking:schedule_resource_edit", args=[vaccinator.pk])
    assert client.get(url).status_code == 200
    assert client.post(url, {"name": "Vaccinatör 1", "kind": "vaccinator"}).status_code == 302
    assert (
        client.post(reverse("booking:schedule_resource_deactivate", args=[vaccinator.pk])).status_code == 302
    )
    vaccinator.refresh_from_db()
    assert (vaccinator.name, vaccinator.active) == ("Vaccinatör 1", False)
    assert Resource.objects.filter(care_unit=unit_a).count() == 2


def test_appointment_type_pages(
    client: Any, unit_a: CareUnit, appointment_type: AppointmentType, vaccine: Any
) -> None:
    data = {
        "name": "TBE",
        "duration_minutes": "15",
        "products": [str(vaccine.pk)],
        "price_sek": "350",
        "audience": "public",
        "vaccine_group": "TBE",
        "declaration_form": "",
    }
    assert client.post(reverse("booking:schedule_types"), data).status_code == 302
    tbe = AppointmentType.objects.get(care_unit=unit_a, name="TBE")
    assert (tbe.duration_minutes, tbe.price_sek, tbe.vaccine_group) == (15, 350, "TBE")
    assert list(tbe.products.all()) == [vaccine]
    response = client.post(reverse("booking:schedule_types"), data | {"vaccine_group": "Smallpox"})
    assert response.status_code == 200 and "vaccine_group" in response.context["form"].errors
    url = reverse("booking:schedule_type_edit", args=[tbe.pk])
    assert client.get(url).status_code == 200
    assert client.post(url, data | {"audience": "staff"}).status_code == 302
    tbe.refresh_from_db()
    assert tbe.audience == "staff"
    assert client.post(reverse("booking:schedule_type_deactivate", args=[tbe.pk])).status_code == 302
    tbe.refresh_from_db()
    assert not tbe.active


def test_generate_and_week_overview(
    client: Any,
    appointment_type: AppointmentType,
    vaccinator: Resource,
    open_weekdays: None,
    django_assert_max_num_queries: Any,
) -> None:
    response = client.post(
        reverse("booking:schedule_generate"),
        {
            "appointment_type": appointment_type.pk,
            "resources": [vaccinator.pk],
            "start": MONDAY.isoformat(),
            "end": (MONDAY + timedelta(days=6)).isoformat(),
        },
        follow=True,
    )
    assert Slot.objects.count() == 5 * 24
    assert any("120" in str(m) for m in response.context["messages"])
    Slot.objects.filter(starts_at__lt=datetime.combine(MONDAY, time(9), tzinfo=SWEDEN)).update(booked=True)
    url = f"{reverse('booking:schedule_home')}?week={MONDAY.isoformat()}"
    with django_assert_max_num_queries(10):
        response = client.get(url)
    assert response.status_code == 200
    monday = response.context["week"].rows[0].days[0]
    assert (monday.total, monday.booked, monday.free) == (24, 6, 18)
    assert b"24 / 18 / 6" in response.content
    # The same number of queries with many more resources and slots.
    for i in range(5):
        Resource.objects.create(care_unit=vaccinator.care_unit, name=f"Rum {i + 2}")
    with django_assert_max_num_queries(10):
        client.get(url)


def test_generate_form_errors(client: Any, appointment_type: AppointmentType, vaccinator: Resource) -> None:
    response = client.post(
        reverse("booking:schedule_generate"),
        {
            "appointment_type": appointment_type.pk,
            "resources": [vaccinator.pk],
            "start": "2026-01-01",
            "end": "2027-06-01",
        },
    )
    assert response.status_code == 200
    assert "end" in response.context["form"].errors
    assert not Slot.objects.exists()


def test_withdraw_day_asks_first(client: Any, make_slots: Any, vaccinator: Resource) -> None:
    slots = make_slots(count=3)
    Slot.objects.filter(pk=slots[0].pk).update(booked=True)
    day = slots[0].starts_at.astimezone(SWEDEN).date()
    url = reverse("booking:schedule_withdraw_day")
    page = client.get(url, {"resource": vaccinator.pk, "day": day.isoformat()})
    assert page.status_code == 200
    assert (page.context["counts"].total, page.context["counts"].booked) == (3, 1)
    assert not Slot.objects.filter(withdrawn_at__isnull=False).exists()
    response = client.post(url, {"resource": vaccinator.pk, "day": day.isoformat()})
    assert response.status_code == 302
    assert Slot.objects.filter(withdrawn_at__isnull=False).count() == 3


def test_release_create_and_list(
    client: Any,
    appointment_type: AppointmentType,
    vaccinator: Resource,
    open_weekdays: None,
    django_assert_max_num_queries: Any,
) -> None:
    response = client.post(
        reverse("booking:schedule_releases"),
        {
            "appointment_type": appointment_type.pk,
            "resources": [vaccinator.pk],
            "start": MONDAY.isoformat(),
            "end": MONDAY.isoformat(),
            "release_at": "2026-12-01T08:00",
            "min_age": "65",
            "max_age": "74",
            "note": "65-74",
        },
    )
    assert response.status_code == 302
    release = SlotRelease.objects.get()
    assert release.release_at == datetime(2026, 12, 1, 8, tzinfo=SWEDEN)
    assert (release.min_age, release.max_age, release.slots.count()) == (65, 74, 24)
    Slot.objects.filter(
        release=release, starts_at__lt=datetime.combine(MONDAY, time(9), tzinfo=SWEDEN)
    ).update(booked=True)
    with django_assert_max_num_queries(10):
        response = client.get(reverse("booking:schedule_releases"))
    listed = response.context["releases"][0]
    assert (listed.total, listed.booked, listed.free) == (24, 6, 18)
    assert b"65\xe2\x80\x9374" in response.content
    response = client.post(
        reverse("booking:schedule_releases"),
        {
            "appointment_type": appointment_type.pk,
            "resources": [vaccinator.pk],
            "start": MONDAY.isoformat(),
            "end": MONDAY.isoformat(),
            "release_at": "2026-12-01T08:00",
            "min_age": "80",
            "max_age": "70",
        },
    )
    assert response.status_code == 200
    assert "max_age" in response.context["form"].errors
    assert SlotRelease.objects.count() == 1
