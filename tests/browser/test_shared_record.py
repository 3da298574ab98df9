"""A nurse at provider B, logged in with BankID, meets Tolvan, whose dose at provider A is behind an outer
block: she registers the care relation, is told that blocked information exists (not where), registers the
patient's consent (the block still holds), then takes emergency access in two steps and reads the dose."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from conftest import actor_of
from ympa.access.models import AuditEvent
from ympa.access.pdl_models import BlockType, PdlAssertion
from ympa.access.pdl_services import BlockRequest, block_register
from ympa.authn.bankid.simulator import BankIdSimulator
from ympa.authn.models import User
from ympa.journal.services import Administration, vaccination_record
from ympa.patients.models import Patient

pytestmark = [
    pytest.mark.browser,
    pytest.mark.usefixtures("standing_orders"),
    pytest.mark.django_db(transaction=True),
]

BERIT = "198506152423"
BATCH = "BLOCKED7"


def test_blocked_then_consent_then_emergency_access(
    page: Page,
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

    page.goto(f"{live_server.url}/login/bankid/")
    page.get_by_role("button", name="Starta BankID").click()
    qr = page.locator("[data-qr-content]").get_attribute("data-qr-content")
    assert qr is not None
    bankid.approve(bankid.scan(qr), BERIT)
    expect(page.get_by_role("heading", name="Sök patient")).to_be_visible()

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
