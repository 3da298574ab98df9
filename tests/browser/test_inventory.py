"""A nurse receives a delivery, gives two doses from it, nullifies one, and the balance, the ledger and the
recall list agree."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from conftest import actor_of
from tests.browser.test_vaccination_flow import _screenshot_dir, log_in
from ympa.authn.models import User
from ympa.inventory.models import Movement
from ympa.inventory.selectors import stock_verify
from ympa.orgs.models import CareProvider
from ympa.patients.models import Patient
from ympa.patients.services import PatientDetails, patient_register

pytestmark = [
    pytest.mark.browser,
    pytest.mark.usefixtures("standing_orders"),
    pytest.mark.django_db(transaction=True),
]


def give_dose(page: Page, base: str, patient: Patient, minutes_ago: int) -> None:
    page.goto(f"{base}/patients/{patient.pk}/")
    page.get_by_test_id("register-vaccination").click()
    page.get_by_label("Vaccin").select_option("vaxigriptetra")
    # The batch picker lists the unit's stock of the vaccine; choosing fills in number and expiry.
    choice = page.get_by_test_id("batch-choices").get_by_role("button", name=re.compile("AB1234"))
    expect(choice).to_contain_text("i lager")
    choice.click()
    expect(page.get_by_label("Batchnummer")).to_have_value("AB1234")
    expect(page.get_by_label("Batchens utgångsdatum")).not_to_have_value("")
    page.get_by_label("Administrationssätt").select_option("IM")
    given = timezone.localtime() - timedelta(minutes=minutes_ago)
    page.locator("#id_administered_at").fill(given.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("Injektionsställe").select_option("left_deltoid")
    page.get_by_test_id("save-sign").click()
    expect(page.get_by_text("Vaccinationen är signerad.")).to_be_visible()


def balance_of(page: Page, base: str) -> str:
    page.goto(f"{base}/inventory/")
    return page.get_by_test_id("balance").locator("tr[data-batch='AB1234'] td").nth(4).inner_text().strip()


def test_delivery_doses_nullification_balance_ledger_and_recall_agree(
    page: Page, live_server: Any, nurse_a: User, citizen: Patient, provider_a: CareProvider
) -> None:
    provider_a.modules = ["journal", "inventory"]
    provider_a.save(update_fields=["modules"])
    child = patient_register(
        actor=actor_of(nurse_a),
        identifier="20100101-2382",
        details=PatientDetails(given_name="Lilla", family_name="Tolvansson"),
    )
    base = live_server.url
    log_in(page, base, "nurse_a")

    page.get_by_role("link", name="Lager", exact=True).click()
    page.get_by_role("link", name="Ta emot leverans").click()
    page.get_by_label("Leverantör").fill("Sanofi")
    page.locator("#id_lines-0-product").select_option("vaxigriptetra")
    page.locator("#id_lines-0-batch_number").fill("ab1234")
    page.locator("#id_lines-0-expiry").fill((timezone.localdate() + timedelta(days=45)).isoformat())
    page.locator("#id_lines-0-packages").fill("10")
    page.get_by_role("button", name="Ta emot i lager").click()
    expect(page.get_by_text("AB1234").first).to_be_visible()
    assert balance_of(page, base) == "10"
    # Expiring within 60 days: the balance warns in words, not by colour alone.
    expect(page.get_by_test_id("balance").locator("tr[data-batch='AB1234']")).to_contain_text("60")

    give_dose(page, base, citizen, minutes_ago=20)
    give_dose(page, base, child, minutes_ago=10)
    assert balance_of(page, base) == "8"

    page.goto(f"{base}/patients/{child.pk}/")
    page.get_by_test_id("history").get_by_role("link").first.click()
    page.get_by_role("link", name="Makulera").click()
    page.get_by_label("Orsak").fill("Registrerad på fel patient")
    page.get_by_role("button", name="Makulera").click()
    assert balance_of(page, base) == "9"

    page.get_by_role("link", name="Lagerhändelser", exact=True).click()
    ledger = page.get_by_test_id("ledger").locator("tbody tr")
    expect(ledger).to_have_count(4)
    quantities = [ledger.nth(i).locator("td").nth(2).inner_text().strip() for i in range(4)]
    # Newest first: the returned dose, two doses given, the receipt.
    assert quantities == ["+1", "-1", "-1", "+10"]

    page.get_by_role("link", name="Återkallelselista").click()
    page.get_by_label("Vaccin").select_option("vaxigriptetra")
    page.get_by_label("Batchnummer").fill("AB1234")
    page.get_by_label("Skäl eller ärendenummer").fill("Återkallelse 2026-17")
    page.get_by_role("button", name="Lista patienter").click()
    recall = page.get_by_test_id("recall-list")
    expect(recall.locator("tbody tr")).to_have_count(1)
    expect(recall).to_contain_text("Tolvan Tolvansson")
    expect(recall).not_to_contain_text("Lilla")
    page.screenshot(path=str(_screenshot_dir() / "inventory-recall.png"), full_page=True)

    # What the pages showed is what the ledger holds: 10 in, 2 out, 1 back.
    assert sum(Movement.objects.values_list("quantity", flat=True)) == 9
    assert stock_verify() == []
