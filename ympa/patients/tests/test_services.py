from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import override

from conftest import actor_of
from ympa.access.models import Action, AuditEvent
from ympa.authn.models import User
from ympa.core.errors import NotPermitted
from ympa.core.synthetic import personnummer
from ympa.patients.models import Guardianship, Patient
from ympa.patients.selectors import patient_search
from ympa.patients.services import PatientDetails, guardianship_add, patient_register, patient_update

pytestmark = pytest.mark.django_db


def details(**changes: object) -> PatientDetails:
    values: dict[str, object] = {"given_name": "Anna", "family_name": "Berg"}
    values.update(changes)
    return PatientDetails(**values)  # type: ignore[arg-type]


def test_register_by_personnummer_normalises_and_logs(nurse_a: User) -> None:
    patient = patient_register(
        actor=actor_of(nurse_a),
        identifier="121212+1212",
        details=details(phone="070-123 45 67", postal_code="123 45"),
    )
    assert patient.identifier == "191212121212"
    assert patient.identifier_kind == "personnummer"
    assert str(patient.birth_date) == "1912-12-12" and patient.legal_sex == "male"
    assert patient.phone == "+46701234567" and patient.postal_code == "12345"
    event = AuditEvent.objects.get(patient=patient, object_type="patients.patient")
    assert event.action == Action.CREATE and event.user == nurse_a
    # Registering the patient at the unit starts a care relation there, logged too.
    assert AuditEvent.objects.filter(patient=patient, object_type="access.carerelation").count() == 1


def test_register_by_coordination_number(nurse_a: User) -> None:
    patient = patient_register(actor=actor_of(nurse_a), identifier="701063-2391", details=details())
    assert patient.identifier_kind == "samordningsnummer"
    assert str(patient.birth_date) == "1970-10-03"


def test_register_by_reserve_number(nurse_a: User) -> None:
    patient = patient_register(actor=actor_of(nurse_a), identifier="991945000023", details=details())
    assert patient.identifier_kind == "reservnummer" and patient.reserve_scheme == "SLL"


@pytest.mark.parametrize(
    ("identifier", "swedish", "english"),
    [
        ("19121212-1213", "Kontrollsiffran", "check digit"),
        ("19990231-0017", "finns inte", "does not exist"),
        ("abc", "", ""),
    ],
)
def test_invalid_identifier_is_a_field_error_and_saves_nothing(
    nurse_a: User, identifier: str, swedish: str, english: str
) -> None:
    for language, expected in (("sv", swedish), ("en", english)):
        with override(language), pytest.raises(ValidationError) as error:
            patient_register(actor=actor_of(nurse_a), identifier=identifier, details=details())
        message = error.value.message_dict["identifier"][0]
        assert expected in message and len(message) > 10
    assert not Patient.objects.exists()
    assert not AuditEvent.objects.exists()


def test_duplicate_registration_is_refused(nurse_a: User) -> None:
    patient_register(actor=actor_of(nurse_a), identifier="19121212-1212", details=details())
    with pytest.raises(ValidationError) as error:
        patient_register(
            actor=actor_of(nurse_a), identifier="191212121212", details=details(given_name="Other")
        )
    assert "redan registrerad" in error.value.message_dict["identifier"][0]
    assert Patient.objects.count() == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [("phone", "12"), ("email", "not-an-address"), ("postal_code", "1234"), ("given_name", "  ")],
)
def test_invalid_details_save_nothing(nurse_a: User, field: str, value: str) -> None:
    with pytest.raises(ValidationError) as error:
        patient_register(
            actor=actor_of(nurse_a), identifier="19121212-1212", details=details(**{field: value})
        )
    assert field in error.value.message_dict
    assert not Patient.objects.exists()


def test_outsider_cannot_register(outsider: User) -> None:
    with pytest.raises(NotPermitted):
        patient_register(actor=actor_of(outsider), identifier="19121212-1212", details=details())
    assert not Patient.objects.exists()


def test_update_logs_changed_field_names_only(nurse_a: User, citizen: Patient) -> None:
    patient_update(
        actor=actor_of(nurse_a),
        patient=citizen,
        details=details(
            given_name="Tolvan",
            family_name="Tolvansson",
            street_address="Hemlig väg 1",
            protected_identity=True,
        ),
    )
    citizen.refresh_from_db()
    assert citizen.protected_identity and citizen.street_address == "Hemlig väg 1"
    event = AuditEvent.objects.filter(action=Action.UPDATE).get()
    assert set(event.detail["fields"]) >= {"street_address", "protected_identity"}
    assert "Hemlig" not in str(event.detail)


def test_guardianship_rules(nurse_a: User, citizen: Patient) -> None:
    today = timezone.localdate()
    child = patient_register(
        actor=actor_of(nurse_a),
        identifier=personnummer(today - timedelta(days=400), 3, female=True),
        details=details(given_name="Lilla"),
    )
    guardianship_add(actor=actor_of(nurse_a), child=child, guardian=citizen)
    guardianship_add(actor=actor_of(nurse_a), child=child, guardian=citizen)
    assert Guardianship.objects.filter(child=child, guardian=citizen).count() == 1
    with pytest.raises(ValidationError):
        guardianship_add(actor=actor_of(nurse_a), child=citizen, guardian=child)
    with pytest.raises(ValidationError):
        guardianship_add(actor=actor_of(nurse_a), child=child, guardian=child)


def test_search_by_number_and_name(nurse_a: User, citizen: Patient) -> None:
    actor = actor_of(nurse_a)
    assert patient_search(actor=actor, query="19121212-1212") == [citizen]
    assert patient_search(actor=actor, query="121212+1212") == [citizen]
    assert patient_search(actor=actor, query="19121212") == [citizen]
    assert patient_search(actor=actor, query="tolvan tolv") == [citizen]
    assert patient_search(actor=actor, query="Tolvansson") == [citizen]
    assert patient_search(actor=actor, query="Nobody") == []
    assert patient_search(actor=actor, query="T") == []


def test_search_needs_an_assignment(outsider: User, citizen: Patient) -> None:
    with pytest.raises(NotPermitted):
        patient_search(actor=actor_of(outsider), query="Tolvan")


def test_date_of_death_is_recorded_and_not_in_the_future(nurse_a: User, citizen: Patient) -> None:
    tomorrow = timezone.localdate() + timedelta(days=1)
    with pytest.raises(ValidationError) as error:
        patient_update(
            actor=actor_of(nurse_a),
            patient=citizen,
            details=details(given_name="Tolvan", family_name="Tolvansson", deceased_on=tomorrow),
        )
    assert "deceased_on" in error.value.message_dict
    yesterday = timezone.localdate() - timedelta(days=1)
    patient_update(
        actor=actor_of(nurse_a),
        patient=citizen,
        details=details(given_name="Tolvan", family_name="Tolvansson", deceased_on=yesterday),
    )
    citizen.refresh_from_db()
    assert citizen.deceased_on == yesterday
