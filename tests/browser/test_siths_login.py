"""A nurse logs in with her SITHS card: off to the identity provider's page, back with a signed token, and
into the journal at the care unit her commission names."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from ympa.authn.models import User
from ympa.authn.oidc.claims import CARE_PURPOSE, Commission
from ympa.authn.oidc.idp_simulator import TestIdp, TestStaff
from ympa.orgs.models import CareUnit

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HSA_ID = "SE5599000014-nursea"


@pytest.fixture
def idp(settings: Any, live_server: Any, unit_a: CareUnit) -> Iterator[TestIdp]:
    unit_a.hsa_id = "SE5599000014-A001"
    unit_a.save(update_fields=["hsa_id"])
    unit_a.care_provider.hsa_id = "SE5599000014-PRVA"
    unit_a.care_provider.save(update_fields=["hsa_id"])
    nurse = TestStaff(
        username="nurse_a",
        given_name="Nurse",
        surname="A",
        employee_hsa_id=HSA_ID,
        title="Sjuksköterska",
        commissions=(
            Commission(
                hsa_id=f"{HSA_ID}U1",
                purpose=CARE_PURPOSE,
                care_unit_hsa_id=unit_a.hsa_id,
                care_unit_name=unit_a.name,
                care_provider_hsa_id=unit_a.care_provider.hsa_id,
                care_provider_name=unit_a.care_provider.name,
            ),
        ),
    )
    callback = f"{live_server.url}/login/siths/callback/"
    with TestIdp(
        client_id="ympa", client_secret="browser-test", redirect_uris=[callback], staff=[nurse]
    ) as server:
        settings.PUBLIC_URL = live_server.url
        settings.SITHS = {
            **settings.SITHS,
            "ISSUER": server.url,
            "CLIENT_ID": "ympa",
            "CLIENT_SECRET": "browser-test",
        }
        yield server


def test_siths_login(page: Page, live_server: Any, idp: TestIdp, nurse_a: User) -> None:
    nurse_a.hsa_id = HSA_ID
    nurse_a.save(update_fields=["hsa_id"])
    page.goto(f"{live_server.url}/login/")
    page.get_by_role("link", name="Logga in med SITHS-kort").click()
    page.get_by_role("button", name="Logga in som Nurse").click()
    expect(page.get_by_role("heading", name="Sök patient")).to_be_visible()
    expect(page.get_by_test_id("assignment")).to_contain_text("Clinic A")
