"""Issue 7's "done when", end to end in a real browser: a parent books themselves and their child in one go
on the public pages (identified with a one-time code by SMS), answers both health declarations and checks
both in from the personal links, and a nurse at a mass-vaccination session calls, registers and signs both
doses from the keyboard.

The pages are located by field names, paths and `data-testid`s, not by their text, so the test holds in
either language."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect

from conftest import browser_log_in
from ympa.authn.models import User
from ympa.booking.models import (
    AppointmentType,
    Booking,
    BookingChannel,
    BookingStatus,
    DeclarationChannel,
    HealthDeclaration,
    QueueEntry,
    QueueStatus,
    Slot,
)
from ympa.journal.models import EntryStatus, Vaccination
from ympa.patients.models import Guardianship, Patient

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = "070-123 45 67"
NO_TO_ALL = ("allergies", "illness", "pregnancy", "immunosuppression", "bleeding", "medications")


@pytest.fixture
def morning(time_machine: Any) -> datetime:
    """Ten o'clock today, the clock running: the family's times later this morning can be managed from the
    link (before they start) and checked in (on their day). time_machine moves the clock of the whole
    process, so the live server's thread too; only forward or back within today, so cookies stay valid."""
    ten = timezone.localtime().replace(hour=10, minute=0, second=0, microsecond=0)
    time_machine.move_to(ten, tick=True)
    return ten


@pytest.fixture
def nurse_page(browser: Browser) -> Iterator[Page]:
    """The nurse's own browser, apart from the family's (no shared cookies)."""
    context = browser.new_context(locale="sv-SE", timezone_id="Europe/Stockholm")
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def answer_declaration(page: Page, link: str, *, allergy: str = "") -> None:
    """Everything "no" on the standard questions; an allergy, if given, is answered "yes" (flagged)."""
    page.goto(link)
    for key in NO_TO_ALL:
        page.locator(f"input[name={key}][value={'yes' if key == 'allergies' and allergy else 'no'}]").check()
    if allergy:
        page.locator("[name=allergies_details]").fill(allergy)
    page.locator("main form[method=post] button[type=submit]").click()
    expect(page.get_by_test_id("declaration-sent")).to_be_visible()


def check_in(page: Page, link: str) -> None:
    page.goto(link)
    page.locator("main form[method=post] button[type=submit]").click()
    expect(page.get_by_test_id("queue-number")).to_be_visible()


