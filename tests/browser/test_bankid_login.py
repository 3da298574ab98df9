"""A nurse logs in with BankID: the page shows an animated QR code, the simulated BankID app scans it and the
nurse approves; she lands in the journal with a high level of assurance."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.sessions.backends.db import SessionStore
from playwright.sync_api import Page, expect

from ympa.authn.assurance import SESSION_KEY, Assurance, LoginMethod
from ympa.authn.bankid.simulator import BankIdSimulator
from ympa.authn.models import User

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AGNES = "198001012387"


def test_bankid_qr_login(page: Page, live_server: Any, bankid: BankIdSimulator, nurse_a: User) -> None:
    nurse_a.personal_identity_number = AGNES
    nurse_a.save(update_fields=["personal_identity_number"])

    page.goto(f"{live_server.url}/login/")
    page.get_by_role("link", name="Logga in med BankID").click()
    page.get_by_role("button", name="Starta BankID").click()
    qr = page.locator("[data-qr-content]")
    expect(qr.locator("svg")).to_be_visible()
    expect(page.get_by_test_id("bankid-message")).to_contain_text("BankID")
    first = qr.get_attribute("data-qr-content")
    assert first is not None and first.startswith("bankid.")
    # The page fetches a new code every second.
    expect(page.locator("[data-qr-content]")).not_to_have_attribute("data-qr-content", first, timeout=3_000)
    current = page.locator("[data-qr-content]").get_attribute("data-qr-content")
    assert current is not None and current.split(".")[1] == first.split(".")[1]

    order_ref = bankid.scan(current)
    bankid.approve(order_ref, AGNES)

    expect(page.get_by_role("heading", name="Sök patient")).to_be_visible()
    expect(page.get_by_test_id("assignment")).to_contain_text("Clinic A")
    cookie = next(c for c in page.context.cookies() if c["name"] == "sessionid")
    state = SessionStore(session_key=cookie["value"])[SESSION_KEY]
    assert state["method"] == LoginMethod.BANKID
    assert state["assurance"] == Assurance.HIGH
