"""The BankID simulator on its own, spoken to with plain httpx in the shapes of BankID's documentation (not
through Ympa's client), so that the simulator follows the published API rather than our client. Also its
user pages, the developer API and the test PKI. No database needed.
"""

from __future__ import annotations

import base64
import re
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ympa.authn.bankid.qr import qr_content
from ympa.authn.bankid.simulator import BankIdSimulator
from ympa.authn.bankid.testpki import ensure_test_pki, make_untrusted_client_certificate

TOLVAN = "191212121212"
WAIT = 5.0
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
JSON = {"Content-Type": "application/json"}


class FakeClock:
    def __init__(self) -> None:
        self._now = 500.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds


@pytest.fixture(scope="session")
def pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bankid-sim-pki")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def simulator(pki_dir: Path, clock: FakeClock) -> Iterator[BankIdSimulator]:
    with BankIdSimulator("127.0.0.1", 0, pki_dir, clock=clock, request_timeout=0.5) as sim:
        yield sim


@pytest.fixture
def rp(simulator: BankIdSimulator) -> Iterator[httpx.Client]:
    """A relying party's HTTP client with the RP certificate, trusting only the simulator's server CA."""
    context = ssl.create_default_context(cafile=str(simulator.pki.server_ca))
    context.load_cert_chain(str(simulator.pki.client_cert), str(simulator.pki.client_key))
    with httpx.Client(base_url=simulator.url + "/", verify=context, timeout=WAIT, trust_env=False) as client:
        yield client


@pytest.fixture
def app(simulator: BankIdSimulator) -> Iterator[httpx.Client]:
    """The test user's side: the user pages and the developer API (plain HTTP)."""
    with httpx.Client(base_url=simulator.user_url, timeout=WAIT, trust_env=False) as client:
        yield client


def error_of(response: httpx.Response) -> tuple[int, str]:
    body = response.json()
    assert set(body) == {"errorCode", "details"} and isinstance(body["details"], str)
    return response.status_code, body["errorCode"]


# The documented request and answer shapes


def test_auth_answer_and_collect_shapes(rp: httpx.Client, app: httpx.Client) -> None:
    started = rp.post("auth", json={"endUserIp": "192.168.0.1"})
    assert started.status_code == 200 and started.headers["Content-Type"].startswith("application/json")
    order = started.json()
    assert set(order) == {"orderRef", "autoStartToken", "qrStartToken", "qrStartSecret"}
    assert all(UUID.fullmatch(value) for value in order.values())

    pending = rp.post("collect", json={"orderRef": order["orderRef"]}).json()
    assert pending == {
        "orderRef": order["orderRef"],
        "status": "pending",
        "hintCode": "outstandingTransaction",
    }

    qr = qr_content(order["qrStartToken"], order["qrStartSecret"], 0)
    assert app.post("/sim/scan", json={"qr": qr}).json()["hintCode"] == "userSign"
    app.post("/sim/approve", json={"orderRef": order["orderRef"], "personalNumber": TOLVAN})

    complete = rp.post("collect", json={"orderRef": order["orderRef"]}).json()
    assert set(complete) == {"orderRef", "status", "completionData"} and complete["status"] == "complete"
    data = complete["completionData"]
    assert set(data) == {"user", "device", "bankIdIssueDate", "signature", "ocspResponse"}
    assert data["user"] == {
        "personalNumber": TOLVAN,
        "name": "Tolvan Tolvansson",
        "givenName": "Tolvan",
        "surname": "Tolvansson",
    }
    assert data["device"]["ipAddress"] == "127.0.0.1" and data["device"]["uhi"]
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", data["bankIdIssueDate"])
    assert base64.b64decode(data["signature"]).startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    base64.b64decode(data["ocspResponse"], validate=True)


def test_sign_with_all_documented_fields(rp: httpx.Client) -> None:
    body = {
        "endUserIp": "2001:db8::25",
        "userVisibleData": base64.b64encode(b"Signera *avtalet*").decode(),
        "userVisibleDataFormat": "simpleMarkdownV1",
        "userNonVisibleData": base64.b64encode(b"digest").decode(),
        "requirement": {
            "pinCode": True,
            "mrtd": False,
            "cardReader": "class1",
            "certificatePolicies": ["1.2.752.78.1.5", "1.2.752.78.*"],
            "personalNumber": TOLVAN,
        },
        "returnUrl": "https://ympa.example/done#nonce",
        "returnRisk": True,
        "web": {"deviceIdentifier": "abc", "referringDomain": "ympa.example", "userAgent": "test"},
    }
    assert rp.post("sign", json=body).status_code == 200


