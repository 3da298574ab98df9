"""The health declaration's services: forms, answers and their flags, who may answer and who may confirm."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from conftest import actor_of, make_staff
from ympa.access.models import AuditEvent
from ympa.authn.models import User
from ympa.booking.declaration import (
    STANDARD_KEYS,
    declaration_confirm,
    declaration_form_create,
    declaration_form_for,
    declaration_form_retire,
    declaration_submit,
    questions_of,
)
from ympa.booking.models import DeclarationChannel, HealthDeclaration
from ympa.booking.queue import link_holder_actor
from ympa.booking.tests.route_calls_queue import booking_at
from ympa.core.actor import Actor
from ympa.core.errors import ConflictError, NotPermitted
from ympa.journal.models import Visit
from ympa.orgs.models import CareUnit
from ympa.orgs.rights import Role
from ympa.patients.models import Patient

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("booking_provider")]


def all_no(**changes: Any) -> dict[str, Any]:
    answers: dict[str, Any] = {
        "allergies": {"answer": "no"},
        "illness": {"answer": "no"},
        "pregnancy": "no",
        "immunosuppression": {"answer": "no"},
        "bleeding": {"answer": "no"},
        "medications": {"answer": "no"},
        "travel_destination": "",
        "travel_dates": {},
    }
    answers.update(changes)
    return answers


@pytest.fixture
def admin_a(unit_a: CareUnit) -> User:
    return make_staff("admin_a", Role.ADMINISTRATOR, unit=unit_a)


def test_the_link_holder_answers_and_flags_are_computed(citizen: Patient, unit_a: CareUnit) -> None:
    booking, _token = booking_at(citizen, unit_a)
    soon = timezone.localdate() + timedelta(days=5)
    declaration = declaration_submit(
        actor=link_holder_actor(booking),
        booking=booking,
        form=None,
        channel=DeclarationChannel.LINK,
        answers=all_no(
            allergies={"answer": "yes", "details": "  Penicillin "},
            medications={"answer": "yes", "details": "Levaxin"},
            travel_destination="Thailand",
            travel_dates={"from": soon.isoformat(), "to": (soon + timedelta(days=10)).isoformat()},
        ),
    )
    assert declaration.flagged == ["allergies", "travel_dates"]
    assert declaration.answers["allergies"] == {"answer": True, "details": "Penicillin"}
    assert declaration.answers["pregnancy"] == {"answer": False}
    assert declaration.patient == citizen and declaration.care_unit == unit_a and declaration.form is None
    assert declaration.submitted_by_identity == citizen.identifier and declaration.submitted_by_user is None
    assert AuditEvent.objects.filter(patient=citizen, object_type="booking.healthdeclaration").count() == 1


def test_every_answer_is_validated(citizen: Patient, unit_a: CareUnit) -> None:
    booking, _token = booking_at(citizen, unit_a)
    answers = all_no(
        pregnancy="maybe",
        travel_dates={"from": "2026-06-10", "to": "2026-06-01"},
        illness={"answer": "yes", "details": "x" * 501},
    )
    del answers["bleeding"]
    with pytest.raises(ValidationError) as invalid:
        declaration_submit(
            actor=link_holder_actor(booking),
            booking=booking,
            form=None,
            channel=DeclarationChannel.LINK,
            answers=answers,
        )
    assert set(invalid.value.message_dict) == {"pregnancy", "travel_dates_to", "illness_details", "bleeding"}
    assert not HealthDeclaration.objects.exists()


def test_a_guardian_answers_for_a_child(citizen: Patient, unit_a: CareUnit) -> None:
    booking, _token = booking_at(citizen, unit_a)
    booking.booked_by_identity = "197501011231"
    booking.save()
    declaration = declaration_submit(
        actor=link_holder_actor(booking),
        booking=booking,
        form=None,
        channel=DeclarationChannel.QR,
        answers=all_no(),
    )
    assert declaration.submitted_by_identity == "197501011231" and declaration.patient == citizen


def test_strangers_and_other_units_cannot_answer(
    citizen: Patient, unit_a: CareUnit, nurse_b: User, nurse_a: User
) -> None:
    booking, _token = booking_at(citizen, unit_a)
    attempts = [
        (Actor.citizen("198001010019", "Someone"), DeclarationChannel.LINK),
        (actor_of(nurse_b), DeclarationChannel.TABLET),
        (actor_of(nurse_a), DeclarationChannel.LINK),
    ]
    for actor, channel in attempts:
        with pytest.raises(NotPermitted):
            declaration_submit(actor=actor, booking=booking, form=None, channel=channel, answers=all_no())
    assert not HealthDeclaration.objects.exists()


def test_forms_are_created_retired_and_chosen(
    admin_a: User, nurse_a: User, citizen: Patient, unit_a: CareUnit
) -> None:
    actor = actor_of(admin_a)
    with pytest.raises(NotPermitted):
        declaration_form_create(actor=actor_of(nurse_a), name="Resa", questions=["travel_destination"])
    with pytest.raises(ValidationError) as invalid:
        declaration_form_create(actor=actor, name=" ", questions=["nonsense"])
    assert set(invalid.value.message_dict) == {"name", "questions"}
    booking, _token = booking_at(citizen, unit_a)
    assert declaration_form_for(booking) is None
    assert [q.key for q in questions_of(None)] == list(STANDARD_KEYS)
    older = declaration_form_create(actor=actor, name="Allmän", questions=list(STANDARD_KEYS))
    travel = declaration_form_create(actor=actor, name="Resa", questions=["allergies", "travel_dates"])
    assert declaration_form_for(booking) == travel
    booking.appointment_type.declaration_form = older
    booking.appointment_type.save()
    booking.refresh_from_db()
    assert declaration_form_for(booking) == older
    declaration_form_retire(actor=actor, form=older)
    with pytest.raises(ConflictError):
        declaration_form_retire(actor=actor, form=older)
    booking.refresh_from_db()
    assert declaration_form_for(booking) == travel
    declaration = declaration_submit(
        actor=link_holder_actor(booking),
        booking=booking,
        form=travel,
        channel=DeclarationChannel.LINK,
        answers={"allergies": {"answer": "no"}, "travel_dates": {}},
    )
    assert declaration.flagged == []
    with pytest.raises(ValidationError):
        declaration_submit(
            actor=link_holder_actor(booking),
            booking=booking,
            form=older,
            channel=DeclarationChannel.LINK,
            answers=all_no(),
        )


def test_staff_enter_answers_for_a_patient_at_their_unit(
    nurse_a: User, citizen: Patient, unit_a: CareUnit
) -> None:
    declaration = declaration_submit(
        actor=actor_of(nurse_a),
        patient=citizen,
        form=None,
        channel=DeclarationChannel.STAFF,
        answers=all_no(),
    )
    assert declaration.care_unit == unit_a and declaration.submitted_by_user == nurse_a


def test_the_nurse_confirms_and_it_joins_todays_visit(
    nurse_a: User, receptionist_a: User, nurse_b: User, citizen: Patient, unit_a: CareUnit
) -> None:
    booking, _token = booking_at(citizen, unit_a)
    declaration = declaration_submit(
        actor=link_holder_actor(booking),
        booking=booking,
        form=None,
        channel=DeclarationChannel.LINK,
        answers=all_no(),
    )
    for someone in (receptionist_a, nurse_b):
        with pytest.raises(NotPermitted):
            declaration_confirm(actor=actor_of(someone), declaration=declaration, note="")
    declaration.refresh_from_db()
    assert declaration.confirmed_at is None
    visit = Visit.objects.create(patient=citizen, care_unit=unit_a, visit_date=timezone.localdate())
    confirmed = declaration_confirm(
        actor=actor_of(nurse_a), declaration=declaration, note=" Talked it through "
    )
    assert confirmed.confirmed_by == nurse_a and confirmed.visit == visit
    assert confirmed.confirmation_note == "Talked it through"
    with pytest.raises(ConflictError):
        declaration_confirm(actor=actor_of(nurse_a), declaration=declaration, note="")
