"""A local stand-in for the BankID Relying Party API v6.0, for development and tests. Standard library
(http.server + ssl) plus the test PKI; no Django.

It follows BankID's published documentation, not Ympa's client, so that code tested against it also works
against BankID:
  API overview, endpoints under /rp/v6.0/, JSON over HTTPS POST  https://developers.bankid.com/api-references/auth--sign/overview
  auth, sign: request fields and the answer (orderRef, autoStartToken, qrStartToken, qrStartSecret)
                                                   https://developers.bankid.com/api-references/auth--sign/auth
                                                   https://developers.bankid.com/api-references/auth--sign/sign
  phone/auth, phone/sign: personalNumber, callInitiator ("user" or "RP"); the answer is orderRef only
                                                   https://developers.bankid.com/api-references/auth--sign/phone-auth
  collect: status, hint codes, completionData (user, device, bankIdIssueDate, stepUp, signature = base64
  XML signature, ocspResponse = base64 OCSP response, risk when returnRisk)
                                                   https://developers.bankid.com/api-references/auth--sign/collect
                                                   https://www.bankid.com/utvecklare/guider/teknisk-integrationsguide/graenssnittsbeskrivning/collect
  cancel: {orderRef} -> {}                         https://developers.bankid.com/api-references/auth--sign/cancel
  Errors: alreadyInProgress (the existing order is aborted, no new one is created), invalidParameters,
  unauthorized, notFound (wrong path), methodNotAllowed (only POST), requestTimeout, unsupportedMediaType
  (anything but exactly "application/json", a charset parameter included), internalError, maintenance
                                                   https://developers.bankid.com/api-references/errors
                                                   https://www.bankid.com/utvecklare/guider/teknisk-integrationsguide/graenssnittsbeskrivning/felfall
  Hint code "cancelled": the order was aborted because a new order for the same user arrived (collect page).
  Animated QR codes                                https://developers.bankid.com/how-to-guides/qr-code
  Autostart links (?autostarttoken=...&redirect=...) https://developers.bankid.com/how-to-guides/autostart
  Mutual TLS with an RP certificate issued under BankID's RP CA
                                                   https://developers.bankid.com/getting-started/environments
Field sizes (base64 characters): userVisibleData 1-1 500 for (phone/)auth and 1-40 000 for (phone/)sign;
userNonVisibleData 1-1 500 for (phone/)auth and 1-200 000 for (phone/)sign.

Where the pages consulted are silent or could not be read in full, the simulator is strict, so that
surprises show up here first, and says so:
  - Unknown request fields, a userVisibleDataFormat other than "simpleMarkdownV1" or "plaintext", and
    requirement fields other than pinCode, mrtd, cardReader, certificatePolicies and personalNumber
    (e.g. the newer risk condition, whose values were not available here) are invalidParameters.
    ("web" and "app", the documented device-information objects, are accepted as objects and ignored.)
  - personalNumber must be a real 12-digit personnummer or samordningsnummer (date and check digit).
  - An unknown orderRef is invalidParameters (the error table lists a non-existing orderRef under it).
  - A finished order can be collected once ("the same orderRef must not be used for additional collect
    requests" once it has failed); after that, and after `result_ttl` seconds, it is unknown.
    An order cancelled by the RP is unknown at once. Cancelling an unknown or finished order is
    invalidParameters.
  - Order lifetime: an order nobody has picked up (QR scan, autostart, phone) within `order_ttl` seconds
    (default 30, the window the guides give for scanning) fails with startFailed; an order picked up but not
    finished within `user_ttl` seconds (default 180; the pages consulted give no figure) fails with
    expiredTransaction.
  - One active order per personal number: a new order naming a personal number (phone orders,
    requirement.personalNumber) while another pending order names it fails with alreadyInProgress, and the
    pending one fails with hintCode "cancelled".

What the simulator cannot produce, and makes up instead (clearly labelled inside the data):
  - `signature` is base64 of a small XML document in the xmldsig namespace whose content says it comes from
    this simulator; it is not signed and does not follow BankID's signature profile.
  - `ocspResponse` is base64 of a short ASCII placeholder, not a DER-encoded OCSP response.
  - `device.uhi` is derived from the personal number; `device.ipAddress` is the address of the browser (or
    JSON client) that approved on the user page.

The API port speaks TLS with the test PKI's server certificate and requires a client certificate issued by
the test RP CA (ssl.CERT_REQUIRED): without one, or with one from another CA, the handshake fails, as with
BankID. A browser does not present the RP certificate, so the pages for the "test user" are served on a
SEPARATE plain-HTTP port on loopback (`user_url`):
  GET  /                           paste (or scan) the QR text; lists phone orders waiting for the app
  GET  /?autostarttoken=T[&redirect=R]  what the app does for an autostart link: picks up the order
  GET  /order/<orderRef>           the order as the app shows it: choose a test identity and approve,
                                   cancel, or let it expire; for phone orders confirm or decline the call
and a small JSON developer API, for tests (simulator-only, not part of BankID's API):
  GET  /sim/orders                                      the orders, newest first
  POST /sim/scan {"qr"}                                 scan a QR code (stale or wrong codes are refused)
  POST /sim/open {"autoStartToken"} | {"orderRef"}      autostart, or a phone order reaching the user's app
  POST /sim/confirm-call | /sim/decline-call {"orderRef"}
  POST /sim/approve {"orderRef", "personalNumber"}
  POST /sim/cancel {"orderRef"}                         the user cancels in the app (userCancel)
  POST /sim/expire {"orderRef"}                         time runs out now (startFailed or expiredTransaction)
  POST /sim/maintenance {"on": true|false}              the API answers 503 maintenance while on
Refusals come as {"error": <reason>, "message": <text>} with HTTP 400, 403, 404 or 409. The user port only
answers clients on this machine.

Progress of an order (collect's hintCode while pending):
  QR:        outstandingTransaction -> (scan) userSign -> complete | failed userCancel/expiredTransaction
  autostart: outstandingTransaction -> (open) started -> complete | failed ...
  phone:     outstandingTransaction -> (open) userCallConfirm -> (confirm) userSign -> complete
             | failed userDeclinedCall ...
A QR code is accepted when its HMAC matches the order's qrStartSecret and it was made for a second at most
`qr_tolerance` seconds (default 3) before the scan, counted from when the simulator answered auth/sign.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import html
import ipaddress
import json
import re
import socket
import ssl
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from os import PathLike
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, quote, urlsplit
from xml.sax.saxutils import escape as xml_escape

from ympa.authn.bankid.qr import parse_qr_content, qr_code_matches
from ympa.authn.bankid.testpki import SimulatorPki, ensure_test_pki
from ympa.identifiers.errors import IdentifierError
from ympa.identifiers.personal_number import parse_personnummer

API_PREFIX = "/rp/v6.0"
ENDPOINTS = frozenset({"auth", "sign", "phone/auth", "phone/sign", "collect", "cancel"})

OrderStatus = Literal["pending", "failed", "complete"]
PickUp = Literal["qr", "autostart", "phone"]


@dataclass(frozen=True)
class SimIdentity:
    """A BankID the "test user" can approve with."""

    personal_number: str
    given_name: str
    surname: str
    bank_id_issue_date: date = date(2023, 3, 1)

    @property
    def name(self) -> str:
        return f"{self.given_name} {self.surname}"


# Skatteverket's list of test personnummer could not be consulted here, so these are made up: Tolvan
# Tolvansson (191212121212) is the test person used throughout Ympa; the others are computed so that date,
# birth number (odd for men, even for women) and Luhn check digit are valid.
DEFAULT_IDENTITIES: tuple[SimIdentity, ...] = (
    SimIdentity("191212121212", "Tolvan", "Tolvansson", date(2021, 5, 17)),
    SimIdentity("198001012387", "Agnes", "Provsson", date(2022, 11, 2)),
    SimIdentity("198506152423", "Berit", "Exempelsson", date(2024, 1, 9)),
    SimIdentity("199203044517", "Carl", "Testsson", date(2019, 8, 30)),
)

_AUTH_VISIBLE_MAX = 1_500
_SIGN_VISIBLE_MAX = 40_000
_AUTH_NON_VISIBLE_MAX = 1_500
_SIGN_NON_VISIBLE_MAX = 200_000
_MAX_BODY = 512 * 1024
_POLL_INTERVAL = 0.05  # how quickly serve_forever notices stop()
_TWELVE_DIGITS = re.compile(r"[0-9]{12}")
_OID = re.compile(r"[0-2](\.(0|[1-9][0-9]*))+(\.\*)?")
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S+")
_ORDER_PATH = re.compile(
    r"/order/([0-9a-f-]{36})(?:/(open|confirm-call|decline-call|approve|cancel|expire))?"
)
_REQUEST_FIELDS = {
    "auth": frozenset(
        {
            "endUserIp",
            "requirement",
            "userVisibleData",
            "userVisibleDataFormat",
            "userNonVisibleData",
            "returnUrl",
            "returnRisk",
            "web",
            "app",
        }
    ),
    "phone": frozenset(
        {
            "personalNumber",
            "callInitiator",
            "requirement",
            "userVisibleData",
            "userVisibleDataFormat",
            "userNonVisibleData",
        }
    ),
}
_REQUIREMENT_FIELDS = frozenset({"pinCode", "mrtd", "cardReader", "certificatePolicies", "personalNumber"})


class SimulatorError(Exception):
    """A refusal of the simulated BankID app (user page and developer API): `reason` is a short code."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message


