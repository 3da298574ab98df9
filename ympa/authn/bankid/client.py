"""A small typed client for the BankID Relying Party API v6.0 (auth and sign). Plain httpx, no Django.

Written against BankID's published documentation:
  API overview (JSON over HTTPS POST, base URL .../rp/v6.0)  https://developers.bankid.com/api-references/auth--sign/overview
  auth (endUserIp, requirement, userVisibleData[Format], userNonVisibleData, returnUrl, returnRisk)
                                                      https://developers.bankid.com/api-references/auth--sign/auth
  sign (as auth, userVisibleData required)             https://developers.bankid.com/api-references/auth--sign/sign
  phone/auth, phone/sign (personalNumber, callInitiator "user" or "RP"; answer: orderRef only)
                                                      https://developers.bankid.com/api-references/auth--sign/phone-auth
                                                      https://developers.bankid.com/api-references/auth--sign/phone-sign
  collect (status pending/failed/complete, hintCode, completionData; call every two seconds)
                                                      https://developers.bankid.com/api-references/auth--sign/collect
                                                      https://www.bankid.com/utvecklare/guider/teknisk-integrationsguide/graenssnittsbeskrivning/collect
  cancel (orderRef; answers {})                        https://developers.bankid.com/api-references/auth--sign/cancel
  Errors (HTTP status + {"errorCode", "details"}, and what the RP should do for each)
                                                      https://developers.bankid.com/api-references/errors
                                                      https://www.bankid.com/utvecklare/guider/teknisk-integrationsguide/graenssnittsbeskrivning/felfall
  Environments (appapi2.bankid.com, appapi2.test.bankid.com)
                                                      https://developers.bankid.com/getting-started/environments
  Full OpenAPI description                            https://developers.bankid.com/assets/openapi/openapi-auth-sign-6.1.9.yaml

Size limits, counted in characters of the base64 text: userVisibleData 1-1 500 for auth and phone/auth,
1-40 000 for sign and phone/sign; userNonVisibleData 1-1 500 for auth, 1-200 000 for sign. The client checks
them, and the other documented formats, before sending, and raises BankIdInvalidRequest (nothing was sent).

Mutual TLS: the client presents the relying-party certificate and trusts only the configured BankID server
CA file (not the system store). The Content-Type is exactly "application/json": the error page documents 415
for a charset parameter.

Where the pages are silent, this module is cautious and says so at the spot: unknown hint codes and error
codes are passed through as text (BankID says new ones may appear without notice); unknown fields in
answers are ignored.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import re
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from os import PathLike
from types import TracebackType
from typing import Any, Literal, Self

import httpx

from ympa.authn.bankid.qr import autostart_url, qr_content_now
from ympa.identifiers.errors import IdentifierError
from ympa.identifiers.personal_number import parse_personnummer

PRODUCTION_URL = "https://appapi2.bankid.com/rp/v6.0"
TEST_URL = "https://appapi2.test.bankid.com/rp/v6.0"

# "RP should keep on calling collect every two seconds as long as status indicates pending."
COLLECT_INTERVAL_SECONDS = 2

USER_VISIBLE_DATA_FORMAT = "simpleMarkdownV1"

OrderStatus = Literal["pending", "failed", "complete"]
CallInitiator = Literal["user", "RP"]
CardReader = Literal["class1", "class2"]

PENDING_HINT_CODES = frozenset(
    {"outstandingTransaction", "noClient", "started", "userMrtd", "userCallConfirm", "userSign", "processing"}
)
FAILED_HINT_CODES = frozenset(
    {
        "expiredTransaction",
        "certificateErr",
        "userCancel",
        "cancelled",
        "startFailed",
        "userDeclinedCall",
        "notSupportedByUserApp",
        "transactionRiskBlocked",
    }
)

KNOWN_ERROR_CODES = frozenset(
    {
        "alreadyInProgress",
        "invalidParameters",
        "unauthorized",
        "notFound",
        "methodNotAllowed",
        "requestTimeout",
        "unsupportedMediaType",
        "internalError",
        "maintenance",
    }
)
# From the error table: these describe a passing condition, so a later attempt may succeed. After
# alreadyInProgress both orders are gone, so the user may start again (after being told why it failed).
_RETRYABLE_ERRORS = frozenset({"alreadyInProgress", "requestTimeout", "internalError", "maintenance"})
# Only for maintenance does the table allow trying again without telling the user; for the others "RP must
# not automatically try again".
_AUTO_RETRY_ERRORS = frozenset({"maintenance"})

AUTH_VISIBLE_MAX = 1_500
SIGN_VISIBLE_MAX = 40_000
AUTH_NON_VISIBLE_MAX = 1_500
SIGN_NON_VISIBLE_MAX = 200_000

_ORDER_STATUSES: dict[str, OrderStatus] = {"pending": "pending", "failed": "failed", "complete": "complete"}
_TWELVE_DIGITS = re.compile(r"[0-9]{12}")
# An object identifier, optionally ending in ".*": the requirement documentation allows one wildcard.
_OID = re.compile(r"[0-2](\.(0|[1-9][0-9]*))+(\.\*)?")
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S+")
_MAX_DETAILS = 300


class BankIdError(Exception):
    """Something went wrong talking to BankID. `retryable`: whether the same call may succeed later."""

    retryable: bool = False


class BankIdInvalidRequest(BankIdError):
    """The client refused the call before sending it: a parameter breaks the documented format."""


class BankIdApiError(BankIdError):
    """BankID answered with an error: `error_code` and `details` from its JSON body, `status_code` from HTTP.

    `retryable` says whether trying again later can help; `auto_retry` whether BankID allows doing that
    without telling the user (only for maintenance). Unknown codes are kept as they are and not retryable.
    """

    def __init__(self, message: str, *, status_code: int, error_code: str, details: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.error_code = error_code
        self.details = details
        self.retryable = error_code in _RETRYABLE_ERRORS
        self.auto_retry = error_code in _AUTO_RETRY_ERRORS


class BankIdTlsError(BankIdError):
    """The TLS handshake failed: the server's certificate is not from the pinned CA, or the server refused
    ours. A configuration problem; retrying will not help."""


class BankIdUnavailable(BankIdError):
    """BankID could not be reached or the connection broke (network error, timeout).

    `may_have_been_processed` is True when the request may have reached BankID before the failure: a new
    auth/sign then fails with alreadyInProgress only if it names a personal number, otherwise it simply
    starts a second order.
    """

    retryable = True

    def __init__(self, message: str, *, may_have_been_processed: bool) -> None:
        super().__init__(message)
        self.may_have_been_processed = may_have_been_processed


class BankIdProtocolError(BankIdError):
    """BankID answered 200 but the body does not have the documented shape."""


@dataclass(frozen=True)
class Requirement:
    """How the order must be carried out (the `requirement` object). None/empty fields are left out."""

    pin_code: bool | None = None
    mrtd: bool | None = None
    card_reader: CardReader | None = None
    certificate_policies: tuple[str, ...] = ()
    personal_number: str | None = None

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {}
        if self.pin_code is not None:
            data["pinCode"] = self.pin_code
        if self.mrtd is not None:
            data["mrtd"] = self.mrtd
        if self.card_reader is not None:
            data["cardReader"] = self.card_reader
        if self.certificate_policies:
            data["certificatePolicies"] = list(self.certificate_policies)
        if self.personal_number is not None:
            data["personalNumber"] = self.personal_number
        return data


@dataclass(frozen=True)
class OrderStarted:
    """The answer to auth or sign. `started_at` is when the answer arrived: animated QR codes count from it.

    qr_start_secret is left out of repr() so that it does not end up in logs; it must stay on the server.
    """

    order_ref: str
    auto_start_token: str
    qr_start_token: str
    qr_start_secret: str = field(repr=False)
    started_at: datetime

    def qr_content(self, now: datetime | None = None) -> str:
        """The QR text to show at `now` (default: the current time)."""
        moment = datetime.now(UTC) if now is None else now
        return qr_content_now(
            self.qr_start_token, self.qr_start_secret, started_at=self.started_at, now=moment
        )

    def autostart_url(self, *, redirect: str | None = None, mobile: bool = False) -> str:
        return autostart_url(self.auto_start_token, redirect=redirect, mobile=mobile)


@dataclass(frozen=True)
class PhoneOrderStarted:
    """The answer to phone/auth or phone/sign."""

    order_ref: str


@dataclass(frozen=True)
class CompletedUser:
    personal_number: str
    name: str
    given_name: str
    surname: str


@dataclass(frozen=True)
class CompletedDevice:
    """`ip_address` is the user's device as BankID saw it; `uhi` a hardware identifier, when given."""

    ip_address: str
    uhi: str | None


