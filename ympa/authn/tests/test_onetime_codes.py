"""The one-time-code service: codes by SMS or e-mail, valid five minutes, used once, stored only as an
HMAC; sends and wrong attempts limited per identity and per address, with lockouts."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.db import connection, connections

from ympa.authn.models import AuthEvent, AuthEventKind, CodePurpose, OneTimeCodeChallenge, OneTimeCodeLimit
from ympa.authn.services import (
    LOCKOUT,
    MAX_FAILURES_PER_IDENTITY,
    MAX_FAILURES_PER_IP,
    MAX_SENDS_PER_IDENTITY,
    MAX_SENDS_PER_IP,
    MAX_WRONG_PER_CODE,
    CodeOutcome,
    OneTimeCodeLimited,
    one_time_code_send,
    one_time_code_verify,
    one_time_codes_purge,
)
from ympa.notify.models import Message, MessageChannel
from ympa.notify.sms_simulator import SmsSimulator

Capture = Callable[..., AbstractContextManager[list[Callable[[], Any]]]]
NOW = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)
PHONE = "+46701234567"
IP = "192.0.2.10"


def send(
    identity: str = "199001012389",
    *,
    ip: str | None = IP,
    purpose: CodePurpose = CodePurpose.STAFF_LOGIN,
    channel: MessageChannel = MessageChannel.SMS,
    destination: str = PHONE,
    language: str = "en",
) -> tuple[OneTimeCodeChallenge, str]:
    """Send a code; returns the challenge and the code from the message that was queued."""
    before = set(Message.objects.values_list("pk", flat=True))
    challenge = one_time_code_send(
        purpose=purpose,
        identity=identity,
        channel=channel,
        destination=destination,
        ip=ip,
        language=language,
    )
    [message] = Message.objects.exclude(pk__in=before)
    return challenge, code_in(message.body)


def code_in(text: str) -> str:
    found = re.search(r"\b(\d{6})\b", text)
    assert found is not None, text
    return found.group(1)


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


@pytest.mark.django_db
def test_the_sms_carries_the_code_and_what_it_is_for(
    sms_simulator: SmsSimulator, django_capture_on_commit_callbacks: Capture
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        challenge, _code = send()
    [sms] = sms_simulator.messages
    assert sms.to == PHONE
    assert re.fullmatch(
        r"\d{6} is your code for logging in to Ympa\. It is valid for 5 minutes\. "
        r"Never share it with anyone, even someone claiming to be from Ympa\.",
        sms.message,
    )
    # One SMS part: the text stays within 160 characters of the GSM alphabet.
    assert sms.parts == 1
    # Once sent, the code is gone from the message table too; only its hash remains.
    stored = Message.objects.get(purpose="one_time_code")
    assert stored.secret and code_in(sms.message) not in stored.body
    result = one_time_code_verify(
        challenge_id=challenge.pk, purpose=CodePurpose.STAFF_LOGIN, code=code_in(sms.message), ip=IP
    )
    assert result.outcome is CodeOutcome.OK


@pytest.mark.django_db
def test_e_mail_carries_the_code(django_capture_on_commit_callbacks: Capture) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        challenge, _code = send(channel=MessageChannel.EMAIL, destination="anna@example.se")
    [message] = mail.outbox
    assert message.to == ["anna@example.se"] and message.subject == "Your code for Ympa"
    assert challenge.channel == MessageChannel.EMAIL
    assert one_time_code_verify(
        challenge_id=challenge.pk, purpose=CodePurpose.STAFF_LOGIN, code=code_in(message.body), ip=IP
    ).ok


@pytest.mark.django_db
def test_the_code_is_stored_only_as_an_hmac() -> None:
    challenge, code = send()
    stored = OneTimeCodeChallenge.objects.filter(pk=challenge.pk).values().get()
    assert all(code not in str(value) for value in stored.values())
    assert re.fullmatch(r"[0-9a-f]{64}", stored["code_hash"])
    # Nor in the login trail.
    assert all(code not in str(value) for row in AuthEvent.objects.values() for value in row.values())
    event = AuthEvent.objects.get()
    assert (event.kind, event.identity, event.detail) == (
        AuthEventKind.CODE_SENT,
        "199001012389",
        "staff_login",
    )


@pytest.mark.django_db
def test_a_code_is_valid_for_five_minutes() -> None:
    with time_machine.travel(NOW, tick=False):
        first, first_code = send("a")
        second, second_code = send("b")
    with time_machine.travel(NOW + timedelta(minutes=4, seconds=59), tick=False):
        assert one_time_code_verify(
            challenge_id=first.pk, purpose=CodePurpose.STAFF_LOGIN, code=first_code, ip=IP
        ).ok
    with time_machine.travel(NOW + timedelta(minutes=5, seconds=1), tick=False):
        result = one_time_code_verify(
            challenge_id=second.pk, purpose=CodePurpose.STAFF_LOGIN, code=second_code, ip=IP
        )
    assert result.outcome is CodeOutcome.EXPIRED
    assert OneTimeCodeChallenge.objects.get(pk=second.pk).used_at is None


@pytest.mark.django_db
def test_a_code_is_used_once() -> None:
    challenge, code = send()
    assert one_time_code_verify(
        challenge_id=challenge.pk, purpose=CodePurpose.STAFF_LOGIN, code=code, ip=IP
    ).ok
    again = one_time_code_verify(challenge_id=challenge.pk, purpose=CodePurpose.STAFF_LOGIN, code=code, ip=IP)
    assert again.outcome is CodeOutcome.USED


@pytest.mark.django_db
def test_a_code_is_only_for_its_purpose() -> None:
    challenge, code = send(purpose=CodePurpose.STAFF_LOGIN)
    result = one_time_code_verify(
        challenge_id=challenge.pk, purpose=CodePurpose.STAFF_REAUTH, code=code, ip=IP
    )
    assert result.outcome is CodeOutcome.EXPIRED
    assert OneTimeCodeChallenge.objects.get(pk=challenge.pk).used_at is None


@pytest.mark.django_db
def test_a_new_code_replaces_the_previous_one() -> None:
    first, first_code = send()
    second, second_code = send()
    old = one_time_code_verify(challenge_id=first.pk, purpose=CodePurpose.STAFF_LOGIN, code=first_code, ip=IP)
    assert old.outcome is CodeOutcome.EXPIRED
    assert one_time_code_verify(
        challenge_id=second.pk, purpose=CodePurpose.STAFF_LOGIN, code=second_code, ip=IP
    ).ok


@pytest.mark.django_db
def test_wrong_codes_spend_the_code() -> None:
    challenge, code = send()
    for left in range(MAX_WRONG_PER_CODE - 1, -1, -1):
        result = one_time_code_verify(
            challenge_id=challenge.pk, purpose=CodePurpose.STAFF_LOGIN, code=wrong(code), ip=IP
        )
        assert (result.outcome, result.attempts_left) == (CodeOutcome.WRONG, left)
    # Even the right code is refused now: a new one must be sent.
    result = one_time_code_verify(
        challenge_id=challenge.pk, purpose=CodePurpose.STAFF_LOGIN, code=code, ip=IP
    )
    assert result.outcome is CodeOutcome.EXPIRED
    stored = OneTimeCodeChallenge.objects.get(pk=challenge.pk)
    assert stored.used_at is None and stored.revoked_at is not None
    assert stored.failed_attempts == MAX_WRONG_PER_CODE


@pytest.mark.django_db
def test_repeated_failures_lock_the_identity_out_for_fifteen_minutes() -> None:
    identity = "user:7"
    with time_machine.travel(NOW, tick=False):
        outcomes = []
        for _round in range(MAX_FAILURES_PER_IDENTITY // MAX_WRONG_PER_CODE):
            challenge, code = send(identity)
            for _attempt in range(MAX_WRONG_PER_CODE):
                outcomes.append(
                    one_time_code_verify(
                        challenge_id=challenge.pk, purpose=CodePurpose.STAFF_LOGIN, code=wrong(code), ip=IP
                    )
                )
        assert [r.outcome for r in outcomes[:-1]] == [CodeOutcome.WRONG] * (MAX_FAILURES_PER_IDENTITY - 1)
        assert outcomes[-1].outcome is CodeOutcome.LOCKED
        assert outcomes[-1].locked_until == NOW + LOCKOUT
        lockout = AuthEvent.objects.get(kind=AuthEventKind.LOCKOUT)
        assert (lockout.identity, lockout.detail, lockout.ip) == (identity, "identity", IP)
        messages_before = Message.objects.count()
        # Locked: no new code, even from another address.
        with pytest.raises(OneTimeCodeLimited) as limited:
            send(identity, ip="198.51.100.7")
        assert limited.value.until == NOW + LOCKOUT
        assert Message.objects.count() == messages_before
        # Other identities are not affected.
        send("user:8")
    with time_machine.travel(NOW + LOCKOUT + timedelta(seconds=1), tick=False):
        challenge, code = send(identity)
        assert one_time_code_verify(
            challenge_id=challenge.pk, purpose=CodePurpose.STAFF_LOGIN, code=code, ip=IP
        ).ok


@pytest.mark.django_db
def test_a_locked_identity_cannot_use_a_code_it_already_has() -> None:
    with time_machine.travel(NOW, tick=False):
        OneTimeCodeLimit.objects.create(key="identity:user:9", locked_until=NOW + timedelta(minutes=3))
        with pytest.raises(OneTimeCodeLimited):
            send("user:9")
        assert not OneTimeCodeChallenge.objects.exists() and not Message.objects.exists()


@pytest.mark.django_db
def test_sends_are_limited_per_identity_per_hour() -> None:
    with time_machine.travel(NOW, tick=False) as traveller:
        for _ in range(MAX_SENDS_PER_IDENTITY):
            send("user:1")
            traveller.shift(timedelta(minutes=1))
        with pytest.raises(OneTimeCodeLimited) as limited:
            send("user:1")
        # Free again when the first of the five is an hour old.
        assert limited.value.until == NOW + timedelta(hours=1)
        assert Message.objects.count() == MAX_SENDS_PER_IDENTITY
        assert OneTimeCodeChallenge.objects.count() == MAX_SENDS_PER_IDENTITY
    with time_machine.travel(NOW + timedelta(hours=1, seconds=1), tick=False):
        send("user:1")


@pytest.mark.django_db
def test_sends_are_limited_per_address() -> None:
    with time_machine.travel(NOW, tick=False):
        for number in range(MAX_SENDS_PER_IP):
            send(f"user:{number}")
        with pytest.raises(OneTimeCodeLimited):
            send("user:another")
        assert Message.objects.count() == MAX_SENDS_PER_IP
        assert not OneTimeCodeChallenge.objects.filter(identity="user:another").exists()
        # The same identity from another address is fine.
        send("user:another", ip="198.51.100.7")


@pytest.mark.django_db
def test_wrong_codes_from_one_address_lock_the_address() -> None:
    identities = [f"user:{n}" for n in range(MAX_FAILURES_PER_IP // MAX_WRONG_PER_CODE)]
    with time_machine.travel(NOW, tick=False):
        results = []
        for identity in identities:
            challenge, code = send(identity, ip="198.51.100.1")
            for _ in range(MAX_WRONG_PER_CODE):
                results.append(
                    one_time_code_verify(
                        challenge_id=challenge.pk, purpose=CodePurpose.STAFF_LOGIN, code=wrong(code), ip=IP
                    )
                )
        assert results[-1].outcome is CodeOutcome.LOCKED
        assert CodeOutcome.LOCKED not in [r.outcome for r in results[:-1]]
        # A fresh code, tried from the locked address, is not even compared.
        challenge, code = send("user:fresh", ip="198.51.100.1")
        locked = one_time_code_verify(
            challenge_id=challenge.pk, purpose=CodePurpose.STAFF_LOGIN, code=code, ip=IP
        )
        assert locked.outcome is CodeOutcome.LOCKED and locked.locked_until == NOW + LOCKOUT
        assert OneTimeCodeChallenge.objects.get(pk=challenge.pk).used_at is None
        # From another address it works.
        assert one_time_code_verify(
            challenge_id=challenge.pk, purpose=CodePurpose.STAFF_LOGIN, code=code, ip="198.51.100.2"
        ).ok


@pytest.mark.django_db
def test_an_invalid_destination_saves_and_sends_nothing() -> None:
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        send(destination="12")
    assert not OneTimeCodeChallenge.objects.exists() and not Message.objects.exists()
    assert not AuthEvent.objects.exists()


@pytest.mark.django_db
def test_an_unknown_challenge_is_expired() -> None:
    for challenge_id in ("not-a-uuid", "00000000-0000-0000-0000-000000000000"):
        result = one_time_code_verify(
            challenge_id=challenge_id, purpose=CodePurpose.STAFF_LOGIN, code="123456", ip=IP
        )
        assert result.outcome is CodeOutcome.EXPIRED


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs real concurrent connections")
# serialized_rollback like the other transactional tests: a plain flush afterwards recreates content types,
# which a later serialized-rollback test in the same worker would then insert a second time.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_sends_respect_the_limit_across_connections(sms_simulator: SmsSimulator) -> None:
    """Twelve requests at once for one identity (as from several app servers): exactly five codes."""
    start = threading.Barrier(12)
    outcomes: list[str] = []

    def attempt(number: int) -> None:
        try:
            start.wait()
            one_time_code_send(
                purpose=CodePurpose.STAFF_LOGIN,
                identity="user:race",
                channel=MessageChannel.SMS,
                destination=PHONE,
                ip=f"192.0.2.{number + 1}",
                language="en",
            )
            outcomes.append("sent")
        except OneTimeCodeLimited:
            outcomes.append("limited")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["limited"] * 7 + ["sent"] * 5
    assert len(sms_simulator.messages) == MAX_SENDS_PER_IDENTITY
    assert OneTimeCodeChallenge.objects.filter(identity="user:race").count() == MAX_SENDS_PER_IDENTITY
    # One live code at a time: the others were replaced.
    assert (
        OneTimeCodeChallenge.objects.filter(
            identity="user:race", used_at__isnull=True, revoked_at__isnull=True
        ).count()
        == 1
    )


@pytest.mark.django_db
def test_old_codes_are_purged_after_a_day() -> None:
    with time_machine.travel(datetime(2026, 11, 20, 8, 0, tzinfo=UTC), tick=False):
        send()
    recent, _code = send(identity="197001012025")
    assert one_time_codes_purge() == 1
    assert list(OneTimeCodeChallenge.objects.values_list("pk", flat=True)) == [recent.pk]
