from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import pyotp
from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext

from ympa.authn.models import (
    ApiToken,
    AuthEvent,
    AuthEventKind,
    CodePurpose,
    OneTimeCodeChallenge,
    OneTimeCodeFailure,
    OneTimeCodeLimit,
    User,
)
from ympa.notify.models import MessageChannel
from ympa.notify.services import email_queue, sms_queue
from ympa.orgs.models import Assignment

TOTP_ISSUER = "Ympa"
# One step either side absorbs a phone clock that is up to 30 seconds off.
TOTP_VALID_WINDOW = 1


def totp_new_secret() -> str:
    return pyotp.random_base32()


def totp_provisioning_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.get_username(), issuer_name=TOTP_ISSUER)


def _matching_step(secret: str, code: str, at: float) -> int | None:
    totp = pyotp.TOTP(secret)
    code = code.strip().replace(" ", "")
    if not (code.isdigit() and len(code) == totp.digits):
        return None
    step = int(at) // totp.interval
    for offset in range(-TOTP_VALID_WINDOW, TOTP_VALID_WINDOW + 1):
        if secrets.compare_digest(totp.generate_otp(step + offset), code):
            return step + offset
    return None


@transaction.atomic
def totp_verify(*, user: User, code: str, at: float | None = None) -> bool:
    """Check a TOTP code; each time step is accepted once, so an observed code cannot be replayed."""
    locked = User.objects.select_for_update().get(pk=user.pk)
    if not locked.totp_secret:
        return False
    step = _matching_step(locked.totp_secret, code, time.time() if at is None else at)
    if step is None or step <= locked.totp_last_step:
        return False
    locked.totp_last_step = step
    locked.save(update_fields=["totp_last_step"])
    return True


@transaction.atomic
def totp_enrol(*, user: User, secret: str, code: str, at: float | None = None) -> bool:
    """Store a new TOTP secret once the user proves their authenticator shows the right code."""
    step = _matching_step(secret, code, time.time() if at is None else at)
    if step is None:
        return False
    User.objects.filter(pk=user.pk).update(totp_secret=secret, totp_last_step=step)
    user.totp_secret = secret
    user.totp_last_step = step
    return True


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def api_token_create(*, user: User, assignment: Assignment, name: str = "") -> tuple[ApiToken, str]:
    """Create a bearer token for the JSON API; the clear-text token is returned once and never stored."""
    if assignment.user_id != user.pk:
        raise ValueError("the assignment belongs to another user")
    token = "ympa_" + secrets.token_urlsafe(32)
    record = ApiToken.objects.create(
        user=user,
        assignment=assignment,
        name=name,
        prefix=token[5:13],
        token_hash=token_hash(token),
        created_at=timezone.now(),
    )
    return record, token


def auth_event_record(
    *,
    kind: AuthEventKind,
    user: User | None = None,
    identity: str = "",
    method: str = "",
    assurance: int | None = None,
    ip: str | None = None,
    user_agent: str = "",
    detail: str = "",
) -> AuthEvent:
    """Append one row to the login trail. Callers pass what was attempted, never a password or a code."""
    return AuthEvent.objects.create(
        occurred_at=timezone.now(),
        kind=kind,
        user=user,
        identity=identity[:150],
        method=method,
        assurance=assurance,
        ip=ip,
        user_agent=user_agent[:200],
        detail=detail[:64],
    )


# One-time codes (SMS or e-mail), for staff login and re-authentication today and public booking later.
CODE_DIGITS = 6
CODE_VALIDITY = timedelta(minutes=5)
RATE_WINDOW = timedelta(hours=1)
MAX_SENDS_PER_IDENTITY = 5
MAX_SENDS_PER_IP = 20
MAX_WRONG_PER_CODE = 5
MAX_FAILURES_PER_IDENTITY = 10
# Higher than per identity: a clinic or a mobile operator puts many people behind one address.
MAX_FAILURES_PER_IP = 30
LOCKOUT = timedelta(minutes=15)
# The notify.Message purpose of every code message.
MESSAGE_PURPOSE = "one_time_code"


class OneTimeCodeLimited(Exception):
    """No code was sent: too many codes for this identity or address, or a lockout. Try again at `until`."""

    def __init__(self, until: datetime) -> None:
        super().__init__(f"one-time codes are limited until {until.isoformat()}")
        self.until = until


class CodeOutcome(StrEnum):
    OK = "ok"
    WRONG = "wrong"
    # Too old, replaced by a newer code, spent by too many wrong attempts, or unknown: ask for a new code.
    EXPIRED = "expired"
    USED = "used"
    # The identity or the address is locked out until `locked_until`; the code was not even compared.
    LOCKED = "locked"


