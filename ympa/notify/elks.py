"""A small typed client for the 46elks SMS HTTP API. Plain httpx, no Django.

Written against the published documentation:
  API overview (base URL, Basic auth, form-encoded requests, JSON responses)  https://46elks.se/docs/overview
  Send an SMS (POST /a1/sms: from, to, message, whendelivered, dryrun, ...)    https://46elks.com/docs/send-sms
  Get an SMS by id (fields, status values, cost unit, UTC timestamps)          https://46elks.se/docs/show-sms-id
  SMS history (GET /a1/sms: start/end/limit paging, data + next)              https://46elks.com/docs/sms-history
  Delivery reports (form-encoded id, status, delivered)                        https://46elks.se/docs/sms-delivery-reports
  Text sender IDs (3-11 of A-Z a-z 0-9, not starting with a digit)             https://46elks.com/kb/text-sender-id
  Errors (403/404 with a plain-text description in the body)                   https://www.46elks.com/docs

Where those pages are silent, this module takes the cautious reading and says so at the spot:
  - error wording is not published, so the provider's text is passed on verbatim (trimmed);
  - the shape of a dry-run response is not published beyond `estimated_cost`, so `id` and `created` may be
    missing then;
  - HTTP 429 and 5xx are not described; they are treated as temporary;
  - there is no idempotency key, so an error after the request may have reached 46elks is flagged
    `may_have_been_sent` to let the caller avoid sending the same SMS twice.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Literal, Self
from urllib.parse import quote

import httpx
import phonenumbers

DEFAULT_BASE_URL = "https://api.46elks.com/a1"

SmsStatus = Literal["created", "sent", "delivered", "failed"]
DeliveryStatus = Literal["sent", "delivered", "failed"]

# Maps the wire value to its Literal so that mypy can follow the narrowing without casts.
_SMS_STATUSES: dict[str, SmsStatus] = {
    "created": "created",
    "sent": "sent",
    "delivered": "delivered",
    "failed": "failed",
}
# The delivery-report page lists "sent", "delivered" and "failed" (an older revision only the last two).
_DELIVERY_STATUSES: dict[str, DeliveryStatus] = {"sent": "sent", "delivered": "delivered", "failed": "failed"}

# E.164: a "+", a country code not starting with 0, at most 15 digits in all.
_E164 = re.compile(r"\+[1-9][0-9]{1,14}")
# Text sender ID as documented: 3-11 characters of A-Z, a-z, 0-9 and not starting with a digit.
_TEXT_SENDER = re.compile(r"[A-Za-z][A-Za-z0-9]{2,10}")
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_MAX_PROVIDER_TEXT = 300


class SmsError(Exception):
    """Something went wrong talking to 46elks. `retryable` tells whether the same call may succeed later."""

    retryable: bool = False


class SmsAuthError(SmsError):
    """46elks refused the API username/password (HTTP 401). Fix the configuration; retrying will not help."""


class SmsRejected(SmsError):
    """The request was refused, by 46elks (HTTP 4xx) or by the checks this client runs before sending.

    Sending the same request again fails the same way. `status_code` is None when the client refused it
    itself (then nothing reached 46elks); `provider_message` is 46elks' own plain-text explanation.
    """

    def __init__(self, message: str, *, status_code: int | None, provider_message: str | None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.provider_message = provider_message


class SmsUnavailable(SmsError):
    """46elks could not be reached or had a temporary failure (network error, timeout, HTTP 429 or 5xx).

    `may_have_been_sent` is True when the request may have been processed before the failure (for instance
    a timeout while waiting for the answer): 46elks has no idempotency key, so retrying could send the SMS
    twice.
    """

    retryable = True

    def __init__(self, message: str, *, may_have_been_sent: bool) -> None:
        super().__init__(message)
        self.may_have_been_sent = may_have_been_sent


class InvalidDeliveryReport(SmsError):
    """A delivery-report callback whose form does not have the documented fields."""


@dataclass(frozen=True)
class SentSms:
    """An SMS as 46elks describes it, after sending or when fetched by id.

    `id` and `created` are always set except for dry runs. `message` is None when 46elks leaves the text out
    (`dontlog=message`). `parts` is only in the answer to sending (the get-by-id page does not list it).
    `cost` and `estimated_cost` are in 1/10000 of the account currency: 3500 means 0.35 SEK.
    """

    id: str | None
    status: SmsStatus
    sender: str
    to: str
    message: str | None
    parts: int | None
    cost: int | None
    estimated_cost: int | None
    created: datetime | None
    delivered_at: datetime | None


@dataclass(frozen=True)
class DeliveryReport:
    id: str
    status: DeliveryStatus
    delivered_at: datetime | None


def check_recipient(to: str) -> None:
    """Raise SmsRejected unless `to` is a valid phone number written in E.164 form, as 46elks requires."""
    # The number itself stays out of the message: exception texts end up in logs, and it is personal data.
    _check_e164(to, "The recipient phone number")


def check_sender(sender: str) -> None:
    """Raise SmsRejected unless `sender` is a documented text sender ID or an E.164 phone number."""
    if sender.startswith("+"):
        _check_e164(sender, f"The sender number {sender!r}")
    elif not _TEXT_SENDER.fullmatch(sender):
        raise SmsRejected(
            f"The sender {sender!r} is not allowed: use 3-11 letters A-Z and digits, starting with a letter,"
            " or a phone number in E.164 form; nothing was sent.",
            status_code=None,
            provider_message=None,
        )


def _check_e164(number: str, what: str) -> None:
    if not _E164.fullmatch(number):
        raise SmsRejected(
            f"{what} is not in E.164 form (a plus sign, the country code and the number without spaces,"
            " like +46701234567); nothing was sent.",
            status_code=None,
            provider_message=None,
        )
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException as exc:
        raise SmsRejected(
            f"{what} is not a phone number; nothing was sent.", status_code=None, provider_message=None
        ) from exc
    # A leading trunk zero after the country code ("+460701...") parses, but is not the E.164 spelling.
    canonical = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    if canonical != number or not phonenumbers.is_valid_number(parsed):
        raise SmsRejected(
            f"{what} is not a valid phone number; nothing was sent.", status_code=None, provider_message=None
        )


def parse_timestamp(raw: str) -> datetime:
    """Parse a 46elks timestamp into an aware UTC datetime.

    46elks documents its times as UTC but writes them both without a zone designator
    ("2016-08-18T09:55:31.116000") and with one ("2017-03-14T09:52:10Z"); both forms are accepted.
    """
    value = datetime.fromisoformat(raw)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def parse_delivery_report(form: Mapping[str, str]) -> DeliveryReport:
    """Read the form 46elks POSTs to a `whendelivered` URL. Raises InvalidDeliveryReport if it is malformed.

    The callback carries no signature, so the receiving view has to authenticate it some other way (46elks
    suggests credentials or a secret query parameter in the `whendelivered` URL).
    """
    sms_id = form.get("id", "")
    if not sms_id:
        raise InvalidDeliveryReport("The delivery report has no SMS id.")
    status = _DELIVERY_STATUSES.get(form.get("status", ""))
    if status is None:
        raise InvalidDeliveryReport(
            f"The delivery report for {sms_id!r} has status {form.get('status')!r};"
            " expected 'sent', 'delivered' or 'failed'."
        )
    # Documented as present only when the status is "delivered". A delivered report without it is still
    # accepted (with delivered_at None) rather than refused, so that 46elks does not keep retrying it.
    raw_delivered = form.get("delivered", "")
    try:
        delivered_at = parse_timestamp(raw_delivered) if raw_delivered else None
    except ValueError as exc:
        raise InvalidDeliveryReport(
            f"The delivery report for {sms_id!r} has an unreadable delivery time {raw_delivered!r}."
        ) from exc
    return DeliveryReport(id=sms_id, status=status, delivered_at=delivered_at)


class ElksClient:
    """Sends SMS through 46elks and looks them up. Thread-safe; close it (or use `with`) when done."""

    # Also reachable as a method, for callers that hold a client anyway; it needs no credentials.
    parse_delivery_report = staticmethod(parse_delivery_report)

    def __init__(
        self,
        *,
        base_url: str,
        username: str,
        password: str,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        url = httpx.URL(base_url)
        # Basic auth sends the password with every request, so plain HTTP is only allowed to this machine
        # (the local simulator).
        if url.scheme != "https" and not (url.scheme == "http" and url.host in _LOOPBACK_HOSTS):
            raise ValueError(f"The 46elks base URL must use https (got {base_url!r}).")
        self._base_url = base_url
        self._http = httpx.Client(
            base_url=url,
            auth=httpx.BasicAuth(username, password),
            timeout=timeout,
            transport=transport,
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

    def send_sms(
        self,
        *,
        sender: str,
        to: str,
        message: str,
        when_delivered: str | None = None,
        dry_run: bool = False,
    ) -> SentSms:
        """Send one SMS (or, with dry_run, only have 46elks check it and estimate the cost).

        `when_delivered` is the URL 46elks POSTs delivery reports to. Raises SmsRejected before any network
        traffic if `to` or `sender` break the documented rules; other errors are described on the classes.
        """
        check_sender(sender)
        check_recipient(to)
        form = {"from": sender, "to": to, "message": message}
        if when_delivered is not None:
            form["whendelivered"] = when_delivered
        if dry_run:
            form["dryrun"] = "yes"
        response = self._request("POST", "/sms", form)
        try:
            return _parse_sms(_json_object(response), dry_run=dry_run)
        except ValueError as exc:
            if dry_run:
                raise SmsError(f"46elks' answer to the dry run could not be read ({exc}).") from exc
            # Not retryable on purpose: 46elks answered 2xx, so the SMS has most likely gone out already.
            raise SmsError(
                f"46elks accepted the SMS but its answer could not be read ({exc}); the SMS has probably been"
                " sent, so do not send it again without checking."
            ) from exc

    def get_sms(self, sms_id: str) -> SentSms:
        """Fetch an SMS by its 46elks id (to read its current status and cost)."""
        if not sms_id:
            raise ValueError("sms_id must not be empty")
        # Quoting keeps an id containing "/" or "?" from addressing some other resource.
        response = self._request("GET", f"/sms/{quote(sms_id, safe='')}", None)
        try:
            return _parse_sms(_json_object(response), dry_run=False)
        except ValueError as exc:
            raise SmsError(f"46elks' description of SMS {sms_id!r} could not be read ({exc}).") from exc

    def _request(self, method: str, path: str, form: Mapping[str, str] | None) -> httpx.Response:
        posting = method == "POST"
        try:
            response = self._http.request(method, path, data=form)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            # No connection was made, so the request cannot have reached 46elks.
            raise SmsUnavailable(
                f"Could not connect to 46elks at {self._base_url}: {exc or type(exc).__name__}",
                may_have_been_sent=False,
            ) from exc
        except httpx.TransportError as exc:
            raise SmsUnavailable(
                f"The connection to 46elks at {self._base_url} failed during the request:"
                f" {exc or type(exc).__name__}",
                may_have_been_sent=posting,
            ) from exc

        if response.is_success:
            return response
        status = response.status_code
        text = _provider_text(response)
        if status == 401:
            raise SmsAuthError(f"46elks refused the API credentials (HTTP 401): {text}")
        # 429 is not documented by 46elks; like 5xx it describes a passing condition, so it is retryable. A
        # rate-limited request was not processed; a 5xx one might have been (by 46elks behind a proxy).
        if status == 429:
            raise SmsUnavailable(
                f"46elks is rate limiting requests (HTTP 429): {text}", may_have_been_sent=False
            )
        if response.is_server_error:
            raise SmsUnavailable(
                f"46elks had a server error (HTTP {status}): {text}", may_have_been_sent=posting
            )
        # 403 is documented as 46elks' general "request refused" answer (with the reason in the body), not as
        # an authentication failure, so it is reported with 46elks' own reason.
        if response.is_client_error:
            raise SmsRejected(
                f"46elks rejected the request (HTTP {status}): {text}",
                status_code=status,
                provider_message=text,
            )
        # Redirects are not followed (they would resend credentials elsewhere) and nothing else is expected;
        # not retryable, since it is unknown whether a POST took effect.
        raise SmsError(f"Unexpected answer from 46elks (HTTP {status}): {text}")


def _provider_text(response: httpx.Response) -> str:
    # Errors come as plain text; squash whitespace and cap the length so that an HTML error page from a proxy
    # does not flood the logs.
    text = " ".join(response.text.split()) or response.reason_phrase
    if len(text) > _MAX_PROVIDER_TEXT:
        text = text[:_MAX_PROVIDER_TEXT] + "..."
    return text


def _json_object(response: httpx.Response) -> Mapping[str, Any]:
    try:
        data = response.json()
    except ValueError as exc:
        raise ValueError("the body is not JSON") from exc
    if not isinstance(data, dict):
        raise ValueError("the body is not a JSON object")
    return data


def _parse_sms(data: Mapping[str, Any], *, dry_run: bool) -> SentSms:
    status = _SMS_STATUSES.get(_optional_str(data, "status") or "")
    if status is None:
        raise ValueError(f"unknown status {data.get('status')!r}")
    sms_id = _optional_str(data, "id")
    created = _optional_timestamp(data, "created")
    if not dry_run and (sms_id is None or created is None):
        raise ValueError("'id' or 'created' is missing")
    return SentSms(
        id=sms_id,
        status=status,
        sender=_required_str(data, "from"),
        to=_required_str(data, "to"),
        message=_optional_str(data, "message"),
        parts=_optional_int(data, "parts"),
        cost=_optional_int(data, "cost"),
        estimated_cost=_optional_int(data, "estimated_cost"),
        created=created,
        delivered_at=_optional_timestamp(data, "delivered"),
    )


def _optional_str(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{key!r} is not a string")
    return value


def _required_str(data: Mapping[str, Any], key: str) -> str:
    value = _optional_str(data, key)
    if value is None:
        raise ValueError(f"{key!r} is missing")
    return value


def _optional_int(data: Mapping[str, Any], key: str) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    # JSON has one number type; 3500.0 is still a whole amount, but True (a bool is an int) is not.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{key!r} is not a whole number")
    return value


def _optional_timestamp(data: Mapping[str, Any], key: str) -> datetime | None:
    raw = _optional_str(data, key)
    if raw is None:
        return None
    try:
        return parse_timestamp(raw)
    except ValueError as exc:
        raise ValueError(f"{key!r} is not a timestamp: {raw!r}") from exc