@dataclass(frozen=True)
class StepUp:
    mrtd: bool


@dataclass(frozen=True)
class CompletionData:
    """What a complete order returns. `signature` (an XML signature) and `ocsp_response` stay base64 text,
    as received, so they can be stored and verified later; `signature_xml()` decodes the former."""

    user: CompletedUser
    device: CompletedDevice
    bank_id_issue_date: date
    step_up: StepUp | None
    signature: str
    ocsp_response: str
    risk: str | None

    def signature_xml(self) -> bytes:
        return base64.b64decode(self.signature, validate=True)


@dataclass(frozen=True)
class CollectResult:
    """The answer to collect. `hint_code` is set for pending and failed orders, `completion_data` only for
    complete ones. Unknown hint codes are passed on unchanged."""

    order_ref: str
    status: OrderStatus
    hint_code: str | None
    completion_data: CompletionData | None

    @property
    def pending(self) -> bool:
        return self.status == "pending"


class BankIdClient:
    """Starts, follows and cancels BankID orders. Thread-safe; close it (or use `with`) when done.

    `base_url` ends in /rp/v6.0 (PRODUCTION_URL, TEST_URL, or a simulator's `url`). `cert_file`/`key_file`
    are the relying-party certificate and key (PEM; `key_password` if the key is encrypted), `ca_file` the
    BankID server CA, the only certificate trusted for the server.
    """

    def __init__(
        self,
        *,
        base_url: str,
        cert_file: str | PathLike[str],
        key_file: str | PathLike[str],
        ca_file: str | PathLike[str],
        key_password: str | None = None,
        timeout: float = 10.0,
        proxy: str | None = None,
    ) -> None:
        url = httpx.URL(base_url)
        if url.scheme != "https":
            raise ValueError(f"The BankID base URL must use https (got {base_url!r}).")
        # Only the given CA is trusted: create_default_context loads the system store only without a CA.
        context = ssl.create_default_context(cafile=str(ca_file))
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(str(cert_file), str(key_file), password=key_password)
        self._base_url = base_url
        # trust_env is off so that environment variables can neither add proxies nor change the trust store.
        self._http = httpx.Client(
            base_url=url,
            verify=context,
            timeout=timeout,
            proxy=proxy,
            trust_env=False,
            headers={"Accept": "application/json"},
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def auth(
        self,
        *,
        end_user_ip: str,
        requirement: Requirement | None = None,
        user_visible_data: str | None = None,
        user_non_visible_data: bytes | None = None,
        markdown: bool = True,
        return_url: str | None = None,
        return_risk: bool | None = None,
    ) -> OrderStarted:
        """Start an authentication order. `user_visible_data` is plain text (simpleMarkdownV1 if
        `markdown`); the client base64-encodes it."""
        body = _order_body(
            requirement=requirement,
            user_visible_data=user_visible_data,
            user_non_visible_data=user_non_visible_data,
            markdown=markdown,
            visible_max=AUTH_VISIBLE_MAX,
            non_visible_max=AUTH_NON_VISIBLE_MAX,
        )
        body.update(_web_fields(end_user_ip, return_url, return_risk))
        return _parse_started(self._post("/auth", body))

    def sign(
        self,
        *,
        end_user_ip: str,
        user_visible_data: str,
        requirement: Requirement | None = None,
        user_non_visible_data: bytes | None = None,
        markdown: bool = True,
        return_url: str | None = None,
        return_risk: bool | None = None,
    ) -> OrderStarted:
        """Start a signing order for the text `user_visible_data`; `user_non_visible_data` is signed too."""
        body = _order_body(
            requirement=requirement,
            user_visible_data=_required_text(user_visible_data),
            user_non_visible_data=user_non_visible_data,
            markdown=markdown,
            visible_max=SIGN_VISIBLE_MAX,
            non_visible_max=SIGN_NON_VISIBLE_MAX,
        )
        body.update(_web_fields(end_user_ip, return_url, return_risk))
        return _parse_started(self._post("/sign", body))

    def phone_auth(
        self,
        *,
        personal_number: str,
        call_initiator: CallInitiator,
        requirement: Requirement | None = None,
        user_visible_data: str | None = None,
        user_non_visible_data: bytes | None = None,
        markdown: bool = True,
    ) -> PhoneOrderStarted:
        """Start an authentication of someone the RP is on the phone with (`call_initiator`: who called)."""
        body = _order_body(
            requirement=requirement,
            user_visible_data=user_visible_data,
            user_non_visible_data=user_non_visible_data,
            markdown=markdown,
            visible_max=AUTH_VISIBLE_MAX,
            non_visible_max=AUTH_NON_VISIBLE_MAX,
        )
        body.update(_phone_fields(personal_number, call_initiator))
        return _parse_phone_started(self._post("/phone/auth", body))

    def phone_sign(
        self,
        *,
        personal_number: str,
        call_initiator: CallInitiator,
        user_visible_data: str,
        requirement: Requirement | None = None,
        user_non_visible_data: bytes | None = None,
        markdown: bool = True,
    ) -> PhoneOrderStarted:
        """Start a signing by someone the RP is on the phone with."""
        body = _order_body(
            requirement=requirement,
            user_visible_data=_required_text(user_visible_data),
            user_non_visible_data=user_non_visible_data,
            markdown=markdown,
            visible_max=SIGN_VISIBLE_MAX,
            non_visible_max=SIGN_NON_VISIBLE_MAX,
        )
        body.update(_phone_fields(personal_number, call_initiator))
        return _parse_phone_started(self._post("/phone/sign", body))

    def collect(self, order_ref: str) -> CollectResult:
        """The current state of an order. Call every COLLECT_INTERVAL_SECONDS while it is pending."""
        data = self._post("/collect", {"orderRef": _order_ref(order_ref)})
        try:
            return _parse_collect(data)
        except (KeyError, TypeError, ValueError) as exc:
            raise BankIdProtocolError(f"BankID's collect answer could not be read ({exc}).") from exc

    def cancel(self, order_ref: str) -> None:
        """Cancel a pending order (e.g. the user gave up in our service)."""
        self._post("/cancel", {"orderRef": _order_ref(order_ref)})

    def _post(self, path: str, body: Mapping[str, object]) -> Mapping[str, Any]:
        content = json.dumps(body, ensure_ascii=False).encode()
        try:
            response = self._http.post(path, content=content, headers={"Content-Type": "application/json"})
        except httpx.TransportError as exc:
            if _tls_failure(exc):
                raise BankIdTlsError(
                    f"The TLS connection to BankID at {self._base_url} failed: {exc or type(exc).__name__}."
                    " Check the RP certificate and the BankID CA file."
                ) from exc
            connected = not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
            raise BankIdUnavailable(
                f"BankID at {self._base_url} could not be reached: {exc or type(exc).__name__}",
                may_have_been_processed=connected,
            ) from exc
        if response.status_code == 200:
            try:
                data = response.json()
            except ValueError as exc:
                raise BankIdProtocolError(f"BankID's answer to {path} is not JSON.") from exc
            if not isinstance(data, dict):
                raise BankIdProtocolError(f"BankID's answer to {path} is not a JSON object.")
            return data
        raise _api_error(path, response)


def _api_error(path: str, response: httpx.Response) -> BankIdError:
    status = response.status_code
    try:
        data = response.json()
    except ValueError:
        data = None
    error_code = data.get("errorCode") if isinstance(data, dict) else None
    details = data.get("details") if isinstance(data, dict) else None
    if not isinstance(error_code, str) or not error_code:
        # Not BankID's error format (e.g. a proxy's error page): a 5xx is treated as a passing outage.
        text = " ".join(response.text.split())[:_MAX_DETAILS] or response.reason_phrase
        if response.is_server_error:
            return BankIdUnavailable(
                f"BankID answered {path} with HTTP {status}: {text}", may_have_been_processed=True
            )
        return BankIdProtocolError(f"BankID answered {path} with HTTP {status} and no error code: {text}")
    details_text = details[:_MAX_DETAILS] if isinstance(details, str) else ""
    return BankIdApiError(
        f"BankID refused {path} (HTTP {status}, {error_code}): {details_text}",
        status_code=status,
        error_code=error_code,
        details=details_text,
    )


def _tls_failure(exc: BaseException) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, ssl.SSLError | ssl.CertificateError):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


