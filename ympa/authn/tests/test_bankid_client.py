"""The BankID client against the local simulator, over real mutual TLS on loopback. No database needed.

The "test user" acts through the simulator's JSON developer API on its separate user port; time is a fake
clock given to the simulator, so expiry tests do not wait.
"""

from __future__ import annotations

import base64
import socket
import ssl
import threading
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from ympa.authn.bankid.client import (
    BankIdApiError,
    BankIdClient,
    BankIdInvalidRequest,
    BankIdTlsError,
    BankIdUnavailable,
    CollectResult,
    OrderStarted,
    Requirement,
)
from ympa.authn.bankid.qr import qr_content
from ympa.authn.bankid.simulator import BankIdSimulator
from ympa.authn.bankid.testpki import SimulatorPki, ensure_test_pki, make_untrusted_client_certificate

TOLVAN = "191212121212"
AGNES = "198001012387"
USER_IP = "192.0.2.10"
WAIT = 5.0


class FakeClock:
    def __init__(self) -> None:
        self._now = 1_000.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds


@pytest.fixture(scope="session")
def pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bankid-pki")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def simulator(pki_dir: Path, clock: FakeClock) -> Iterator[BankIdSimulator]:
    with BankIdSimulator("127.0.0.1", 0, pki_dir, clock=clock) as sim:
        yield sim


def make_client(simulator: BankIdSimulator, pki: SimulatorPki | None = None) -> BankIdClient:
    paths = pki or simulator.pki
    return BankIdClient(
        base_url=simulator.url,
        cert_file=paths.client_cert,
        key_file=paths.client_key,
        ca_file=paths.server_ca,
        timeout=WAIT,
    )


@pytest.fixture
def client(simulator: BankIdSimulator) -> Iterator[BankIdClient]:
    with make_client(simulator) as c:
        yield c


class AppUser:
    """The test user acting in the simulated BankID app, through the simulator's developer API."""

    def __init__(self, simulator: BankIdSimulator) -> None:
        self.http = httpx.Client(base_url=f"{simulator.user_url}/sim/", timeout=WAIT, trust_env=False)

    def post(self, action: str, **body: Any) -> httpx.Response:
        return self.http.post(action, json=body)

    def __call__(self, action: str, **body: Any) -> dict[str, Any]:
        """Do `action`; returns the order as the simulator sees it."""
        response = self.post(action, **body)
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()
        return data


@pytest.fixture
def user(simulator: BankIdSimulator) -> Iterator[AppUser]:
    app_user = AppUser(simulator)
    yield app_user
    app_user.http.close()


def hint(client: BankIdClient, order_ref: str) -> str | None:
    result = client.collect(order_ref)
    assert result.status == "pending"
    return result.hint_code


# Success


def test_auth_with_qr_code(client: BankIdClient, user: AppUser) -> None:
    order = client.auth(end_user_ip=USER_IP, user_visible_data="Logga in i **Ympa**", return_risk=True)
    assert "qr_start_secret" not in repr(order)  # the secret stays out of logs
    assert hint(client, order.order_ref) == "outstandingTransaction"

    user("scan", qr=order.qr_content())
    assert hint(client, order.order_ref) == "userSign"

    user("approve", orderRef=order.order_ref, personalNumber=TOLVAN)
    result = client.collect(order.order_ref)

    assert (result.status, result.hint_code) == ("complete", None)
    data = result.completion_data
    assert data is not None
    assert (data.user.personal_number, data.user.name, data.user.given_name, data.user.surname) == (
        TOLVAN,
        "Tolvan Tolvansson",
        "Tolvan",
        "Tolvansson",
    )
    assert data.device.ip_address == "127.0.0.1"  # where the user approved, as BankID reports it
    assert data.bank_id_issue_date == date(2021, 5, 17)
    assert data.risk == "low" and data.step_up is None
    assert b"NOT a BankID signature" in data.signature_xml()
    assert b"simulator" in base64.b64decode(data.ocsp_response).lower()


def test_sign_with_autostart(client: BankIdClient, user: AppUser) -> None:
    text = "Jag intygar att uppgifterna om vaccinationen är riktiga.\n\n*Dos 2 av 3*"
    order = client.sign(
        end_user_ip="2001:db8::1",
        user_visible_data=text,
        user_non_visible_data=b"\x00\x01 document digest",
        requirement=Requirement(pin_code=True, mrtd=True),
        return_url="https://ympa.example/sign/done",
    )
    opened = user("open", autoStartToken=order.auto_start_token)
    assert opened["userVisibleData"] == text
    assert hint(client, order.order_ref) == "started"

    user("approve", orderRef=order.order_ref, personalNumber=AGNES)
    result = client.collect(order.order_ref)

    assert result.status == "complete" and result.completion_data is not None
    data = result.completion_data
    assert data.user.personal_number == AGNES
    assert data.step_up is not None and data.step_up.mrtd
    assert data.risk is None  # only when asked for with returnRisk
    signed = data.signature_xml().decode()
    assert base64.b64encode(text.encode()).decode() in signed
    assert base64.b64encode(b"\x00\x01 document digest").decode() in signed


