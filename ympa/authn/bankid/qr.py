"""Animated QR codes and autostart links for BankID. Pure functions; no Django, no network.

From BankID's published guides:
  QR codes (content "bankid.<qrStartToken>.<qrTime>.<qrAuthCode>", where qrTime is the whole number of
  seconds since the auth/sign response and qrAuthCode the hex HMAC-SHA256 of str(qrTime) keyed with
  qrStartSecret; a new code every second; qrStartSecret stays on the server)
                                             https://developers.bankid.com/how-to-guides/qr-code
  Autostart (the app is opened with "bankid:///?autostarttoken=...&redirect=..." or, on mobile devices, the
  universal/app link "https://app.bankid.com/?autostarttoken=...&redirect=...")
                                             https://developers.bankid.com/how-to-guides/autostart
  Relying party guidelines (parameters of the start URL; "redirect=null" when the app should not return
  anywhere; the reference vector below, section "Animated QR")
                                             https://www.bankid.com/assets/bankid/rp/BankID-Relying-Party-Guidelines-v3.7.pdf

The reference vector (qrStartToken 67df3917-fa0d-44e5-b327-edcc928297f8, qrStartSecret
d28db9a7-4cde-429e-a983-359be676944c, t = 0 gives ...dc69358e...) is asserted in the tests.

qrStartSecret must never reach a browser: the server computes each second's code and sends only the result
(or an SVG of it) to the page.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

import segno

QR_PREFIX = "bankid"
DESKTOP_AUTOSTART_BASE = "bankid:///"
MOBILE_AUTOSTART_BASE = "https://app.bankid.com/"

# The tokens are UUIDs in every documented example, but only the dotted shape is relied on here.
_QR_CONTENT = re.compile(
    r"bankid\.(?P<token>[^.\s]+)\.(?P<seconds>0|[1-9][0-9]{0,8})\.(?P<code>[0-9a-f]{64})"
)


@dataclass(frozen=True)
class QrContent:
    """The parts of a scanned animated QR code."""

    qr_start_token: str
    seconds: int
    auth_code: str


def qr_auth_code(qr_start_secret: str, seconds: int) -> str:
    """The hex HMAC-SHA256 of the decimal `seconds`, keyed with `qr_start_secret` (both as UTF-8)."""
    if seconds < 0:
        raise ValueError("seconds must not be negative")
    return hmac.new(qr_start_secret.encode(), str(seconds).encode(), hashlib.sha256).hexdigest()


def qr_content(qr_start_token: str, qr_start_secret: str, seconds: int) -> str:
    """The text to put in the QR code `seconds` whole seconds after the order was started."""
    return f"{QR_PREFIX}.{qr_start_token}.{seconds}.{qr_auth_code(qr_start_secret, seconds)}"


def qr_seconds(started_at: datetime, now: datetime) -> int:
    """Whole seconds from `started_at` (when the auth/sign answer arrived) to `now`; both timezone-aware."""
    if started_at.tzinfo is None or now.tzinfo is None:
        raise ValueError("started_at and now must be timezone-aware")
    # A clock that steps backwards must not produce a negative qrTime.
    return max(0, math.floor((now - started_at).total_seconds()))


def qr_content_now(qr_start_token: str, qr_start_secret: str, *, started_at: datetime, now: datetime) -> str:
    """The QR text for the second `now` falls in, counted from `started_at`."""
    return qr_content(qr_start_token, qr_start_secret, qr_seconds(started_at, now))


def parse_qr_content(text: str) -> QrContent:
    """Split scanned QR text into its parts; raises ValueError if it does not have the documented shape."""
    match = _QR_CONTENT.fullmatch(text.strip())
    if match is None:
        raise ValueError("not a BankID animated QR code (expected bankid.<token>.<seconds>.<64 hex digits>)")
    return QrContent(qr_start_token=match["token"], seconds=int(match["seconds"]), auth_code=match["code"])


def qr_code_matches(content: QrContent, qr_start_secret: str) -> bool:
    """Whether the code in `content` was made with `qr_start_secret` (constant-time comparison)."""
    return hmac.compare_digest(content.auth_code, qr_auth_code(qr_start_secret, content.seconds))


def qr_svg(content: str, *, scale: int = 4, title: str | None = None) -> str:
    """An inline SVG (no XML declaration) of a QR code holding `content`."""
    # Error level L keeps the code small; segno raises it by itself when the size allows ("boost").
    code = segno.make(content, error="l", micro=False)
    svg: str = code.svg_inline(scale=scale, border=4, title=title)
    return svg


def autostart_url(auto_start_token: str, *, redirect: str | None = None, mobile: bool = False) -> str:
    """The link that opens the BankID app on this device for the order with `auto_start_token`.

    `mobile` chooses the https universal/app link that mobile browsers need; otherwise the bankid:/// scheme
    for desktop. `redirect` is where the app sends the user afterwards; without it the documented "null"
    tells the app not to open anything.
    """
    if not auto_start_token:
        raise ValueError("auto_start_token must not be empty")
    base = MOBILE_AUTOSTART_BASE if mobile else DESKTOP_AUTOSTART_BASE
    target = "null" if redirect is None else quote(redirect, safe="")
    return f"{base}?autostarttoken={quote(auto_start_token, safe='')}&redirect={target}"
