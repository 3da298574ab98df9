"""A BankID order as the browser sees it: started, polled once a second, finished or failed.

The protocol is in `ympa.authn.bankid`; this module keeps one order per browser session. The order, with its
qrStartSecret, lives in the server-side session only: the browser gets the QR code drawn from it, never the
secret. The page polls every second, so that the animated QR code changes every second as BankID requires;
BankID itself is asked (`collect`) at most every two seconds, as its guidelines say.

What a finished order means depends on its purpose: a staff login, a staff member proving again who they
are (re-authentication), or a citizen's login. The views decide; this module only reports the outcome.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.db import models
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ympa.authn.bankid.client import (
    COLLECT_INTERVAL_SECONDS,
    BankIdApiError,
    BankIdClient,
    BankIdError,
    CompletionData,
    Requirement,
)
from ympa.authn.bankid.hints import error_message, hint_message
from ympa.authn.bankid.qr import autostart_url, qr_content_now, qr_svg
from ympa.authn.request import client_ip

logger = logging.getLogger(__name__)

SESSION_ORDER = "bankid_order"


class Purpose(models.TextChoices):
    STAFF_LOGIN = "staff_login", gettext_lazy("Log in to Ympa")
    STAFF_REAUTH = "staff_reauth", gettext_lazy("Confirm your identity in Ympa")
    CITIZEN_LOGIN = "citizen_login", gettext_lazy("Log in to Ympa's e-services")


# What the BankID app shows the user (simpleMarkdownV1), so they know who asks and why.
_VISIBLE_TEXT = {
    Purpose.STAFF_LOGIN: gettext_lazy("Log in to **Ympa**, the vaccination record."),
    Purpose.STAFF_REAUTH: gettext_lazy("Confirm your identity in **Ympa** to continue."),
    Purpose.CITIZEN_LOGIN: gettext_lazy("Log in to **Ympa** to see your family's vaccinations."),
}

_client: BankIdClient | None = None
_client_config: tuple[str, ...] = ()
_lock = threading.Lock()


def bankid_client() -> BankIdClient:
    """One client per process: its TLS context and connections are reused between requests."""
    global _client, _client_config
    config = settings.BANKID
    wanted = (config["URL"], config["CERT_FILE"], config["KEY_FILE"], config["CA_FILE"])
    with _lock:
        if _client is None or _client_config != wanted:
            if _client is not None:
                _client.close()
            _client = BankIdClient(
                base_url=config["URL"],
                cert_file=config["CERT_FILE"],
                key_file=config["KEY_FILE"],
                ca_file=config["CA_FILE"],
                key_password=config["KEY_PASSWORD"] or None,
            )
            _client_config = wanted
        return _client


class OrderFailed(Exception):
    """BankID could not start an order; `message` is for the user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def order_start(
    request: HttpRequest, *, purpose: Purpose, next_url: str = "", personal_number: str | None = None
) -> None:
    """Start an auth order for this browser, replacing (and cancelling) any order it had running.

    `personal_number` restricts the order to that person's BankID (re-authentication of a known user).
    """
    order_cancel(request)
    requirement = Requirement(personal_number=personal_number) if personal_number else None
    try:
        client = bankid_client()
    except OSError as exc:
        # Missing or unreadable certificate files: a configuration fault, not the user's.
        logger.error("BankID client cannot be set up: %s", exc)
        raise OrderFailed(_("BankID is not available right now. Please try again later.")) from exc
    try:
        started = client.auth(
            end_user_ip=client_ip(request) or "127.0.0.1",
            requirement=requirement,
            user_visible_data=str(_VISIBLE_TEXT[purpose]),
        )
    except BankIdApiError as exc:
        logger.warning("BankID auth refused: %s", exc.error_code)
        raise OrderFailed(error_message(exc.error_code)) from exc
    except BankIdError as exc:
        logger.warning("BankID unavailable: %s", type(exc).__name__)
        raise OrderFailed(_("BankID is not available right now. Please try again later.")) from exc
    request.session[SESSION_ORDER] = {
        "purpose": str(purpose),
        "order_ref": started.order_ref,
        "auto_start_token": started.auto_start_token,
        "qr_start_token": started.qr_start_token,
        "qr_start_secret": started.qr_start_secret,
        "started_at": started.started_at.timestamp(),
        "collected_at": 0.0,
        "hint_code": "outstandingTransaction",
        "next": next_url,
        "personal_number": personal_number or "",
    }


def order_cancel(request: HttpRequest) -> None:
    """Cancel this browser's running order, if any (the user gave up, or started a new one)."""
    order = request.session.pop(SESSION_ORDER, None)
    if not isinstance(order, dict):
        return
    try:
        bankid_client().cancel(str(order["order_ref"]))
    except (BankIdError, OSError) as exc:
        # The order may already be finished or unknown; BankID forgets it either way.
        logger.info("BankID cancel: %s", type(exc).__name__)


@dataclass(frozen=True)
class OrderState:
    """What the poll returns: pending (with the QR code to show now), failed, or complete."""

    status: str
    message: str
    purpose: Purpose | None = None
    next_url: str = ""
    qr_content: str = ""
    qr_svg: str = ""
    autostart_url: str = ""
    completion: CompletionData | None = None
    personal_number: str = ""


def order_poll(request: HttpRequest, *, purpose: Purpose) -> OrderState:
    """The state of this browser's order of `purpose`, asking BankID when the last answer is 2 s old."""
    order = request.session.get(SESSION_ORDER)
    if not isinstance(order, dict) or order.get("purpose") != purpose:
        return OrderState("failed", _("There is no BankID login in progress. Start again."))
    now = time.time()
    if now - float(order["collected_at"]) >= COLLECT_INTERVAL_SECONDS:
        try:
            result = bankid_client().collect(str(order["order_ref"]))
        except BankIdApiError as exc:
            request.session.pop(SESSION_ORDER, None)
            return OrderState("failed", error_message(exc.error_code), purpose=purpose)
        except BankIdError:
            # A network hiccup: keep the order and ask again at the next poll.
            logger.warning("BankID collect failed; retrying", exc_info=True)
            result = None
        if result is not None:
            if result.status == "complete" and result.completion_data is not None:
                request.session.pop(SESSION_ORDER, None)
                return OrderState(
                    "complete",
                    hint_message("complete", None, qr=True),
                    purpose=purpose,
                    next_url=str(order.get("next") or ""),
                    completion=result.completion_data,
                    personal_number=str(order.get("personal_number") or ""),
                )
            if result.status == "failed":
                request.session.pop(SESSION_ORDER, None)
                return OrderState(
                    "failed", hint_message("failed", result.hint_code, qr=True), purpose=purpose
                )
            order["hint_code"] = result.hint_code or ""
        order["collected_at"] = now
        request.session.modified = True
    content = qr_content_now(
        str(order["qr_start_token"]),
        str(order["qr_start_secret"]),
        started_at=datetime.fromtimestamp(float(order["started_at"]), tz=UTC),
        now=datetime.now(UTC),
    )
    return OrderState(
        "pending",
        hint_message("pending", str(order.get("hint_code") or ""), qr=True),
        purpose=purpose,
        qr_content=content,
        qr_svg=qr_svg(content, scale=5, title=_("QR code for BankID")),
        autostart_url=autostart_url(str(order["auto_start_token"])),
    )
