"""Decision support in the browser: due and overdue vaccine groups on the overview, and signing a dose that
does not count only with a stated reason (the override flow)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pyotp
import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from conftest import actor_of
from tests.browser.test_vaccination_flow import log_in
from ympa.authn.models import User
from ympa.catalog.models import Product
from ympa.journal.models import Vaccination
from ympa.journal.services import Administration, vaccination_record
from ympa.patients.models import Patient

pytestmark = [
    pytest.mark.browser,
    pytest.mark.usefixtures("standing_orders"),
    pytest.mark.django_db(transaction=True),
]


def tbe_dose(nurse: User, patient: Patient, days_ago: int, dose: int) -> None:
    vaccination_record(
        actor=actor_of(nurse),
        patient=patient,
        sign=True,
        data=Administration(
            administered_at=timezone.now() - timedelta(days=days_ago),
            product=Product.objects.get(code="fsme-immun-vuxen"),
            batch_number="TBE1",
            dose_number=dose,
            site="left_deltoid",
            route="IM",
        ),
    )


def test_overdue_group_and_override_flow(
    page: Page, live_server: Any, nurse_a: User, citizen: Patient
) -> None:
    tbe_dose(nurse_a, citizen, days_ago=120, dose=1)
    log_in(page, live_server.url, "nurse_a")
    page.goto(f"{live_server.url}/patients/{citizen.pk}/")
    tbe_row = page.locator('[data-testid="decision-support"] tr[data-group="TBE"]')
    expect(tbe_row).to_contain_text("Försenad")
    expect(tbe_row).to_contain_text("dos 2")

    # Dose 2 today is fine (its number comes from the evaluation); a rotavirus vaccine for a 113-year-old does
    # not count and is signed only with a reason.
    page.get_by_test_id("register-vaccination").click()
    page.get_by_label("Vaccin").select_option("fsme-immun-vuxen")
    expect(page.get_by_label("Dosnummer i serien")).to_have_value("2")
    page.get_by_label("Batchnummer").fill("TBE2")
    page.get_by_label("Injektionsställe").select_option("left_deltoid")
    page.get_by_label("Administrationssätt").select_option("IM")
    page.get_by_test_id("save-sign").click()
    expect(page.get_by_text("Vaccinationen är signerad.")).to_be_visible()
    expect(page.locator('[data-testid="decision-support"] tr[data-group="TBE"]')).to_contain_text("dos 3")

    page.get_by_test_id("register-vaccination").click()
    page.get_by_label("Vaccin").select_option("rotarix")
    # Wait for htmx to fill in the product's defaults before typing into the refreshed fields.
    expect(page.get_by_label("Administrationssätt")).to_have_value("PO")
    page.get_by_label("Batchnummer").fill("ROTA1")
    page.get_by_label("Injektionsställe").select_option("oral")
    page.get_by_test_id("save-sign").click()
    warning = page.get_by_test_id("decision-support-warning")
    expect(warning).to_contain_text("patienten är för gammal för dosen")
    assert Vaccination.objects.filter(patient=citizen).count() == 2
    page.get_by_label("Varför dosen gavs fast den inte räknas").fill(
        "Förväxling av förpackning, se avvikelse"
    )
    page.get_by_test_id("save-sign").click()
    expect(page.get_by_text("Vaccinationen är signerad.")).to_be_visible()
    expect(page.locator('[data-testid="invalid-doses"]')).to_contain_text("patienten är för gammal för dosen")

    rotavirus = Vaccination.objects.filter(patient=citizen, current_version__product__code="rotarix").get()
    page.goto(f"{live_server.url}/vaccinations/{rotavirus.pk}/")
    expect(page.get_by_test_id("override-reason")).to_have_text("Förväxling av förpackning, se avvikelse")


def test_demo_patient_tolvan_shows_what_is_due(page: Page, live_server: Any) -> None:
    from ympa.core.demo import DEMO_PASSWORD, TOLVAN, demo_load, totp_secret_for

    demo_load()
    page.goto(f"{live_server.url}/")
    page.get_by_label("Användarnamn").fill("maria.ssk")
    page.get_by_label("Lösenord").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Fortsätt").click()
    page.get_by_label("Kod från din autentiseringsapp").fill(pyotp.TOTP(totp_secret_for("maria.ssk")).now())
    page.get_by_role("button", name="Logga in").click()
    page.get_by_label("Personnummer eller namn").fill(TOLVAN)
    page.get_by_role("link", name="Tolvansson, Tolvan").click()
    # Tolvan's visits at Majorna are long past: the nurse registers today's care relation first (PDL).
    expect(page.get_by_test_id("needs-care-relation")).to_be_visible()
    page.get_by_label("Vårdrelationens syfte").fill("TBE-vaccination")
    page.get_by_test_id("care-relation-register").click()
    # Logged in with a password, she may not read Tolvan's doses at the other care provider (his TBE series
    # among them): decision support counts only what she sees, and says so.
    expect(page.get_by_test_id("decision-partial")).to_be_visible()
    expect(page.locator('[data-testid="decision-support"] tr[data-group="TBE"]')).to_have_count(0)
    expect(page.get_by_test_id("decision-support")).to_contain_text("Influensa")
