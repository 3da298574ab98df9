"""A citizen reads their own and their minor children's records, through the one PDL decision, all logged.

Anyone else's record (a child who turned 18, a child whose guardianship ended, a stranger) answers 404 with
nothing about the patient in it and nothing logged for them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.db.models import Max
from django.http import HttpResponse
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from conftest import actor_of
from ympa.access.models import Action, AuditEvent
from ympa.access.pdl_models import BlockType
from ympa.access.pdl_services import BlockRequest, block_register, patient_facts, reader_for_citizen
from ympa.authn.models import User
from ympa.citizen.tests.sessions import citizen_client
from ympa.core.actor import ActorKind, Channel
from ympa.journal.models import Vaccination
from ympa.journal.services import Administration, vaccination_nullify, vaccination_record
from ympa.orgs.models import CareUnit
from ympa.patients.models import Guardianship, Patient
from ympa.patients.services import PatientDetails, guardianship_add, patient_register

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("standing_orders")]

STOCKHOLM = ZoneInfo("Europe/Stockholm")
OVERRIDE = "Given: decision support is not what this test is about"
# Turns 18 on 15 June 2028.
TEEN = "20100615-2381"
SMALL_CHILD = "20200101-2380"
STRANGER = "19800101-2387"


def _register(nurse: User, identifier: str, given_name: str) -> Patient:
    return patient_register(
        actor=actor_of(nurse),
        identifier=identifier,
        details=PatientDetails(given_name=given_name, family_name="Tolvansson"),
    )


@pytest.fixture
def give(administration: Callable[..., Administration]) -> Callable[..., Vaccination]:
    """A signed dose (or a draft), given by `nurse` to `patient` `days_ago`, with its batch number."""

    def record(
        nurse: User, patient: Patient, batch: str, *, days_ago: int = 30, sign: bool = True
    ) -> Vaccination:
        return vaccination_record(
            actor=actor_of(nurse),
            patient=patient,
            data=administration(
                administered_at=timezone.now().replace(microsecond=0) - timedelta(days=days_ago),
                batch_number=batch,
                override_reason=OVERRIDE,
            ),
            sign=sign,
        )

    return record


@pytest.fixture
def child(nurse_a: User, citizen: Patient) -> Patient:
    child = _register(nurse_a, SMALL_CHILD, "Lill")
    guardianship_add(actor=actor_of(nurse_a), child=child, guardian=citizen)
    return child


@pytest.fixture
def teen(nurse_a: User, citizen: Patient) -> Patient:
    teen = _register(nurse_a, TEEN, "Tonår")
    guardianship_add(actor=actor_of(nurse_a), child=teen, guardian=citizen)
    return teen


def _record_url(patient: Patient) -> str:
    return reverse("citizen:record", args=[patient.pk])


def _last_event() -> int:
    return AuditEvent.objects.aggregate(last=Max("pk"))["last"] or 0


def _reads(since: int, patient: Patient, object_type: str = "citizen.record") -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(pk__gt=since, patient=patient, object_type=object_type))


def _get(client: Client, url: str) -> HttpResponse:
    response = client.get(url)
    assert isinstance(response, HttpResponse)
    assert response["Cache-Control"] == "no-store"
    return response


def _assert_logged_once_by_the_citizen(since: int, patient: Patient, reader: Patient, basis: str) -> None:
    (event,) = _reads(since, patient)
    assert event.action == Action.READ
    assert event.actor_kind == ActorKind.CITIZEN
    assert event.channel == Channel.CITIZEN_APP
    assert event.actor_identity == reader.identifier
    assert event.user_id is None and event.care_unit_id is None
    assert event.detail["basis"] == basis


def _assert_not_found(response: HttpResponse, patient: Patient, *batches: str) -> None:
    assert response.status_code == 404
    body = response.content.decode()
    # (The patient id is in the page: the language form sends the reader back to the address they asked for.)
    assert patient.given_name not in body
    for batch in batches:
        assert batch not in body


def test_the_citizen_reads_their_own_signed_vaccinations(
    nurse_a: User, nurse_b: User, citizen: Patient, give: Callable[..., Vaccination]
) -> None:
    given = give(nurse_a, citizen, "OWN111", days_ago=400)
    give(nurse_b, citizen, "OTHER222", days_ago=10)
    client = citizen_client(citizen)
    before = _last_event()

    response = _get(client, _record_url(citizen))

    assert response.status_code == 200
    body = response.content.decode()
    assert "Tolvan Tolvansson" in body
    assert "OWN111" in body and "Clinic A" in body
    # Another care provider's entry too: the shared record is the patient's own.
    assert "OTHER222" in body and "Clinic B" in body
    assert given.current_version is not None
    assert given.current_version.product.name in body
    day = timezone.localdate(given.current_version.administered_at)
    assert f'datetime="{day.isoformat()}"' in body
    # Newest first.
    assert body.index("OTHER222") < body.index("OWN111")
    _assert_logged_once_by_the_citizen(before, citizen, citizen, "own_record")
    assert not AuditEvent.objects.filter(pk__gt=before).exclude(patient=citizen).exists()


def test_the_home_page_lists_the_citizen_and_their_minor_children_and_logs_each(
    nurse_a: User, citizen: Patient, child: Patient
) -> None:
    stranger = _register(nurse_a, STRANGER, "Främling")
    ended = _register(nurse_a, "20050301-2387", "Vuxen")
    Guardianship.objects.create(child=ended, guardian=citizen, ended_at=timezone.now())
    client = citizen_client(citizen)
    before = _last_event()

    response = _get(client, reverse("citizen:home"))

    body = response.content.decode()
    assert response.status_code == 200
    assert _record_url(citizen) in body and _record_url(child) in body
    assert body.index("Tolvan Tolvansson") < body.index("Lill Tolvansson")
    for other in (stranger, ended):
        assert other.given_name not in body and str(other.pk) not in body
    events = AuditEvent.objects.filter(pk__gt=before)
    assert sorted(events.values_list("patient_id", flat=True)) == sorted([citizen.pk, child.pk])
    assert set(events.values_list("object_type", "actor_kind", "channel", "action")) == {
        ("citizen.family", ActorKind.CITIZEN, Channel.CITIZEN_APP, Action.READ)
    }


def test_a_guardian_reads_a_minor_childs_record(
    nurse_a: User, citizen: Patient, child: Patient, give: Callable[..., Vaccination]
) -> None:
    give(nurse_a, child, "CHILD333")
    give(nurse_a, citizen, "PARENT444")
    client = citizen_client(citizen)
    before = _last_event()

    response = _get(client, _record_url(child))

    assert response.status_code == 200
    body = response.content.decode()
    assert "Lill Tolvansson" in body and "CHILD333" in body
    assert "PARENT444" not in body
    _assert_logged_once_by_the_citizen(before, child, citizen, "guardian")
    assert not _reads(before, citizen)


def test_the_child_cannot_read_the_guardians_record(
    nurse_a: User, citizen: Patient, teen: Patient, give: Callable[..., Vaccination]
) -> None:
    give(nurse_a, citizen, "PARENT444")
    before = _last_event()
    response = _get(citizen_client(teen), _record_url(citizen))
    _assert_not_found(response, citizen, "PARENT444")
    assert not AuditEvent.objects.filter(pk__gt=before, patient=citizen).exists()


def test_a_child_who_turned_18_is_no_longer_shown_to_the_guardian(
    nurse_a: User, citizen: Patient, teen: Patient, give: Callable[..., Vaccination]
) -> None:
    give(nurse_a, teen, "TEEN555")
    # The session is started inside each travel: its timeouts follow the clock too.
    with time_machine.travel(datetime(2028, 6, 14, 23, 30, tzinfo=STOCKHOLM), tick=False):
        client = citizen_client(citizen)
        assert _record_url(teen) in _get(client, reverse("citizen:home")).content.decode()
        response = _get(client, _record_url(teen))
        assert response.status_code == 200 and "TEEN555" in response.content.decode()

    with time_machine.travel(datetime(2028, 6, 15, 0, 30, tzinfo=STOCKHOLM), tick=False):
        client = citizen_client(citizen)
        before = _last_event()
        home = _get(client, reverse("citizen:home")).content.decode()
        assert teen.given_name not in home and str(teen.pk) not in home
        _assert_not_found(_get(client, _record_url(teen)), teen, "TEEN555")
        assert not AuditEvent.objects.filter(pk__gt=before, patient=teen).exists()


def test_an_ended_guardianship_gives_no_access(
    nurse_a: User, citizen: Patient, child: Patient, give: Callable[..., Vaccination]
) -> None:
    give(nurse_a, child, "CHILD333")
    Guardianship.objects.filter(child=child, guardian=citizen).update(ended_at=timezone.now())
    client = citizen_client(citizen)
    before = _last_event()

    _assert_not_found(_get(client, _record_url(child)), child, "CHILD333")

    assert not AuditEvent.objects.filter(pk__gt=before, patient=child).exists()


def test_a_strangers_record_is_not_found_and_nothing_is_logged(
    nurse_a: User, citizen: Patient, give: Callable[..., Vaccination]
) -> None:
    stranger = _register(nurse_a, STRANGER, "Främling")
    give(nurse_a, stranger, "STRANGE666")
    client = citizen_client(citizen)
    before = _last_event()

    _assert_not_found(_get(client, _record_url(stranger)), stranger, "STRANGE666")
    # A patient id nobody has answers the same.
    assert _get(client, reverse("citizen:record", args=[UUID(int=1)])).status_code == 404

    assert not AuditEvent.objects.filter(pk__gt=before).exists()


def test_blocks_hide_nothing_from_the_patient(
    nurse_a: User,
    nurse_b: User,
    unit_a: CareUnit,
    citizen: Patient,
    give: Callable[..., Vaccination],
) -> None:
    give(nurse_a, citizen, "BLOCKEDA1")
    give(nurse_b, citizen, "BLOCKEDB1")
    block_register(
        actor=actor_of(nurse_a), patient=citizen, request=BlockRequest(BlockType.OUTER, care_unit=None)
    )
    block_register(actor=actor_of(nurse_a), patient=citizen, request=BlockRequest(BlockType.INNER, unit_a))
    block_register(
        actor=actor_of(nurse_b), patient=citizen, request=BlockRequest(BlockType.OUTER, care_unit=None)
    )
    assert len(patient_facts(patient=citizen).blocks) == 3

    body = _get(citizen_client(citizen), _record_url(citizen)).content.decode()

    assert "BLOCKEDA1" in body and "BLOCKEDB1" in body


def test_drafts_and_nullified_entries_are_not_shown(
    nurse_a: User, citizen: Patient, give: Callable[..., Vaccination]
) -> None:
    give(nurse_a, citizen, "DRAFT777", sign=False)
    wrong = give(nurse_a, citizen, "WRONG888")
    vaccination_nullify(actor=actor_of(nurse_a), vaccination=wrong, reason="Wrong patient")
    before = _last_event()

    response = _get(citizen_client(citizen), _record_url(citizen))

    body = response.content.decode()
    assert response.status_code == 200
    assert "DRAFT777" not in body and "WRONG888" not in body
    assert 'data-testid="citizen-no-vaccinations"' in body
    assert len(_reads(before, citizen)) == 1
    (event,) = _reads(before, citizen)
    assert event.detail["entries"] == 0


def test_the_record_is_read_in_a_fixed_number_of_queries(
    nurse_a: User, nurse_b: User, citizen: Patient, child: Patient, give: Callable[..., Vaccination]
) -> None:
    client = citizen_client(citizen)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert _get(client, _record_url(citizen)).status_code == 200
        return len(captured.captured_queries)

    give(nurse_a, citizen, "Q1")
    few = queries()
    for index in range(4):
        give(nurse_a if index % 2 else nurse_b, citizen, f"Q{index + 2}", days_ago=index + 40)
    assert queries() == few


def test_without_a_session_the_citizen_is_sent_to_login(citizen: Patient) -> None:
    for url in (reverse("citizen:home"), _record_url(citizen)):
        response = _get(Client(), url)
        assert response.status_code == 302
        assert response["Location"] == reverse("citizen:login")
    assert not AuditEvent.objects.filter(object_type__startswith="citizen.").exists()


def test_a_citizen_without_a_record_sees_no_one(citizen: Patient) -> None:
    nobody = Patient(identifier="194001012385", given_name="Utan", family_name="Journal")
    before = _last_event()
    client = citizen_client(nobody)

    home = _get(client, reverse("citizen:home"))
    assert home.status_code == 200 and 'data-testid="citizen-linked"' in home.content.decode()
    _assert_not_found(_get(client, _record_url(citizen)), citizen)
    assert not AuditEvent.objects.filter(pk__gt=before).exists()


def test_only_a_citizen_actor_reads_as_a_citizen(nurse_a: User, citizen: Patient) -> None:
    with pytest.raises(ValueError):
        reader_for_citizen(actor_of(nurse_a), patient_id=citizen.pk)
