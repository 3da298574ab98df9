"""Consents, blocks, temporary revokes, emergency access and care relations in the database: who may
register or end them, that nothing is deleted, that every write is logged, and what is in force."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone

from conftest import actor_of
from ympa.access.models import AuditEvent
from ympa.access.pdl import Basis, Refusal, Source, decide
from ympa.access.pdl_models import Block, BlockType, PdlAssertion
from ympa.access.pdl_services import (
    EMERGENCY_ACCESS_HOURS,
    BlockRequest,
    block_end,
    block_register,
    care_relation_register,
    consent_register,
    emergency_access_open,
    emergency_access_register,
    patient_facts,
    pdl_assertion_cancel,
    reader_for,
    temporary_revoke_register,
)
from ympa.authn.models import User
from ympa.core.errors import NotPermitted
from ympa.orgs.models import CareUnit
from ympa.patients.models import Patient

pytestmark = pytest.mark.django_db


def _logged(patient: Patient, object_type: str) -> int:
    return AuditEvent.objects.filter(patient=patient, object_type=object_type).count()


def test_registering_the_patient_is_no_care_relation_elsewhere(
    citizen: Patient, nurse_b: User, unit_b: CareUnit
) -> None:
    assert unit_b.pk not in patient_facts(patient=citizen).care_relation_units
    care_relation_register(actor=actor_of(nurse_b), patient=citizen, purpose="Rådgivning inför resa")
    assert unit_b.pk in patient_facts(patient=citizen).care_relation_units
    # One for the registration at clinic A, one for this.
    assert _logged(citizen, "access.carerelation") == 2


def test_consent_needs_a_care_relation_and_expires(citizen: Patient, nurse_b: User, unit_b: CareUnit) -> None:
    actor = actor_of(nurse_b)
    with pytest.raises(NotPermitted):
        consent_register(actor=actor, patient=citizen, whole_unit=True)
    assert not PdlAssertion.objects.exists()
    care_relation_register(actor=actor, patient=citizen, purpose="Vaccination")
    consent = consent_register(
        actor=actor, patient=citizen, whole_unit=False, valid_until=timezone.now() + timedelta(hours=2)
    )
    assert [a.kind for a in patient_facts(patient=citizen).assertions] == ["consent"]
    later = timezone.now() + timedelta(hours=3)
    assert patient_facts(patient=citizen, now=later).assertions == ()
    assert consent.user == nurse_b and _logged(citizen, "access.pdlassertion") == 1


def test_a_cancelled_consent_stays_on_record(citizen: Patient, nurse_b: User) -> None:
    actor = actor_of(nurse_b)
    care_relation_register(actor=actor, patient=citizen, purpose="Vaccination")
    consent = consent_register(actor=actor, patient=citizen, whole_unit=True)
    pdl_assertion_cancel(actor=actor, assertion=consent, reason="Patienten återkallade samtycket")
    consent.refresh_from_db()
    assert consent.cancelled_by == nurse_b and consent.cancellation_reason
    assert patient_facts(patient=citizen).assertions == ()


def test_a_guardian_cannot_block_a_childs_information(citizen: Patient, nurse_a: User) -> None:
    with pytest.raises(ValidationError):
        block_register(
            actor=actor_of(nurse_a),
            patient=citizen,
            request=BlockRequest(BlockType.OUTER, None, requested_by_guardian=True),
        )
    assert not Block.objects.exists()


def test_only_the_registering_provider_ends_a_block_and_it_is_never_deleted(
    citizen: Patient, nurse_a: User, nurse_b: User
) -> None:
    block = block_register(
        actor=actor_of(nurse_a), patient=citizen, request=BlockRequest(BlockType.OUTER, None)
    )
    with pytest.raises(NotPermitted):
        block_end(actor=actor_of(nurse_b), block=block, reason="Försök")
    block.refresh_from_db()
    assert block.ended_at is None
    block_end(actor=actor_of(nurse_a), block=block, reason="Patienten hävde spärren")
    block.refresh_from_db()
    assert block.ended_by == nurse_a and Block.objects.count() == 1
    assert patient_facts(patient=citizen).blocks == ()


def test_an_outer_block_hides_from_other_providers_until_lifted(
    citizen: Patient, nurse_a: User, nurse_b: User, unit_a: CareUnit
) -> None:
    block_register(actor=actor_of(nurse_a), patient=citizen, request=BlockRequest(BlockType.OUTER, None))
    reader_b = actor_of(nurse_b)
    care_relation_register(actor=reader_b, patient=citizen, purpose="Vaccination")
    consent_register(actor=reader_b, patient=citizen, whole_unit=True)
    source = Source(unit_a.pk, unit_a.care_provider_id)
    reader = reader_for(reader_b, assurance=3)
    assert decide(reader, source, patient_facts(patient=citizen)).refusal is Refusal.OUTER_BLOCK
    block = Block.objects.get()
    temporary_revoke_register(actor=reader_b, block=block, hours=1, only_me=True)
    assert decide(reader, source, patient_facts(patient=citizen)).basis is Basis.CONSENT
    later = timezone.now() + timedelta(hours=2)
    assert decide(reader, source, patient_facts(patient=citizen, now=later)).refusal is Refusal.OUTER_BLOCK


def test_emergency_access_needs_two_steps_and_expires(
    citizen: Patient, nurse_a: User, nurse_b: User, unit_a: CareUnit
) -> None:
    block_register(actor=actor_of(nurse_a), patient=citizen, request=BlockRequest(BlockType.OUTER, None))
    reader_b = actor_of(nurse_b)
    care_relation_register(actor=reader_b, patient=citizen, purpose="Akut vaccination efter djurbett")
    source = Source(unit_a.pk, unit_a.care_provider_id)
    reader = reader_for(reader_b, assurance=3)
    with pytest.raises(ValidationError):
        emergency_access_register(actor=reader_b, patient=citizen, reason="  ")
    emergency = emergency_access_register(
        actor=reader_b, patient=citizen, reason="Medvetslös, okänd vaccinstatus"
    )
    # Step 1 only tells where; reading needs step 2.
    assert decide(reader, source, patient_facts(patient=citizen)).allowed is False
    with pytest.raises(NotPermitted):
        emergency_access_open(actor=actor_of(nurse_a), emergency=emergency)
    emergency_access_open(actor=reader_b, emergency=emergency)
    assert decide(reader, source, patient_facts(patient=citizen)).basis is Basis.EMERGENCY
    expired = timezone.now() + timedelta(hours=EMERGENCY_ACCESS_HOURS, minutes=1)
    assert decide(reader, source, patient_facts(patient=citizen, now=expired)).allowed is False
    with time_machine.travel(expired), pytest.raises(NotPermitted):
        emergency_access_open(actor=reader_b, emergency=emergency)
    steps = AuditEvent.objects.filter(patient=citizen, object_type="access.pdlassertion").values_list(
        "detail", flat=True
    )
    assert [d["step"] for d in steps] == ["reveal", "open"]
