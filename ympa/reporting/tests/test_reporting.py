"""The infection-control officer's region pages: counts scoped to the region with small numbers withheld,
and the batch recall list, where every listed patient is logged with the officer's reason."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from conftest import actor_of, staff_client
from ympa.access.chain import CHAINS, chain_for
from ympa.access.models import Action, AuditChainHead, AuditEvent
from ympa.authn.models import User
from ympa.catalog.models import Product
from ympa.core.errors import NotPermitted
from ympa.identifiers._common import luhn_check_digit
from ympa.journal.models import Vaccination
from ympa.journal.services import Administration, vaccination_nullify, vaccination_record
from ympa.orgs.models import Assignment, Purpose
from ympa.patients.models import Patient
from ympa.patients.services import PatientDetails, patient_register
from ympa.reporting.selectors import suppressed
from ympa.reporting.services import batch_recall_list, region_aggregate

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("standing_orders")]

STOCKHOLM = ZoneInfo("Europe/Stockholm")
NOW = datetime(2025, 6, 15, 12, 0, tzinfo=STOCKHOLM)
REASON = "Ärende SMI-2025/17"
BATCH = "XY123"


@pytest.fixture(autouse=True)
def frozen_clock() -> Iterator[None]:
    with time_machine.travel(NOW, tick=True):
        yield


def _identifier(serial: int) -> str:
    payload = f"800101{serial:03d}"
    return f"19800101-{serial:03d}{luhn_check_digit(payload)}"


def _patient(nurse: User, serial: int, **details: Any) -> Patient:
    return patient_register(
        actor=actor_of(nurse),
        identifier=_identifier(serial),
        details=PatientDetails(
            **{"given_name": f"Person{serial}", "family_name": "Testsson", "phone": "070-1234567", **details}
        ),
    )


@pytest.fixture
def dose(administration: Callable[..., Administration], standing_orders: None) -> Callable[..., Vaccination]:
    """A dose given by `nurse` to `patient` at `given` under the unit's standing order, signed unless told
    otherwise."""

    def give(
        nurse: User, patient: Patient, given: datetime, batch: str = "AB1234", sign: bool = True
    ) -> Vaccination:
        data = administration(administered_at=given, batch_number=batch, override_reason="Not the point here")
        return vaccination_record(actor=actor_of(nurse), patient=patient, data=data, sign=sign)

    return give


def _at(year: int, month: int, day: int = 10) -> datetime:
    return datetime(year, month, day, 10, 0, tzinfo=STOCKHOLM)


def _new_events() -> Callable[[], Any]:
    last = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    return lambda: AuditEvent.objects.filter(pk__gt=last)


# --- Aggregates -------------------------------------------------------------------------------------------


@pytest.fixture
def region_doses(dose: Callable[..., Vaccination], nurse_a: User, nurse_b: User) -> None:
    """Region 14 (provider B): 6 signed doses in March 2025, 2 in May, one nullified and one unsigned in
    May. Region 01 (provider A): 7 doses in March, not the officer's region."""
    local = _patient(nurse_b, 101)
    for _ in range(6):
        dose(nurse_b, local, _at(2025, 3))
    for _ in range(2):
        dose(nurse_b, local, _at(2025, 5))
    vaccination_nullify(actor=actor_of(nurse_b), vaccination=dose(nurse_b, local, _at(2025, 5)), reason="Fel")
    dose(nurse_b, local, _at(2025, 5), sign=False)
    elsewhere = _patient(nurse_a, 102)
    for _ in range(7):
        dose(nurse_a, elsewhere, _at(2025, 3))


