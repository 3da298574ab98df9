"""What to tell the user while a BankID order is followed with collect. The Django-side part of the package.

Each hint code gets a message written for Ympa (English msgids, translated in the locale files) that carries
the meaning BankID's guidelines give the code; the wording is our own. Meanings and the advice to word
messages differently for QR codes and for autostart on the same device come from:
  collect: hint codes of pending and failed orders  https://developers.bankid.com/api-references/auth--sign/collect
                                                    https://www.bankid.com/utvecklare/guider/teknisk-integrationsguide/graenssnittsbeskrivning/collect
  Recommended user messages (RFA1 and onwards)      https://developers.bankid.com/ui-resources/user-messages
  Errors (which to show the user, and how)          https://developers.bankid.com/api-references/errors

Unknown codes get a general message (BankID may add codes without notice).
"""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from ympa.authn.bankid.client import COLLECT_INTERVAL_SECONDS

__all__ = ["COLLECT_INTERVAL_SECONDS", "error_message", "hint_message"]

# (hint code, qr) -> message; qr=None applies to both flows.
_PENDING: dict[tuple[str, bool | None], Promise] = {
    # The app has not picked the order up yet.
    ("outstandingTransaction", True): _("Open the BankID app and scan the QR code."),
    ("outstandingTransaction", False): _("Opening the BankID app…"),
    ("noClient", True): _("Open the BankID app and scan the QR code."),
    ("noClient", False): _("Open the BankID app on this device to continue."),
    # Opened with the autostart link, but the app has not yet found a BankID it can use.
    ("started", None): _(
        "Looking for your BankID, which can take a moment. If nothing happens, you may not have a BankID"
        " that works here; you can get one from your bank."
    ),
    ("userMrtd", None): _(
        "Follow the instructions in the BankID app to read your passport or national ID card."
    ),
    ("userCallConfirm", None): _("In the BankID app, confirm that you are on the phone with us."),
    ("userSign", None): _(
        "Enter your security code in the BankID app, or use your fingerprint or face, and confirm."
    ),
}

_FAILED: dict[tuple[str, bool | None], Promise] = {
    ("expiredTransaction", None): _(
        "BankID did not get an answer in time. Check that the BankID app is open and that you are online,"
        " then try again."
    ),
    ("certificateErr", None): _(
        "This BankID cannot be used: it is blocked or no longer valid. Use another BankID or get a new one"
        " from your bank."
    ),
    ("userCancel", None): _("You cancelled in the BankID app."),
    ("cancelled", None): _(
        "This request was stopped because a new BankID request was started for you. Please try again."
    ),
    ("startFailed", True): _(
        "The QR code was not scanned in time. Open the BankID app, scan the QR code, and make sure the app"
        " is up to date."
    ),
    ("startFailed", False): _(
        "The BankID app could not be started on this device. Check that it is installed and up to date, or"
        " use BankID on another device."
    ),
    ("userDeclinedCall", None): _(
        "You answered in the BankID app that you are not on the phone with us, so the request was stopped."
    ),
    ("notSupportedByUserApp", None): _(
        "Your BankID app cannot handle this request. Update the app and try again."
    ),
    ("transactionRiskBlocked", None): _(
        "BankID stopped this request for security reasons. Try again later, or contact us another way."
    ),
}

_UNKNOWN_PENDING = _("Identification or signing with BankID is in progress.")
_UNKNOWN_FAILED = _("Something went wrong with BankID. Please try again.")
_COMPLETE = _("Done: BankID has confirmed the request.")

_ERRORS: dict[str, Promise] = {
    "alreadyInProgress": _(
        "A BankID request for you was already in progress, so both were stopped. Please try again."
    ),
    "requestTimeout": _("BankID did not answer in time. Please try again."),
    "internalError": _("BankID is not available right now. Please try again later."),
    "maintenance": _("BankID is not available right now. Please try again later."),
}
_UNKNOWN_ERROR = _("Something went wrong with BankID. Please try again.")


def hint_message(status: str, hint_code: str | None, *, qr: bool) -> str:
    """The message for a collect answer, in the active language. `qr`: the user scans a QR code on another
    device (False: the app was started on this device with autostart, or a phone order)."""
    if status == "complete":
        return str(_COMPLETE)
    table, fallback = (_FAILED, _UNKNOWN_FAILED) if status == "failed" else (_PENDING, _UNKNOWN_PENDING)
    code = hint_code or ""
    message = table.get((code, qr)) or table.get((code, None)) or fallback
    return str(message)


def error_message(error_code: str) -> str:
    """The message for an error answer of the API that concerns the user. The others (invalidParameters,
    unauthorized, ...) are faults in our service and get the general message."""
    return str(_ERRORS.get(error_code, _UNKNOWN_ERROR))
