"""The secret of a booking's personal link. Only its SHA-256 is stored, so a copy of the database does not
let anyone cancel, rebook or read a declaration; the link itself is the capability."""

from __future__ import annotations

import hashlib
import secrets


def token_new() -> tuple[str, str]:
    """A fresh link secret and the digest to store for it."""
    token = secrets.token_urlsafe(24)
    return token, token_digest(token)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
