"""Errors that services raise and every channel (UI, API) turns into the same answer."""

from __future__ import annotations


class ConflictError(Exception):
    """The request conflicts with the entry's state, e.g. editing a signed entry (HTTP 409)."""

    def __init__(self, message: str, *, code: str = "conflict") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class NotPermitted(Exception):
    """The actor lacks the right or assignment for this action (HTTP 403). Nothing was changed."""

    def __init__(self, message: str, *, code: str = "forbidden") -> None:
        super().__init__(message)
        self.message = message
        self.code = code
