"""The care provider's recall list: who was given a batch (or any batch of a vaccine in a period) at any of
its units, with inner blocks respected, protected identity kept out, and every listed patient logged with
the reason and the purpose; and who may list it, through the staff UI, next to the officer's region recall.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from conftest import actor_of, staff_client
from ympa.access.chain import CHAINS
from ympa.access.models import Action, AuditChainHead, AuditEvent
from ympa.access.pdl_models import BlockType
from ympa.access.pdl_services import (
    BlockRequest,
    block_end,
    block_register,
    emergency_access_open,
    emergency_access_register,
    temporary_revoke_register,
)
from ympa.authn.models import User
from ympa.catalog.models import Product
from ympa.core.errors import NotPermitted
from ympa.inventory.recall import MAX_PERIOD_MONTHS, RecallList, recall_criteria, recall_list
from ympa.inventory.tests.recall_data import (
    BATCH,
    NOW,
    PRODUCT,
    REASON,
    SECRET_ADDRESS,
    SECRET_PHONE,
    SECRET_POSTAL_CODE,
    RecallWorld,
    at,
    displayed,
    give,
    register,
)
from ympa.orgs.models import CareUnit
from ympa.patients.models import Patient

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("standing_orders")]


@pytest.fixture(autouse=True)
def frozen_clock() -> Iterator[None]:
    with time_machine.travel(NOW, tick=True):
        yield


@pytest.fixture
def world(nurse_a: User, nurse_a2: User, nurse_b: User, unit_a2: CareUnit) -> RecallWorld:
    return RecallWorld(nurse_a, nurse_a2, nurse_b, unit_a2)


@pytest.fixture
def product() -> Product:
    return Product.objects.get(code=PRODUCT)


def _new_events() -> Any:
    last = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    return lambda: AuditEvent.objects.filter(pk__gt=last)


def _post(client: Client, name: str, **changes: str) -> Any:
    body = {"product": PRODUCT, "batch_number": BATCH.lower(), "start": "", "end": "", "reason": REASON}
    return client.post(reverse(name), {**body, **changes})


def _listed(recall: RecallList) -> set[Any]:
    return {row.patient_id for row in recall.rows}


# --- The permission matrix, through the staff UI ----------------------------------------------------------

# Who is listed for batch XY123 (no period), and how many doses are withheld because of a block.
ALLOWED = {
    # Provider A: every unit's doses, but A2's dose to the patient who blocked A2 from the other units.
    "nurse_a": ({"at_a", "protected", "long_ago", "at_a2"}, 1),
    "physician_a": ({"at_a", "protected", "long_ago", "at_a2"}, 1),  # the right to view statistics
    "assistant_a": ({"at_a", "protected", "long_ago", "at_a2"}, 1),  # the right to manage stock
    # The blocked information is A2's own: A2 lists it.
    "nurse_a2": ({"at_a", "protected", "long_ago", "at_a2", "blocked"}, 0),
    "nurse_b": ({"at_b"}, 0),
}


@pytest.mark.parametrize("persona", sorted(ALLOWED))
def test_staff_list_their_providers_doses_of_the_batch(
    world: RecallWorld, persona: str, request: pytest.FixtureRequest
) -> None:
    user: User = request.getfixturevalue(persona)
    expected, withheld = ALLOWED[persona]
    listed = [getattr(world, name) for name in sorted(expected)]
    events = _new_events()

    response = _post(staff_client(user), "inventory:recall")

    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    html = response.content.decode()
    for patient in world.everyone:
        assert (displayed(patient) in html) is (patient in listed), patient.given_name
    assert ('data-testid="recall-withheld"' in html) is bool(withheld)
    recall: RecallList = response.context["recall"]
    assert recall.withheld == withheld
    written = list(events())
    assert sorted(str(e.patient_id) for e in written) == sorted(str(p.pk) for p in listed)
    for event in written:
        assert event.user == user and event.action == Action.READ
        assert event.object_type == "inventory.recall" and event.object_id == str(event.patient_id)
        assert event.purpose == "care"
        assert event.detail == {"reason": REASON, "product": PRODUCT, "batch": "xy123"}


@pytest.mark.parametrize("persona", ["receptionist_a", "officer"])
def test_staff_without_the_right_or_a_care_unit_are_refused(
    world: RecallWorld, persona: str, request: pytest.FixtureRequest
) -> None:
    user: User = request.getfixturevalue(persona)
    client = staff_client(user)
    events = _new_events()
    for response in (
        client.get(reverse("inventory:recall")),
        _post(client, "inventory:recall"),
        _post(client, "inventory:recall_csv"),
    ):
        assert response.status_code == 403 and response["Cache-Control"] == "no-store"
        assert b"Batchsson" not in response.content and b"19750101" not in response.content
    assert not events().exists()
    with pytest.raises(NotPermitted):
        recall_list(
            actor=actor_of(user), product=Product.objects.get(code=PRODUCT), batch_number=BATCH, reason=REASON
        )


def test_a_user_without_an_assignment_is_sent_to_choose_one(world: RecallWorld, outsider: User) -> None:
    client = staff_client(outsider)
    events = _new_events()
    for response in (client.get(reverse("inventory:recall")), _post(client, "inventory:recall")):
        assert response.status_code == 302 and response["Location"] == reverse("authn:assignment")
    assert not events().exists()
    with pytest.raises(NotPermitted):
        recall_list(
            actor=actor_of(outsider),
            product=Product.objects.get(code=PRODUCT),
            batch_number=BATCH,
            reason=REASON,
        )


def test_the_officer_lists_the_region_through_the_region_recall(world: RecallWorld, officer: User) -> None:
    events = _new_events()
    response = _post(staff_client(officer), "reporting:recall")
    assert response.status_code == 200
    html = response.content.decode()
    for patient in world.everyone:
        assert (displayed(patient) in html) is (patient == world.at_b)
    (event,) = events()
    assert event.patient_id == world.at_b.pk and event.purpose == "infection_control"


def test_an_ended_assignment_is_refused(world: RecallWorld, nurse_a: User) -> None:
    nurse_a.assignments.update(valid_from=NOW - timedelta(days=9), valid_until=NOW - timedelta(days=1))
    with pytest.raises(NotPermitted):
        recall_list(
            actor=actor_of(nurse_a),
            product=Product.objects.get(code=PRODUCT),
            batch_number=BATCH,
            reason=REASON,
        )


# --- Blocks -----------------------------------------------------------------------------------------------


def test_a_temporary_revoke_for_the_readers_unit_lists_the_blocked_dose(
    world: RecallWorld, nurse_a: User, product: Product
) -> None:
    # The patient, registered at A2, has a care relation at A too (a visit), and lifts the block there.
    give(nurse_a, world.blocked, at(2025, 6, 1), batch="OTHER1")
    temporary_revoke_register(actor=actor_of(nurse_a), block=world.block, hours=2, only_me=False)
    recall = recall_list(actor=actor_of(nurse_a), product=product, batch_number=BATCH, reason=REASON)
    assert world.blocked.pk in _listed(recall) and recall.withheld == 0


def test_an_opened_emergency_access_lists_the_blocked_dose_flagged(
    world: RecallWorld, nurse_a: User, product: Product
) -> None:
    give(nurse_a, world.blocked, at(2025, 6, 1), batch="OTHER1")
    actor = actor_of(nurse_a)
    emergency_access_open(
        actor=actor, emergency=emergency_access_register(actor=actor, patient=world.blocked, reason="Akut")
    )
    events = _new_events()
    recall = recall_list(actor=actor, product=product, batch_number=BATCH, reason=REASON)
    assert world.blocked.pk in _listed(recall) and recall.withheld == 0
    flagged = {e.patient_id: e.detail.get("emergency", False) for e in events()}
    assert flagged[world.blocked.pk] is True and flagged[world.at_a.pk] is False


def test_a_patient_with_a_dose_at_the_readers_unit_is_listed_for_it_and_the_blocked_dose_withheld(
    world: RecallWorld, nurse_a: User, product: Product
) -> None:
    give(nurse_a, world.blocked, at(2025, 6, 1))
    recall = recall_list(actor=actor_of(nurse_a), product=product, batch_number=BATCH, reason=REASON)
    rows = [row for row in recall.rows if row.patient_id == world.blocked.pk]
    assert [row.care_unit for row in rows] == ["Clinic A"] and recall.withheld == 1


def test_an_ended_block_withholds_nothing(
    world: RecallWorld, nurse_a: User, nurse_a2: User, product: Product
) -> None:
    block_end(actor=actor_of(nurse_a2), block=world.block, reason="Patienten ångrade sig")
    recall = recall_list(actor=actor_of(nurse_a), product=product, batch_number=BATCH, reason=REASON)
    assert world.blocked.pk in _listed(recall) and recall.withheld == 0


# --- Protected identity, the file, the log ----------------------------------------------------------------


def test_protected_identity_has_no_contact_details_on_the_page_or_in_the_file(
    world: RecallWorld, nurse_a: User
) -> None:
    client = staff_client(nurse_a)
    for response in (_post(client, "inventory:recall"), _post(client, "inventory:recall_csv")):
        assert response.status_code == 200
        text = response.content.decode("utf-8-sig")
        assert world.protected.given_name in text
        for secret in (
            world.protected.phone,
            SECRET_PHONE,
            "9998877",
            SECRET_ADDRESS,
            SECRET_POSTAL_CODE,
            "Solna",
        ):
            assert secret not in text
        assert "Skyddade personuppgifter" in text
        assert world.at_a2.phone in text  # others' phones are there


def test_the_csv_is_an_export_of_the_same_list(world: RecallWorld, nurse_a: User) -> None:
    events = _new_events()
    response = _post(staff_client(nurse_a), "inventory:recall_csv")
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="aterkallelse-xy123-20250615')
    lines = response.content.decode("utf-8-sig").splitlines()
    # A header and one line per listed dose: at_a twice, protected, long_ago, at_a2.
    assert len(lines) == 1 + 5 and all(line.count(";") == 6 for line in lines)
    assert lines[0].split(";")[4] == "Batch"
    assert displayed(world.blocked) not in response.content.decode("utf-8-sig")
    written = list(events())
    assert {e.patient_id for e in written} == {
        world.at_a.pk,
        world.protected.pk,
        world.long_ago.pk,
        world.at_a2.pk,
    }
    assert {e.action for e in written} == {Action.EXPORT}


def test_the_csv_needs_a_post(world: RecallWorld, nurse_a: User) -> None:
    events = _new_events()
    assert staff_client(nurse_a).get(reverse("inventory:recall_csv")).status_code == 405
    assert not events().exists()


def test_a_get_shows_the_form_only(world: RecallWorld, nurse_a: User) -> None:
    events = _new_events()
    response = staff_client(nurse_a).get(
        reverse("inventory:recall"), {"batch_number": BATCH, "reason": REASON}
    )
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    assert "Batchsson" not in response.content.decode()
    assert not events().exists()


def test_an_empty_list_logs_nothing(world: RecallWorld, nurse_a: User, product: Product) -> None:
    events = _new_events()
    response = _post(staff_client(nurse_a), "inventory:recall", batch_number="NOSUCH")
    assert response.status_code == 200 and response.context["recall"].rows == ()
    recall = recall_list(actor=actor_of(nurse_a), product=product, batch_number="NOSUCH", reason=REASON)
    assert recall.rows == () and recall.withheld == 0
    assert not events().exists()


# --- A vaccine without a batch, in a period ---------------------------------------------------------------


def test_a_vaccine_in_a_period_lists_every_batch_given_then(world: RecallWorld, nurse_a: User) -> None:
    events = _new_events()
    response = _post(
        staff_client(nurse_a), "inventory:recall", batch_number="", start="2025-04-01", end="2025-06-15"
    )
    assert response.status_code == 200
    recall: RecallList = response.context["recall"]
    expected = {world.at_a, world.protected, world.at_a2, world.other_batch}
    assert _listed(recall) == {p.pk for p in expected} and recall.withheld == 1
    assert {row.batch_number for row in recall.rows} == {BATCH, "ZZ999"}
    html = response.content.decode()
    assert "ZZ999" in html and 'data-testid="recall-period"' in html and "2025-04-01" in html
    for event in events():
        assert event.detail == {
            "reason": REASON,
            "product": PRODUCT,
            "batch": "",
            "period": {"start": "2025-04-01", "end": "2025-06-15"},
        }


def test_a_batch_with_a_period_lists_the_batch_given_then(
    world: RecallWorld, nurse_a: User, product: Product
) -> None:
    actor = actor_of(nurse_a)
    recall = recall_list(
        actor=actor, product=product, batch_number=BATCH, start=date(2024, 1, 1), reason=REASON
    )
    assert world.long_ago.pk not in _listed(recall) and world.at_a.pk in _listed(recall)
    recall = recall_list(
        actor=actor, product=product, batch_number=BATCH, end=date(2024, 1, 1), reason=REASON
    )
    assert _listed(recall) == {world.long_ago.pk}
    # The period's days are whole local days: a dose on the last day is in it.
    recall = recall_list(
        actor=actor,
        product=product,
        batch_number=BATCH,
        start=date(2025, 5, 10),
        end=date(2025, 5, 10),
        reason=REASON,
    )
    assert _listed(recall) == {world.at_a.pk} and len(recall.rows) == 1


# --- The checks -------------------------------------------------------------------------------------------


def _errors(**changes: Any) -> dict[str, list[str]]:
    values: dict[str, Any] = {
        "product": Product.objects.get(code=PRODUCT),
        "batch_number": "",
        "start": date(2025, 1, 1),
        "end": date(2025, 6, 1),
        "reason": REASON,
        **changes,
    }
    with pytest.raises(ValidationError) as raised:
        recall_criteria(**values)
    return raised.value.message_dict


def test_the_criteria_are_checked_with_a_message_per_field(db: Any) -> None:
    assert set(_errors(product=None)) == {"product"}
    assert set(_errors(start=None, end=None)) == {"start", "end"}
    assert set(_errors(end=None)) == {"end"}
    assert set(_errors(start=date(2025, 7, 1))) == {"end"}
    assert set(_errors(batch_number="X" * 41)) == {"batch_number"}
    assert set(_errors(reason="  ")) == {"reason"}
    assert set(_errors(reason="x" * 201)) == {"reason"}
    assert set(_errors(start=date(2023, 1, 1), end=date(2025, 1, 1))) == {"start"}
    assert str(MAX_PERIOD_MONTHS) in _errors(start=date(2023, 1, 1), end=date(2025, 1, 1))["start"][0]


def test_a_period_of_at_most_24_months_without_a_batch_and_any_with_one(db: Any) -> None:
    product = Product.objects.get(code=PRODUCT)
    longest = recall_criteria(
        product=product, batch_number="", start=date(2023, 1, 1), end=date(2024, 12, 31), reason=REASON
    )
    assert longest.end == date(2024, 12, 31)
    # A 29 February start: the limit is the 28th two years on.
    recall_criteria(
        product=product, batch_number="", start=date(2024, 2, 29), end=date(2026, 2, 27), reason=REASON
    )
    assert set(_errors(start=date(2024, 2, 29), end=date(2026, 2, 28))) == {"start"}
    # With a batch, the batch bounds the list: any period, or none.
    recall_criteria(
        product=product, batch_number=BATCH, start=date(2015, 1, 1), end=date(2025, 1, 1), reason=REASON
    )
    criteria = recall_criteria(
        product=product, batch_number=f"  {BATCH} ", start=None, end=None, reason=f" {REASON} "
    )
    assert (criteria.batch_number, criteria.reason) == (BATCH, REASON)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"reason": ""}, "reason"),
        ({"reason": "   "}, "reason"),
        ({"batch_number": ""}, "start"),
        ({"batch_number": "", "start": "2023-01-01", "end": "2025-06-01"}, "start"),
        ({"start": "2025-06-01", "end": "2025-01-01"}, "end"),
        ({"product": "no-such-vaccine"}, "product"),
    ],
)
def test_invalid_criteria_list_nothing_and_log_nothing(
    world: RecallWorld, nurse_a: User, changes: dict[str, str], field: str
) -> None:
    client = staff_client(nurse_a)
    events = _new_events()
    for name in ("inventory:recall", "inventory:recall_csv"):
        response = _post(client, name, **changes)
        assert response.status_code == 200 and response["Content-Type"].startswith("text/html")
        html = response.content.decode()
        assert f'id="id_{field}_error"' in html
        assert "Batchsson" not in html and "19750101" not in html
    assert not events().exists()


# --- Cost -------------------------------------------------------------------------------------------------


def test_the_list_costs_the_same_queries_for_one_patient_or_many_and_one_more_per_blocked_patient(
    nurse_a: User, nurse_a2: User, unit_a2: CareUnit, product: Product
) -> None:
    patients: list[Patient] = [register(nurse_a2, serial) for serial in range(31, 38)]
    give(nurse_a, patients[0], at(2025, 4), batch="ONE")
    for patient in patients[1:4]:
        give(nurse_a2, patient, at(2025, 4), batch="MANY")
    for patient in patients[4:]:
        give(nurse_a2, patient, at(2025, 4), batch="BLOCKED")
        block_register(
            actor=actor_of(nurse_a2), patient=patient, request=BlockRequest(BlockType.INNER, unit_a2)
        )
    AuditChainHead.objects.bulk_create(
        [AuditChainHead(chain=c) for c in range(CHAINS)], ignore_conflicts=True
    )
    actor = actor_of(nurse_a)

    def queries(batch: str) -> tuple[int, int, int]:
        with CaptureQueriesContext(connection) as captured:
            recall = recall_list(actor=actor, product=product, batch_number=batch, reason=REASON)
        return len(recall.rows), recall.withheld, len(captured.captured_queries)

    one, many, blocked = queries("ONE"), queries("MANY"), queries("BLOCKED")
    assert (one[:2], many[:2], blocked[:2]) == ((1, 0), (3, 0), (0, 3))
    # Doses at another unit add the query for blocks; each blocked patient one for their PDL facts.
    assert many[2] == one[2] + 1
    # Three blocked patients, three reads of their facts; nothing listed, so no log rows: no chain head to
    # lock, no insert, no head to update (in the insert's statement on PostgreSQL, a statement of its own
    # on SQLite).
    log_statements = 2 if connection.vendor == "postgresql" else 3
    assert blocked[2] == many[2] + 3 - log_statements
