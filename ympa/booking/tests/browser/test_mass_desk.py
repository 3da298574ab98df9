"""The mass-vaccination desk in a real browser: three checked-in patients are called, registered and signed
with at most three interactions each (the target is one: Enter), and a patient with a flagged health
declaration needs the nurse's explicit confirmation."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from conftest import actor_of, browser_log_in
from ympa.authn.models import User
from ympa.booking.declaration import declaration_submit
from ympa.booking.mass import mass_session_start
from ympa.booking.models import AppointmentType, Booking, DeclarationChannel, MassSession, Resource, Slot
from ympa.booking.queue import checkin
from ympa.catalog.models import Product
from ympa.journal.models import EntryStatus, Vaccination
from ympa.orgs.models import CareUnit
from ympa.patients.models import Patient
from ympa.patients.services import PatientDetails, patient_register

pytestmark = [
    pytest.mark.browser,
    pytest.mark.usefixtures("booking_provider"),
    pytest.mark.django_db(transaction=True),
]
PATIENTS = (
    ("19121212-1212", "Tolvan", "Tolvansson"),
    ("19800101-0019", "Vera", "Vuxen"),
    ("19900101-0017", "Nils", "Nilsson"),
    ("19700101-0011", "Flora", "Flaggad"),
)


class Desk:
    """The nurse's hands: every click and key press at the desk is counted."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.interactions = 0

    def press(self, key: str) -> None:
        self.interactions += 1
        self.page.keyboard.press(key)

    def check(self, selector: str) -> None:
        self.interactions += 1
        self.page.locator(selector).check()


def checked_in(nurse: User, unit: CareUnit, vaccine: Product) -> list[Patient]:
    """Four patients booked this morning and checked in at reception, in order; the last one has a flagged
    health declaration (ill today)."""
    actor = actor_of(nurse)
    kind = AppointmentType.objects.create(care_unit=unit, name="Influensa", duration_minutes=5)
    kind.products.add(vaccine)
    room = Resource.objects.create(care_unit=unit, name="Rum 1")
    first = timezone.localtime().replace(second=0, microsecond=0) - timedelta(minutes=30)
    patients = []
    for index, (identifier, given, family) in enumerate(PATIENTS):
        patient = patient_register(
            actor=actor, identifier=identifier, details=PatientDetails(given_name=given, family_name=family)
        )
        start = first + timedelta(minutes=5 * index)
        slot = Slot.objects.create(
            care_unit=unit,
            appointment_type=kind,
            resource=room,
            starts_at=start,
            ends_at=start + timedelta(minutes=5),
            booked=True,
        )
        booking = Booking.objects.create(
            slot=slot,
            care_unit=unit,
            appointment_type=kind,
            patient=patient,
            channel="staff",
            token_hash=secrets.token_hex(32),
        )
        if family == "Flaggad":
            no = {"answer": False, "details": ""}
            declaration_submit(
                actor=actor,
                form=None,
                answers={
                    "allergies": no,
                    "illness": {"answer": True, "details": "Feber i går"},
                    "pregnancy": False,
                    "immunosuppression": no,
                    "bleeding": no,
                    "medications": no,
                },
                channel=DeclarationChannel.TABLET,
                booking=booking,
            )
        checkin(actor=actor, booking=booking, channel="reception")
        patients.append(patient)
    return patients


def test_a_mass_vaccination_session_at_the_desk(
    page: Page, live_server: Any, nurse_a: User, unit_a: CareUnit, vaccine: Product
) -> None:
    patients = checked_in(nurse_a, unit_a, vaccine)
    session: MassSession = mass_session_start(
        actor=actor_of(nurse_a),
        name="Influensa",
        product=vaccine,
        batch_number="AB1234",
        batch_expiry=timezone.localdate() + timedelta(days=100),
        default_site="left_deltoid",
    )
    browser_log_in(page, live_server.url, "nurse_a")
    page.goto(f"{live_server.url}/booking/mass/{session.pk}/")
    expect(page.get_by_test_id("no-patient")).to_be_visible()
    # The desk's keys listen once its deferred script has run.
    page.wait_for_load_state()
    expect(page.get_by_test_id("queue-count")).to_contain_text("4")

    desk = Desk(page)
    counts = []
    for index, patient in enumerate(patients[:3]):
        before = desk.interactions
        if index == 0:
            # The first patient of the session is called with N; after that, Enter signs and calls the next.
            desk.press("n")
            expect(page.get_by_test_id("patient-name")).to_have_text(patient.full_name)
        expect(page.get_by_test_id("patient-identifier")).to_have_text(
            f"{patient.identifier[:8]}-{patient.identifier[8:]}"
        )
        desk.press("Enter")
        expect(page.get_by_test_id("signed")).to_contain_text(patient.full_name)
        counts.append(desk.interactions - before)
    assert max(counts) <= 3 and sum(counts) / len(counts) <= 2, counts

    signed = Vaccination.objects.filter(patient__in=patients[:3], status=EntryStatus.SIGNED)
    assert signed.count() == 3
    assert {v.current_version.batch_number for v in signed.select_related("current_version")} == {"AB1234"}

    # The flagged patient is at the desk now, with a clear warning; Enter alone signs nothing.
    flagged = patients[3]
    expect(page.get_by_test_id("patient-name")).to_have_text(flagged.full_name)
    expect(page.get_by_test_id("declaration-flagged")).to_be_visible()
    expect(page.locator("[data-flagged=true]")).to_have_count(1)
    page.screenshot(path=str(_screenshot_dir() / "mass-desk-flagged.png"), full_page=True)
    desk.press("Enter")
    expect(page.locator("#id_declaration_confirmed_error")).to_be_visible()
    assert not Vaccination.objects.filter(patient=flagged).exists()
    before = desk.interactions
    desk.check("[name=declaration_confirmed]")
    desk.press("Enter")
    # The confirmation is an interaction more, as it should be: Enter, tick, Enter.
    assert desk.interactions - before == 2
    expect(page.get_by_test_id("signed")).to_contain_text(flagged.full_name)
    assert Vaccination.objects.filter(patient=flagged, status=EntryStatus.SIGNED).count() == 1
    expect(page.get_by_test_id("no-patient")).to_be_visible()
    # The desk's keys listen once its deferred script has run.
    page.wait_for_load_state()

    # A walk-in: W, the personnummer, Enter; names only because the patient is new.
    desk.press("w")
    page.keyboard.type("20000101-0016")
    page.keyboard.press("Enter")
    page.locator("[name=given_name]").fill("Walter")
    page.locator("[name=family_name]").fill("Walkin")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("walk-in-added")).to_contain_text("Walter Walkin")
    page.locator("body").click()
    desk.press("n")
    expect(page.get_by_test_id("patient-name")).to_have_text("Walter Walkin")


def _screenshot_dir() -> Any:
    from pathlib import Path

    directory = Path(__file__).resolve().parents[4] / "var" / "screenshots"
    directory.mkdir(parents=True, exist_ok=True)
    return directory
