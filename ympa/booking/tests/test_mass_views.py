"""The mass-vaccination desk's pages: start a session, call, register and sign, walk-ins."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from conftest import actor_of, staff_client
from ympa.access.models import Action, AuditEvent
from ympa.authn.models import User
from ympa.booking.mass import mass_session_start
from ympa.booking.models import MassSession, QueueEntry, QueueStatus
from ympa.booking.queue import walk_in_add
from ympa.catalog.models import Product
from ympa.journal.models import EntryStatus, Vaccination
from ympa.patients.models import Patient
from ympa.patients.services import PatientDetails, patient_register

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("booking_provider")]
HTMX = {"HX-Request": "true"}
SECOND = "19800101-0019"
UNREGISTERED = "19900101-0017"


@pytest.fixture
def session(nurse_a: User, vaccine: Product) -> MassSession:
    return mass_session_start(
        actor=actor_of(nurse_a),
        name="Influensa",
        product=vaccine,
        batch_number="AB1234",
        batch_expiry=timezone.localdate() + timedelta(days=100),
        default_site="left_deltoid",
    )


@pytest.fixture
def second(nurse_a: User) -> Patient:
    return patient_register(
        actor=actor_of(nurse_a),
        identifier=SECOND,
        details=PatientDetails(given_name="Vera", family_name="Vuxen"),
    )


@pytest.fixture
def desk(nurse_a: User) -> Client:
    return staff_client(nurse_a)


def _url(name: str, session: MassSession) -> str:
    return reverse(f"booking:{name}", args=[session.pk])


def _panel_fields(html: str) -> dict[str, str]:
    fields = {}
    for name in ("entry", "idempotency_key", "dose_number"):
        match = re.search(rf'name="{name}"[^>]*value="([^"]*)"', html) or re.search(
            rf'value="([^"]*)"[^>]*name="{name}"', html
        )
        assert match, name
        fields[name] = match.group(1)
    return fields


def _sign_body(html: str, **changes: str) -> dict[str, str]:
    return {**_panel_fields(html), "site": "left_deltoid", **changes}


def test_start_a_session(desk: Client, vaccine: Product) -> None:
    page = desk.get(reverse("booking:mass_sessions"))
    assert page.status_code == 200
    response = desk.post(
        reverse("booking:mass_sessions"),
        {
            "name": "Vecka 47",
            "product": vaccine.code,
            "batch_number": "xy99",
            "batch_expiry": (timezone.localdate() + timedelta(days=30)).isoformat(),
            "default_site": "right_deltoid",
        },
    )
    session = MassSession.objects.get()
    assert response.status_code == 302 and response["Location"] == _url("mass_desk", session)
    assert session.batch_number == "XY99" and session.default_site == "right_deltoid"


def test_a_receptionist_cannot_open_the_desk(receptionist_a: User, session: MassSession) -> None:
    client = staff_client(receptionist_a)
    assert client.get(reverse("booking:mass_sessions")).status_code == 403
    assert client.get(_url("mass_desk", session)).status_code == 403
    assert client.post(_url("mass_next", session), headers=HTMX).status_code == 403


def test_another_providers_nurse_does_not_see_the_session(nurse_b: User, session: MassSession) -> None:
    client = staff_client(nurse_b)
    assert client.get(_url("mass_desk", session)).status_code == 404
    assert client.post(_url("mass_next", session), headers=HTMX).status_code == 404
    assert client.post(_url("mass_end", session)).status_code == 404
    session.refresh_from_db()
    assert session.ended_at is None


def test_call_sign_and_call_the_next_in_one_step(
    desk: Client, nurse_a: User, citizen: Patient, second: Patient, session: MassSession
) -> None:
    actor = actor_of(nurse_a)
    walk_in_add(actor=actor, identifier=citizen.identifier, session=session)
    walk_in_add(actor=actor, identifier=second.identifier, session=session)
    empty = desk.get(_url("mass_desk", session))
    assert empty.status_code == 200 and b'data-testid="no-patient"' in empty.content

    called = desk.post(_url("mass_next", session), headers=HTMX)
    html = called.content.decode()
    assert called.status_code == 200 and "Tolvan Tolvansson" in html and "19121212-1212" in html
    assert AuditEvent.objects.filter(
        action=Action.READ, patient=citizen, object_type="booking.mass_desk", user=nurse_a
    ).exists()
    body = _sign_body(html)

    signed = desk.post(_url("mass_sign", session), body, headers=HTMX)
    after = signed.content.decode()
    assert signed.status_code == 200 and 'data-testid="signed"' in after
    # The next patient is at the desk at once.
    assert "Vera Vuxen" in after
    vaccination = Vaccination.objects.get(patient=citizen)
    assert vaccination.status == EntryStatus.SIGNED
    assert QueueEntry.objects.get(patient=citizen).status == QueueStatus.DONE
    assert QueueEntry.objects.get(patient=second).status == QueueStatus.CALLED

    # A second Enter on the same panel (same key) signs nothing more.
    again = desk.post(_url("mass_sign", session), body, headers=HTMX)
    assert again.status_code == 200
    assert Vaccination.objects.filter(patient=citizen).count() == 1
    assert not Vaccination.objects.filter(patient=second).exists()


def test_without_htmx_the_forms_redirect_to_the_desk(
    desk: Client, nurse_a: User, citizen: Patient, session: MassSession
) -> None:
    walk_in_add(actor=actor_of(nurse_a), identifier=citizen.identifier, session=session)
    response = desk.post(_url("mass_next", session))
    assert response.status_code == 302 and response["Location"] == _url("mass_desk", session)
    page = desk.get(_url("mass_desk", session)).content.decode()
    assert "Tolvan Tolvansson" in page
    assert desk.post(_url("mass_sign", session), _sign_body(page)).status_code == 302
    assert Vaccination.objects.filter(patient=citizen, status=EntryStatus.SIGNED).exists()


def test_flagged_answers_need_the_confirmation(
    desk: Client, nurse_a: User, citizen: Patient, session: MassSession
) -> None:
    from ympa.booking.declaration import declaration_submit
    from ympa.booking.models import DeclarationChannel

    actor = actor_of(nurse_a)
    no = {"answer": False, "details": ""}
    declaration_submit(
        actor=actor,
        form=None,
        answers={
            "allergies": {"answer": True, "details": "Ägg"},
            "illness": no,
            "pregnancy": False,
            "immunosuppression": no,
            "bleeding": no,
            "medications": no,
        },
        channel=DeclarationChannel.TABLET,
        patient=citizen,
    )
    walk_in_add(actor=actor, identifier=citizen.identifier, session=session)
    html = desk.post(_url("mass_next", session), headers=HTMX).content.decode()
    assert 'data-testid="declaration-flagged"' in html and "declaration_confirmed" in html
    body = _sign_body(html)

    refused = desk.post(_url("mass_sign", session), body, headers=HTMX).content.decode()
    assert "go through them with the patient" in refused
    assert not Vaccination.objects.exists()

    desk.post(_url("mass_sign", session), {**body, "declaration_confirmed": "on"}, headers=HTMX)
    assert Vaccination.objects.filter(patient=citizen, status=EntryStatus.SIGNED).count() == 1


def test_a_walk_in_is_added_in_seconds(desk: Client, citizen: Patient, session: MassSession) -> None:
    response = desk.post(_url("mass_walk_in", session), {"identifier": "191212121212"}, headers=HTMX)
    assert response.status_code == 200 and b'data-testid="walk-in-added"' in response.content
    assert QueueEntry.objects.get(patient=citizen).session == session


def test_an_unregistered_walk_in_is_asked_for_names(desk: Client, session: MassSession) -> None:
    asked = desk.post(_url("mass_walk_in", session), {"identifier": UNREGISTERED}, headers=HTMX)
    assert b'name="given_name"' in asked.content and not QueueEntry.objects.exists()
    added = desk.post(
        _url("mass_walk_in", session),
        {"identifier": UNREGISTERED, "given_name": "Nils", "family_name": "Ny"},
        headers=HTMX,
    )
    assert b'data-testid="walk-in-added"' in added.content
    assert QueueEntry.objects.get().patient.full_name == "Nils Ny"


def test_a_bad_personnummer_is_explained(desk: Client, session: MassSession) -> None:
    response = desk.post(_url("mass_walk_in", session), {"identifier": "19121212-1213"}, headers=HTMX)
    assert b"invalid-feedback" in response.content and not QueueEntry.objects.exists()


def test_end_the_session(desk: Client, session: MassSession) -> None:
    assert desk.post(_url("mass_end", session)).status_code == 302
    session.refresh_from_db()
    assert session.ended_at is not None
    assert b"The session has ended." in desk.get(_url("mass_desk", session)).content


def test_a_patient_new_to_the_unit_can_be_opened_at_the_desk(
    desk: Client, nurse_a: User, session: MassSession
) -> None:
    """Booked on the public page, never seen at the unit: the check-in is the care relation."""
    booked = Patient.objects.create(
        identifier_kind="personnummer", identifier="199001010017", given_name="Nils", family_name="Ny"
    )
    walk_in_add(actor=actor_of(nurse_a), identifier=booked.identifier, session=session)
    response = desk.post(_url("mass_next", session), headers=HTMX)
    assert response.status_code == 200 and b"Nils Ny" in response.content
    read = AuditEvent.objects.filter(action=Action.READ, patient=booked, object_type="booking.mass_desk")
    assert read.exists()
    html = response.content.decode()
    desk.post(_url("mass_sign", session), _sign_body(html), headers=HTMX)
    assert Vaccination.objects.filter(patient=booked, status=EntryStatus.SIGNED).exists()