def test_phone_auth_answers_only_the_order_ref(rp: httpx.Client) -> None:
    answer = rp.post("phone/auth", json={"personalNumber": TOLVAN, "callInitiator": "RP"})
    assert answer.status_code == 200 and set(answer.json()) == {"orderRef"}
    signing = rp.post(
        "phone/sign",
        json={"personalNumber": "198001012387", "callInitiator": "user", "userVisibleData": "SGVq"},
    )
    assert signing.status_code == 200 and set(signing.json()) == {"orderRef"}


def test_cancel_answers_an_empty_object(rp: httpx.Client) -> None:
    order_ref = rp.post("auth", json={"endUserIp": "192.168.0.1"}).json()["orderRef"]
    cancelled = rp.post("cancel", json={"orderRef": order_ref})
    assert (cancelled.status_code, cancelled.json()) == (200, {})
    assert error_of(rp.post("collect", json={"orderRef": order_ref})) == (400, "invalidParameters")


def test_already_in_progress(rp: httpx.Client) -> None:
    first = rp.post("phone/auth", json={"personalNumber": TOLVAN, "callInitiator": "user"}).json()
    second = rp.post(
        "phone/sign", json={"personalNumber": TOLVAN, "callInitiator": "user", "userVisibleData": "SGVq"}
    )
    assert error_of(second) == (400, "alreadyInProgress")
    collected = rp.post("collect", json={"orderRef": first["orderRef"]}).json()
    assert (collected["status"], collected["hintCode"]) == ("failed", "cancelled")


# Errors


@pytest.mark.parametrize(
    ("endpoint", "body"),
    [
        ("auth", {}),
        ("auth", {"endUserIp": "1.2.3"}),
        ("auth", {"endUserIp": "192.168.0.1 "}),
        ("auth", {"endUserIp": 19216801}),
        ("auth", {"endUserIp": "192.168.0.1", "personalNumber": TOLVAN}),  # not an auth field in v6.0
        ("auth", {"endUserIp": "192.168.0.1", "userVisibleData": "not base64!"}),
        ("auth", {"endUserIp": "192.168.0.1", "userVisibleData": "x" * 1504}),
        ("auth", {"endUserIp": "192.168.0.1", "userVisibleDataFormat": "simpleMarkdownV1"}),
        ("auth", {"endUserIp": "192.168.0.1", "userVisibleData": "SGVq", "userVisibleDataFormat": "html"}),
        ("auth", {"endUserIp": "192.168.0.1", "userVisibleData": base64.b64encode(b"\xff\xfe").decode()}),
        ("auth", {"endUserIp": "192.168.0.1", "requirement": {"personalNumber": "19121212-1212"}}),
        ("auth", {"endUserIp": "192.168.0.1", "requirement": {"personalNumber": "191212121213"}}),
        ("auth", {"endUserIp": "192.168.0.1", "requirement": {"cardReader": "class3"}}),
        ("auth", {"endUserIp": "192.168.0.1", "requirement": {"allowFingerprint": True}}),  # removed in v6.0
        ("auth", {"endUserIp": "192.168.0.1", "returnRisk": "yes"}),
        ("auth", {"endUserIp": "192.168.0.1", "returnUrl": "ympa.example"}),
        ("sign", {"endUserIp": "192.168.0.1"}),
        ("phone/auth", {"personalNumber": TOLVAN}),
        ("phone/auth", {"personalNumber": "1912121212", "callInitiator": "user"}),
        ("phone/auth", {"personalNumber": TOLVAN, "callInitiator": "bank"}),
        ("phone/auth", {"personalNumber": TOLVAN, "callInitiator": "user", "endUserIp": "192.168.0.1"}),
        ("collect", {}),
        ("collect", {"orderRef": "131daac9-16c6-4618-beb0-365768f37288"}),
        ("cancel", {"orderRef": "131daac9-16c6-4618-beb0-365768f37288"}),
    ],
)
def test_invalid_parameters(rp: httpx.Client, simulator: BankIdSimulator, endpoint: str, body: Any) -> None:
    assert error_of(rp.post(endpoint, json=body)) == (400, "invalidParameters")
    assert simulator.orders() == []


@pytest.mark.parametrize("content", [b"{not json", b"[]", b'"orderRef"', b"\xff"])
def test_bad_json_is_invalid_parameters(rp: httpx.Client, content: bytes) -> None:
    assert error_of(rp.post("collect", content=content, headers=JSON)) == (400, "invalidParameters")


@pytest.mark.parametrize(
    "content_type",
    ["application/json; charset=UTF-8", "text/plain", "application/x-www-form-urlencoded", None],
)
def test_wrong_content_type(rp: httpx.Client, content_type: str | None) -> None:
    headers = {} if content_type is None else {"Content-Type": content_type}
    response = rp.post("auth", content=b'{"endUserIp": "192.168.0.1"}', headers=headers)
    assert error_of(response) == (415, "unsupportedMediaType")


