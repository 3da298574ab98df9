"""The patient's visit pages from the booking link: the health declaration and check-in; a wrong link or
a QR code that has expired changes nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core import signing
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from ympa.access.models import AuditEvent
from ympa.booking.models import BookingStatus, HealthDeclaration, QueueEntry
from ympa.booking.tests.route_calls_queue import booking_at
from ympa.booking.visit_selectors import QR_SALT, qr_code_value
from ympa.orgs.models import CareUnit
from ympa.patients.models import Patient

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("booking_provider")]

ANSWERS = {
    "allergies": "yes",
    "allergies_details": "Penicillin",
    "illness": "no",
    "pregnancy": "no",
    "immunosuppression": "no",
    "bleeding": "no",
    "medications": "no",
    "travel_destination": "",
    "travel_dates_from": "",
    "travel_dates_to": "",
}


@pytest.fixture(autouse=True)
def noon(time_machine: Any) -> None:
    time_machine.move_to(timezone.localtime().replace(hour=12, minute=0, second=0, microsecond=0), tick=True)


def test_the_declaration_page_is_accessible_and_sends_the_answers(citizen: Patient, unit_a: CareUnit) -> None:
    booking, token = booking_at(citizen, unit_a)
    url = reverse("visit:declaration", args=[token])
    page = Client().get(url)
    assert page.status_code == 200 and page["Cache-Control"] == "no-store"
    html = page.content.decode()
    assert "<fieldset" in html and "<legend" in html and 'for="id_allergies_details"' in html
    assert "Tolvan" in html
    sent = Client().post(url, ANSWERS, follow=True)
    assert sent.status_code == 200
    assert "Thank you" in sent.content.decode() and 'data-testid="declaration-sent"' in sent.content.decode()
    declaration = HealthDeclaration.objects.get()
    assert declaration.booking == booking and declaration.flagged == ["allergies"]
    assert declaration.channel == "link"


def test_missing_answers_are_shown_at_the_questions(citizen: Patient, unit_a: CareUnit) -> None:
    _booking, token = booking_at(citizen, unit_a)
    answers = {**ANSWERS, "illness": "", "travel_dates_from": "2030-01-10", "travel_dates_to": "2030-01-01"}
    page = Client().post(reverse("visit:declaration", args=[token]), answers)
    assert page.status_code == 400
    html = page.content.decode()
    assert 'id="id_illness_error"' in html and 'id="id_travel_dates_to_error"' in html
    assert not HealthDeclaration.objects.exists()


def test_a_wrong_link_changes_nothing(citizen: Patient, unit_a: CareUnit) -> None:
    booking_at(citizen, unit_a)
    before = AuditEvent.objects.count()
    for name in ("visit:declaration", "visit:checkin"):
        assert Client().post(reverse(name, args=["not-the-secret"]), ANSWERS).status_code == 404
        assert Client().get(reverse(name, args=["not-the-secret"])).status_code == 404
    assert not HealthDeclaration.objects.exists() and not QueueEntry.objects.exists()
    assert AuditEvent.objects.count() == before


def test_an_expired_or_forged_qr_code_changes_nothing(
    citizen: Patient, unit_a: CareUnit, time_machine: Any
) -> None:
    booking, _token = booking_at(citizen, unit_a)
    value = qr_code_value(booking)
    forged = signing.dumps(str(booking.pk), salt="another salt")
    assert Client().get(reverse("visit:declaration_qr", args=[value])).status_code == 200
    time_machine.shift(timedelta(hours=5))
    for code in (value, forged):
        assert Client().post(reverse("visit:declaration_qr", args=[code]), ANSWERS).status_code == 404
    assert not HealthDeclaration.objects.exists()
    assert QR_SALT


def test_the_qr_code_takes_the_answers(citizen: Patient, unit_a: CareUnit) -> None:
    booking, _token = booking_at(citizen, unit_a)
    url = reverse("visit:declaration_qr", args=[qr_code_value(booking)])
    assert Client().post(url, ANSWERS).status_code == 302
    assert HealthDeclaration.objects.get().channel == "qr"


def test_a_cancelled_booking_takes_no_answers(citizen: Patient, unit_a: CareUnit) -> None:
    booking, token = booking_at(citizen, unit_a)
    booking.status, booking.cancelled_at = BookingStatus.CANCELLED, timezone.now()
    booking.save()
    page = Client().post(reverse("visit:declaration", args=[token]), ANSWERS)
    assert "cancelled" in page.content.decode()
    assert not HealthDeclaration.objects.exists()


def test_check_in_on_the_day_gives_a_number(citizen: Patient, unit_a: CareUnit) -> None:
    _booking, token = booking_at(citizen, unit_a)
    url = reverse("visit:checkin", args=[token])
    assert "check in" in Client().get(url).content.decode()
    done = Client().post(url, follow=True)
    assert 'data-testid="queue-number"' in done.content.decode()
    entry = QueueEntry.objects.get()
    assert entry.number == 1 and entry.channel == "self"
    # Again: the same number, no second entry.
    Client().post(url)
    assert QueueEntry.objects.count() == 1


def test_check_in_on_another_day_is_refused_clearly(citizen: Patient, unit_a: CareUnit) -> None:
    _booking, token = booking_at(citizen, unit_a, timezone.now() + timedelta(days=2))
    url = reverse("visit:checkin", args=[token])
    page = Client().get(url)
    assert 'data-testid="checkin-problem"' in page.content.decode()
    assert "on the day of your appointment" in page.content.decode()
    assert Client().post(url).status_code == 409
    assert not QueueEntry.objects.exists()


def test_the_entrance_page_names_no_patient(unit_a: CareUnit) -> None:
    page = Client().get(reverse("visit:unit", args=[unit_a.pk]))
    assert page.status_code == 200 and "Clinic A" in page.content.decode()
