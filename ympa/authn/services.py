from __future__ import annotations

import hashlib
import secrets
import time

import pyotp
from django.db import transaction
from django.utils import timezone

from ympa.authn.models import ApiToken, User
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