class _ApiError(Exception):
    """An error answer of the RP API: HTTP status and BankID's errorCode."""

    def __init__(self, status: int, error_code: str, details: str) -> None:
        super().__init__(details)
        self.status = status
        self.error_code = error_code
        self.details = details


@dataclass
class _Order:
    # Mutable, and only touched while holding the simulator's lock.
    order_ref: str
    kind: Literal["auth", "sign"]
    phone: bool
    call_initiator: str | None
    auto_start_token: str | None
    qr_start_token: str | None
    qr_start_secret: str | None
    end_user_ip: str | None
    personal_number: str | None
    requirement: dict[str, Any]
    visible_text: str | None
    non_visible_data: str | None
    return_risk: bool
    created: float
    created_at: datetime
    status: OrderStatus = "pending"
    hint_code: str | None = "outstandingTransaction"
    picked_up: PickUp | None = None
    picked_up_at: float | None = None
    finished_at: float | None = None
    identity: SimIdentity | None = None
    completion: dict[str, Any] | None = None

    def summary(self) -> dict[str, object]:
        return {
            "orderRef": self.order_ref,
            "type": ("phone/" if self.phone else "") + self.kind,
            "status": self.status,
            "hintCode": self.hint_code,
            "pickedUp": self.picked_up,
            "personalNumber": self.personal_number,
            "callInitiator": self.call_initiator,
            "endUserIp": self.end_user_ip,
            "userVisibleData": self.visible_text,
            "created": self.created_at.isoformat(),
        }