@pytest.mark.usefixtures("region_doses")
def test_the_officer_counts_only_signed_doses_of_their_region(officer: User) -> None:
    counts = region_aggregate(actor=actor_of(officer), start=date(2024, 7, 1), end=date(2025, 6, 30))
    assert len(counts.months) == 12 and counts.months[0] == date(2024, 7, 1)
    march, may = counts.months.index(date(2025, 3, 1)), counts.months.index(date(2025, 5, 1))
    assert [row.label for row in counts.by_provider] == ["Provider B"]
    assert counts.month_totals.counts[march] == 5  # 6 rounded; not 13: provider A is in another region
    assert counts.month_totals.counts[may] is None  # 2: withheld
    # 8 (nullified and unsigned doses do not count), rounded: with the 6 of March shown as 5, the withheld
    # 2 of May cannot be worked out from the total.
    assert counts.month_totals.total == 10
    (product,) = counts.by_product
    assert product.label == Product.objects.get(code="vaxigriptetra").name
    assert product.counts[march] == 5 and product.counts[may] is None


def test_small_counts_are_withheld() -> None:
    assert [suppressed(n) for n in (0, 1, 4, 5, 7, 8, 12, 13)] == [0, None, None, 5, 5, 10, 10, 15]


@pytest.mark.usefixtures("region_doses")
def test_the_region_page_shows_counts_not_names_and_logs_one_row(officer: User) -> None:
    events = _new_events()
    response = staff_client(officer).get(reverse("reporting:region"))
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    html = response.content.decode()
    assert "Provider B" in html and "Provider A" not in html
    assert "&lt;5" in html and 'data-testid="suppression"' in html
    assert "<svg" in html and "Testsson" not in html and "19800101" not in html
    (event,) = events()
    assert event.patient is None and event.user == officer
    assert event.action == Action.READ and event.object_type == "reporting.region_aggregate"
    assert event.purpose == "infection_control" and event.object_id == "14"
    # The default period: this month and the eleven before it.
    assert event.detail == {"start": "2024-07-01", "end": "2025-06-15"}


def test_a_chosen_period_is_logged_and_a_reversed_one_is_a_form_error(officer: User) -> None:
    client = staff_client(officer)
    events = _new_events()
    assert client.get(reverse("reporting:region"), {"start": "2025-01", "end": "2025-02"}).status_code == 200
    assert [e.detail for e in events()] == [{"start": "2025-01-01", "end": "2025-02-28"}]
    events = _new_events()
    response = client.get(reverse("reporting:region"), {"start": "2025-03", "end": "2025-01"})
    assert response.status_code == 200 and 'id="id_end_error"' in response.content.decode()
    assert not events().exists()


def test_the_period_is_checked(officer: User) -> None:
    actor = actor_of(officer)
    with pytest.raises(ValidationError):
        region_aggregate(actor=actor, start=date(2025, 2, 1), end=date(2025, 1, 1))
    with pytest.raises(ValidationError):
        region_aggregate(actor=actor, start=date(2020, 1, 1), end=date(2025, 1, 1))
    region_aggregate(actor=actor, start=date(2020, 1, 1), end=date(2024, 12, 31))  # 60 months: fine


# --- Who may read -----------------------------------------------------------------------------------------


@pytest.mark.usefixtures("region_doses")
def test_a_unit_nurse_is_refused_everything_and_nothing_is_logged(nurse_b: User) -> None:
    client = staff_client(nurse_b)
    events = _new_events()
    body = {"product": "vaxigriptetra", "batch_number": "AB1234", "reason": REASON}
    responses = [
        client.get(reverse("reporting:region")),
        client.get(reverse("reporting:recall")),
        client.post(reverse("reporting:recall"), body),
        client.post(reverse("reporting:recall_csv"), body),
    ]
    for response in responses:
        assert response.status_code == 403
        assert response["Cache-Control"] == "no-store"
        assert b"Testsson" not in response.content and b"Provider B" not in response.content
    assert not events().exists()
    actor = actor_of(nurse_b)
    with pytest.raises(NotPermitted):
        region_aggregate(actor=actor, start=date(2025, 1, 1), end=date(2025, 6, 1))
    with pytest.raises(NotPermitted):
        batch_recall_list(
            actor=actor,
            product=Product.objects.get(code="vaxigriptetra"),
            batch_number="AB1234",
            reason=REASON,
        )