# Building requests


def _order_body(
    *,
    requirement: Requirement | None,
    user_visible_data: str | None,
    user_non_visible_data: bytes | None,
    markdown: bool,
    visible_max: int,
    non_visible_max: int,
) -> dict[str, object]:
    body: dict[str, object] = {}
    if requirement is not None:
        _check_requirement(requirement)
        requirement_json = requirement.to_json()
        if requirement_json:
            body["requirement"] = requirement_json
    if user_visible_data is not None:
        encoded = base64.b64encode(_required_text(user_visible_data).encode()).decode("ascii")
        _check_length("userVisibleData", encoded, visible_max)
        body["userVisibleData"] = encoded
        if markdown:
            body["userVisibleDataFormat"] = USER_VISIBLE_DATA_FORMAT
    if user_non_visible_data is not None:
        encoded = base64.b64encode(user_non_visible_data).decode("ascii")
        _check_length("userNonVisibleData", encoded, non_visible_max)
        body["userNonVisibleData"] = encoded
    return body


def _web_fields(end_user_ip: str, return_url: str | None, return_risk: bool | None) -> dict[str, object]:
    try:
        ipaddress.ip_address(end_user_ip)
    except ValueError:
        # The address itself stays out of the message: it is personal data and messages end up in logs.
        raise BankIdInvalidRequest("endUserIp must be an IPv4 or IPv6 address; nothing was sent.") from None
    fields: dict[str, object] = {"endUserIp": end_user_ip}
    if return_url is not None:
        if not _URL.fullmatch(return_url):
            raise BankIdInvalidRequest("returnUrl must be an absolute URL; nothing was sent.")
        fields["returnUrl"] = return_url
    if return_risk is not None:
        fields["returnRisk"] = return_risk
    return fields


