"""Animated QR codes and autostart links (ympa.authn.bankid.qr). No Django, no network."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ympa.authn.bankid.qr import (
    autostart_url,
    parse_qr_content,
    qr_auth_code,
    qr_code_matches,
    qr_content,
    qr_content_now,
    qr_seconds,
    qr_svg,
)

# The published reference vector from BankID's relying-party guidelines.
TOKEN = "67df3917-fa0d-44e5-b327-edcc928297f8"
SECRET = "d28db9a7-4cde-429e-a983-359be676944c"
REFERENCE = {
    0: "dc69358e712458a66a7525beef148ae8526b1c71610eff2c16cdffb4cdac9bf8",
    1: "949d559bf23403952a94d103e67743126381eda00f0b3cbddbf7c96b1adcbce2",
    2: "a9e5ec59cb4eee4ef4117150abc58fad7a85439a6a96ccbecc3668b41795b3f3",
}


@pytest.mark.parametrize(("seconds", "code"), REFERENCE.items())
def test_reference_vector(seconds: int, code: str) -> None:
    assert qr_auth_code(SECRET, seconds) == code
    assert qr_content(TOKEN, SECRET, seconds) == f"bankid.{TOKEN}.{seconds}.{code}"


def test_content_follows_the_clock() -> None:
    started = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
    assert qr_seconds(started, started + timedelta(seconds=1.999)) == 1
    assert qr_content_now(TOKEN, SECRET, started_at=started, now=started + timedelta(seconds=2.5)) == (
        f"bankid.{TOKEN}.2.{REFERENCE[2]}"
    )
    # A clock stepping backwards gives 0, never a negative time.
    assert qr_seconds(started, started - timedelta(seconds=5)) == 0
    with pytest.raises(ValueError, match="timezone-aware"):
        qr_seconds(started.replace(tzinfo=None), started)


def test_parse_and_verify() -> None:
    content = parse_qr_content(f"  bankid.{TOKEN}.1.{REFERENCE[1]}\n")
    assert (content.qr_start_token, content.seconds, content.auth_code) == (TOKEN, 1, REFERENCE[1])
    assert qr_code_matches(content, SECRET)
    assert not qr_code_matches(content, "another-secret")
    # The right code for another second does not match.
    assert not qr_code_matches(parse_qr_content(f"bankid.{TOKEN}.2.{REFERENCE[1]}"), SECRET)


@pytest.mark.parametrize(
    "text",
    [
        "",
        f"bankid.{TOKEN}.1",
        f"bank.{TOKEN}.1.{REFERENCE[1]}",
        f"bankid.{TOKEN}.-1.{REFERENCE[1]}",
        f"bankid.{TOKEN}.01.{REFERENCE[1]}",
        f"bankid.{TOKEN}.1.{REFERENCE[1].upper()}",
        f"bankid.{TOKEN}.1.{REFERENCE[1][:-1]}",
    ],
)
def test_malformed_content_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a BankID animated QR code"):
        parse_qr_content(text)


def test_svg() -> None:
    svg = qr_svg(f"bankid.{TOKEN}.0.{REFERENCE[0]}", title="BankID")
    assert svg.startswith("<svg") and "<title>BankID</title>" in svg
    assert "<?xml" not in svg


def test_autostart_urls() -> None:
    assert autostart_url("7c40b5c9") == "bankid:///?autostarttoken=7c40b5c9&redirect=null"
    assert autostart_url("7c40b5c9", mobile=True, redirect="https://ympa.example/login?next=/a b") == (
        "https://app.bankid.com/?autostarttoken=7c40b5c9"
        "&redirect=https%3A%2F%2Fympa.example%2Flogin%3Fnext%3D%2Fa%20b"
    )
    with pytest.raises(ValueError):
        autostart_url("")