def test_an_ended_or_other_purpose_region_assignment_is_refused(officer: User) -> None:
    Assignment.objects.filter(user=officer).update(purpose=Purpose.ADMINISTRATION)
    with pytest.raises(NotPermitted):
        region_aggregate(actor=actor_of(officer), start=date(2025, 1, 1), end=date(2025, 6, 1))
    now = timezone.now()
    Assignment.objects.filter(user=officer).update(
        purpose=Purpose.INFECTION_CONTROL,
        valid_from=now - timedelta(days=9),
        valid_until=now - timedelta(days=1),
    )
    with pytest.raises(NotPermitted):
        region_aggregate(actor=actor_of(officer), start=date(2025, 1, 1), end=date(2025, 6, 1))


def test_the_region_link_is_in_the_menu_only_for_a_region_assignment(officer: User, nurse_b: User) -> None:
    link = f'href="{reverse("reporting:region")}"'
    assert link in staff_client(officer).get(reverse("journal:home")).content.decode()
    assert link not in staff_client(nurse_b).get(reverse("journal:home")).content.decode()


# --- Batch recall -----------------------------------------------------------------------------------------


class Recall:
    """Region 14: two patients given batch XY123 (one twice), one with protected identity given it too, one
    given another batch, one whose XY123 dose was nullified. Region 01: one patient given XY123. The doses
    are recorded by the nurses of the two regions."""

    def __init__(self, dose: Callable[..., Vaccination], nurse_a: User, nurse_b: User) -> None:
        self.first = _patient(nurse_b, 111)
        self.second = _patient(nurse_b, 112, phone="070-2223344")
        self.protected = _patient(
            nurse_b,
            113,
            given_name="Hemlig",
            phone="070-9998877",
            street_address="Gömda gränd 7",
            postal_code="41101",
            city="Göteborg",
            protected_identity=True,
        )
        self.other_batch = _patient(nurse_b, 114)
        self.nullified = _patient(nurse_b, 115)
        self.other_region = _patient(nurse_a, 116)
        dose(nurse_b, self.first, _at(2025, 4), BATCH)
        dose(nurse_b, self.first, _at(2025, 5), BATCH)
        dose(nurse_b, self.second, _at(2025, 4), BATCH, sign=False)
        dose(nurse_b, self.protected, _at(2025, 4), BATCH)
        dose(nurse_b, self.other_batch, _at(2025, 4), batch="ZZ999")
        vaccination_nullify(
            actor=actor_of(nurse_b),
            vaccination=dose(nurse_b, self.nullified, _at(2025, 4), BATCH),
            reason="Fel",
        )
        dose(nurse_a, self.other_region, _at(2025, 4), BATCH)

    @property
    def listed(self) -> set[Patient]:
        return {self.first, self.second, self.protected}


@pytest.fixture
def recall(dose: Callable[..., Vaccination], nurse_a: User, nurse_b: User) -> Recall:
    return Recall(dose, nurse_a, nurse_b)


def _post(client: Client, name: str, **changes: str) -> Any:
    body = {"product": "vaxigriptetra", "batch_number": "xy123", "reason": REASON, **changes}
    return client.post(reverse(name), body)


def test_the_recall_lists_the_batchs_patients_in_the_region_each_logged_once(
    officer: User, recall: Recall
) -> None:
    events = _new_events()
    response = _post(staff_client(officer), "reporting:recall")
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    html = response.content.decode()
    for patient in recall.listed:
        assert patient.given_name in html and patient.identifier[:8] in html
    for patient in (recall.other_batch, recall.nullified, recall.other_region):
        assert f"{patient.identifier[:8]}-{patient.identifier[8:]}" not in html
    assert recall.second.phone in html
    written = list(events())
    assert sorted(str(e.patient_id) for e in written) == sorted(str(p.pk) for p in recall.listed)
    for event in written:
        assert event.user == officer and event.action == Action.READ
        assert event.object_type == "reporting.batch_recall" and event.purpose == "infection_control"
        assert event.detail == {"reason": REASON, "batch": "xy123", "product": "vaxigriptetra"}