class BankIdSimulator:
    """Serves the simulated RP API over mutual TLS on `host`:`port` (0 picks a free port) and the user pages
    on plain HTTP at `user_host`:`user_port`; see the module docstring. `pki_dir` receives the test PKI
    (made if missing); an RP client needs `pki.server_ca`, `pki.client_cert` and `pki.client_key`.

    Durations are in seconds of `clock` (time.monotonic by default; tests may pass a fake clock).
    """

    def __init__(
        self,
        host: str,
        port: int,
        pki_dir: str | PathLike[str],
        *,
        user_host: str = "127.0.0.1",
        user_port: int = 0,
        order_ttl: float = 30.0,
        user_ttl: float = 180.0,
        result_ttl: float = 180.0,
        qr_tolerance: float = 3.0,
        request_timeout: float = 10.0,
        identities: Sequence[SimIdentity] = DEFAULT_IDENTITIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if min(order_ttl, user_ttl, result_ttl, qr_tolerance, request_timeout) <= 0:
            raise ValueError("the durations must be positive")
        if not ipaddress.ip_address(user_host).is_loopback:
            raise ValueError("the user pages must be served on a loopback address")
        for identity in identities:
            if _personal_number_error(identity.personal_number):
                raise ValueError(f"{identity.personal_number!r} is not a valid 12-digit personal number")
        self.pki: SimulatorPki = ensure_test_pki(pki_dir)
        self.order_ttl = order_ttl
        self.user_ttl = user_ttl
        self.result_ttl = result_ttl
        self.qr_tolerance = qr_tolerance
        self.request_timeout = request_timeout
        self.identities: dict[str, SimIdentity] = {i.personal_number: i for i in identities}
        self.maintenance = False
        self._clock = clock
        self._lock = threading.Lock()
        self._orders: dict[str, _Order] = {}
        self._threads: list[threading.Thread] = []
        self._stopped = False
        self._api = _ApiServer((host, port), self, _server_context(self.pki))
        try:
            self._user = _UserServer((user_host, user_port), self)
        except BaseException:
            self._api.server_close()
            raise

    @property
    def url(self) -> str:
        """The API base URL, ending in /rp/v6.0 (give it to the client as `base_url`)."""
        return _http_url("https", self._api.server_address) + API_PREFIX

    @property
    def user_url(self) -> str:
        """The plain-HTTP address of the user pages and the /sim developer API."""
        return _http_url("http", self._user.server_address)

    def start(self) -> None:
        """Serve both ports in background threads."""
        if self._threads:
            raise RuntimeError("the simulator is already running")
        for name, server in (("bankid-api", self._api), ("bankid-user", self._user)):
            thread = threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": _POLL_INTERVAL}, name=name, daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Stop serving and release both ports."""
        if self._stopped:
            return
        self._stopped = True
        servers = (self._api, self._user)
        # shutdown() waits for serve_forever, so it would hang if the servers were never started. Both are
        # shut down at once: each waits up to a poll interval.
        stoppers = [threading.Thread(target=server.shutdown) for server in servers if self._threads]
        for stopper in stoppers:
            stopper.start()
        for thread in stoppers + self._threads:
            thread.join()
        for server in servers:
            server.server_close()

    def __enter__(self) -> BankIdSimulator:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def orders(self) -> list[dict[str, object]]:
        """A snapshot of the known orders, newest first (for pages and tests)."""
        with self._lock:
            self._advance_all()
            ordered = sorted(self._orders.values(), key=lambda order: order.created, reverse=True)
            return [order.summary() for order in ordered]

    # The RP API; called from the API server's threads.

    def api_call(self, endpoint: str, body: Mapping[str, Any]) -> dict[str, object]:
        if self.maintenance:
            raise _ApiError(503, "maintenance", "The service is temporarily unavailable (simulated).")
        if endpoint == "auth":
            return self._start_order("auth", body, phone=False)
        if endpoint == "sign":
            return self._start_order("sign", body, phone=False)
        if endpoint == "phone/auth":
            return self._start_order("auth", body, phone=True)
        if endpoint == "phone/sign":
            return self._start_order("sign", body, phone=True)
        order_ref = _only_order_ref(body)
        if endpoint == "collect":
            return self._collect(order_ref)
        self._cancel(order_ref)
        return {}

    def _start_order(
        self, kind: Literal["auth", "sign"], body: Mapping[str, Any], *, phone: bool
    ) -> dict[str, object]:
        _no_unknown_fields(body, _REQUEST_FIELDS["phone" if phone else "auth"])
        requirement = _requirement(body.get("requirement"))
        visible_max = _SIGN_VISIBLE_MAX if kind == "sign" else _AUTH_VISIBLE_MAX
        non_visible_max = _SIGN_NON_VISIBLE_MAX if kind == "sign" else _AUTH_NON_VISIBLE_MAX
        visible_text = _visible_data(body, required=kind == "sign", maximum=visible_max)
        non_visible = _optional_base64(body, "userNonVisibleData", non_visible_max)
        end_user_ip: str | None = None
        call_initiator: str | None = None
        return_risk = False
        if phone:
            personal_number: str | None = _personal_number(body.get("personalNumber"), "personalNumber")
            call_initiator = body.get("callInitiator")
            if call_initiator not in ("user", "RP"):
                raise _invalid('callInitiator must be "user" or "RP".')
        else:
            end_user_ip = _end_user_ip(body.get("endUserIp"))
            personal_number = requirement.get("personalNumber")
            return_url = body.get("returnUrl")
            if return_url is not None and not (isinstance(return_url, str) and _URL.fullmatch(return_url)):
                raise _invalid("returnUrl must be an absolute URL.")
            risk = body.get("returnRisk", False)
            if not isinstance(risk, bool):
                raise _invalid("returnRisk must be true or false.")
            return_risk = risk
            for device in ("web", "app"):
                if device in body and not isinstance(body[device], dict):
                    raise _invalid(f"{device} must be an object.")
        if phone and requirement.get("personalNumber") not in (None, personal_number):
            raise _invalid("requirement.personalNumber differs from personalNumber.")

        order = _Order(
            order_ref=str(uuid.uuid4()),
            kind=kind,
            phone=phone,
            call_initiator=call_initiator,
            auto_start_token=None if phone else str(uuid.uuid4()),
            qr_start_token=None if phone else str(uuid.uuid4()),
            qr_start_secret=None if phone else str(uuid.uuid4()),
            end_user_ip=end_user_ip,
            personal_number=personal_number,
            requirement=requirement,
            visible_text=visible_text,
            non_visible_data=non_visible,
            return_risk=return_risk,
            created=self._clock(),
            created_at=datetime.now(UTC),
        )
        with self._lock:
            self._advance_all()
            if personal_number is not None:
                busy = [
                    other
                    for other in self._orders.values()
                    if other.status == "pending" and other.personal_number == personal_number
                ]
                if busy:
                    for other in busy:
                        self._finish(other, "failed", "cancelled")
                    raise _ApiError(
                        400,
                        "alreadyInProgress",
                        "An order for this personal number was already in progress; both were aborted.",
                    )
            self._orders[order.order_ref] = order
        if phone:
            return {"orderRef": order.order_ref}
        return {
            "orderRef": order.order_ref,
            "autoStartToken": order.auto_start_token,
            "qrStartToken": order.qr_start_token,
            "qrStartSecret": order.qr_start_secret,
        }

    def _collect(self, order_ref: str) -> dict[str, object]:
        with self._lock:
            self._advance_all()
            order = self._orders.get(order_ref)
            if order is None:
                raise _no_such_order()
            answer: dict[str, object] = {"orderRef": order.order_ref, "status": order.status}
            if order.status == "complete":
                answer["completionData"] = order.completion
            else:
                answer["hintCode"] = order.hint_code
            if order.status != "pending":
                del self._orders[order_ref]
            return answer

    def _cancel(self, order_ref: str) -> None:
        with self._lock:
            self._advance_all()
            order = self._orders.get(order_ref)
            if order is None or order.status != "pending":
                raise _no_such_order()
            del self._orders[order_ref]

    # What the test user does in the simulated app; called from the user pages and by tests.

    def scan(self, qr: str) -> str:
        """Scan animated-QR text; returns the orderRef. Refuses unknown, wrong, stale or reused codes."""
        try:
            content = parse_qr_content(qr)
        except ValueError as exc:
            raise SimulatorError(400, "qr-invalid", str(exc)) from None
        with self._lock:
            self._advance_all()
            order = next(
                (o for o in self._orders.values() if o.qr_start_token == content.qr_start_token), None
            )
            if order is None or order.qr_start_secret is None:
                raise SimulatorError(404, "no-such-order", "No order has this QR code (it may have ended).")
            if not qr_code_matches(content, order.qr_start_secret):
                raise SimulatorError(400, "qr-invalid", "The QR code's check value is wrong.")
            age = (self._clock() - order.created) - content.seconds
            # The code for second t is shown during [t, t+1), so up to a second of age is normal, and a
            # client clock slightly ahead of ours makes a small negative age.
            if age < -1:
                raise SimulatorError(400, "qr-invalid", "The QR code claims a time that has not come yet.")
            if age > self.qr_tolerance:
                raise SimulatorError(
                    400,
                    "qr-stale",
                    f"The QR code is {age:.1f} s old; codes older than {self.qr_tolerance} s are refused.",
                )
            self._require_waiting(order)
            self._pick_up(order, "qr", "userSign")
            return order.order_ref

    def open_autostart(self, auto_start_token: str) -> str:
        """Open the app with an autostart token; returns the orderRef."""
        with self._lock:
            self._advance_all()
            order = next((o for o in self._orders.values() if o.auto_start_token == auto_start_token), None)
            if order is None:
                raise SimulatorError(
                    404, "no-such-order", "No order has this autostart token (it may have ended)."
                )
            self._require_waiting(order)
            self._pick_up(order, "autostart", "started")
            return order.order_ref

    def open_phone(self, order_ref: str) -> None:
        """The phone order reaches the user's app, which asks whether they are in a call with the RP."""
        with self._lock:
            order = self._pending(order_ref)
            if not order.phone:
                raise SimulatorError(
                    409, "wrong-state", "Only phone orders are opened this way; use the QR code or autostart."
                )
            if order.personal_number not in self.identities:
                raise SimulatorError(
                    409,
                    "unknown-identity",
                    "The order is for a personal number that has no test identity here.",
                )
            self._require_waiting(order)
            self._pick_up(order, "phone", "userCallConfirm")

    def confirm_call(self, order_ref: str) -> None:
        with self._lock:
            order = self._call_order(order_ref)
            order.hint_code = "userSign"

    def decline_call(self, order_ref: str) -> None:
        with self._lock:
            self._finish(self._call_order(order_ref), "failed", "userDeclinedCall")

    def approve(self, order_ref: str, personal_number: str, *, device_ip: str = "127.0.0.1") -> None:
        """The user identifies or signs with the test identity `personal_number`."""
        with self._lock:
            order = self._pending(order_ref)
            if order.picked_up is None:
                raise SimulatorError(409, "wrong-state", "The order has not been opened in the app yet.")
            if order.hint_code == "userCallConfirm":
                raise SimulatorError(409, "wrong-state", "Confirm the call first.")
            identity = self.identities.get(personal_number)
            if identity is None:
                raise SimulatorError(
                    400, "unknown-identity", "There is no test identity with that personal number."
                )
            if order.personal_number is not None and order.personal_number != personal_number:
                raise SimulatorError(
                    409,
                    "wrong-person",
                    "This order requires another personal number; this BankID cannot be used.",
                )
            order.identity = identity
            order.completion = self._completion_data(order, identity, device_ip)
            self._finish(order, "complete", None)

    def user_cancel(self, order_ref: str) -> None:
        """The user presses Cancel in the app."""
        with self._lock:
            order = self._pending(order_ref)
            if order.picked_up is None:
                raise SimulatorError(409, "wrong-state", "The order has not been opened in the app yet.")
            self._finish(order, "failed", "userCancel")

    def expire(self, order_ref: str) -> None:
        """Let the time run out now: startFailed if nobody picked the order up, else expiredTransaction."""
        with self._lock:
            order = self._pending(order_ref)
            self._finish(order, "failed", "startFailed" if order.picked_up is None else "expiredTransaction")

    # Internals; all called with the lock held.

    def _pending(self, order_ref: str) -> _Order:
        self._advance_all()
        order = self._orders.get(order_ref)
        if order is None:
            raise SimulatorError(404, "no-such-order", "No such order (it may have ended or been collected).")
        if order.status != "pending":
            raise SimulatorError(
                409, "wrong-state", f"The order has already ended ({order.hint_code or order.status})."
            )
        return order

    def _call_order(self, order_ref: str) -> _Order:
        order = self._pending(order_ref)
        if not order.phone or order.hint_code != "userCallConfirm":
            raise SimulatorError(
                409, "wrong-state", "The order is not waiting for the user to confirm a call."
            )
        return order

    @staticmethod
    def _require_waiting(order: _Order) -> None:
        if order.status != "pending":
            raise SimulatorError(
                409, "wrong-state", f"The order has already ended ({order.hint_code or order.status})."
            )
        if order.picked_up is not None:
            raise SimulatorError(409, "wrong-state", "The order has already been opened in an app.")

    def _pick_up(self, order: _Order, how: PickUp, hint_code: str) -> None:
        order.picked_up = how
        order.picked_up_at = self._clock()
        order.hint_code = hint_code

    def _finish(self, order: _Order, status: OrderStatus, hint_code: str | None) -> None:
        order.status = status
        order.hint_code = hint_code
        order.finished_at = self._clock()

    def _advance_all(self) -> None:
        now = self._clock()
        for order_ref, order in list(self._orders.items()):
            if order.status == "pending":
                if order.picked_up_at is None and now - order.created >= self.order_ttl:
                    self._finish(order, "failed", "startFailed")
                elif order.picked_up_at is not None and now - order.picked_up_at >= self.user_ttl:
                    self._finish(order, "failed", "expiredTransaction")
            elif order.finished_at is not None and now - order.finished_at >= self.result_ttl:
                del self._orders[order_ref]

    def _completion_data(self, order: _Order, identity: SimIdentity, device_ip: str) -> dict[str, Any]:
        uhi = (
            base64.urlsafe_b64encode(
                hashlib.sha256(f"ympa-bankid-simulator:{identity.personal_number}".encode()).digest()[:20]
            )
            .decode("ascii")
            .rstrip("=")
        )
        data: dict[str, Any] = {
            "user": {
                "personalNumber": identity.personal_number,
                "name": identity.name,
                "givenName": identity.given_name,
                "surname": identity.surname,
            },
            "device": {"ipAddress": device_ip, "uhi": uhi},
            "bankIdIssueDate": identity.bank_id_issue_date.isoformat(),
            "signature": base64.b64encode(_signature_xml(order, identity)).decode("ascii"),
            "ocspResponse": base64.b64encode(
                f"YMPA BANKID SIMULATOR OCSP PLACEHOLDER, not an OCSP response ({order.order_ref})".encode()
            ).decode("ascii"),
        }
        if order.requirement.get("mrtd") is True:
            data["stepUp"] = {"mrtd": True}
        if order.return_risk:
            data["risk"] = "low"
        return data


def _signature_xml(order: _Order, identity: SimIdentity) -> bytes:
    signed = datetime.now(UTC).isoformat(timespec="seconds")
    visible = (
        "" if order.visible_text is None else base64.b64encode(order.visible_text.encode()).decode("ascii")
    )
    text = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<Signature xmlns="http://www.w3.org/2000/09/xmldsig#">\n'
        "  <!-- Made by Ympa's BankID simulator. NOT a BankID signature: nothing here is signed. -->\n"
        "  <SignatureValue>U0lNVUxBVE9S</SignatureValue>\n"
        '  <Object><sim:signedData xmlns:sim="urn:ympa:bankid-simulator">\n'
        f"    <sim:orderRef>{xml_escape(order.order_ref)}</sim:orderRef>\n"
        f"    <sim:type>{xml_escape(order.kind)}</sim:type>\n"
        f"    <sim:personalNumber>{xml_escape(identity.personal_number)}</sim:personalNumber>\n"
        f"    <sim:userVisibleData>{visible}</sim:userVisibleData>\n"
        f"    <sim:userNonVisibleData>{xml_escape(order.non_visible_data or '')}</sim:userNonVisibleData>\n"
        f"    <sim:signed>{signed}</sim:signed>\n"
        "  </sim:signedData></Object>\n"
        "</Signature>\n"
    )
    return text.encode()