@pytest.mark.parametrize("call_initiator", ["user", "RP"])
def test_phone_auth_and_sign(client: BankIdClient, user: AppUser, call_initiator: Any) -> None:
    order = client.phone_auth(personal_number=TOLVAN, call_initiator=call_initiator)
    user("open", orderRef=order.order_ref)
    assert hint(client, order.order_ref) == "userCallConfirm"
    user("confirm-call", orderRef=order.order_ref)
    assert hint(client, order.order_ref) == "userSign"
    user("approve", orderRef=order.order_ref, personalNumber=TOLVAN)
    completed = client.collect(order.order_ref)
    assert completed.completion_data is not None
    assert completed.completion_data.user.personal_number == TOLVAN

    signing = client.phone_sign(
        personal_number=TOLVAN, call_initiator=call_initiator, user_visible_data="OK?"
    )
    user("open", orderRef=signing.order_ref)
    user("decline-call", orderRef=signing.order_ref)
    assert_failed(client.collect(signing.order_ref), "userDeclinedCall")


def assert_failed(result: CollectResult, hint_code: str) -> None:
    assert (result.status, result.hint_code, result.completion_data) == ("failed", hint_code, None)


# Failures


def started_by_qr(client: BankIdClient, user: AppUser) -> OrderStarted:
    order = client.auth(end_user_ip=USER_IP)
    user("scan", qr=order.qr_content())
    return order


def test_user_cancels(client: BankIdClient, user: AppUser) -> None:
    order = started_by_qr(client, user)
    user("cancel", orderRef=order.order_ref)
    assert_failed(client.collect(order.order_ref), "userCancel")
    # A finished order is collected once; after that it is unknown.
    with pytest.raises(BankIdApiError) as caught:
        client.collect(order.order_ref)
    assert (caught.value.status_code, caught.value.error_code) == (400, "invalidParameters")


def test_user_lets_it_expire(client: BankIdClient, user: AppUser) -> None:
    order = started_by_qr(client, user)
    user("expire", orderRef=order.order_ref)
    assert_failed(client.collect(order.order_ref), "expiredTransaction")


def test_order_expires_when_the_user_does_not_finish(
    client: BankIdClient, simulator: BankIdSimulator, user: AppUser, clock: FakeClock
) -> None:
    order = started_by_qr(client, user)
    clock.advance(simulator.user_ttl - 1)
    assert hint(client, order.order_ref) == "userSign"
    clock.advance(1)
    assert_failed(client.collect(order.order_ref), "expiredTransaction")


def test_start_fails_when_nobody_picks_the_order_up(
    client: BankIdClient, simulator: BankIdSimulator, user: AppUser, clock: FakeClock
) -> None:
    order = client.auth(end_user_ip=USER_IP)
    clock.advance(simulator.order_ttl - 0.5)
    assert hint(client, order.order_ref) == "outstandingTransaction"
    clock.advance(0.5)
    assert_failed(client.collect(order.order_ref), "startFailed")


def test_rp_cancels(client: BankIdClient, user: AppUser) -> None:
    order = started_by_qr(client, user)
    client.cancel(order.order_ref)
    for call in (client.collect, client.cancel):
        with pytest.raises(BankIdApiError) as caught:
            call(order.order_ref)
        assert caught.value.error_code == "invalidParameters" and not caught.value.retryable
    refused = user.post("approve", orderRef=order.order_ref, personalNumber=TOLVAN)
    assert refused.status_code == 404


def test_already_in_progress_aborts_both(client: BankIdClient) -> None:
    first = client.phone_auth(personal_number=TOLVAN, call_initiator="user")
    with pytest.raises(BankIdApiError) as caught:
        client.auth(end_user_ip=USER_IP, requirement=Requirement(personal_number=TOLVAN))
    error = caught.value
    assert (error.status_code, error.error_code) == (400, "alreadyInProgress")
    assert error.retryable and not error.auto_retry
    assert_failed(client.collect(first.order_ref), "cancelled")
    # Both are gone, so the next attempt starts normally.
    assert client.phone_auth(personal_number=TOLVAN, call_initiator="user").order_ref


def test_requirement_personal_number_binds_the_order(client: BankIdClient, user: AppUser) -> None:
    order = client.auth(end_user_ip=USER_IP, requirement=Requirement(personal_number=AGNES))
    user("scan", qr=order.qr_content())
    wrong = user.post("approve", orderRef=order.order_ref, personalNumber=TOLVAN)
    assert (wrong.status_code, wrong.json()["error"]) == (409, "wrong-person")
    user("approve", orderRef=order.order_ref, personalNumber=AGNES)
    assert client.collect(order.order_ref).status == "complete"