def test_wrong_path_and_method(rp: httpx.Client) -> None:
    assert error_of(rp.post("authenticate", json={})) == (404, "notFound")
    assert error_of(rp.post("/rp/v5.1/auth", json={"endUserIp": "192.168.0.1"})) == (404, "notFound")
    assert error_of(rp.get("collect")) == (405, "methodNotAllowed")
    assert error_of(rp.put("auth", json={})) == (405, "methodNotAllowed")


def test_slow_request_times_out(simulator: BankIdSimulator) -> None:
    context = ssl.create_default_context(cafile=str(simulator.pki.server_ca))
    context.load_cert_chain(str(simulator.pki.client_cert), str(simulator.pki.client_key))
    host, port = simulator.url.removeprefix("https://").split("/")[0].split(":")
    with (
        socket.create_connection((host, int(port)), timeout=WAIT) as raw,
        context.wrap_socket(raw, server_hostname=host) as tls,
    ):
        tls.sendall(
            b"POST /rp/v6.0/auth HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 40\r\n\r\n{"
        )
        answer = b""
        while chunk := tls.recv(4096):  # the simulator closes the connection after a timeout
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert b'"errorCode": "requestTimeout"' in answer


def test_maintenance(rp: httpx.Client, app: httpx.Client) -> None:
    app.post("/sim/maintenance", json={"on": True})
    assert error_of(rp.post("auth", json={"endUserIp": "192.168.0.1"})) == (503, "maintenance")


# Mutual TLS


def test_no_client_certificate_no_connection(simulator: BankIdSimulator) -> None:
    context = ssl.create_default_context(cafile=str(simulator.pki.server_ca))
    with pytest.raises(httpx.TransportError, match=r"(?i)certificate"):
        httpx.post(f"{simulator.url}/auth", json={"endUserIp": "192.168.0.1"}, verify=context, timeout=WAIT)


def test_untrusted_client_certificate_no_connection(simulator: BankIdSimulator, tmp_path: Path) -> None:
    untrusted = make_untrusted_client_certificate(tmp_path)
    context = ssl.create_default_context(cafile=str(simulator.pki.server_ca))
    context.load_cert_chain(str(untrusted.cert), str(untrusted.key))
    with pytest.raises(httpx.TransportError, match=r"(?i)unknown ca"):
        httpx.post(f"{simulator.url}/auth", json={"endUserIp": "192.168.0.1"}, verify=context, timeout=WAIT)
    assert simulator.orders() == []


# The simulated app: QR codes, autostart, timers


def test_qr_checks(rp: httpx.Client, app: httpx.Client, simulator: BankIdSimulator, clock: FakeClock) -> None:
    order = rp.post("auth", json={"endUserIp": "192.168.0.1"}).json()
    token, secret = order["qrStartToken"], order["qrStartSecret"]

    def scan(text: str) -> tuple[int, str | None]:
        response = app.post("/sim/scan", json={"qr": text})
        return response.status_code, response.json().get("error")

    assert scan("https://example.com") == (400, "qr-invalid")
    assert scan(qr_content(token, "wrong secret", 0)) == (400, "qr-invalid")
    assert scan(qr_content(token, secret, 5)) == (400, "qr-invalid")  # a second that has not come yet
    assert scan(qr_content("8b9c387f-8948-4b53-b6a5-519eee985d44", secret, 0)) == (404, "no-such-order")
    clock.advance(10.2)
    assert scan(qr_content(token, secret, 7)) == (400, "qr-stale")  # 3.2 s old
    assert scan(qr_content(token, secret, 8)) == (200, None)
    assert scan(qr_content(token, secret, 10)) == (409, "wrong-state")  # already picked up
    assert simulator.orders()[0]["hintCode"] == "userSign"


def test_unscanned_order_fails_with_start_failed(
    rp: httpx.Client, app: httpx.Client, clock: FakeClock
) -> None:
    order = rp.post("auth", json={"endUserIp": "192.168.0.1"}).json()
    clock.advance(30)
    refused = app.post(
        "/sim/scan", json={"qr": qr_content(order["qrStartToken"], order["qrStartSecret"], 30)}
    )
    assert refused.status_code == 409
    collected = rp.post("collect", json={"orderRef": order["orderRef"]}).json()
    assert (collected["status"], collected["hintCode"]) == ("failed", "startFailed")


