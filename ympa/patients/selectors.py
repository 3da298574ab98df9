from __future__ import annotations

from uuid import UUID

from django.db.models import Q, QuerySet
from django.utils import timezone

from ympa.core import rows
from ympa.core.actor import Actor
from ympa.core.errors import NotPermitted
from ympa.identifiers import IdentifierError, parse_patient_identifier
from ympa.patients.models import Patient

SEARCH_LIMIT = 25


def _require_assignment(actor: Actor) -> None:
    if actor.assignment is None:
        raise NotPermitted("no assignment")


def patient_search(*, actor: Actor, query: str, limit: int = SEARCH_LIMIT) -> list[Patient]:
    """Find patients by identity number (exact) or by name (each word a prefix of a given or family name)."""
    _require_assignment(actor)
    query = query.strip()
    if len(query) < 2:
        return []
    try:
        parsed = parse_patient_identifier(query, today=timezone.localdate())
    except IdentifierError:
        parsed = None
    if parsed is not None:
        return list(Patient.objects.filter(identifier=parsed.value)[:limit])
    digits = query.replace("-", "").replace("+", "")
    if digits.isdigit():
        # A partial number: a full birth date is a prefix of the stored 12 digits; anything shorter
        # (e.g. YYMMDD) may sit after the century digits.
        lookup = (
            "identifier__startswith"
            if len(digits) >= 8 and digits[:2] in {"19", "20"}
            else "identifier__contains"
        )
        return list(Patient.objects.filter(**{lookup: digits}).order_by("identifier")[:limit])
    condition = Q()
    for word in query.split()[:4]:
        condition &= Q(family_name__istartswith=word) | Q(given_name__istartswith=word)
    return list(Patient.objects.filter(condition).order_by("family_name", "given_name", "birth_date")[:limit])


def patient_get(*, actor: Actor, patient_id: UUID | str) -> Patient | None:
    _require_assignment(actor)
    # Every API call about a patient starts here: one written-out statement (ympa.core.rows).
    found = rows.get(_PATIENT, patient_id)
    assert found is None or isinstance(found, Patient)
    return found


_PATIENT = rows.Columns(Patient, "p")


def guardians_of(patient: Patient) -> QuerySet[Patient]:
    return Patient.objects.filter(wards__child=patient, wards__ended_at__isnull=True).order_by(
        "family_name", "given_name"
    )


def children_of(patient: Patient) -> QuerySet[Patient]:
    return Patient.objects.filter(
        guardianships__guardian=patient, guardianships__ended_at__isnull=True
    ).order_by("birth_date")
