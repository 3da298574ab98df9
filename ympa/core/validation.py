"""Turning plain-Python identifier errors into form/field errors in the user's language."""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import ValidationError
from django.utils.translation import get_language

from ympa.identifiers import IdentifierError


def current_language() -> str:
    return "en" if (get_language() or "sv").startswith("en") else "sv"


def identifier_validation_error(field: str, error: IdentifierError) -> ValidationError:
    return ValidationError({field: ValidationError(error.message(current_language()), code=error.code)})


def parse_field[T](errors: dict[str, str], field: str, parse: Callable[[str], T], value: str) -> T | None:
    """Parse an identifier; a rejection becomes the field's message in `errors` and the result is None."""
    try:
        return parse(value)
    except IdentifierError as exc:
        errors[field] = exc.message(current_language())
        return None
