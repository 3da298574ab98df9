"""The secret of a booking's personal link. Only its SHA-256 is stored, so a copy of the database does not
let anyone cancel, rebook or read a declaration; the link itself is the capability.

The secret of a group booked together is derived from the server's secret key and the group's id (an HMAC),
not drawn at random: the confirmation sent after commit can then compute it again from the group's id alone.
A random secret would have to travel to the background task in its arguments, and the task queue keeps
those (in Redis or the SQLite queue, and in the task's stored result) long after the message has gone.
Neither the database nor the queue alone gives a link; the secret key with the database does, as it would
forge any session.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Collection
from uuid import UUID

from django.conf import settings
from django.utils.crypto import salted_hmac

_SALT = "ympa.booking.link"


def token_new() -> tuple[str, str]:
    """A fresh random secret and its digest: for a link that must never open anything (a rebooked booking
    hands its digest to the new one and keeps an unusable one)."""
    token = secrets.token_urlsafe(24)
    return token, token_digest(token)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def group_secret(group: UUID, *, key: str | bytes | None = None) -> str:
    """The base secret of the group's personal links, under the current secret key (or `key`)."""
    mac = salted_hmac(_SALT, group.hex, secret=key or settings.SECRET_KEY, algorithm="sha256").digest()
    return base64.urlsafe_b64encode(mac[:24]).decode()


def group_tokens(base: str, count: int) -> list[str]:
    """The personal links of a group booked together: the first person's is the base secret, the others'
    are derived from it, so the first link can open each person's declaration and check-in pages."""
    return [base] + [f"{base}.{index}" for index in range(1, count)]


def group_secret_matching(group: UUID, digests: Collection[str], persons: int) -> str | None:
    """The group's base secret under the current secret key, or one of `SECRET_KEY_FALLBACKS` (a
    confirmation queued before the key was rotated), whose links of `persons` people include one of
    `digests`; None if no key gives one."""
    for key in (settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS):
        base = group_secret(group, key=key)
        if any(token_digest(token) in digests for token in group_tokens(base, persons)):
            return base
    return None