# Request validation (RP API)


def _invalid(details: str) -> _ApiError:
    return _ApiError(400, "invalidParameters", details)


def _no_such_order() -> _ApiError:
    return _invalid("No such order.")


def _no_unknown_fields(body: Mapping[str, Any], allowed: frozenset[str]) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise _invalid(f"Unknown parameter {unknown[0]!r}.")


def _only_order_ref(body: Mapping[str, Any]) -> str:
    _no_unknown_fields(body, frozenset({"orderRef"}))
    order_ref = body.get("orderRef")
    if not isinstance(order_ref, str) or not order_ref:
        raise _invalid("orderRef is required.")
    return order_ref


def _end_user_ip(value: object) -> str:
    if not isinstance(value, str):
        raise _invalid("endUserIp is required.")
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise _invalid("endUserIp must be an IPv4 or IPv6 address.") from None
    return value


def _personal_number_error(value: object) -> bool:
    if not isinstance(value, str) or not _TWELVE_DIGITS.fullmatch(value):
        return True
    try:
        return parse_personnummer(value).value != value
    except IdentifierError:
        return True


def _personal_number(value: object, name: str) -> str:
    if _personal_number_error(value):
        raise _invalid(f"{name} must be a valid personal identity number of 12 digits.")
    assert isinstance(value, str)
    return value