def _phone_fields(personal_number: str, call_initiator: str) -> dict[str, object]:
    _check_personal_number(personal_number, "personalNumber")
    if call_initiator not in ("user", "RP"):
        raise BankIdInvalidRequest('callInitiator must be "user" or "RP"; nothing was sent.')
    return {"personalNumber": personal_number, "callInitiator": call_initiator}


def _check_requirement(requirement: Requirement) -> None:
    if requirement.card_reader not in (None, "class1", "class2"):
        raise BankIdInvalidRequest('requirement.cardReader must be "class1" or "class2"; nothing was sent.')
    for policy in requirement.certificate_policies:
        if not _OID.fullmatch(policy):
            raise BankIdInvalidRequest(
                "requirement.certificatePolicies must hold object identifiers; nothing was sent."
            )
    if requirement.personal_number is not None:
        _check_personal_number(requirement.personal_number, "requirement.personalNumber")


def _check_personal_number(value: str, name: str) -> None:
    # BankID documents 12 digits (YYYYMMDDNNNC); the date and check digit are checked here as well, so that
    # a typo is caught before it reaches BankID.
    valid = bool(_TWELVE_DIGITS.fullmatch(value))
    if valid:
        try:
            valid = parse_personnummer(value).value == value
        except IdentifierError:
            valid = False
    if not valid:
        raise BankIdInvalidRequest(
            f"{name} must be a valid 12-digit personal identity number (YYYYMMDDNNNC); nothing was sent."
        )


