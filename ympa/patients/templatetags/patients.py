from __future__ import annotations

from django import template

from ympa.patients.models import IdentifierKind, Patient

register = template.Library()


@register.filter
def identifier_display(patient: Patient) -> str:
    """YYYYMMDD-NNNN for personnummer and samordningsnummer, the scheme's own form otherwise."""
    value = patient.identifier
    if patient.identifier_kind != IdentifierKind.RESERVNUMMER and len(value) == 12:
        return f"{value[:8]}-{value[8:]}"
    return value
