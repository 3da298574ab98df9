"""Mass-vaccination sessions: one-step register and sign, idempotency, overrides, who may use a session."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections
from django.utils import timezone

from conftest import actor_of
from ympa.access.models import Action, AuditEvent
from ympa.authn.models import User
from ympa.booking.declaration import declaration_submit
from ympa.booking.mass import mass_session_end, mass_session_start, mass_vaccinate
from ympa.booking.models import DeclarationChannel, MassSession, QueueEntry, QueueStatus
from ympa.booking.queue import queue_call_next, walk_in_add
from ympa.catalog.models import Product
from ympa.core.errors import ConflictError, NotPermitted
from ympa.journal.models import EntryStatus, Vaccination
from ympa.patients.models import Patient

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("booking_provider")]


@pytest.fixture
def session(nurse_a: User, vaccine: Product) -> MassSession:
    return mass_session_start(
        actor=actor_of(nurse_a),
        name="Influensa vecka 47",
        product=vaccine,
        batch_number="ab1234",
        batch_expiry=timezone.localdate() + timedelta(days=100),
        default_site="left_deltoid",
    )


@pytest.fixture
def called(nurse_a: User, citizen: Patient, session: MassSession) -> QueueEntry:
    actor = actor_of(nurse_a)
    walk_in_add(actor=actor, identifier=citizen.identifier, session=session)
    entry = queue_call_next(actor=actor, session=session)
    assert entry is not None and entry.patient == citizen
    return entry


def test_a_session_keeps_product_batch_and_site(session: MassSession, nurse_a: User) -> None:
    assert session.batch_number == "AB1234"
    assert session.care_unit == nurse_a.assignments.get().care_unit
    assert session.ended_at is None


def test_starting_needs_a_batch_and_a_site(nurse_a: User, vaccine: Product) -> None:
    with pytest.raises(ValidationError) as error:
        mass_session_start(
            actor=actor_of(nurse_a),
            name="",
            product=vaccine,
            batch_number=" ",
            batch_expiry=timezone.localdate() - timedelta(days=1),
            default_site="elbow",
        )
    assert set(error.value.error_dict) == {"name", "batch_number", "batch_expiry", "default_site"}
    assert not MassSession.objects.exists()


def test_a_receptionist_cannot_start_a_session(receptionist_a: User, vaccine: Product) -> None:
    with pytest.raises(NotPermitted):
        mass_session_start(
            actor=actor_of(receptionist_a),
            name="X",
            product=vaccine,
            batch_number="AB1",
            batch_expiry=None,
            default_site="left_deltoid",
        )
    assert not MassSession.objects.exists()


def test_register_and_sign_in_one_step(
    nurse_a: User, citizen: Patient, session: MassSession, called: QueueEntry
) -> None:
    vaccination = mass_vaccinate(
        actor=actor_of(nurse_a), session=session, entry=called, idempotency_key="desk-1"
    )
    vaccination.refresh_from_db()
    assert vaccination.status == EntryStatus.SIGNED
    version = vaccination.current_version
    assert version is not None and version.signed_by == nurse_a
    assert (version.product.code, version.batch_number, version.site) == (
        "vaxigriptetra",
        "AB1234",
        "left_deltoid",
    )
    assert vaccination.order.basis == "standing"
    called.refresh_from_db()
    assert called.status == QueueStatus.DONE and called.vaccination == vaccination
    assert AuditEvent.objects.filter(action=Action.SIGN, patient=citizen, user=nurse_a).count() == 1


def test_a_double_submit_signs_once(
    nurse_a: User, citizen: Patient, session: MassSession, called: QueueEntry
) -> None:
    actor = actor_of(nurse_a)
    first = mass_vaccinate(actor=actor, session=session, entry=called, idempotency_key="k")
    again = mass_vaccinate(actor=actor, session=session, entry=called, idempotency_key="k")
    assert first.pk == again.pk
    assert Vaccination.objects.filter(patient=citizen).count() == 1
    assert AuditEvent.objects.filter(action=Action.SIGN, patient=citizen).count() == 1


def test_a_finished_patient_cannot_be_signed_again_with_a_new_key(
    nurse_a: User, citizen: Patient, session: MassSession, called: QueueEntry
) -> None:
    actor = actor_of(nurse_a)
    mass_vaccinate(actor=actor, session=session, entry=called, idempotency_key="k1")
    with pytest.raises(ConflictError):
        mass_vaccinate(actor=actor, session=session, entry=called, idempotency_key="k2")
    assert Vaccination.objects.filter(patient=citizen).count() == 1


def test_a_decision_support_warning_needs_an_override_reason(
    nurse_a: User, citizen: Patient, administration: Any
) -> None:
    from ympa.journal.services import vaccination_record

    actor = actor_of(nurse_a)
    tbe = Product.objects.get(code="fsme-immun-vuxen")
    session = mass_session_start(
        actor=actor,
        name="TBE",
        product=tbe,
        batch_number="T1",
        batch_expiry=None,
        default_site="left_deltoid",
    )
    # The first TBE dose four days ago: the second today would be too soon.
    vaccination_record(
        actor=actor,
        patient=citizen,
        data=administration(
            product=tbe, administered_at=timezone.now() - timedelta(days=4), dose_volume_ml=None
        ),
        sign=True,
    )
    walk_in_add(actor=actor, identifier=citizen.identifier, session=session)
    called = queue_call_next(actor=actor, session=session)
    assert called is not None
    before = Vaccination.objects.count()
    with pytest.raises(ValidationError) as error:
        mass_vaccinate(actor=actor, session=session, entry=called, idempotency_key="w1")
    assert "override_reason" in error.value.error_dict
    assert Vaccination.objects.count() == before
    called.refresh_from_db()
    assert called.status == QueueStatus.CALLED
    signed = mass_vaccinate(
        actor=actor, session=session, entry=called, idempotency_key="w1", override_reason="Resa om tre dagar"
    )
    version = signed.current_version
    assert version is not None and version.override_reason == "Resa om tre dagar" and version.dose_number == 2


def test_flagged_declaration_answers_need_a_confirmation(
    nurse_a: User, citizen: Patient, session: MassSession, called: QueueEntry
) -> None:
    actor = actor_of(nurse_a)
    declaration = declaration_submit(
        actor=actor,
        form=None,
        answers=_answers(ill=True),
        channel=DeclarationChannel.TABLET,
        patient=citizen,
    )
    assert declaration.flagged
    with pytest.raises(ValidationError) as error:
        mass_vaccinate(actor=actor, session=session, entry=called, idempotency_key="f1")
    assert "declaration_confirmed" in error.value.error_dict
    assert not Vaccination.objects.filter(patient=citizen).exists()
    declaration.refresh_from_db()
    assert declaration.confirmed_at is None

    vaccination = mass_vaccinate(
        actor=actor,
        session=session,
        entry=called,
        idempotency_key="f1",
        declaration_confirmed=True,
    )
    declaration.refresh_from_db()
    assert declaration.confirmed_by == nurse_a and declaration.visit_id == vaccination.visit_id


def test_nurse_of_another_provider_cannot_use_the_session(
    nurse_b: User, citizen: Patient, session: MassSession, called: QueueEntry
) -> None:
    with pytest.raises(NotPermitted):
        mass_vaccinate(actor=actor_of(nurse_b), session=session, entry=called, idempotency_key="b1")
    with pytest.raises(NotPermitted):
        mass_session_end(actor=actor_of(nurse_b), session=session)
    assert not Vaccination.objects.exists()
    called.refresh_from_db()
    session.refresh_from_db()
    assert called.status == QueueStatus.CALLED and session.ended_at is None
    assert not AuditEvent.objects.filter(user=nurse_b).exists()


def test_a_receptionist_cannot_sign(
    receptionist_a: User, citizen: Patient, session: MassSession, called: QueueEntry
) -> None:
    with pytest.raises(NotPermitted):
        mass_vaccinate(actor=actor_of(receptionist_a), session=session, entry=called, idempotency_key="r1")
    assert not Vaccination.objects.exists()
    called.refresh_from_db()
    assert called.status == QueueStatus.CALLED


def test_an_ended_session_signs_nothing(
    nurse_a: User, citizen: Patient, session: MassSession, called: QueueEntry
) -> None:
    ended = mass_session_end(actor=actor_of(nurse_a), session=session)
    assert ended.ended_at is not None
    with pytest.raises(ConflictError):
        mass_vaccinate(actor=actor_of(nurse_a), session=ended, entry=called, idempotency_key="e1")
    assert not Vaccination.objects.exists()


def _answers(*, ill: bool) -> dict[str, Any]:
    """The standard questions answered no, except "ill today" when `ill` (a flagged answer)."""
    no = {"answer": False, "details": ""}
    return {
        "allergies": no,
        "illness": {"answer": True, "details": "Feber sedan i går"} if ill else no,
        "pregnancy": False,
        "immunosuppression": no,
        "bleeding": no,
        "medications": no,
    }


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs real concurrent connections")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_concurrent_submits_sign_once(
    nurse_a: User, citizen: Patient, session: MassSession, called: QueueEntry
) -> None:
    """A double Enter that reaches two app servers at once: the entry's row lock makes the second wait and
    then return the first's dose."""
    start = threading.Barrier(2)
    results: list[Vaccination] = []
    errors: list[BaseException] = []

    def submit() -> None:
        try:
            start.wait(5)
            results.append(
                mass_vaccinate(actor=actor_of(nurse_a), session=session, entry=called, idempotency_key="same")
            )
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert not errors, errors
    assert len({v.pk for v in results}) == 1
    assert Vaccination.objects.filter(patient=citizen).count() == 1
    assert AuditEvent.objects.filter(action=Action.SIGN, patient=citizen).count() == 1
