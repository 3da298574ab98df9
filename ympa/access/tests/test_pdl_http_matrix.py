"""The permission matrix through the staff UI: what the patient overview shows, and what the log records.

Tolvan has a dose at each of three places: the reader's own unit (A1), another unit of the reader's provider
(A2) and another provider's unit (B1), each with its own batch number. The nurse at A1 opens the overview
under every combination of care relation (yes/no), consent (yes/no/expired), block (none, inner on A2, outer
on B, each also temporarily lifted), emergency access (yes/no) and login assurance (BankID or password).
Expectations come from the table in `test_pdl_matrix.expected` (the rules as the issue states them), not from
the code under test. Each case asserts the doses shown and not shown, the "blocked information exists"
notice, the single read row written (flagged as an emergency access when one is open) or no row at all, and
that a refused page carries none of the patient's data.

The region officer and the citizen rows of the matrix: an officer has no care unit and opens no record here
(named lists only through the recall function, `ympa.reporting`); the citizen reads through the citizen app
(`ympa.citizen`), tested there.
"""

from __future__ import annotations

import itertools
from datetime import date, timedelta

import pytest
import time_machine
from django.utils import timezone

from conftest import actor_of, staff_client
from ympa.access.models import Action, AuditEvent
from ympa.access.pdl_models import BlockType
from ympa.access.pdl_services import (
    BlockRequest,
    block_register,
    care_relation_register,
    consent_register,
    emergency_access_open,
    emergency_access_register,
    temporary_revoke_register,
)
from ympa.access.tests.test_pdl_matrix import expected
from ympa.access.tests.test_pdl_views import high as high_client
from ympa.authn.models import User
from ympa.journal.services import Administration, vaccination_record
from ympa.orgs.models import Assignment, CareUnit
from ympa.patients.models import IdentifierKind, Patient

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("standing_orders")]

BATCHES = {"own unit": "OWNA1X", "same provider": "SAMEA2Y", "other provider": "OTHERB1Z"}
ADDRESS, PHONE = "Hemliggatan 7", "0701740699"


@pytest.fixture
def tolvan(nurse_a: User, nurse_a2: User, nurse_b: User, administration: object, unit_a: CareUnit) -> Patient:
    """Tolvan, with no care relation yet, and a dose at A1, A2 and B1 given long ago (no current visit)."""
    Assignment.objects.update(valid_from=timezone.now() - timedelta(days=30))
    patient = Patient.objects.create(
        identifier_kind=IdentifierKind.PERSONNUMMER,
        identifier="191212121212",
        given_name="Tolvan",
        family_name="Tolvansson",
        birth_date=date(1912, 12, 12),
        street_address=ADDRESS,
        phone=PHONE,
    )
    given = timezone.now().replace(microsecond=0) - timedelta(days=400)
    for user, where in ((nurse_a, "own unit"), (nurse_a2, "same provider"), (nurse_b, "other provider")):
        data: Administration = administration(  # type: ignore[operator]
            batch_number=BATCHES[where], administered_at=given
        )
        vaccination_record(actor=actor_of(user), patient=patient, data=data, sign=True)
    return patient


CASES = list(
    itertools.product(
        (True, False),
        ("yes", "no", "expired"),
        ("none", "inner", "outer", "inner lifted", "outer lifted"),
        (True, False),
        (True, False),
    )
)


@pytest.mark.parametrize(("relation", "consent", "block", "emergency", "high"), CASES)
def test_overview_matrix(
    tolvan: Patient,
    nurse_a: User,
    nurse_a2: User,
    nurse_b: User,
    unit_a2: CareUnit,
    relation: bool,
    consent: str,
    block: str,
    emergency: bool,
    high: bool,
) -> None:
    reader = actor_of(nurse_a)
    if block.startswith("inner"):
        registered = block_register(
            actor=actor_of(nurse_a2), patient=tolvan, request=BlockRequest(BlockType.INNER, unit_a2)
        )
    elif block.startswith("outer"):
        registered = block_register(
            actor=actor_of(nurse_b), patient=tolvan, request=BlockRequest(BlockType.OUTER, None)
        )
    if relation:
        # Two days ago, so that a consent given then for a day has expired now.
        with time_machine.travel(timezone.now() - timedelta(days=2)):
            care_relation_register(actor=reader, patient=tolvan, purpose="Vaccination")
            if consent == "expired":
                consent_register(
                    actor=reader,
                    patient=tolvan,
                    whole_unit=True,
                    valid_until=timezone.now() + timedelta(days=1),
                )
        if consent == "yes":
            consent_register(actor=reader, patient=tolvan, whole_unit=True)
        if block.endswith("lifted"):
            temporary_revoke_register(actor=reader, block=registered, hours=2, only_me=False)
        if emergency:
            opened = emergency_access_register(actor=reader, patient=tolvan, reason="Medvetslös")
            emergency_access_open(actor=reader, emergency=opened)
    reads_before = AuditEvent.objects.filter(user=nurse_a, action=Action.READ).count()

    response = (high_client(nurse_a) if high else staff_client(nurse_a)).get(f"/patients/{tolvan.pk}/")
    body = response.content.decode()

    assert response["Cache-Control"] == "no-store"
    reads = AuditEvent.objects.filter(user=nurse_a, action=Action.READ).order_by("id")[reads_before:]
    if not relation:
        assert response.status_code == 403
        assert not reads, "a refused record must not be logged as read"
        for batch in BATCHES.values():
            assert batch not in body
        assert ADDRESS not in body and PHONE not in body
        return
    assert response.status_code == 200
    assert len(reads) == 1
    (read,) = reads
    assert read.patient_id == tolvan.pk
    assert bool(read.detail.get("emergency")) is emergency
    blocked = False
    for where, batch in BATCHES.items():
        allowed, why = expected(
            where,
            relation=relation,
            consent=consent == "yes",
            block=block,
            emergency=emergency,
            high=high,
        )
        assert (batch in body) is allowed, (where, why)
        blocked = blocked or str(why).endswith("_block")
    assert ('data-testid="blocked-information"' in body) is blocked
    if blocked:
        # Told that blocked information exists, never where (without emergency access).
        assert "Clinic B" not in body or block.startswith("inner")


def test_region_officer_opens_no_record(tolvan: Patient, officer: User) -> None:
    before = AuditEvent.objects.count()
    response = staff_client(officer).get(f"/patients/{tolvan.pk}/")
    assert response.status_code in (403, 404)
    body = response.content.decode()
    assert "Tolvansson" not in body
    assert not any(batch in body for batch in BATCHES.values())
    assert AuditEvent.objects.count() == before
