"""User messages for BankID hint codes and errors (ympa.authn.bankid.hints). No database needed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.utils import translation

from ympa.authn.bankid.client import FAILED_HINT_CODES, KNOWN_ERROR_CODES, PENDING_HINT_CODES
from ympa.authn.bankid.hints import COLLECT_INTERVAL_SECONDS, error_message, hint_message


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    with translation.override("en"):
        yield


def test_collect_interval_is_two_seconds() -> None:
    assert COLLECT_INTERVAL_SECONDS == 2


def test_every_documented_code_has_its_own_message() -> None:
    general_pending = hint_message("pending", "somethingNew", qr=True)
    general_failed = hint_message("failed", "somethingNew", qr=True)
    # "processing" is newer than the messages here and gets the general in-progress text.
    for code in PENDING_HINT_CODES - {"processing"}:
        for qr in (True, False):
            assert hint_message("pending", code, qr=qr) != general_pending, code
    for code in FAILED_HINT_CODES:
        for qr in (True, False):
            assert hint_message("failed", code, qr=qr) != general_failed, code


def test_qr_and_autostart_get_different_advice() -> None:
    assert "scan the QR code" in hint_message("pending", "outstandingTransaction", qr=True)
    assert "Opening the BankID app" in hint_message("pending", "outstandingTransaction", qr=False)
    assert "not scanned in time" in hint_message("failed", "startFailed", qr=True)
    assert "could not be started on this device" in hint_message("failed", "startFailed", qr=False)
    assert hint_message("pending", "userSign", qr=True) == hint_message("pending", "userSign", qr=False)


def test_unknown_codes_and_states() -> None:
    assert hint_message("pending", None, qr=False) == "Identification or signing with BankID is in progress."
    assert (
        hint_message("failed", "brandNew", qr=False) == "Something went wrong with BankID. Please try again."
    )
    assert hint_message("complete", None, qr=True) == "Done: BankID has confirmed the request."


def test_messages_follow_the_active_language() -> None:
    message = hint_message("failed", "userCancel", qr=True)
    assert isinstance(message, str) and message == "You cancelled in the BankID app."


def test_error_messages() -> None:
    assert "already in progress" in error_message("alreadyInProgress")
    assert error_message("maintenance") == error_message("internalError")
    # Faults on our side are not explained to the user as BankID errors.
    for code in KNOWN_ERROR_CODES - {"alreadyInProgress", "requestTimeout", "internalError", "maintenance"}:
        assert error_message(code) == error_message("somethingNew")