def test_the_csv_export_is_logged_as_an_export(officer: User, recall: Recall) -> None:
    events = _new_events()
    response = _post(staff_client(officer), "reporting:recall_csv")
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="aterkallelse-xy123-')
    assert response.content.startswith("\ufeff".encode())
    lines = response.content.decode("utf-8-sig").splitlines()
    assert len(lines) == 1 + 4  # a header and one line per dose (the first patient got two)
    assert all(line.count(";") == 6 for line in lines)
    assert recall.second.phone in response.content.decode()
    assert {e.patient_id for e in events()} == {p.pk for p in recall.listed}
    assert set(events().values_list("action", flat=True)) == {Action.EXPORT}


def test_protected_identity_has_no_contact_details_on_the_page_or_in_the_file(
    officer: User, recall: Recall
) -> None:
    client = staff_client(officer)
    protected = recall.protected
    for response in (_post(client, "reporting:recall"), _post(client, "reporting:recall_csv")):
        text = response.content.decode("utf-8-sig")
        assert protected.given_name in text
        assert protected.phone and protected.phone not in text
        for secret in ("9998877", "998 877", "Gömda", "41101", "Göteborg"):
            assert secret not in text
        assert "Skyddade personuppgifter" in text


@pytest.mark.parametrize("reason", ["", "   "])
def test_no_reason_lists_nothing_and_logs_nothing(officer: User, recall: Recall, reason: str) -> None:
    client = staff_client(officer)
    events = _new_events()
    for name in ("reporting:recall", "reporting:recall_csv"):
        response = _post(client, name, reason=reason)
        assert response.status_code == 200
        html = response.content.decode()
        assert 'id="id_reason_error"' in html
        assert "Testsson" not in html and "19800101" not in html
    assert not events().exists()
    with pytest.raises(ValidationError):
        batch_recall_list(
            actor=actor_of(officer),
            product=Product.objects.get(code="vaxigriptetra"),
            batch_number="XY123",
            reason=reason,
        )
    assert not events().exists()


def test_the_recall_is_a_post_form(officer: User, recall: Recall) -> None:
    client = staff_client(officer)
    events = _new_events()
    response = client.get(reverse("reporting:recall"), {"batch_number": "XY123", "reason": REASON})
    assert response.status_code == 200 and "Testsson" not in response.content.decode()
    assert client.get(reverse("reporting:recall_csv")).status_code == 405
    assert not events().exists()


def test_the_recall_list_costs_the_same_queries_for_one_patient_or_many(
    officer: User, nurse_b: User, dose: Callable[..., Vaccination]
) -> None:
    for serial in range(121, 127):
        patient = _patient(nurse_b, serial)
        dose(nurse_b, patient, _at(2025, 4), batch="MANY" if serial > 121 else "ONE")
    # Every head exists already, so no call creates one; the audit log then updates one head per chain it
    # appends to (at most CHAINS), whatever the number of rows.
    AuditChainHead.objects.bulk_create(
        [AuditChainHead(chain=c) for c in range(CHAINS)], ignore_conflicts=True
    )
    actor = actor_of(officer)
    assert actor.assignment is not None and actor.assignment.region is not None
    product = Product.objects.get(code="vaxigriptetra")

    def queries(batch: str) -> tuple[int, int]:
        with CaptureQueriesContext(connection) as captured:
            recall = batch_recall_list(actor=actor, product=product, batch_number=batch, reason=REASON)
        chains = {chain_for(care_provider_id=None, patient_id=row.patient_id.hex) for row in recall.rows}
        # A head update is a statement of its own on SQLite, a WITH clause of the insert on PostgreSQL.
        head_updates = [q for q in captured.captured_queries if q["sql"].startswith("UPDATE")]
        in_inserts = sum(q["sql"].count(" AS (UPDATE ") for q in captured.captured_queries)
        assert len(head_updates) + in_inserts == len(chains)
        return len(recall.rows), len(captured.captured_queries) - len(head_updates)

    one, many = queries("ONE"), queries("MANY")
    assert (one[0], many[0]) == (1, 5)
    assert one[1] == many[1]
