"""A nurse logs in, registers a patient, records and signs a vaccination, corrects it, sees both versions."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pyotp
import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from conftest import PASSWORD, TOTP_SECRET
from ympa.authn.models import User
from ympa.journal.models import Vaccination

pytestmark = [
    pytest.mark.browser,
    pytest.mark.usefixtures("standing_orders"),
    pytest.mark.django_db(transaction=True),
]


def log_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/")
    page.get_by_label("Användarnamn").fill(username)
    page.get_by_label("Lösenord").fill(PASSWORD)
    page.get_by_role("button", name="Fortsätt").click()
    User.objects.filter(username=username).update(totp_last_step=0)
    page.get_by_label("Kod från din autentiseringsapp").fill(pyotp.TOTP(TOTP_SECRET).now())
    page.get_by_role("button", name="Logga in").click()
    expect(page.get_by_role("heading", name="Sök patient")).to_be_visible()


def test_register_record_sign_correct(page: Page, live_server: Any, nurse_a: User) -> None:
    base = live_server.url
    log_in(page, base, "nurse_a")

    page.get_by_role("link", name="Registrera patient").first.click()
    page.get_by_label("Personnummer, samordningsnummer eller reservnummer").fill("19121212-1213")
    page.get_by_label("Förnamn").fill("Tolvan")
    page.get_by_label("Efternamn").fill("Tolvansson")
    page.get_by_role("button", name="Registrera", exact=True).click()
    expect(page.get_by_text("Kontrollsiffran stämmer inte")).to_be_visible()
    page.get_by_label("Personnummer, samordningsnummer eller reservnummer").fill("19121212-1212")
    page.get_by_role("button", name="Registrera", exact=True).click()
    expect(page.get_by_test_id("patient-identifier")).to_have_text("19121212-1212")

    page.get_by_test_id("register-vaccination").click()
    page.get_by_label("Vaccin").select_option("vaxigriptetra")
    # htmx fills in the vaccine's defaults (the dose volume from the catalogue).
    expect(page.get_by_label("Dosvolym (ml)")).to_have_value(re.compile(r"^0\.50?$"))
    page.get_by_label("Administrationssätt").select_option("IM")
    given = timezone.localtime() - timedelta(minutes=10)
    page.locator("#id_administered_at").fill(given.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("Batchnummer").fill("ab1234")
    page.get_by_label("Batchens utgångsdatum").fill((timezone.localdate() + timedelta(days=90)).isoformat())
    page.get_by_label("Injektionsställe").select_option("left_deltoid")
    page.get_by_test_id("save-sign").click()
    expect(page.get_by_text("Vaccinationen är signerad.")).to_be_visible()
    history = page.get_by_test_id("history")
    expect(history).to_contain_text("Vaxigrip")
    expect(history).to_contain_text("AB1234")

    history.get_by_role("link").first.click()
    page.get_by_test_id("correct").click()
    page.get_by_label("Batchnummer").fill("AB5678")
    page.get_by_label("Orsak till rättelsen").fill("Fel batchnummer avläst från förpackningen")
    page.get_by_test_id("sign-correction").click()
    expect(page.get_by_text("Rättelsen är signerad.")).to_be_visible()
    expect(page.get_by_test_id("version-2")).to_contain_text("AB5678")
    expect(page.get_by_test_id("version-2")).to_contain_text("Fel batchnummer avläst från förpackningen")
    expect(page.get_by_test_id("version-1")).to_contain_text("AB1234")

    vaccination = Vaccination.objects.get()
    assert vaccination.status == "signed" and vaccination.versions.count() == 2
    page.get_by_role("link", name="Tolvan Tolvansson").click()
    expect(page.get_by_test_id("history")).to_contain_text("Rättad (version 2)")
    page.screenshot(path=str(_screenshot_dir() / "patient-overview.png"), full_page=True)


def _screenshot_dir() -> Any:
    from pathlib import Path

    directory = Path(__file__).resolve().parents[2] / "var" / "screenshots"
    directory.mkdir(parents=True, exist_ok=True)
    return directory
