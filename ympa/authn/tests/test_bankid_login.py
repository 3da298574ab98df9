"""BankID login pages against the BankID simulator over mutual TLS on loopback.

The Django test client plays the browser; the simulator's Python API plays the person with the BankID app
(scanning the QR code the page shows, then approving or cancelling).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from ympa.authn.assurance import SESSION_KEY, Assurance, LoginMethod
from ympa.authn.bankid.simulator import BankIdSimulator, SimulatorError
from ympa.authn.bankid_flow import SESSION_ORDER
from ympa.authn.models import AuthEvent, AuthEventKind, User
from ympa.citizen.session import SESSION_KEY as CITIZEN_KEY
from ympa.patients.models import Patient

AGNES = "198001012387"
BERIT = "198506152423"
TOLVAN = "191212121212"
QR = re.compile(r'data-qr-content="(bankid\.[^"]+)"')


def _start(client: Client, url_name: str) -> str:
    """Start an order from the page; returns the QR content the page shows."""
    response = client.post(reverse(url_name))
    assert response.status_code == 200, response.content
    match = QR.search(response.content.decode())
    assert match, "the page shows no QR code"
    return match.group(1)


def _poll(client: Client, url_name: str) -> Any:
    return client.get(reverse(url_name), headers={"HX-Request": "true"})


def _poll_until_done(client: Client, url_name: str) -> Any:
    """Poll like the page does; each poll asks BankID at most every 2 s, so step the clock past that."""
    for _ in range(5):
        response = _poll(client, url_name)
        if response.has_header("HX-Redirect") or b"bankid-failed" in response.content:
            return response
        client.session.save()
        _advance_collect_clock(client)
    raise AssertionError("the order never finished")


def _advance_collect_clock(client: Client) -> None:
    session = client.session
    order = session.get(SESSION_ORDER)
    if isinstance(order, dict):
        order["collected_at"] = 0.0
        session[SESSION_ORDER] = order
        session.save()


@pytest.fixture
def nurse_with_bankid(nurse_a: User) -> User:
    nurse_a.personal_identity_number = AGNES
    nurse_a.save(update_fields=["personal_identity_number"])
    return nurse_a


@pytest.mark.django_db
def test_staff_login_with_bankid(client: Client, bankid: BankIdSimulator, nurse_with_bankid: User) -> None:
    qr = _start(client, "authn:bankid")
    order_ref = bankid.scan(qr)
    bankid.approve(order_ref, AGNES)
    response = _poll_until_done(client, "authn:bankid_status")
    assert response["HX-Redirect"] == reverse("authn:assignment")
    state = client.session[SESSION_KEY]
    assert state["method"] == LoginMethod.BANKID
    assert state["assurance"] == Assurance.HIGH
    assert int(client.session["_auth_user_id"]) == nurse_with_bankid.pk
    assert SESSION_ORDER not in client.session
    assert AuthEvent.objects.filter(
        kind=AuthEventKind.LOGIN, user=nurse_with_bankid, method="bankid"
    ).exists()


@pytest.mark.django_db
def test_the_qr_code_changes_every_second_and_the_secret_stays_on_the_server(
    client: Client, bankid: BankIdSimulator, nurse_with_bankid: User
) -> None:
    with time_machine.travel(datetime.now(UTC), tick=False) as clock:
        first = _start(client, "authn:bankid")
        clock.shift(1)
        second = QR.search(_poll(client, "authn:bankid_status").content.decode())
    assert second and second.group(1) != first
    assert first.split(".")[1] == second.group(1).split(".")[1]  # the same qrStartToken
    secret = client.session[SESSION_ORDER]["qr_start_secret"]
    page = _poll(client, "authn:bankid_status").content.decode()
    assert secret not in page


@pytest.mark.django_db
def test_unknown_bankid_is_refused(client: Client, bankid: BankIdSimulator, nurse_with_bankid: User) -> None:
    order_ref = bankid.scan(_start(client, "authn:bankid"))
    bankid.approve(order_ref, BERIT)
    response = _poll_until_done(client, "authn:bankid_status")
    assert b"bankid-failed" in response.content
    assert "inte kopplat till något personalkonto" in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert AuthEvent.objects.filter(kind=AuthEventKind.LOGIN_FAILED, identity=BERIT).exists()


@pytest.mark.django_db
def test_user_cancel_logs_nobody_in(client: Client, bankid: BankIdSimulator, nurse_with_bankid: User) -> None:
    order_ref = bankid.scan(_start(client, "authn:bankid"))
    bankid.user_cancel(order_ref)
    response = _poll_until_done(client, "authn:bankid_status")
    assert b"bankid-failed" in response.content
    assert "_auth_user_id" not in client.session
    assert SESSION_ORDER not in client.session


@pytest.mark.django_db
def test_cancel_on_the_page_cancels_the_order(
    client: Client, bankid: BankIdSimulator, nurse_with_bankid: User
) -> None:
    qr = _start(client, "authn:bankid")
    response = client.post(reverse("authn:bankid_cancel"))
    assert response.status_code == 302
    assert SESSION_ORDER not in client.session
    with pytest.raises(SimulatorError):
        bankid.scan(qr)


@pytest.mark.django_db
def test_simulator_unreachable_is_a_clear_error(client: Client, settings: Any, tmp_path: Path) -> None:
    settings.BANKID = {**settings.BANKID, "URL": "https://127.0.0.1:9/rp/v6.0"}
    response = client.post(reverse("authn:bankid"))
    assert response.status_code == 503
    assert "BankID" in response.content.decode()
    assert SESSION_ORDER not in client.session


@pytest.mark.django_db
def test_reauthentication_requires_the_same_person(
    client: Client, bankid: BankIdSimulator, nurse_with_bankid: User
) -> None:
    order_ref = bankid.scan(_start(client, "authn:bankid"))
    bankid.approve(order_ref, AGNES)
    _poll_until_done(client, "authn:bankid_status")
    authenticated_at = client.session[SESSION_KEY]["authenticated_at"]

    order_ref = bankid.scan(_start(client, "authn:bankid_reauth"))
    order = next(o for o in bankid.orders() if o["orderRef"] == order_ref)
    assert order["personalNumber"] == AGNES
    with pytest.raises(SimulatorError, match="another personal number"):
        bankid.approve(order_ref, BERIT)
    bankid.approve(order_ref, AGNES)
    response = _poll_until_done(client, "authn:bankid_reauth_status")
    assert response.has_header("HX-Redirect")
    assert client.session[SESSION_KEY]["authenticated_at"] >= authenticated_at
    assert AuthEvent.objects.filter(kind=AuthEventKind.REAUTH, user=nurse_with_bankid).exists()


@pytest.mark.django_db
def test_citizen_login_links_to_the_patient_register(
    client: Client, bankid: BankIdSimulator, citizen: Patient
) -> None:
    assert citizen.identifier == TOLVAN
    order_ref = bankid.scan(_start(client, "citizen:login"))
    bankid.approve(order_ref, TOLVAN)
    response = _poll_until_done(client, "citizen:login_status")
    assert response["HX-Redirect"] == reverse("citizen:home")
    assert client.session[CITIZEN_KEY]["patient"] == str(citizen.pk)
    assert "_auth_user_id" not in client.session
    home = client.get(reverse("citizen:home"))
    assert "Tolvan Tolvansson" in home.content.decode()
    assert b"citizen-linked" in home.content


@pytest.mark.django_db
def test_citizen_home_needs_a_login(client: Client) -> None:
    response = client.get(reverse("citizen:home"))
    assert response.status_code == 302
    assert response["Location"] == reverse("citizen:login")