def test_stale_and_forged_qr_codes_are_refused(
    client: BankIdClient, simulator: BankIdSimulator, user: AppUser, clock: FakeClock
) -> None:
    order = client.auth(end_user_ip=USER_IP)
    first_code = order.qr_content()
    clock.advance(simulator.qr_tolerance + 0.5)

    stale = user.post("scan", qr=first_code)
    assert (stale.status_code, stale.json()["error"]) == (400, "qr-stale")
    forged = qr_content(order.qr_start_token, "not-the-secret", 3)
    wrong = user.post("scan", qr=forged)
    assert (wrong.status_code, wrong.json()["error"]) == (400, "qr-invalid")
    assert hint(client, order.order_ref) == "outstandingTransaction"

    # The code of the current second is accepted.
    user("scan", qr=qr_content(order.qr_start_token, order.qr_start_secret, 3))
    assert hint(client, order.order_ref) == "userSign"


# Refusals before sending, and errors


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda c: c.auth(end_user_ip="not-an-ip"), "endUserIp"),
        (lambda c: c.auth(end_user_ip=USER_IP, user_visible_data="x" * 1200), "1 to 1500"),
        (lambda c: c.sign(end_user_ip=USER_IP, user_visible_data=""), "must not be empty"),
        (lambda c: c.auth(end_user_ip=USER_IP, return_url="/relative"), "returnUrl"),
        (lambda c: c.phone_auth(personal_number="19121212-1212", call_initiator="user"), "12-digit"),
        (lambda c: c.phone_auth(personal_number="191212121213", call_initiator="user"), "12-digit"),
        (lambda c: c.phone_auth(personal_number=TOLVAN, call_initiator="rp"), "callInitiator"),
        (
            lambda c: c.auth(end_user_ip=USER_IP, requirement=Requirement(certificate_policies=("x",))),
            "object",
        ),
        (lambda c: c.collect(""), "orderRef"),
    ],
)
def test_invalid_requests_are_refused_before_sending(
    client: BankIdClient, simulator: BankIdSimulator, call: Any, message: str
) -> None:
    with pytest.raises(BankIdInvalidRequest, match=message) as caught:
        call(client)
    assert not caught.value.retryable
    assert simulator.orders() == []


def test_unknown_order_is_invalid_parameters(client: BankIdClient) -> None:
    with pytest.raises(BankIdApiError) as caught:
        client.collect("131daac9-16c6-4618-beb0-365768f37288")
    assert (caught.value.status_code, caught.value.error_code) == (400, "invalidParameters")
    assert caught.value.details


def test_maintenance_may_be_retried_automatically(
    client: BankIdClient, simulator: BankIdSimulator, user: AppUser
) -> None:
    user_answer = user.post("maintenance", on=True)
    assert user_answer.json() == {"maintenance": True}
    with pytest.raises(BankIdApiError) as caught:
        client.auth(end_user_ip=USER_IP)
    assert (caught.value.status_code, caught.value.error_code) == (503, "maintenance")
    assert caught.value.retryable and caught.value.auto_retry
    simulator.maintenance = False
    assert client.auth(end_user_ip=USER_IP).order_ref


# Mutual TLS


def test_missing_client_certificate_is_refused(simulator: BankIdSimulator) -> None:
    context = ssl.create_default_context(cafile=str(simulator.pki.server_ca))
    with pytest.raises(httpx.TransportError) as caught:
        httpx.post(f"{simulator.url}/auth", json={"endUserIp": USER_IP}, verify=context, timeout=WAIT)
    assert "certificate" in str(caught.value).lower()
    assert simulator.orders() == []


def test_client_certificate_from_an_untrusted_ca_is_refused(
    simulator: BankIdSimulator, tmp_path: Path
) -> None:
    untrusted = make_untrusted_client_certificate(tmp_path)
    with (
        BankIdClient(
            base_url=simulator.url,
            cert_file=untrusted.cert,
            key_file=untrusted.key,
            ca_file=simulator.pki.server_ca,
            timeout=WAIT,
        ) as client,
        pytest.raises(BankIdTlsError) as caught,
    ):
        client.auth(end_user_ip=USER_IP)
    assert not caught.value.retryable
    assert simulator.orders() == []


def test_server_from_another_ca_is_refused(simulator: BankIdSimulator, tmp_path: Path) -> None:
    # A client pinned to some other CA (here: a second test PKI) must not talk to this server.
    other = ensure_test_pki(tmp_path / "other")
    with make_client(simulator, other) as client, pytest.raises(BankIdTlsError, match="verify failed"):
        client.auth(end_user_ip=USER_IP)


def test_unreachable_service(simulator: BankIdSimulator) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    pki = simulator.pki
    with (
        BankIdClient(
            base_url=f"https://127.0.0.1:{port}/rp/v6.0",
            cert_file=pki.client_cert,
            key_file=pki.client_key,
            ca_file=pki.server_ca,
            timeout=WAIT,
        ) as client,
        pytest.raises(BankIdUnavailable) as caught,
    ):
        client.collect("131daac9-16c6-4618-beb0-365768f37288")
    assert caught.value.retryable and not caught.value.may_have_been_processed


def test_only_https(simulator: BankIdSimulator) -> None:
    pki = simulator.pki
    with pytest.raises(ValueError, match="https"):
        BankIdClient(
            base_url=simulator.user_url,
            cert_file=pki.client_cert,
            key_file=pki.client_key,
            ca_file=pki.server_ca,
        )