def _check_length(name: str, encoded: str, maximum: int) -> None:
    if not 1 <= len(encoded) <= maximum:
        raise BankIdInvalidRequest(
            f"{name} is {len(encoded)} characters after base64 encoding; BankID allows 1 to {maximum}."
            " Nothing was sent."
        )


def _required_text(text: str) -> str:
    if not text:
        raise BankIdInvalidRequest("The text to show the user must not be empty; nothing was sent.")
    return text


def _order_ref(order_ref: str) -> str:
    if not order_ref:
        raise BankIdInvalidRequest("orderRef must not be empty; nothing was sent.")
    return order_ref


# Reading answers


def _parse_started(data: Mapping[str, Any]) -> OrderStarted:
    try:
        return OrderStarted(
            order_ref=_text(data, "orderRef"),
            auto_start_token=_text(data, "autoStartToken"),
            qr_start_token=_text(data, "qrStartToken"),
            qr_start_secret=_text(data, "qrStartSecret"),
            started_at=datetime.now(UTC),
        )
    except (KeyError, TypeError) as exc:
        raise BankIdProtocolError(f"BankID's answer does not describe an order ({exc}).") from exc


def _parse_phone_started(data: Mapping[str, Any]) -> PhoneOrderStarted:
    try:
        return PhoneOrderStarted(order_ref=_text(data, "orderRef"))
    except (KeyError, TypeError) as exc:
        raise BankIdProtocolError(f"BankID's answer does not describe an order ({exc}).") from exc


