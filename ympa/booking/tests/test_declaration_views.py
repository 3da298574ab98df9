"""The nurse's declaration pages, the patient overview's panel, the unit's forms, the tablet at arrival and
the QR codes; another provider's nurse reads and confirms nothing."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from conftest import make_staff, staff_client
from ympa.access.models import AuditEvent
from ympa.authn.models import User
from ympa.booking.declaration import declaration_submit
from ympa.booking.models import DeclarationChannel, DeclarationForm, HealthDeclaration
from ympa.booking.queue import link_holder_actor
from ympa.booking.tests.route_calls_queue import booking_at
from ympa.booking.tests.test_declaration import all_no
from ympa.orgs.models import CareUnit
from ympa.orgs.rights import Role
from ympa.patients.models import Patient

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("booking_provider")]


@pytest.fixture(autouse=True)
def noon(time_machine: Any) -> None:
    time_machine.move_to(timezone.localtime().replace(hour=12, minute=0, second=0, microsecond=0), tick=True)


@pytest.fixture
def flagged(citizen: Patient, unit_a: CareUnit) -> HealthDeclaration:
    booking, _token = booking_at(citizen, unit_a)
    return declaration_submit(
        actor=link_holder_actor(booking),
        booking=booking,
        form=None,
        channel=DeclarationChannel.LINK,
        answers=all_no(bleeding={"answer": "yes", "details": "Waran"}),
    )


def test_the_nurse_sees_flagged_answers_and_confirms(nurse_a: User, flagged: HealthDeclaration) -> None:
    browser = staff_client(nurse_a)
    page = browser.get(reverse("booking:declaration_patient", args=[flagged.patient_id]))
    html = page.content.decode()
    assert page.status_code == 200
    assert 'data-answer="bleeding" data-flagged="true"' in html and "Waran" in html
    assert 'data-answer="illness" data-flagged' not in html
    done = browser.post(
        reverse("booking:declaration_confirm", args=[flagged.pk]),
        {"note": "Checked INR", "next": "https://evil.example/"},
    )
    assert done.status_code == 302 and "evil" not in done["Location"]
    flagged.refresh_from_db()
    assert flagged.confirmed_by == nurse_a and flagged.confirmation_note == "Checked INR"


def test_the_overview_loads_todays_declaration(nurse_a: User, flagged: HealthDeclaration) -> None:
    browser = staff_client(nurse_a)
    overview = browser.get(reverse("patients:overview", args=[flagged.patient_id]))
    assert reverse("booking:declaration_today", args=[flagged.patient_id]) in overview.content.decode()
    panel = browser.get(reverse("booking:declaration_today", args=[flagged.patient_id]))
    html = panel.content.decode()
    assert 'data-testid="declaration-summary"' in html and 'data-testid="declaration-confirm"' in html
    flagged.confirmed_at = timezone.now()
    flagged.save()
    assert (
        "declaration-summary"
        not in browser.get(reverse("booking:declaration_today", args=[flagged.patient_id])).content.decode()
    )


def test_another_providers_nurse_cannot_read_or_confirm(nurse_b: User, flagged: HealthDeclaration) -> None:
    before = AuditEvent.objects.filter(patient=flagged.patient).count()
    browser = staff_client(nurse_b)
    assert browser.post(reverse("booking:declaration_confirm", args=[flagged.pk])).status_code == 404
    listing = browser.get(reverse("booking:declaration_patient", args=[flagged.patient_id]))
    assert listing.status_code == 403 and "Waran" not in listing.content.decode()
    panel = browser.get(reverse("booking:declaration_today", args=[flagged.patient_id]))
    assert "Waran" not in panel.content.decode()
    assert browser.get(reverse("booking:declaration_qr", args=[flagged.booking_id])).status_code == 404
    flagged.refresh_from_db()
    assert flagged.confirmed_at is None
    assert AuditEvent.objects.filter(patient=flagged.patient).count() == before


def test_reception_cannot_read_or_confirm_declarations(
    receptionist_a: User, flagged: HealthDeclaration
) -> None:
    browser = staff_client(receptionist_a)
    assert browser.get(reverse("booking:declaration_patient", args=[flagged.patient_id])).status_code == 403
    assert browser.post(reverse("booking:declaration_confirm", args=[flagged.pk])).status_code == 403
    flagged.refresh_from_db()
    assert flagged.confirmed_at is None


def test_the_tablet_returns_to_the_start_without_the_answers(
    receptionist_a: User, citizen: Patient, unit_a: CareUnit
) -> None:
    booking, _token = booking_at(citizen, unit_a)
    browser = staff_client(receptionist_a)
    start = browser.get(reverse("booking:declaration_tablet"))
    assert reverse("booking:declaration_tablet_answer", args=[booking.pk]) in start.content.decode()
    form = browser.get(reverse("booking:declaration_tablet_answer", args=[booking.pk]))
    assert "<fieldset" in form.content.decode() and 'class="navbar-nav' not in form.content.decode()
    answers = {
        "allergies": "yes",
        "allergies_details": "Nuts",
        "illness": "no",
        "pregnancy": "no",
        "immunosuppression": "no",
        "bleeding": "no",
        "medications": "no",
    }
    sent = browser.post(reverse("booking:declaration_tablet_answer", args=[booking.pk]), answers, follow=True)
    assert sent.redirect_chain[-1][0] == reverse("booking:declaration_tablet")
    assert "Nuts" not in sent.content.decode() and "hand the tablet back" in sent.content.decode()
    declaration = HealthDeclaration.objects.get()
    assert declaration.channel == "tablet" and declaration.submitted_by_user == receptionist_a
    assert declaration.submitted_by_identity == citizen.identifier


def test_qr_codes_for_a_booking_and_for_the_unit(
    receptionist_a: User, citizen: Patient, unit_a: CareUnit
) -> None:
    booking, _token = booking_at(citizen, unit_a)
    browser = staff_client(receptionist_a)
    page = browser.get(reverse("booking:declaration_qr", args=[booking.pk]))
    assert page.status_code == 200 and "<svg" in page.content.decode()
    unit_page = browser.get(reverse("booking:declaration_unit_qr"))
    assert (
        unit_page.status_code == 200 and reverse("visit:unit", args=[unit_a.pk]) in unit_page.content.decode()
    )
    assert Client().get(reverse("visit:unit", args=[unit_a.pk])).status_code == 200


def test_the_unit_administrator_creates_and_retires_forms(unit_a: CareUnit, nurse_a: User) -> None:
    admin = make_staff("admin_a", Role.ADMINISTRATOR, unit=unit_a)
    browser = staff_client(admin)
    assert browser.get(reverse("booking:declaration_forms")).status_code == 200
    created = browser.post(
        reverse("booking:declaration_forms"), {"name": "Resa", "questions": ["allergies", "travel_dates"]}
    )
    assert created.status_code == 302
    form = DeclarationForm.objects.get()
    assert form.questions == ["allergies", "travel_dates"] and form.care_unit == unit_a
    browser.post(reverse("booking:declaration_form_retire", args=[form.pk]))
    form.refresh_from_db()
    assert form.retired_at is not None
    assert staff_client(nurse_a).get(reverse("booking:declaration_forms")).status_code == 403