@dataclass(frozen=True)
class CodeCheck:
    outcome: CodeOutcome
    challenge: OneTimeCodeChallenge | None = None
    attempts_left: int | None = None
    locked_until: datetime | None = None

    @property
    def ok(self) -> bool:
        return self.outcome is CodeOutcome.OK


def _code_hash(challenge_id: uuid.UUID, code: str) -> str:
    # Keyed with SECRET_KEY and bound to the challenge: a database copy alone cannot test the million codes.
    return salted_hmac("ympa.authn.one_time_code", f"{challenge_id}:{code}", algorithm="sha256").hexdigest()


def _limit_keys(identity: str, ip: str | None) -> list[str]:
    keys = [f"identity:{identity}"]
    if ip:
        keys.append(f"ip:{ip}")
    return keys


def _lock_limits(keys: list[str]) -> list[OneTimeCodeLimit]:
    """Lock the limit rows of an identity and an address, creating them on first use.

    Every send and check of the same identity or address queues here, on any app server, so counting and
    writing cannot interleave. Always locked in key order, so two requests cannot deadlock.
    """
    OneTimeCodeLimit.objects.bulk_create([OneTimeCodeLimit(key=key) for key in keys], ignore_conflicts=True)
    return list(OneTimeCodeLimit.objects.select_for_update().filter(key__in=keys).order_by("key"))


def _locked_until(limits: list[OneTimeCodeLimit], now: datetime) -> datetime | None:
    until = [limit.locked_until for limit in limits if limit.locked_until and limit.locked_until > now]
    return max(until) if until else None


