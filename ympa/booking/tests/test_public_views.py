"""The public booking pages: finding a unit and a time, identifying with a one-time code (through the SMS
simulator) or a citizen session, booking oneself and a child, a slot taken meanwhile, idempotent double
submits, the personal link (cancel, rebook, expiry), and what is never public."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from conftest import staff_client
from ympa.access.models import Action, AuditEvent
from ympa.authn.models import User
from ympa.booking.identity import identity_get
from ympa.booking.models import AppointmentType, Audience, Booking, BookingStatus, Slot, SlotRelease
from ympa.citizen.tests.sessions import citizen_client
from ympa.orgs.models import CareUnit
from ympa.patients.models import Guardianship, Patient

pytestmark = pytest.mark.django_db

CHILD = "20200101-2380"


def identified(pnr: str = "191212121212", given: str = "Tolvan", family: str = "Tolvansson") -> Client:
    """A browser in which the person has identified (as the lead's surge benchmark does)."""
    from importlib import import_module

    from django.conf import settings
    from django.test import RequestFactory

    from ympa.booking.identity import identity_set

    request = RequestFactory().get("/")
    request.session = import_module(settings.SESSION_ENGINE).SessionStore()
    identity_set(request, pnr=pnr, method="otp", given_name=given, family_name=family)
    request.session.save()
    client = Client()
    client.cookies[settings.SESSION_COOKIE_NAME] = request.session.session_key or ""
    return client


def confirm(client: Client, kind: AppointmentType, **fields: Any) -> Any:
    data = {"phone": "070-123 45 67", "idempotency_key": "", **fields}
    return client.post(reverse("public_booking:confirm", args=[kind.pk]), data)


def test_units_list_only_booking_units_with_public_types(
    appointment_type: AppointmentType, unit_b: CareUnit, unit_a2: CareUnit
) -> None:
    AppointmentType.objects.create(care_unit=unit_b, name="Hidden", audience=Audience.STAFF)
    client = Client()
    page = client.get(reverse("public_booking:units")).content.decode()
    assert "Clinic A" in page and "Clinic B" not in page and "Clinic A2" not in page
    assert "Clinic A" not in client.get(reverse("public_booking:units"), {"q": "Göteborg"}).content.decode()
    unit_page = client.get(
        reverse("public_booking:unit", args=[appointment_type.care_unit_id])
    ).content.decode()
    assert "Vaccination" in unit_page and "10 minutes" in unit_page
    assert client.get(reverse("public_booking:unit", args=[unit_b.pk])).status_code == 404


def test_staff_only_types_never_appear_publicly(
    appointment_type: AppointmentType, make_slots: Callable[..., list[Slot]]
) -> None:
    staff = AppointmentType.objects.create(
        care_unit=appointment_type.care_unit, name="Personal", audience=Audience.STAFF
    )
    slot = make_slots(1, appointment_type=staff)[0]
    client = identified()
    assert (
        "Personal"
        not in client.get(reverse("public_booking:unit", args=[staff.care_unit_id])).content.decode()
    )
    assert client.get(reverse("public_booking:slots", args=[staff.pk])).status_code == 404
    assert confirm(client, staff, slot=slot.pk).status_code == 404
    assert not Booking.objects.exists()


def test_slot_picker_shows_free_released_times_with_few_queries(
    appointment_type: AppointmentType,
    make_slots: Callable[..., list[Slot]],
    nurse_a: User,
    django_assert_max_num_queries: Any,
) -> None:
    free = make_slots(30)
    Slot.objects.filter(pk=free[0].pk).update(booked=True)
    release = SlotRelease.objects.create(
        care_unit=appointment_type.care_unit,
        appointment_type=appointment_type,
        release_at=timezone.now() + timedelta(hours=2),
        created_by=nurse_a,
    )
    hidden = make_slots(1, start=free[-1].starts_at + timedelta(hours=1), release=release)[0]
    client = Client()
    url = reverse("public_booking:slots", args=[appointment_type.pk])
    with django_assert_max_num_queries(3):
        page = client.get(url).content.decode()
    assert f'data-slot="{free[1].pk}"' in page
    assert f'data-slot="{free[0].pk}"' not in page and f'data-slot="{hidden.pk}"' not in page
    # Each time leads to the booking form with that slot chosen.
    book = reverse("public_booking:book", args=[appointment_type.pk])
    assert f'href="{book}?slot={free[1].pk}"' in page
    week = timezone.localdate() + timedelta(days=7)
    partial = client.get(url, {"week": week.isoformat()}, headers={"HX-Request": "true"})
    assert partial.status_code == 200 and b"<html" not in partial.content
    # Before its release time the slot cannot be booked either.
    response = confirm(identified(), appointment_type, slot=hidden.pk)
    assert response.status_code == 200 and b"not open for booking yet" in response.content
    assert not Booking.objects.exists()


def test_booking_needs_identification_first(
    appointment_type: AppointmentType, make_slots: Callable[..., list[Slot]]
) -> None:
    slot = make_slots(1)[0]
    client = Client()
    page = client.get(reverse("public_booking:book", args=[appointment_type.pk]), {"slot": slot.pk})
    assert b"Identify with BankID" in page.content and b"code by SMS" in page.content
    response = confirm(client, appointment_type, slot=slot.pk)
    assert response.status_code == 302 and not Booking.objects.exists()


def _code(text: str) -> str:
    found = re.search(r"\b(\d{6})\b", text)
    assert found
    return found.group(1)


def test_full_flow_with_a_code_by_sms_for_oneself_and_a_child(
    citizen: Patient,
    appointment_type: AppointmentType,
    make_slots: Callable[..., list[Slot]],
    sms_simulator: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    child = Patient.objects.create(
        identifier_kind="personnummer",
        identifier="202001012380",
        given_name="Lill",
        family_name="Tolvansson",
        birth_date=date(2020, 1, 1),
    )
    Guardianship.objects.create(child=child, guardian=citizen)
    first, second, _third = make_slots(3)
    client = Client()
    book_url = reverse("public_booking:book", args=[appointment_type.pk]) + f"?slot={first.pk}"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("public_booking:identify"),
            {"pnr": "19121212-1212", "channel": "sms", "destination": "070-123 45 67", "next": book_url},
        )
    assert response.status_code == 200 and b"Enter it here" in response.content
    [sms] = sms_simulator.messages
    assert sms.to == "+46701234567"
    wrong = client.post(reverse("public_booking:identify_code"), {"code": "000000", "next": book_url})
    assert wrong.status_code == 400 and identity_get(wrong.wsgi_request) is None
    response = client.post(
        reverse("public_booking:identify_code"), {"code": _code(sms.message or ""), "next": book_url}
    )
    assert response.status_code == 302 and response["Location"] == book_url

    page = client.get(book_url)
    assert page["Cache-Control"] == "no-store"
    content = page.content.decode()
    assert "Lill Tolvansson" in content and "Tolvan Tolvansson" in content
    key = re.search(r'name="idempotency_key" value="([^"]+)"', content)
    assert key
    assert AuditEvent.objects.filter(
        patient=child, action=Action.READ, actor_identity="191212121212"
    ).exists()

    data = {
        "person": ["self", str(child.pk), "new", "new"],
        "slot": [str(first.pk), "auto", "", ""],
        "identifier": ["", "", "", ""],
        "given_name": ["", "", "", ""],
        "family_name": ["", "", "", ""],
        "phone": "070-123 45 67",
        "email": "",
        "idempotency_key": key.group(1),
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("public_booking:confirm", args=[appointment_type.pk]), data)
    assert response.status_code == 303, response.content[:3000]
    bookings = Booking.objects.order_by("slot__starts_at")
    assert [(b.patient, b.slot_id) for b in bookings] == [(citizen, first.pk), (child, second.pk)]
    confirmation = sms_simulator.messages[-1]
    assert "/boka/min-bokning/" in (confirmation.message or "")
    manage = client.get(response["Location"])
    assert manage.status_code == 200 and manage["Cache-Control"] == "no-store"
    assert b"Lill Tolvansson" in manage.content and b"/besok/" in manage.content

    # A double submit returns the same bookings.
    again = client.post(reverse("public_booking:confirm", args=[appointment_type.pk]), data)
    assert again.status_code == 303 and Booking.objects.count() == 2


def test_citizen_session_counts_as_identified(
    citizen: Patient, appointment_type: AppointmentType, make_slots: Callable[..., list[Slot]]
) -> None:
    slot = make_slots(1)[0]
    client = citizen_client(citizen)
    response = confirm(client, appointment_type, slot=slot.pk)
    assert response.status_code == 303
    assert Booking.objects.get().patient == citizen


def test_a_new_person_is_registered_and_bad_identifiers_change_nothing(
    appointment_type: AppointmentType, make_slots: Callable[..., list[Slot]]
) -> None:
    slot = make_slots(1)[0]
    client = identified("194910172396", "Eva", "Ek")
    bad = confirm(
        client,
        appointment_type,
        person=["new"],
        slot=[slot.pk],
        identifier=["20200101-2381"],
        given_name=["A"],
        family_name=["B"],
    )
    assert (
        bad.status_code == 200 and b"check digit" in bad.content.lower()
    ) or b"control" in bad.content.lower()
    assert b'value="20200101-2381"' in bad.content
    assert not Booking.objects.exists() and not Slot.objects.filter(booked=True).exists()
    assert not Patient.objects.exists()
    ok = confirm(client, appointment_type, slot=slot.pk)
    assert ok.status_code == 303
    assert Patient.objects.get().full_name == "Eva Ek"


def test_a_slot_taken_meanwhile_offers_alternatives_and_keeps_the_input(
    citizen: Patient, appointment_type: AppointmentType, make_slots: Callable[..., list[Slot]]
) -> None:
    slots = make_slots(8)
    assert (
        confirm(identified("194910172396", "Eva", "Ek"), appointment_type, slot=slots[0].pk).status_code
        == 303
    )
    response = confirm(identified(), appointment_type, slot=slots[0].pk, email="tolvan@example.se")
    assert response.status_code == 409
    content = response.content.decode()
    assert "just booked by someone else" in content and "tolvan@example.se" in content
    assert content.count("<li>") >= 5
    assert f'<option value="{slots[1].pk}" selected>' in content
    assert Booking.objects.count() == 1


def test_the_personal_link_cancels_rebooks_and_expires(
    citizen: Patient, appointment_type: AppointmentType, make_slots: Callable[..., list[Slot]]
) -> None:
    first, second = make_slots(2)
    response = confirm(citizen_client(citizen), appointment_type, slot=first.pk)
    link = response["Location"]
    token = link.rstrip("/").rsplit("/", 1)[1]
    stranger = Client()
    page = stranger.get(link)
    assert page.status_code == 200 and b"Tolvan" in page.content
    rebook = stranger.post(reverse("public_booking:rebook", args=[token]), {"slot": second.pk})
    assert rebook.status_code == 302
    booking = Booking.objects.get(status=BookingStatus.BOOKED)
    assert booking.slot == second
    assert stranger.get(reverse("public_booking:rebook", args=[token])).status_code == 200
    with time_machine.travel(second.starts_at + timedelta(minutes=1)):
        expired = stranger.get(link)
        assert expired.status_code == 410 and b"This link has expired" in expired.content
        assert b"Tolvan" not in expired.content
        assert stranger.post(reverse("public_booking:cancel", args=[token])).status_code == 410
    cancelled = stranger.post(reverse("public_booking:cancel", args=[token]), {"reason": "Sjuk"})
    assert cancelled.status_code == 200
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CANCELLED
    assert stranger.get("/boka/min-bokning/nonsense/").status_code == 404


def test_confirm_is_lean(
    appointment_type: AppointmentType,
    make_slots: Callable[..., list[Slot]],
    citizen: Patient,
    django_assert_max_num_queries: Any,
) -> None:
    warm, slot = make_slots(2)
    client = identified()
    # 14 statements, and 2 more the first time a patient's audit chain gets its head row.
    assert confirm(identified("194910172396", "Eva", "Ek"), appointment_type, slot=warm.pk).status_code == 303
    with django_assert_max_num_queries(16):
        response = confirm(client, appointment_type, slot=slot.pk, idempotency_key="k")
    assert response.status_code == 303


def test_bankid_identifies_and_returns_to_the_booking(
    citizen: Patient, appointment_type: AppointmentType, make_slots: Callable[..., list[Slot]], bankid: Any
) -> None:
    from ympa.authn.tests.test_bankid_login import QR, _poll_until_done

    slot = make_slots(1)[0]
    client = Client()
    book_url = reverse("public_booking:book", args=[appointment_type.pk]) + f"?slot={slot.pk}"
    started = client.post(reverse("citizen:login"), {"next": book_url})
    match = QR.search(started.content.decode())
    assert match
    bankid.approve(bankid.scan(match.group(1)), citizen.identifier)
    response = _poll_until_done(client, "citizen:login_status")
    assert response["HX-Redirect"] == book_url
    page = client.get(book_url)
    assert b"Tolvan Tolvansson" in page.content and b"Confirm booking" in page.content
    assert confirm(client, appointment_type, slot=slot.pk).status_code == 303


def test_a_full_type_offers_the_waiting_list(appointment_type: AppointmentType, vaccinator: Any) -> None:
    from ympa.booking.models import WaitingListEntry

    url = reverse("public_booking:slots", args=[appointment_type.pk])
    assert b"Join the waiting list" in Client().get(url).content
    client = identified()
    bad = client.post(reverse("public_booking:waiting_list", args=[appointment_type.pk]), {"phone": "12"})
    assert bad.status_code == 400 and not WaitingListEntry.objects.exists()
    joined = client.post(
        reverse("public_booking:waiting_list", args=[appointment_type.pk]), {"phone": "0701234567"}
    )
    assert joined.status_code == 200 and b"You are on the waiting list" in joined.content
    entry = WaitingListEntry.objects.get()
    assert entry.identity == "191212121212" and entry.contact_phone == "+46701234567"


def test_a_surge_reads_the_weeks_free_times_from_memory(
    appointment_type: AppointmentType,
    make_slots: Callable[..., list[Slot]],
    settings: Any,
    django_assert_num_queries: Any,
) -> None:
    """With the public cache on, the same week asked again within the second costs no query; a booking in
    between is still refused or moved by the database, never by the cached list."""
    from ympa.booking.selectors import public_cache as cache
    from ympa.booking.selectors import slot_week

    settings.BOOKING_PUBLIC_CACHE_SECONDS = 5
    cache.clear()
    slots = make_slots(3)
    start = timezone.localdate(slots[0].starts_at)
    first = slot_week(appointment_type, start=start)
    with django_assert_num_queries(0):
        again = slot_week(appointment_type, start=start)
    assert (
        [t.pk for d in again for t in d.slots]
        == [t.pk for d in first for t in d.slots]
        == [s.pk for s in slots]
    )
    cache.clear()


def test_the_week_partial_leaves_the_session_unread(
    appointment_type: AppointmentType,
    make_slots: Callable[..., list[Slot]],
    nurse_a: User,
    settings: Any,
    django_assert_num_queries: Any,
) -> None:
    """The week's free times, asked by htmx, read nothing of the visitor's session (a surge asks for them
    hundreds of times a second): from the public cache they cost no query at all, even for a logged-in
    staff member, whose full page still has the staff navigation."""
    from ympa.booking.selectors import public_cache as cache

    settings.BOOKING_PUBLIC_CACHE_SECONDS = 5
    cache.clear()
    slot = make_slots(1)[0]
    url = reverse("public_booking:slots", args=[appointment_type.pk])
    week = {"week": timezone.localdate(slot.starts_at).isoformat()}
    for client in (identified(), staff_client(nurse_a)):
        client.get(url, week, HTTP_HX_REQUEST="true")
        with django_assert_num_queries(0):
            partial = client.get(url, week, HTTP_HX_REQUEST="true")
        assert partial.status_code == 200 and f'data-slot="{slot.pk}"' in partial.content.decode()
    page = staff_client(nurse_a).get(url, week).content.decode()
    assert f'href="{reverse("patients:search")}"' in page
    cache.clear()
