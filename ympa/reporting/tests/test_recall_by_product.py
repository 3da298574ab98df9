"""The officer's region recall by vaccine: without a batch number, every batch of the vaccine given in the
region in a period (at most 24 months), checked like the care providers' own recall list."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from conftest import actor_of, staff_client
from ympa.access.models import Action, AuditEvent
from ympa.authn.models import User
from ympa.catalog.models import Product
from ympa.inventory.tests.recall_data import BATCH, NOW, PRODUCT, REASON, RecallWorld, at, displayed, give
from ympa.orgs.models import CareUnit
from ympa.reporting.services import batch_recall_list

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("standing_orders")]


@pytest.fixture(autouse=True)
def frozen_clock() -> Iterator[None]:
    with time_machine.travel(NOW, tick=True):
        yield


@pytest.fixture
def world(nurse_a: User, nurse_a2: User, nurse_b: User, unit_a2: CareUnit) -> RecallWorld:
    """The recall doses, and in region 14 (provider B) two more doses to the patient given XY123 at B: one
    of another batch in May 2025, one in 2022."""
    world = RecallWorld(nurse_a, nurse_a2, nurse_b, unit_a2)
    give(nurse_b, world.at_b, at(2025, 5), batch="QQ777")
    give(nurse_b, world.at_b, at(2022, 3), batch="OLD1")
    return world


def _new_events() -> Any:
    last = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    return lambda: AuditEvent.objects.filter(pk__gt=last)


def _post(client: Client, name: str, **changes: str) -> Any:
    body = {
        "product": PRODUCT,
        "batch_number": "",
        "start": "2025-01-01",
        "end": "2025-06-15",
        "reason": REASON,
    }
    return client.post(reverse(name), {**body, **changes})


def test_the_officer_lists_every_batch_of_a_vaccine_given_in_the_region_in_a_period(
    world: RecallWorld, officer: User
) -> None:
    events = _new_events()
    response = _post(staff_client(officer), "reporting:recall")
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    recall = response.context["recall"]
    assert [(row.batch_number, row.given_at) for row in recall.rows] == [
        (BATCH, at(2025, 4)),
        ("QQ777", at(2025, 5)),
    ]
    html = response.content.decode()
    assert displayed(world.at_b) in html and "QQ777" in html and "OLD1" not in html
    for patient in world.everyone:
        if patient != world.at_b:
            assert displayed(patient) not in html
    (event,) = events()
    assert event.patient_id == world.at_b.pk and event.action == Action.READ
    assert event.purpose == "infection_control" and event.object_type == "reporting.batch_recall"
    assert event.detail == {
        "reason": REASON,
        "product": PRODUCT,
        "batch": "",
        "period": {"start": "2025-01-01", "end": "2025-06-15"},
    }


def test_the_file_of_a_vaccine_recall_says_each_doses_batch(world: RecallWorld, officer: User) -> None:
    events = _new_events()
    response = _post(staff_client(officer), "reporting:recall_csv")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith(
        f'attachment; filename="aterkallelse-{PRODUCT}-20250615'
    )
    lines = response.content.decode("utf-8-sig").splitlines()
    assert len(lines) == 3 and all(line.count(";") == 7 for line in lines)
    assert [line.split(";")[5] for line in lines] == ["Batch", BATCH, "QQ777"]
    assert {e.action for e in events()} == {Action.EXPORT}


def test_a_batch_and_a_period_list_the_batch_given_then(world: RecallWorld, officer: User) -> None:
    product = Product.objects.get(code=PRODUCT)
    actor = actor_of(officer)
    given = batch_recall_list(
        actor=actor, product=product, batch_number="OLD1", end=date(2022, 12, 31), reason=REASON
    )
    assert [row.batch_number for row in given.rows] == ["OLD1"]
    later = batch_recall_list(
        actor=actor, product=product, batch_number="OLD1", start=date(2023, 1, 1), reason=REASON
    )
    assert later.rows == ()


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({"start": "", "end": ""}, {"start", "end"}),
        ({"start": "2023-01-01"}, {"start"}),
        ({"start": "2025-06-01", "end": "2025-05-01"}, {"end"}),
    ],
)
def test_without_a_batch_the_period_is_required_and_bounded(
    world: RecallWorld, officer: User, changes: dict[str, str], fields: set[str]
) -> None:
    client = staff_client(officer)
    events = _new_events()
    for name in ("reporting:recall", "reporting:recall_csv"):
        response = _post(client, name, **changes)
        assert response.status_code == 200 and response["Content-Type"].startswith("text/html")
        html = response.content.decode()
        for field in fields:
            assert f'id="id_{field}_error"' in html
        assert "Batchsson" not in html
    assert not events().exists()
    with pytest.raises(ValidationError) as raised:
        batch_recall_list(
            actor=actor_of(officer),
            product=Product.objects.get(code=PRODUCT),
            batch_number="",
            start=date.fromisoformat(changes["start"]) if changes.get("start") else None,
            end=date.fromisoformat(changes.get("end", "2025-06-15")) if changes.get("end", "x") else None,
            reason=REASON,
        )
    assert set(raised.value.message_dict) == fields