def _message_text(purpose: CodePurpose, code: str, language: str) -> tuple[str, str]:
    # Kept within one SMS (160 characters of the GSM alphabet: no dashes or curly quotes).
    with translation.override(language):
        subject = gettext("Your code for Ympa")
        body = gettext(
            "%(code)s is your code for %(purpose)s. It is valid for %(minutes)d minutes. Never share it with "
            "anyone, even someone claiming to be from Ympa."
        ) % {"code": code, "purpose": purpose.label, "minutes": CODE_VALIDITY.seconds // 60}
    return subject, body


@transaction.atomic
def one_time_code_send(
    *,
    purpose: CodePurpose,
    identity: str,
    channel: MessageChannel,
    destination: str,
    ip: str | None,
    language: str,
) -> OneTimeCodeChallenge:
    """Send a new code for `purpose` to `destination` (a phone number or an e-mail address).

    A new code replaces the identity's earlier code for the same purpose. Raises OneTimeCodeLimited (and
    sends nothing) when the identity or the address has had too many codes within the hour or is locked
    out, and ValidationError on an unusable destination.
    """
    purpose, channel = CodePurpose(purpose), MessageChannel(channel)
    now = timezone.now()
    limits = _lock_limits(_limit_keys(identity, ip))
    locked_until = _locked_until(limits, now)
    if locked_until is not None:
        raise OneTimeCodeLimited(locked_until)
    recent = OneTimeCodeChallenge.objects.filter(created_at__gt=now - RATE_WINDOW)
    for sent, limit in (
        (recent.filter(identity=identity), MAX_SENDS_PER_IDENTITY),
        (recent.filter(ip=ip) if ip else recent.none(), MAX_SENDS_PER_IP),
    ):
        times = list(sent.order_by("-created_at").values_list("created_at", flat=True)[:limit])
        if len(times) >= limit:
            # The oldest of the last `limit` sends leaves the window first.
            raise OneTimeCodeLimited(times[-1] + RATE_WINDOW)
    OneTimeCodeChallenge.objects.filter(
        purpose=purpose, identity=identity, used_at__isnull=True, revoked_at__isnull=True
    ).update(revoked_at=now)
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    challenge = OneTimeCodeChallenge(
        purpose=purpose,
        identity=identity,
        channel=channel,
        ip=ip,
        created_at=now,
        expires_at=now + CODE_VALIDITY,
    )
    challenge.code_hash = _code_hash(challenge.id, code)
    challenge.save(force_insert=True)
    subject, body = _message_text(purpose, code, language)
    if channel == MessageChannel.SMS:
        sms_queue(to=destination, body=body, purpose=MESSAGE_PURPOSE, secret=True)
    else:
        email_queue(to=destination, subject=subject, body=body, purpose=MESSAGE_PURPOSE, secret=True)
    auth_event_record(kind=AuthEventKind.CODE_SENT, identity=identity, ip=ip, detail=purpose)
    return challenge


def _lock_out(
    limits: list[OneTimeCodeLimit], keys: set[str], now: datetime, *, identity: str, ip: str | None
) -> datetime:
    until = now + LOCKOUT
    for limit in limits:
        if limit.key in keys:
            limit.locked_until = until
            limit.save(update_fields=["locked_until"])
            # detail says which limit: "identity" or "ip".
            auth_event_record(
                kind=AuthEventKind.LOCKOUT, identity=identity, ip=ip, detail=limit.key.split(":", 1)[0]
            )
    return until


@transaction.atomic
def one_time_code_verify(
    *, challenge_id: uuid.UUID | str, purpose: CodePurpose, code: str, ip: str | None
) -> CodeCheck:
    """Check a code against its challenge: ok (and now used), wrong, expired, used, or locked.

    A wrong code counts against the code (MAX_WRONG_PER_CODE spends it), the identity and the address
    (MAX_FAILURES_PER_IDENTITY or MAX_FAILURES_PER_IP within RATE_WINDOW lock out for LOCKOUT).
    """
    try:
        challenge_uuid = uuid.UUID(str(challenge_id))
    except ValueError:
        return CodeCheck(CodeOutcome.EXPIRED)
    found = OneTimeCodeChallenge.objects.filter(pk=challenge_uuid, purpose=purpose).first()
    if found is None:
        return CodeCheck(CodeOutcome.EXPIRED)
    now = timezone.now()
    limits = _lock_limits(_limit_keys(found.identity, ip))
    challenge = OneTimeCodeChallenge.objects.select_for_update().get(pk=found.pk)
    locked_until = _locked_until(limits, now)
    if locked_until is not None:
        return CodeCheck(CodeOutcome.LOCKED, challenge, locked_until=locked_until)
    if challenge.used_at is not None:
        return CodeCheck(CodeOutcome.USED, challenge)
    if challenge.revoked_at is not None or challenge.expires_at <= now:
        return CodeCheck(CodeOutcome.EXPIRED, challenge)
    if constant_time_compare(challenge.code_hash, _code_hash(challenge.id, code.strip().replace(" ", ""))):
        challenge.used_at = now
        challenge.save(update_fields=["used_at"])
        return CodeCheck(CodeOutcome.OK, challenge)
    challenge.failed_attempts += 1
    if challenge.failed_attempts >= MAX_WRONG_PER_CODE:
        challenge.revoked_at = now
    challenge.save(update_fields=["failed_attempts", "revoked_at"])
    OneTimeCodeFailure.objects.create(
        challenge=challenge, identity=challenge.identity, ip=ip, occurred_at=now
    )
    recent = OneTimeCodeFailure.objects.filter(occurred_at__gt=now - RATE_WINDOW)
    exceeded = set()
    if recent.filter(identity=challenge.identity).count() >= MAX_FAILURES_PER_IDENTITY:
        exceeded.add(f"identity:{challenge.identity}")
    if ip and recent.filter(ip=ip).count() >= MAX_FAILURES_PER_IP:
        exceeded.add(f"ip:{ip}")
    if exceeded:
        return CodeCheck(
            CodeOutcome.LOCKED,
            challenge,
            locked_until=_lock_out(limits, exceeded, now, identity=challenge.identity, ip=ip),
        )
    return CodeCheck(
        CodeOutcome.WRONG, challenge, attempts_left=MAX_WRONG_PER_CODE - challenge.failed_attempts
    )


# The rows behind the limits are only needed for the limits' windows (an hour); a day leaves room to
# investigate an incident and keeps identities (personnummer, phone numbers) no longer than that.
ONE_TIME_CODE_RETENTION = timedelta(days=1)


@transaction.atomic
def one_time_codes_purge(*, now: datetime | None = None) -> int:
    """Delete codes, failures and unlocked limit rows older than the retention. Returns the codes deleted."""
    cutoff = (now or timezone.now()) - ONE_TIME_CODE_RETENTION
    OneTimeCodeFailure.objects.filter(occurred_at__lt=cutoff).delete()
    deleted, _by_model = OneTimeCodeChallenge.objects.filter(created_at__lt=cutoff).delete()
    # A limit row holds only a lockout (the counts come from the rows above), so an unlocked one can go.
    OneTimeCodeLimit.objects.filter(Q(locked_until__isnull=True) | Q(locked_until__lt=cutoff)).delete()
    return deleted