def _requirement(value: object) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _invalid("requirement must be an object.")
    _no_unknown_fields(value, _REQUIREMENT_FIELDS)
    for flag in ("pinCode", "mrtd"):
        if flag in value and not isinstance(value[flag], bool):
            raise _invalid(f"requirement.{flag} must be true or false.")
    if "cardReader" in value and value["cardReader"] not in ("class1", "class2"):
        raise _invalid('requirement.cardReader must be "class1" or "class2".')
    policies = value.get("certificatePolicies", [])
    if not isinstance(policies, list) or not all(isinstance(p, str) and _OID.fullmatch(p) for p in policies):
        raise _invalid("requirement.certificatePolicies must be a list of object identifiers.")
    if "personalNumber" in value:
        _personal_number(value["personalNumber"], "requirement.personalNumber")
    return dict(value)


def _optional_base64(body: Mapping[str, Any], name: str, maximum: int) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not 1 <= len(value) <= maximum:
        raise _invalid(f"{name} must be base64 text of 1 to {maximum} characters.")
    try:
        base64.b64decode(value, validate=True)
    except binascii.Error:
        raise _invalid(f"{name} is not valid base64.") from None
    return value


def _visible_data(body: Mapping[str, Any], *, required: bool, maximum: int) -> str | None:
    encoded = _optional_base64(body, "userVisibleData", maximum)
    text_format = body.get("userVisibleDataFormat")
    if text_format is not None and text_format not in ("simpleMarkdownV1", "plaintext"):
        raise _invalid('userVisibleDataFormat must be "simpleMarkdownV1" or "plaintext".')
    if encoded is None:
        if required:
            raise _invalid("userVisibleData is required.")
        if text_format is not None:
            raise _invalid("userVisibleDataFormat without userVisibleData.")
        return None
    try:
        return base64.b64decode(encoded).decode("utf-8")
    except UnicodeDecodeError:
        raise _invalid("userVisibleData must be UTF-8 text, base64 encoded.") from None


