"""The database refuses what the booking services never do: change a health declaration's answers, edit a
declaration form, move a booking to another patient, or (on PostgreSQL) delete any of them."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from conftest import actor_of
from ympa.authn.models import User
from ympa.booking.declaration import declaration_submit
from ympa.booking.models import Booking, DeclarationChannel, HealthDeclaration
from ympa.booking.tests.route_calls_queue import booking_at
from ympa.orgs.models import CareUnit
from ympa.patients.models import Patient

pytestmark = pytest.mark.django_db

ANSWERS = {
    "allergies": {"answer": False},
    "illness": {"answer": False},
    "pregnancy": {"answer": False},
    "immunosuppression": {"answer": False},
    "bleeding": {"answer": False},
    "medications": {"answer": False},
    "travel_destination": "",
    "travel_dates": {},
}


@pytest.fixture
def declaration(booking_provider: None, nurse_a: User, citizen: Patient) -> HealthDeclaration:
    return declaration_submit(
        actor=actor_of(nurse_a), form=None, answers=ANSWERS, channel=DeclarationChannel.STAFF, patient=citizen
    )


def test_a_declarations_answers_cannot_be_changed(declaration: HealthDeclaration) -> None:
    with pytest.raises(DatabaseError), transaction.atomic():
        HealthDeclaration.objects.filter(pk=declaration.pk).update(answers={"allergies": {"answer": True}})
    declaration.refresh_from_db()
    assert declaration.answers["allergies"]["answer"] is False


def test_confirming_a_declaration_is_allowed(declaration: HealthDeclaration, nurse_a: User) -> None:
    HealthDeclaration.objects.filter(pk=declaration.pk).update(confirmation_note="Inga hinder")
    declaration.refresh_from_db()
    assert declaration.confirmation_note == "Inga hinder"


def test_a_booking_cannot_move_to_another_patient(
    booking_provider: None, unit_a: CareUnit, citizen: Patient, nurse_a: User
) -> None:
    booking, _token = booking_at(citizen, unit_a)
    other = Patient.objects.create(
        identifier_kind="personnummer", identifier="194910102383", given_name="Anna", family_name="Andersson"
    )
    with pytest.raises(DatabaseError), transaction.atomic():
        Booking.objects.filter(pk=booking.pk).update(patient=other)
    assert Booking.objects.get(pk=booking.pk).patient_id == citizen.pk


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite's guards refuse updates only")
def test_bookings_and_declarations_are_never_deleted(
    declaration: HealthDeclaration, unit_a: CareUnit, citizen: Patient
) -> None:
    booking, _token = booking_at(citizen, unit_a)
    with pytest.raises(DatabaseError), transaction.atomic():
        Booking.objects.filter(pk=booking.pk).delete()
    with pytest.raises(DatabaseError), transaction.atomic():
        HealthDeclaration.objects.filter(pk=declaration.pk).delete()
    assert Booking.objects.filter(pk=booking.pk).exists()
    assert HealthDeclaration.objects.filter(pk=declaration.pk).exists()