def _parse_collect(data: Mapping[str, Any]) -> CollectResult:
    status = _ORDER_STATUSES.get(_text(data, "status"))
    if status is None:
        raise ValueError(f"unknown status {data.get('status')!r}")
    hint_code = _optional_text(data, "hintCode")
    completion = data.get("completionData")
    if status == "complete":
        if not isinstance(completion, dict):
            raise ValueError("a complete order has no completionData")
        completion_data: CompletionData | None = _parse_completion(completion)
    else:
        completion_data = None
    return CollectResult(
        order_ref=_text(data, "orderRef"),
        status=status,
        hint_code=hint_code,
        completion_data=completion_data,
    )


def _parse_completion(data: Mapping[str, Any]) -> CompletionData:
    user = _object(data, "user")
    device = _object(data, "device")
    step_up = data.get("stepUp")
    if step_up is not None and not isinstance(step_up, dict):
        raise TypeError("'stepUp' is not an object")
    signature = _text(data, "signature")
    ocsp = _text(data, "ocspResponse")
    for name, value in (("signature", signature), ("ocspResponse", ocsp)):
        try:
            base64.b64decode(value, validate=True)
        except binascii.Error as exc:
            raise ValueError(f"{name!r} is not base64") from exc
    return CompletionData(
        user=CompletedUser(
            personal_number=_text(user, "personalNumber"),
            name=_text(user, "name"),
            given_name=_text(user, "givenName"),
            surname=_text(user, "surname"),
        ),
        device=CompletedDevice(ip_address=_text(device, "ipAddress"), uhi=_optional_text(device, "uhi")),
        bank_id_issue_date=date.fromisoformat(_text(data, "bankIdIssueDate")),
        step_up=None if step_up is None else StepUp(mrtd=_boolean(step_up, "mrtd")),
        signature=signature,
        ocsp_response=ocsp,
        risk=_optional_text(data, "risk"),
    )


def _object(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data[key]
    if not isinstance(value, dict):
        raise TypeError(f"{key!r} is not an object")
    return value


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data[key]
    if not isinstance(value, str) or not value:
        raise TypeError(f"{key!r} is not a non-empty string")
    return value


def _optional_text(data: Mapping[str, Any], key: str) -> str | None:
    return None if data.get(key) is None else _text(data, key)


def _boolean(data: Mapping[str, Any], key: str) -> bool:
    value = data.get(key, False)
    if not isinstance(value, bool):
        raise TypeError(f"{key!r} is not a boolean")
    return value