def test_a_family_books_declares_checks_in_and_is_vaccinated_at_the_desk(
    page: Page,
    nurse_page: Page,
    live_server: Any,
    morning: datetime,
    citizen: Patient,
    nurse_a: User,
    appointment_type: AppointmentType,
    make_slots: Callable[..., list[Slot]],
    sms_simulator: Any,
) -> None:
    child = Patient.objects.create(
        identifier_kind="personnummer",
        identifier="202001012380",
        given_name="Lill",
        family_name="Tolvansson",
        birth_date=date(2020, 1, 1),
    )
    Guardianship.objects.create(child=child, guardian=citizen)
    slots = make_slots(6, start=morning + timedelta(minutes=30))
    base = live_server.url

    # The parent finds the unit, the type and a time, then identifies with a code by SMS.
    page.goto(f"{base}/boka/")
    page.get_by_test_id("units").locator("a").first.click()
    page.get_by_test_id("kinds").locator("a").first.click()
    page.locator(f"a[data-slot='{slots[1].pk}']").click()
    page.locator("a[href^='/boka/identifiera/']").click()
    page.locator("[name=pnr]").fill("19121212-1212")
    page.locator("[name=channel][value=sms]").check()
    page.locator("[name=destination]").fill(PHONE)
    page.locator("form[action$='/identifiera/'] button[type=submit]").click()
    expect(page.locator("[name=code]")).to_be_visible()
    [sms] = sms_simulator.messages
    code = re.search(r"\b(\d{6})\b", sms.message or "")
    assert code and sms.to == "+46701234567"
    page.locator("[name=code]").fill(code.group(1))
    page.locator("form[action$='/identifiera/kod/'] button[type=submit]").click()

    # Back on the booking form: the parent at the chosen time, the child at the next free one.
    child_field = page.locator(f"input[name=person][value='{child.pk}']")
    child_row = page.get_by_test_id("person").filter(has=child_field)
    child_row.locator("select[name=slot]").select_option("auto")
    expect(page.locator("[name=phone]")).to_have_value(PHONE)
    page.locator("form[action$='/bekrafta/'] button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/boka/min-bokning/[^/]+/$"))
    expect(page.get_by_test_id("booking")).to_have_count(2)
    assert any("/boka/min-bokning/" in (m.message or "") for m in sms_simulator.messages[1:])

    # Each person's own link from the manage page: a declaration (the child's flags an allergy), check-in.
    links = {}
    for section in page.get_by_test_id("booking").all():
        name = section.locator("h2").inner_text()
        declaration = section.locator("a[href$='/halsodeklaration']").get_attribute("href")
        checkin = section.locator("a[href$='/incheckning']").get_attribute("href")
        links[name] = (f"{base}{declaration}", f"{base}{checkin}")
    assert set(links) == {citizen.full_name, child.full_name}
    answer_declaration(page, links[citizen.full_name][0])
    answer_declaration(page, links[child.full_name][0], allergy="Ägg")
    for _declaration, checkin in (links[citizen.full_name], links[child.full_name]):
        check_in(page, checkin)

    # The nurse starts a mass-vaccination session and takes both at the desk from the keyboard.
    browser_log_in(nurse_page, base, "nurse_a")
    nurse_page.goto(f"{base}/booking/mass/")
    form = nurse_page.get_by_test_id("session-form")
    form.locator("[name=name]").fill("Influensa förmiddag")
    form.locator("[name=product]").select_option("vaxigriptetra")
    form.locator("[name=batch_number]").fill("AB1234")
    form.locator("[name=batch_expiry]").fill((morning.date() + timedelta(days=100)).isoformat())
    form.locator("[name=default_site]").select_option("left_deltoid")
    form.locator("[name=appointment_type]").select_option(str(appointment_type.pk))
    nurse_page.get_by_test_id("start-session").click()
    expect(nurse_page.get_by_test_id("no-patient")).to_be_visible()
    # The desk's keys work once its (deferred) script has run.
    nurse_page.wait_for_load_state()

    nurse_page.keyboard.press("n")
    expect(nurse_page.get_by_test_id("patient-name")).to_have_text(citizen.full_name)
    expect(nurse_page.get_by_test_id("declaration-flagged")).to_have_count(0)
    nurse_page.keyboard.press("Enter")
    expect(nurse_page.get_by_test_id("signed")).to_contain_text(citizen.full_name)
    # Signing calls the next patient: the child, whose allergy the nurse confirms having gone through.
    expect(nurse_page.get_by_test_id("patient-name")).to_have_text(child.full_name)
    expect(nurse_page.get_by_test_id("declaration-flagged")).to_be_visible()
    nurse_page.locator("[name=declaration_confirmed]").check()
    nurse_page.keyboard.press("Enter")
    expect(nurse_page.get_by_test_id("signed")).to_contain_text(child.full_name)
    expect(nurse_page.get_by_test_id("no-patient")).to_be_visible()

    family = {citizen.pk, child.pk}
    bookings = list(Booking.objects.select_related("slot"))
    assert {b.patient_id for b in bookings} == family and len(bookings) == 2
    assert len({b.group for b in bookings}) == 1
    assert {b.channel for b in bookings} == {BookingChannel.PUBLIC}
    assert {b.status for b in bookings} == {BookingStatus.ATTENDED}
    assert sorted(b.slot_id for b in bookings) == [slots[1].pk, slots[2].pk]
    declarations = {d.patient_id: d for d in HealthDeclaration.objects.all()}
    assert set(declarations) == family and HealthDeclaration.objects.count() == 2
    assert {d.channel for d in declarations.values()} == {DeclarationChannel.LINK}
    assert declarations[citizen.pk].flagged == [] and declarations[child.pk].flagged == ["allergies"]
    assert declarations[child.pk].confirmed_at is not None
    entries = list(QueueEntry.objects.all())
    assert {e.patient_id for e in entries} == family and len(entries) == 2
    assert {e.status for e in entries} == {QueueStatus.DONE}
    vaccinations = Vaccination.objects.filter(status=EntryStatus.SIGNED).select_related("current_version")
    assert {v.patient_id for v in vaccinations} == family and len(vaccinations) == 2
    assert all(v.current_version and v.current_version.batch_number == "AB1234" for v in vaccinations)
    assert {e.vaccination_id for e in entries} == {v.pk for v in vaccinations}
