"""A nurse at provider B, logged in with BankID, meets Tolvan, whose dose at provider A is behind an outer
block: she registers the care relation, is told that blocked information exists (not where), registers the
patient's consent (the block still holds), then takes emergency access in two steps and reads the dose.
Provider B's log reviewer then finds that access, with its reason, and records the review."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from conftest import actor_of, make_staff
from ympa.access.models import AuditEvent
from ympa.access.pdl_models import BlockType, PdlAssertion
from ympa.access.pdl_services import BlockRequest, block_register
from ympa.access.review_models import LogReview, ReviewOutcome
from ympa.authn.bankid.simulator import BankIdSimulator
from ympa.authn.models import User
from ympa.journal.services import Administration, vaccination_record
from ympa.orgs.models import CareUnit
from ympa.orgs.rights import Role
from ympa.patients.models import Patient

pytestmark = [
    pytest.mark.browser,
    pytest.mark.usefixtures("standing_orders"),
    pytest.mark.django_db(transaction=True),
]

BERIT = "198506152423"
REVIEWER = "199203044517"
BATCH = "BLOCKED7"


def _bankid_login(page: Page, url: str, bankid: BankIdSimulator, personal_number: str) -> None:
    page.goto(f"{url}/login/bankid/")
    page.get_by_role("button", name="Starta BankID").click()
    qr = page.locator("[data-qr-content]").get_attribute("data-qr-content")
    assert qr is not None
    bankid.approve(bankid.scan(qr), personal_number)
    expect(page.get_by_role("heading", name="Sök patient")).to_be_visible()


def test_blocked_then_consent_then_emergency_access_then_log_review(
    browser: Browser,
    page: Page,
    unit_b: CareUnit,
    live_server: Any,
    bankid: BankIdSimulator,
    citizen: Patient,
    nurse_a: User,
    nurse_b: User,
    administration: Any,
) -> None:
    data: Administration = administration(batch_number=BATCH)
    vaccination_record(actor=actor_of(nurse_a), patient=citizen, data=data, sign=True)
    block_register(actor=actor_of(nurse_a), patient=citizen, request=BlockRequest(BlockType.OUTER, None))
    nurse_b.personal_identity_number = BERIT
    nurse_b.save(update_fields=["personal_identity_number"])

    _bankid_login(page, live_server.url, bankid, BERIT)

    page.goto(f"{live_server.url}/patients/{citizen.pk}/")
    expect(page.get_by_test_id("needs-care-relation")).to_be_visible()
    page.get_by_label("Vårdrelationens syfte").fill("Vaccination")
    page.get_by_test_id("care-relation-register").click()

    expect(page.get_by_test_id("blocked-information")).to_be_visible()
    expect(page.get_by_text(BATCH)).to_have_count(0)
    expect(page.get_by_text("Clinic A")).to_have_count(0)

    # The patient's consent opens other providers' records, but not a block.
    page.get_by_test_id("consent-register").click()
    expect(page.get_by_test_id("consent")).to_be_visible()
    expect(page.get_by_test_id("blocked-information")).to_be_visible()
    expect(page.get_by_text(BATCH)).to_have_count(0)

    page.get_by_test_id("emergency-start").click()  # without a reason: refused, nothing registered
    assert not PdlAssertion.objects.filter(assertion_type="emergency").exists()
    page.get_by_label("Varför är det en nödsituation?").fill("Medvetslös, okänt vaccinationsskydd")
    page.get_by_test_id("emergency-start").click()
    expect(page.get_by_test_id("blocked-sources")).to_contain_text("Clinic A")
    page.get_by_test_id("emergency-open").click()
    expect(page.get_by_text(BATCH)).to_be_visible()
    logged = AuditEvent.objects.filter(user=nurse_b, object_type="access.pdlassertion")
    steps = logged.filter(detail__type="emergency")
    assert sorted(e.detail["step"] for e in steps) == ["open", "reveal"]

    # Provider B's administrator reviews the log: the emergency access is listed with its reason.
    reviewer = make_staff("reviewer_b", Role.ADMINISTRATOR, unit=unit_b)
    reviewer.personal_identity_number = REVIEWER
    reviewer.save(update_fields=["personal_identity_number"])
    context = browser.new_context(locale="sv-SE", timezone_id="Europe/Stockholm")
    context.set_default_timeout(15_000)
    review = context.new_page()
    _bankid_login(review, live_server.url, bankid, REVIEWER)
    review.get_by_role("link", name="Logguppföljning").click()
    for category in (
        "Inget besök på enheten",
        "Skyddade personuppgifter",
        "Samma efternamn eller adress som medarbetaren",
    ):
        review.get_by_label(category).uncheck()
    review.get_by_role("button", name="Visa", exact=True).click()
    table = review.get_by_test_id("review-table")
    expect(table).to_contain_text("Tolvan Tolvansson")
    expect(table).to_contain_text("Medvetslös, okänt vaccinationsskydd")
    expect(table.get_by_text("Nödåtkomst").first).to_be_visible()
    review.get_by_label("Inga anmärkningar").check()
    review.get_by_label("Iakttagelse").fill("Nödåtkomsten var befogad: patienten var medvetslös.")
    review.get_by_role("button", name="Registrera granskning").click()
    expect(review.get_by_text("Granskningen är registrerad.")).to_be_visible()
    expect(review.get_by_test_id("reviews")).to_contain_text("Nödåtkomsten var befogad")
    recorded = LogReview.objects.get()
    assert recorded.reviewed_by == reviewer and recorded.outcome == ReviewOutcome.NO_REMARKS
    assert recorded.categories == ["emergency"]
    context.close()