def test_developer_api_refusals(app: httpx.Client, rp: httpx.Client) -> None:
    order_ref = rp.post("auth", json={"endUserIp": "192.168.0.1"}).json()["orderRef"]
    cases = [
        ("approve", {"orderRef": order_ref, "personalNumber": TOLVAN}, 409, "wrong-state"),  # not opened
        ("cancel", {"orderRef": order_ref}, 409, "wrong-state"),
        ("open", {"orderRef": order_ref}, 409, "wrong-state"),  # not a phone order
        ("open", {"autoStartToken": "nope"}, 404, "no-such-order"),
        ("approve", {"orderRef": order_ref}, 400, "bad-request"),
        ("teleport", {}, 404, "not-found"),
    ]
    for action, body, status, reason in cases:
        response = app.post(f"/sim/{action}", json=body)
        assert (response.status_code, response.json()["error"]) == (status, reason), action
    assert app.post("/sim/scan", content=b"qr=x").status_code == 400
    orders = app.get("/sim/orders").json()["orders"]
    assert [o["orderRef"] for o in orders] == [order_ref]


# The user pages


def test_user_pages_qr_flow(rp: httpx.Client, app: httpx.Client) -> None:
    order = rp.post(
        "auth",
        json={"endUserIp": "192.168.0.1", "userVisibleData": base64.b64encode(b"<b>Ympa</b>").decode()},
    ).json()
    index = app.get("/")
    assert index.status_code == 200 and "Scan a QR code" in index.text
    assert "default-src 'none'" in index.headers["Content-Security-Policy"]

    scanned = app.post("/scan", data={"qr": qr_content(order["qrStartToken"], order["qrStartSecret"], 0)})
    assert scanned.status_code == 303 and scanned.headers["Location"] == f"/order/{order['orderRef']}"
    page = app.get(scanned.headers["Location"])
    assert "&lt;b&gt;Ympa&lt;/b&gt;" in page.text and "<b>Ympa</b>" not in page.text
    assert "Tolvan Tolvansson" in page.text and "Let it expire" in page.text

    approved = app.post(f"/order/{order['orderRef']}/approve", data={"personalNumber": "199203044517"})
    assert approved.status_code == 303
    collected = rp.post("collect", json={"orderRef": order["orderRef"]}).json()
    assert collected["completionData"]["user"]["givenName"] == "Carl"


def test_user_pages_autostart_and_refusals(
    rp: httpx.Client, app: httpx.Client, simulator: BankIdSimulator
) -> None:
    order = rp.post("auth", json={"endUserIp": "192.168.0.1"}).json()
    opened = app.get("/", params={"autostarttoken": order["autoStartToken"], "redirect": "null"})
    assert opened.status_code == 303
    assert rp.post("collect", json={"orderRef": order["orderRef"]}).json()["hintCode"] == "started"

    again = app.get("/", params={"autostarttoken": order["autoStartToken"]})
    assert again.status_code == 409 and "already been opened" in again.text
    cross_site = app.post(
        f"/order/{order['orderRef']}/cancel", headers={"Origin": "https://attacker.example"}, data={}
    )
    assert cross_site.status_code == 403
    same_site = app.post(
        f"/order/{order['orderRef']}/expire", headers={"Origin": simulator.user_url}, data={}
    )
    assert same_site.status_code == 303
    collected = rp.post("collect", json={"orderRef": order["orderRef"]}).json()
    assert collected["hintCode"] == "expiredTransaction"
    assert app.get(f"/order/{order['orderRef']}").status_code == 404


def test_user_pages_phone_flow(rp: httpx.Client, app: httpx.Client) -> None:
    order_ref = rp.post("phone/auth", json={"personalNumber": TOLVAN, "callInitiator": "RP"}).json()[
        "orderRef"
    ]
    assert f"/order/{order_ref}/open" in app.get("/").text
    assert app.post(f"/order/{order_ref}/open", data={}).status_code == 303
    assert "they called you" in app.get(f"/order/{order_ref}").text
    assert app.post(f"/order/{order_ref}/confirm-call", data={}).status_code == 303
    page = app.get(f"/order/{order_ref}").text
    assert "Tolvan Tolvansson" in page and "Agnes" not in page  # only the called person's BankID
    assert app.post(f"/order/{order_ref}/approve", data={"personalNumber": TOLVAN}).status_code == 303
    assert rp.post("collect", json={"orderRef": order_ref}).json()["status"] == "complete"


# The test PKI


def test_pki_is_reused_and_repaired(tmp_path: Path) -> None:
    first = ensure_test_pki(tmp_path)
    files = [
        first.server_ca,
        first.server_cert,
        first.server_key,
        first.rp_ca,
        first.client_cert,
        first.client_key,
    ]
    contents = [path.read_bytes() for path in files]
    assert ensure_test_pki(tmp_path) == first
    assert [path.read_bytes() for path in files] == contents
    assert oct(first.client_key.stat().st_mode & 0o777) == "0o600"

    first.client_key.unlink()
    ensure_test_pki(tmp_path)
    assert first.client_key.is_file()
    assert first.server_ca.read_bytes() != contents[0]  # the set was made anew, consistently
    assert first.server_ca.read_bytes() != first.rp_ca.read_bytes()
