"""Readers of the shared record for `make bench`: care providers other than the synthetic one, each with one
unit and one nurse, and care relations and consents with a sample of the synthetic patients.

The access benchmark has eight clients, one per provider, read patient overviews: every read decides per
entry (the doses are the synthetic provider's, so each needs the patient's consent) and appends a row to the
access log in the reader's provider's chain. Providers get consecutive ids, so their chains differ
(`ympa.access.chain.chain_for`) and the benchmark can show that they never wait for each other.

The relations and consents are bench data written in bulk, without access-log rows of their own.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from ympa.access.pdl_models import AssertionType, CareRelation, PdlAssertion
from ympa.authn.models import User
from ympa.core.synth import PROVIDER_REGION
from ympa.core.synthetic import organisation_number
from ympa.orgs.models import Assignment, CareProvider, CareUnit, Municipality, Purpose, Region
from ympa.orgs.rights import Role
from ympa.patients.models import Patient

# Organisation numbers 559900100-559900199 (check digit added): far from the synthetic provider's.
ORG_PREFIX_BASE = 559900100
MAX_READERS = 63
RELATION_DAYS = 30


def reader_username(number: int) -> str:
    return f"synth.reader.{number:02d}"


@dataclass(frozen=True)
class Readers:
    usernames: tuple[str, ...]
    patients: int


@transaction.atomic
def synth_readers(*, count: int, patients: int, seed: int = 1) -> Readers:
    """`count` reader providers (created if missing) with care relations and consents for `patients`
    synthetic patients, the same ones for every reader."""
    if not 0 < count <= MAX_READERS:
        raise ValueError(f"readers: 1 to {MAX_READERS}")
    region = Region.objects.get(code=PROVIDER_REGION)
    municipality = Municipality.objects.filter(region=region).order_by("code")[0]
    now = timezone.now()
    candidates = list(
        Patient.objects.filter(is_test_data=True, vaccinations__isnull=False)
        .values_list("pk", flat=True)
        .distinct()
        .order_by("pk")[: max(patients * 4, patients)]
    )
    chosen = random.Random(seed).sample(candidates, min(patients, len(candidates)))
    usernames: list[str] = []
    for number in range(1, count + 1):
        org = organisation_number(str(ORG_PREFIX_BASE + number))
        hsa = f"SE{org.replace('-', '')}"
        provider, _ = CareProvider.objects.get_or_create(
            hsa_id=f"{hsa}-LAS",
            defaults={
                "name": f"Ympa Syntetisk Läsare {number:02d} (synth)",
                "organisation_number": org,
                "region": region,
                "modules": ["journal"],
                "is_test_data": True,
            },
        )
        unit, _ = CareUnit.objects.get_or_create(
            hsa_id=f"{hsa}-LAS1",
            defaults={
                "name": f"Syntetisk läsarmottagning {number:02d} (synth)",
                "care_provider": provider,
                "municipality": municipality,
                "is_test_data": True,
            },
        )
        username = reader_username(number)
        nurse = User.objects.filter(username=username).first()
        if nurse is None:
            nurse = User(
                username=username,
                first_name="Läsare",
                last_name=f"Sjuksköterska {number:02d}",
                hsa_id=f"{hsa}-S{number:02d}",
                is_test_data=True,
            )
            nurse.set_unusable_password()
            nurse.save()
        assignment, _ = Assignment.objects.get_or_create(
            user=nurse, care_unit=unit, role=Role.NURSE, defaults={"purpose": Purpose.CARE}
        )
        CareRelation.objects.bulk_create(
            CareRelation(
                patient_id=patient_id,
                care_unit=unit,
                purpose="Vaccination (synth)",
                valid_from=now,
                valid_until=now + timedelta(days=RELATION_DAYS),
                registered_by=nurse,
            )
            for patient_id in chosen
        )
        PdlAssertion.objects.bulk_create(
            PdlAssertion(
                assertion_type=AssertionType.CONSENT,
                patient_id=patient_id,
                care_unit=unit,
                care_provider=provider,
                starts_at=now,
                registered_at=now,
                registered_by=nurse,
                registered_assignment=assignment,
            )
            for patient_id in chosen
        )
        usernames.append(username)
    return Readers(usernames=tuple(usernames), patients=len(chosen))
