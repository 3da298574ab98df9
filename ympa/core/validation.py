"""Turning plain-Python identifier errors into form/field errors in the user's language."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import get_language

from ympa.identifiers import IdentifierError


def current_language() -> str:
    return "en" if (get_language() or "sv").startswith("en") else "sv"


def identifier_validation_error(field: str, error: IdentifierError) -> ValidationError:
    return ValidationError({field: ValidationError(error.message(current_language()), code=error.code)})
