"""The shared record in the staff UI: a nurse at provider B and Tolvan's vaccinations at provider A.

Care relation first; then other providers' entries need consent and a BankID/SITHS login; a block hides them
even with consent (the nurse is told only that blocked information exists); emergency access opens them in
two steps. Every refusal shows none of the hidden data.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from conftest import actor_of, staff_client
from ympa.access.models import Action, AuditEvent
from ympa.access.pdl_models import Block, BlockType, PdlAssertion
from ympa.access.pdl_services import BlockRequest, block_register
from ympa.authn.assurance import SESSION_KEY
from ympa.authn.models import User
from ympa.journal.services import vaccination_record
from ympa.orgs.models import CareUnit
from ympa.patients.models import Patient

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("standing_orders")]

BATCH = "SECRET42"


@pytest.fixture
def dose_at_a(citizen: Patient, nurse_a: User, administration: object) -> None:
    vaccination_record(
        actor=actor_of(nurse_a),
        patient=citizen,
        data=administration(batch_number=BATCH),  # type: ignore[operator]
        sign=True,
    )


def high(user: User) -> Client:
    """A session that logged in with BankID (the assurance the shared record needs)."""
    client = staff_client(user)
    session = client.session
    now = time.time()
    session[SESSION_KEY] = {
        "method": "bankid",
        "assurance": 3,
        "login_at": now,
        "authenticated_at": now,
        "active_at": now,
    }
    session.save()
    return client


def reads(patient: Patient, user: User) -> int:
    return AuditEvent.objects.filter(patient=patient, user=user, action=Action.READ).count()


def test_without_a_care_relation_nothing_is_shown_or_logged_as_read(
    citizen: Patient, nurse_b: User, dose_at_a: None
) -> None:
    client = high(nurse_b)
    page = client.get(f"/patients/{citizen.pk}/")
    assert page.status_code == 403
    body = page.content.decode()
    assert "needs-care-relation" in body and BATCH not in body and "Testgatan" not in body
    assert reads(citizen, nurse_b) == 0
    client.post(f"/patients/pdl/{citizen.pk}/care-relation/", {"relation-purpose": "Vaccination"})
    assert client.get(f"/patients/{citizen.pk}/").status_code == 200
    assert reads(citizen, nurse_b) == 1


def test_other_providers_entries_need_consent_and_a_strong_login(
    citizen: Patient, nurse_b: User, dose_at_a: None
) -> None:
    client = high(nurse_b)
    client.post(f"/patients/pdl/{citizen.pk}/care-relation/", {"relation-purpose": "Vaccination"})
    before = client.get(f"/patients/{citizen.pk}/").content.decode()
    assert BATCH not in before and "hidden-entries" in before and "consent-register" in before
    client.post(f"/patients/pdl/{citizen.pk}/consent/", {"consent-scope": "unit", "consent-days": "1"})
    assert PdlAssertion.objects.filter(patient=citizen, assertion_type="consent").count() == 1
    assert BATCH in client.get(f"/patients/{citizen.pk}/").content.decode()
    # The same nurse with a password login (low assurance) still sees nothing from provider A.
    low = staff_client(nurse_b)
    assert BATCH not in low.get(f"/patients/{citizen.pk}/").content.decode()


def test_a_block_hides_even_with_consent_and_emergency_access_opens_it(
    citizen: Patient, nurse_a: User, nurse_b: User, dose_at_a: None
) -> None:
    block_register(actor=actor_of(nurse_a), patient=citizen, request=BlockRequest(BlockType.OUTER, None))
    client = high(nurse_b)
    client.post(f"/patients/pdl/{citizen.pk}/care-relation/", {"relation-purpose": "Vaccination"})
    client.post(f"/patients/pdl/{citizen.pk}/consent/", {"consent-scope": "me"})
    page = client.get(f"/patients/{citizen.pk}/").content.decode()
    assert "blocked-information" in page and BATCH not in page
    assert "Provider A" not in page and "Clinic A" not in page
    # Step 1 (with a reason): where.
    response = client.post(
        f"/patients/pdl/{citizen.pk}/emergency/", {"emergency-reason": "Medvetslös patient"}
    )
    emergency = PdlAssertion.objects.get(assertion_type="emergency")
    assert response["Location"] == f"/patients/pdl/{citizen.pk}/emergency/{emergency.pk}/"
    where = client.get(response["Location"]).content.decode()
    assert "Clinic A" in where and BATCH not in where
    assert BATCH not in client.get(f"/patients/{citizen.pk}/").content.decode()
    # Step 2: open.
    client.post(f"/patients/pdl/{citizen.pk}/emergency/{emergency.pk}/open/")
    assert BATCH in client.get(f"/patients/{citizen.pk}/").content.decode()
    emergency.refresh_from_db()
    assert emergency.opened_at is not None


def test_only_the_registering_provider_lifts_a_block(citizen: Patient, nurse_a: User, nurse_b: User) -> None:
    block = block_register(
        actor=actor_of(nurse_a), patient=citizen, request=BlockRequest(BlockType.OUTER, None)
    )
    client = high(nurse_b)
    client.post(f"/patients/pdl/{citizen.pk}/care-relation/", {"relation-purpose": "Vaccination"})
    client.post(f"/patients/pdl/{citizen.pk}/blocks/{block.pk}/end/", {"end-reason": "Försök"})
    block.refresh_from_db()
    assert block.ended_at is None
    owner = high(nurse_a)
    owner.post(f"/patients/pdl/{citizen.pk}/blocks/{block.pk}/end/", {"end-reason": "Patienten ville häva"})
    block.refresh_from_db()
    assert block.ended_by == nurse_a
    assert Block.objects.count() == 1


def test_an_expired_consent_no_longer_opens(citizen: Patient, nurse_b: User, dose_at_a: None) -> None:
    client = high(nurse_b)
    client.post(f"/patients/pdl/{citizen.pk}/care-relation/", {"relation-purpose": "Vaccination"})
    client.post(f"/patients/pdl/{citizen.pk}/consent/", {"consent-scope": "unit", "consent-days": "1"})
    PdlAssertion.objects.update(
        ends_at=timezone.now() - timedelta(minutes=1), starts_at=timezone.now() - timedelta(days=1)
    )
    assert BATCH not in client.get(f"/patients/{citizen.pk}/").content.decode()


def test_the_patients_consent_lifts_the_blocks_for_a_while(
    citizen: Patient, nurse_a: User, nurse_b: User, dose_at_a: None
) -> None:
    block_register(actor=actor_of(nurse_a), patient=citizen, request=BlockRequest(BlockType.OUTER, None))
    client = high(nurse_b)
    client.post(f"/patients/pdl/{citizen.pk}/care-relation/", {"relation-purpose": "Vaccination"})
    client.post(f"/patients/pdl/{citizen.pk}/consent/", {"consent-scope": "me"})
    client.post(f"/patients/pdl/{citizen.pk}/blocks/lift/", {"revoke-hours": "2", "revoke-only_me": "on"})
    assert BATCH in client.get(f"/patients/{citizen.pk}/").content.decode()
    with time_machine.travel(timezone.now() + timedelta(hours=3)):
        assert BATCH not in high(nurse_b).get(f"/patients/{citizen.pk}/").content.decode()


def test_a_block_registered_in_the_patient_view_keeps_its_unit_and_note(
    citizen: Patient, nurse_a: User, unit_a2: CareUnit
) -> None:
    client = high(nurse_a)
    response = client.post(
        f"/patients/pdl/{citizen.pk}/blocks/",
        {
            "block-block_type": "inner",
            "block-care_unit": str(unit_a2.pk),
            "block-reason": "På begäran",
        },
    )
    assert response.status_code == 302
    block = Block.objects.get()
    assert (block.block_type, block.information_care_unit_id) == ("inner", unit_a2.pk)
    assert block.reason == "På begäran" and block.information_start is None
    # An inner block must name a unit: refused, nothing more registered.
    client.post(f"/patients/pdl/{citizen.pk}/blocks/", {"block-block_type": "inner", "block-care_unit": ""})
    assert Block.objects.count() == 1
