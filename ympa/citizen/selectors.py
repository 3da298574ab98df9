"""Reads for the citizen app: a citizen reads their own record and their minor children's, nothing else.

Whose records a citizen may read is the PDL reader `ympa.access.pdl_services.reader_for_citizen` (their own
patient, and the minor children they are guardian of now); each entry is then decided by
`ympa.access.pdl.decide`, like every staff read. Every patient shown is logged (actor kind citizen, channel
citizen app) in the transaction that read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from uuid import UUID

from django.db import transaction
from django.utils import timezone

from ympa.access.models import Action
from ympa.access.pdl import Basis, Reader, decide
from ympa.access.pdl_services import patient_facts, reader_for_citizen
from ympa.access.services import audit_event_build, audit_event_record, audit_events_save
from ympa.citizen.session import CitizenSession
from ympa.journal.models import EntryStatus, Vaccination
from ympa.journal.selectors import entry_source
from ympa.patients.models import Patient


@dataclass(frozen=True)
class FamilyMember:
    patient_id: UUID
    name: str
    birth_date: date | None
    is_self: bool


@dataclass(frozen=True)
class CitizenVaccination:
    product: str
    given_on: date
    dose_number: int
    batch_number: str
    care_unit: str


@dataclass(frozen=True)
class CitizenRecord:
    patient_id: UUID
    name: str
    birth_date: date | None
    is_self: bool
    vaccinations: tuple[CitizenVaccination, ...]


def _readable(reader: Reader) -> set[str]:
    own = {reader.citizen_patient_id} if reader.citizen_patient_id else set()
    return own | reader.citizen_children


@transaction.atomic
def citizen_family(*, citizen: CitizenSession) -> list[FamilyMember]:
    """The citizen's own patient and their minor children: whose records they may open, yours first."""
    reader = reader_for_citizen(citizen.actor, patient_id=citizen.patient_id)
    patients = list(Patient.objects.filter(pk__in=_readable(reader)))
    # The children's names are their patient data: each patient listed is a logged read.
    audit_events_save(
        [
            audit_event_build(
                actor=citizen.actor,
                action=Action.READ,
                patient=patient,
                object_type="citizen.family",
                object_id=str(patient.pk),
            )
            for patient in patients
        ]
    )
    members = [
        FamilyMember(
            patient_id=patient.pk,
            name=patient.full_name,
            birth_date=patient.birth_date,
            is_self=str(patient.pk) == reader.citizen_patient_id,
        )
        for patient in patients
    ]
    return sorted(members, key=lambda m: (not m.is_self, m.birth_date or date.min, m.name))


@transaction.atomic
def citizen_record(*, citizen: CitizenSession, patient_id: UUID) -> CitizenRecord | None:
    """The signed vaccinations of the citizen's own or a minor child's record, newest first, and the read
    logged; None for anyone else's, as if it did not exist (nothing read, nothing logged)."""
    reader = reader_for_citizen(citizen.actor, patient_id=citizen.patient_id)
    if str(patient_id) not in _readable(reader):
        return None
    patient = Patient.objects.filter(pk=patient_id).first()
    if patient is None:
        return None
    facts = patient_facts(patient=patient)
    # Only signed entries: drafts are staff's work in progress, nullified ones were never valid.
    candidates = (
        Vaccination.objects.filter(patient=patient, status=EntryStatus.SIGNED)
        .select_related("care_unit", "current_version__product")
        .order_by("-current_version__administered_at")
    )
    vaccinations: list[CitizenVaccination] = []
    for vaccination in candidates:
        version = vaccination.current_version
        assert version is not None  # a signed entry always has its signed version
        if decide(reader, entry_source(vaccination), facts).allowed:
            vaccinations.append(
                CitizenVaccination(
                    product=version.product.name,
                    given_on=timezone.localdate(version.administered_at),
                    dose_number=version.dose_number,
                    batch_number=version.batch_number,
                    care_unit=vaccination.care_unit.name,
                )
            )
    is_self = str(patient.pk) == reader.citizen_patient_id
    audit_event_record(
        actor=citizen.actor,
        action=Action.READ,
        patient=patient,
        object_type="citizen.record",
        object_id=str(patient.pk),
        detail={"basis": str(Basis.OWN_RECORD if is_self else Basis.GUARDIAN), "entries": len(vaccinations)},
    )
    return CitizenRecord(
        patient_id=patient.pk,
        name=patient.full_name,
        birth_date=patient.birth_date,
        is_self=is_self,
        vaccinations=tuple(vaccinations),
    )