# The servers


def _server_context(pki: SimulatorPki) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(pki.server_cert), str(pki.server_key))
    # Like BankID: no client certificate from the RP CA, no connection.
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(cafile=str(pki.rp_ca))
    return context


def _http_url(scheme: str, address: tuple[str | bytes | bytearray, int] | Any) -> str:
    host, port = str(address[0]), int(address[1])
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}"


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Failed handshakes and dropped connections are expected (tests provoke them); stay quiet about
        # those and report anything else as usual.
        if isinstance(sys.exception(), OSError):
            return
        super().handle_error(request, client_address)


class _ApiServer(_QuietServer):
    def __init__(self, address: tuple[str, int], simulator: BankIdSimulator, context: ssl.SSLContext) -> None:
        self.simulator = simulator
        self.tls = context
        super().__init__(address, _ApiHandler)

    def get_request(self) -> tuple[socket.socket, Any]:
        connection, address = super().get_request()
        # Headers and body leave in separate writes; without this, Nagle's algorithm and delayed ACKs
        # hold each answer back by some 40 ms.
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # The handshake happens in the connection's own thread (see _ApiHandler.setup), so a client that
        # stalls cannot hold up the others.
        return self.tls.wrap_socket(connection, server_side=True, do_handshake_on_connect=False), address


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        # Quiet: tests should not print per request.
        return

    def _send(
        self, status: int, content_type: str, body: bytes, extra: Mapping[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        if self.close_connection and self.protocol_version == "HTTP/1.1":
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def _send_json(self, status: int, data: object) -> None:
        self._send(status, "application/json", json.dumps(data, ensure_ascii=False).encode())

    def _read_body(self) -> bytes:
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            length = -1
        if not 0 <= length <= _MAX_BODY:
            self.close_connection = True
            raise ValueError("missing, invalid or too large Content-Length")
        return self.rfile.read(length)


class _ApiHandler(_Handler):
    server: _ApiServer
    protocol_version = "HTTP/1.1"
    server_version = "BankID-simulator"

    def setup(self) -> None:
        simulator = self.server.simulator
        # Set on the socket directly: StreamRequestHandler keeps it, and a stalled body read becomes 408.
        connection: ssl.SSLSocket = self.request
        connection.settimeout(simulator.request_timeout)
        connection.do_handshake()
        super().setup()

    def do_POST(self) -> None:
        try:
            # The body is read before anything is checked, so that a refused request leaves the kept-alive
            # connection clean for the next one.
            try:
                raw = self._read_body()
            except TimeoutError:
                self.close_connection = True
                raise _ApiError(408, "requestTimeout", "It took too long to transmit the request.") from None
            except ValueError as exc:
                raise _invalid(f"Invalid request body: {exc}.") from None
            endpoint = self._endpoint()
            content_type = self.headers.get("Content-Type")
            # The documented 415 case is a charset parameter; anything but exactly application/json is
            # refused the same way.
            if content_type is None or content_type.strip().lower() != "application/json":
                raise _ApiError(415, "unsupportedMediaType", "Content-Type must be exactly application/json.")
            try:
                body = json.loads(raw)
            except (UnicodeDecodeError, json.JSONDecodeError):
                raise _invalid("The request body is not valid JSON.") from None
            if not isinstance(body, dict):
                raise _invalid("The request body must be a JSON object.")
            self._send_json(200, self.server.simulator.api_call(endpoint, body))
        except _ApiError as exc:
            self._send_json(exc.status, {"errorCode": exc.error_code, "details": exc.details})
        except Exception:
            self.close_connection = True
            self._send_json(
                500, {"errorCode": "internalError", "details": "Internal error in the simulator."}
            )
            raise

    def _endpoint(self) -> str:
        path = urlsplit(self.path).path
        if not path.startswith(API_PREFIX + "/") or path[len(API_PREFIX) + 1 :] not in ENDPOINTS:
            raise _ApiError(404, "notFound", "An erroneous URL path was used.")
        return path[len(API_PREFIX) + 1 :]

    def _other_method(self) -> None:
        # A body, if any, is left unread, so the connection cannot be reused.
        self.close_connection = True
        try:
            self._endpoint()
            raise _ApiError(405, "methodNotAllowed", "Only http method POST is allowed.")
        except _ApiError as exc:
            self._send_json(exc.status, {"errorCode": exc.error_code, "details": exc.details})

    do_GET = do_PUT = do_DELETE = do_PATCH = _other_method


class _UserServer(_QuietServer):
    def __init__(self, address: tuple[str, int], simulator: BankIdSimulator) -> None:
        self.simulator = simulator
        super().__init__(address, _UserHandler)


class _UserHandler(_Handler):
    server: _UserServer
    server_version = "BankID-simulator-user"

    def do_GET(self) -> None:
        target = urlsplit(self.path)
        query = dict(parse_qsl(target.query))
        simulator = self.server.simulator
        try:
            self._require_loopback()
            if target.path == "/" and "autostarttoken" in query:
                order_ref = simulator.open_autostart(query["autostarttoken"])
                self._redirect(f"/order/{order_ref}")
            elif target.path == "/":
                self._page(200, _index_page(simulator))
            elif target.path == "/sim/orders":
                self._send_json(200, {"orders": simulator.orders()})
            elif (match := _ORDER_PATH.fullmatch(target.path)) and match[2] is None:
                self._page(200, _order_page(simulator, match[1]))
            else:
                raise SimulatorError(404, "not-found", "Not found.")
        except SimulatorError as exc:
            self._refuse(exc, json_answer=target.path.startswith("/sim/"))

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        as_json = path.startswith("/sim/")
        try:
            self._require_loopback()
            if as_json:
                self._send_json(200, self._developer_api(path[len("/sim/") :], self._json_body()))
                return
            self._require_same_origin()
            form = self._form_body()
            simulator = self.server.simulator
            if path == "/scan":
                order_ref = simulator.scan(form.get("qr", ""))
                self._redirect(f"/order/{order_ref}")
                return
            match = _ORDER_PATH.fullmatch(path)
            if match is None or match[2] is None:
                raise SimulatorError(404, "not-found", "Not found.")
            order_ref, action = match[1], match[2]
            self._act(action, {"orderRef": order_ref, "personalNumber": form.get("personalNumber", "")})
            self._redirect(f"/order/{order_ref}")
        except SimulatorError as exc:
            self._refuse(exc, json_answer=as_json)

    def _developer_api(self, action: str, body: Mapping[str, Any]) -> dict[str, object]:
        simulator = self.server.simulator
        if action == "scan":
            order_ref = simulator.scan(_text_field(body, "qr"))
        elif action == "open" and "autoStartToken" in body:
            order_ref = simulator.open_autostart(_text_field(body, "autoStartToken"))
        elif action == "maintenance":
            switch = body.get("on")
            if not isinstance(switch, bool):
                raise SimulatorError(400, "bad-request", '"on" must be true or false.')
            simulator.maintenance = switch
            return {"maintenance": switch}
        elif action in ("open", "confirm-call", "decline-call", "approve", "cancel", "expire"):
            order_ref = _text_field(body, "orderRef")
            self._act(action, body)
        else:
            raise SimulatorError(404, "not-found", "No such developer action.")
        return next(order for order in simulator.orders() if order["orderRef"] == order_ref)

    def _act(self, action: str, body: Mapping[str, Any]) -> None:
        simulator = self.server.simulator
        order_ref = _text_field(body, "orderRef")
        if action == "open":
            simulator.open_phone(order_ref)
        elif action == "confirm-call":
            simulator.confirm_call(order_ref)
        elif action == "decline-call":
            simulator.decline_call(order_ref)
        elif action == "approve":
            simulator.approve(
                order_ref, _text_field(body, "personalNumber"), device_ip=self.client_address[0]
            )
        elif action == "cancel":
            simulator.user_cancel(order_ref)
        else:
            simulator.expire(order_ref)

    def _require_loopback(self) -> None:
        if not ipaddress.ip_address(self.client_address[0]).is_loopback:
            raise SimulatorError(403, "forbidden", "Only for clients on this machine.")

    def _require_same_origin(self) -> None:
        # Forms must come from these pages: another site open in the same browser must not approve orders.
        origin = self.headers.get("Origin")
        if origin is not None and origin != self.server.simulator.user_url:
            raise SimulatorError(403, "forbidden", "Cross-site form posts are refused.")

    def _json_body(self) -> dict[str, Any]:
        try:
            body = json.loads(self._read_body())
        except (ValueError, UnicodeDecodeError):
            raise SimulatorError(400, "bad-request", "The body must be a JSON object.") from None
        if not isinstance(body, dict):
            raise SimulatorError(400, "bad-request", "The body must be a JSON object.")
        return body

    def _form_body(self) -> dict[str, str]:
        try:
            return dict(parse_qsl(self._read_body().decode(), keep_blank_values=True))
        except (ValueError, UnicodeDecodeError):
            raise SimulatorError(400, "bad-request", "Unreadable form.") from None

    def _refuse(self, error: SimulatorError, *, json_answer: bool) -> None:
        if json_answer:
            self._send_json(error.status, {"error": error.reason, "message": error.message})
        else:
            self._page(error.status, _error_page(error))

    def _redirect(self, location: str) -> None:
        self._send(303, "text/plain; charset=utf-8", b"", {"Location": location})

    def _page(self, status: int, text: str) -> None:
        self._send(
            status,
            "text/html; charset=utf-8",
            text.encode(),
            {"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'"},
        )


def _text_field(body: Mapping[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise SimulatorError(400, "bad-request", f"{name} is required.")
    return value


# The user pages


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5rem; max-width: 48rem; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 1px solid #ccc; padding: .3rem .5rem; text-align: left; vertical-align: top; }
pre { white-space: pre-wrap; background: #f4f4f4; padding: .5rem; }
.error { color: #a00; }
button { margin: .2rem .4rem .2rem 0; }
"""


def _html(title: str, body: str) -> str:
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        f"<h1>{html.escape(title)}</h1>\n"
        "<p><small>A local simulator for development and tests - not BankID.</small></p>\n"
        f"{body}\n</body>\n</html>\n"
    )


def _index_page(simulator: BankIdSimulator) -> str:
    waiting = [
        order
        for order in simulator.orders()
        if order["status"] == "pending"
        and order["type"] in ("phone/auth", "phone/sign")
        and not order["pickedUp"]
    ]
    rows = "".join(
        "<tr>"
        f"<td>{html.escape(str(order['type']))}</td>"
        f"<td>{html.escape(str(order['personalNumber']))}</td>"
        f"<td>{html.escape(str(order['callInitiator']))}</td>"
        f'<td><form method="post" action="/order/{quote(str(order["orderRef"]))}/open">'
        "<button>Open in the app</button></form></td>"
        "</tr>"
        for order in waiting
    )
    phone_table = (
        "<table><thead><tr><th>Order</th><th>Personal number</th><th>Who called</th><th></th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
        if rows
        else "<p>No phone orders are waiting.</p>"
    )
    return _html(
        "BankID simulator",
        "<h2>Scan a QR code</h2>\n"
        "<p>Paste the text of the QR code shown by the service (it changes every second).</p>\n"
        '<form method="post" action="/scan"><input name="qr" size="60" autofocus required> '
        "<button>Scan</button></form>\n"
        "<p>Autostart links open here when their base is this page: "
        f"<code>{html.escape(simulator.user_url)}/?autostarttoken=...</code></p>\n"
        "<h2>Phone orders</h2>\n"
        f"{phone_table}\n"
        '<p><a href="/">Reload</a></p>',
    )


def _order_page(simulator: BankIdSimulator, order_ref: str) -> str:
    order = next((o for o in simulator.orders() if o["orderRef"] == order_ref), None)
    if order is None:
        raise SimulatorError(404, "no-such-order", "No such order (it may have ended or been collected).")
    what = "Sign" if str(order["type"]).endswith("sign") else "Identify yourself"
    parts = [f"<p>Order <code>{html.escape(order_ref)}</code> ({html.escape(str(order['type']))})</p>"]
    if order["userVisibleData"] is not None:
        parts.append(f"<p>The service's text:</p><pre>{html.escape(str(order['userVisibleData']))}</pre>")
    status = f"{order['status']}" + (f" ({order['hintCode']})" if order["hintCode"] else "")
    parts.append(f"<p>Status: <strong>{html.escape(status)}</strong></p>")
    action = f"/order/{quote(order_ref)}"
    if order["status"] == "pending" and order["hintCode"] == "userCallConfirm":
        caller = "you called them" if order["callInitiator"] == "user" else "they called you"
        parts.append(
            f"<p>Are you in a phone call with the service ({html.escape(caller)})?</p>"
            f'<form method="post" action="{action}/confirm-call"><button>Yes, in a call</button></form>'
            f'<form method="post" action="{action}/decline-call"><button>No, not in a call</button></form>'
        )
    elif order["status"] == "pending" and order["pickedUp"]:
        required = order["personalNumber"]
        choices = "".join(
            f'<p><label><input type="radio" name="personalNumber" value="{html.escape(pn)}"'
            f"{' checked' if index == 0 else ''} required> {html.escape(identity.name)}"
            f" ({html.escape(pn)})</label></p>"
            for index, (pn, identity) in enumerate(
                (pn, identity) for pn, identity in simulator.identities.items() if required in (None, pn)
            )
        )
        parts.append(
            f'<form method="post" action="{action}/approve"><h2>Choose a test identity</h2>{choices}'
            f"<button>{html.escape(what)}</button></form>"
            f'<form method="post" action="{action}/cancel"><button>Cancel</button></form>'
            f'<form method="post" action="{action}/expire"><button>Let it expire</button></form>'
        )
    parts.append(f'<p><a href="{action}">Reload</a> &middot; <a href="/">Start page</a></p>')
    return _html(f"BankID simulator: {what.lower()}", "\n".join(parts))


def _error_page(error: SimulatorError) -> str:
    return _html(
        "BankID simulator",
        f'<p class="error">{html.escape(error.message)}</p><p><a href="/">Start page</a></p>',
    )


def run(
    port: int,
    pki_dir: str | PathLike[str],
    *,
    user_port: int | None = None,
    identities: Sequence[SimIdentity] = DEFAULT_IDENTITIES,
) -> None:
    """Serve on 127.0.0.1:`port`, user pages on `user_port` (default `port` + 1), until Ctrl-C."""
    simulator = BankIdSimulator(
        "127.0.0.1",
        port,
        pki_dir,
        user_port=port + 1 if user_port is None else user_port,
        identities=identities,
    )
    pki = simulator.pki
    sys.stdout.write(
        "BankID RP API v6.0 simulator\n"
        f"  API base URL:        {simulator.url}\n"
        f"  user pages:          {simulator.user_url}/\n"
        f"  autostart base:      {simulator.user_url}/?autostarttoken=...\n"
        f"  server CA (pin it):  {Path(pki.server_ca).resolve()}\n"
        f"  RP certificate:      {Path(pki.client_cert).resolve()}\n"
        f"  RP key:              {Path(pki.client_key).resolve()}\n"
        "Press Ctrl-C to stop.\n"
    )
    sys.stdout.flush()
    simulator.start()
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        simulator.stop()
