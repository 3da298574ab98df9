"""Reception and the live queue pages: search and check in, walk-ins, call next, status changes, polling
without counting as activity, the waiting-room screen, and what another provider's nurse cannot do."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from conftest import actor_of, make_staff, staff_client
from ympa.access.models import AuditEvent
from ympa.authn.models import User
from ympa.booking.models import QueueEntry, QueueStatus
from ympa.booking.queue import walk_in_add
from ympa.booking.tests.route_calls_queue import booking_at
from ympa.orgs.models import CareUnit
from ympa.orgs.rights import Role
from ympa.patients.models import Patient

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("booking_provider")]


@pytest.fixture(autouse=True)
def noon(time_machine: Any) -> None:
    time_machine.move_to(timezone.localtime().replace(hour=12, minute=0, second=0, microsecond=0), tick=True)


def test_reception_finds_todays_booking_and_checks_in_with_one_click(
    receptionist_a: User, citizen: Patient, unit_a: CareUnit
) -> None:
    booking, _token = booking_at(citizen, unit_a)
    browser = staff_client(receptionist_a)
    for query in ("Tolv", "19121212", timezone.localtime(booking.slot.starts_at).strftime("%H:%M")):
        page = browser.get(reverse("booking:queue_reception"), {"q": query})
        assert page.status_code == 200 and "Tolvansson" in page.content.decode(), query
    assert (
        "Tolvansson" not in browser.get(reverse("booking:queue_reception"), {"q": "Nobody"}).content.decode()
    )
    done = browser.post(reverse("booking:queue_checkin", args=[booking.pk]), follow=True)
    assert "number 1" in done.content.decode()
    assert QueueEntry.objects.get().booking == booking


def test_walk_in_at_reception_registers_a_new_patient(receptionist_a: User, unit_a: CareUnit) -> None:
    browser = staff_client(receptionist_a)
    missing = browser.post(reverse("booking:queue_walk_in"), {"identifier": "19800101-0019"})
    assert missing.status_code == 400 and 'id="id_given_name_error"' in missing.content.decode()
    added = browser.post(
        reverse("booking:queue_walk_in"),
        {"identifier": "19800101-0019", "given_name": "Test", "family_name": "Testsson"},
    )
    assert added.status_code == 302
    assert QueueEntry.objects.get().patient.family_name == "Testsson"


def test_the_board_calls_next_and_moves_entries(
    nurse_a: User, receptionist_a: User, citizen: Patient, unit_a: CareUnit
) -> None:
    entry = walk_in_add(actor=actor_of(receptionist_a), identifier="191212121212")
    browser = staff_client(nurse_a)
    board = browser.get(reverse("booking:queue_board"))
    html = board.content.decode()
    # The poll carries the header that keeps it from counting as activity; the buttons do not inherit it.
    poller = html[html.index('hx-trigger="every 5s"') - 200 : html.index('hx-trigger="every 5s"') + 200]
    assert board.status_code == 200 and '"X-Ympa-Poll": "1"' in poller
    assert html.index('id="queue-rows"') > html.index("X-Ympa-Poll")
    called = browser.post(reverse("booking:queue_next"), headers={"HX-Request": "true"})
    assert called.status_code == 200 and 'data-status="called"' in called.content.decode()
    entry.refresh_from_db()
    assert entry.status == QueueStatus.CALLED
    browser.post(reverse("booking:queue_status", args=[entry.pk]), {"status": "in_progress"})
    refused = browser.post(
        reverse("booking:queue_status", args=[entry.pk]), {"status": "called"}, follow=True
    )
    assert "cannot be marked" in refused.content.decode()
    entry.refresh_from_db()
    assert entry.status == QueueStatus.IN_PROGRESS


def test_the_rows_take_a_fixed_number_of_queries(
    nurse_a: User,
    receptionist_a: User,
    citizen: Patient,
    unit_a: CareUnit,
    django_assert_max_num_queries: Any,
) -> None:
    reception = actor_of(receptionist_a)
    browser = staff_client(nurse_a)

    walk_in_add(actor=reception, identifier="191212121212")
    browser.get(reverse("booking:queue_rows"))
    with django_assert_max_num_queries(16) as few:
        browser.get(reverse("booking:queue_rows"))
    for index, number in enumerate(["19800101-0019", "19750620-2386", "197001012389", "199001013383"]):
        walk_in_add(actor=reception, identifier=number, given_name="Test", family_name=f"T{index}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = browser.get(reverse("booking:queue_rows"))
    assert page.content.decode().count("data-number=") == 5


def test_the_waiting_room_screen_shows_numbers_only(
    receptionist_a: User, nurse_a: User, citizen: Patient, unit_a: CareUnit
) -> None:
    walk_in_add(actor=actor_of(receptionist_a), identifier="191212121212")
    page = Client().get(reverse("booking:queue_display", args=[unit_a.pk]))
    html = page.content.decode()
    assert page.status_code == 200 and 'data-testid="waiting">1<' in html
    assert "Tolvan" not in html and "19121212" not in html


def test_another_providers_nurse_cannot_check_in_read_or_move_at_clinic_a(
    nurse_b: User, receptionist_a: User, citizen: Patient, unit_a: CareUnit
) -> None:
    booking, _token = booking_at(citizen, unit_a)
    entry = walk_in_add(
        actor=actor_of(receptionist_a), identifier="19800101-0019", given_name="T", family_name="T"
    )
    before = AuditEvent.objects.filter(patient=citizen).count()
    browser = staff_client(nurse_b)
    assert browser.post(reverse("booking:queue_checkin", args=[booking.pk])).status_code == 404
    assert (
        browser.post(reverse("booking:queue_status", args=[entry.pk]), {"status": "called"}).status_code
        == 404
    )
    reception = browser.get(reverse("booking:queue_reception"), {"q": "Tolvan"})
    assert "Tolvansson" not in reception.content.decode()
    board = browser.get(reverse("booking:queue_board"))
    assert "Tolvansson" not in board.content.decode() and "data-number=" not in board.content.decode()
    assert not QueueEntry.objects.filter(booking=booking).exists()
    entry.refresh_from_db()
    assert entry.status == QueueStatus.WAITING
    assert AuditEvent.objects.filter(patient=citizen).count() == before


def test_without_the_right_the_queue_is_refused(unit_a: CareUnit, citizen: Patient) -> None:
    clerk = make_staff("clerk_a", Role.RECEPTIONIST, unit=unit_a)
    assignment = clerk.assignments.get()
    assignment.rights_revoked = ["manage_bookings"]
    assignment.save()
    browser = staff_client(clerk)
    assert browser.get(reverse("booking:queue_board")).status_code == 403
    assert browser.post(reverse("booking:queue_next")).status_code == 403
