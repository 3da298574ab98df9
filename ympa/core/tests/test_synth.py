"""`ympa synth`: bulk synthetic data must look exactly like data written through the services."""

from __future__ import annotations

import io
import json
from collections import Counter
from dataclasses import fields as dataclass_fields
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.db.models import Count
from django.test import Client
from django.utils import timezone

from ympa.access.models import Action, AuditEvent
from ympa.authn.models import User
from ympa.authn.services import api_token_create
from ympa.core import synth
from ympa.core.actor import Actor, ActorKind, Channel
from ympa.core.synth import (
    NURSES_PER_UNIT,
    SYNTH_ACTOR,
    UNITS,
    SynthStats,
    nurse_username,
    provider_hsa_id,
    synth_fill,
)
from ympa.identifiers import parse_hsa_id, parse_personnummer
from ympa.journal.models import (
    EntryStatus,
    Order,
    OrderBasis,
    StandingOrder,
    Vaccination,
    VaccinationVersion,
    Visit,
)
from ympa.journal.services import Administration, vaccination_correct, vaccination_record
from ympa.orgs.models import Assignment, CareProvider, CareUnit
from ympa.patients.models import Patient

pytestmark = pytest.mark.django_db

PATIENTS = 50
VACCINATIONS = 300
# Where decision support checks doses, synthetic histories (random catalogue products at allowed ages) need
# not follow a schedule: a correction or a further dose may need a stated reason to be signed.
OVERRIDE = (
    {"override_reason": "Given on the physician's decision (test)."}
    if "override_reason" in {f.name for f in dataclass_fields(Administration)}
    else {}
)


def fill(seed: int = 1) -> SynthStats:
    stats = synth_fill(
        patients=PATIENTS, vaccinations=VACCINATIONS, seed=seed, progress=None, chunk_patients=20
    )
    # Foreign keys are deferred and the test's transaction is rolled back: check them explicitly.
    connection.check_constraints()
    return stats


def today_minus_years(years: int) -> date:
    today = timezone.localdate()
    return today.replace(year=today.year - years, day=min(today.day, 28))


def nurse_actor(unit_number: int = 1) -> Actor:
    user = User.objects.get(username=nurse_username(unit_number, 1))
    assignment = Assignment.objects.select_related("care_unit__care_provider").get(user=user)
    return Actor.staff(user, assignment, Channel.UI)


def assert_consistent() -> None:
    now = timezone.now()
    vaccinations = Vaccination.objects.select_related(
        "patient", "visit", "order", "current_version__product", "care_unit", "created_assignment"
    )
    for v in vaccinations:
        version = v.current_version
        assert version is not None
        assert v.status == EntryStatus.SIGNED and v.nullified_at is None and v.idempotency_key == ""
        assert version.vaccination_id == v.pk and version.number == 1 and version.correction_reason == ""
        assert version.signed_at is not None and version.signed_by_id == v.created_by_id
        assert version.performer_id == v.created_by_id == version.created_by_id
        assert timezone.is_aware(version.administered_at) and version.administered_at < now
        assert version.signed_at >= version.administered_at and version.signed_at < now
        assert v.patient.birth_date is not None
        assert timezone.localdate(version.administered_at) >= v.patient.birth_date
        product = version.product
        assert product.active
        assert not product.routes or version.route in product.routes
        if product.dose_volumes_ml:
            assert version.dose_volume_ml == Decimal(str(product.dose_volumes_ml[0]))
        else:
            assert version.dose_volume_ml is None
        assert version.batch_number and version.batch_number == version.batch_number.strip().upper()
        assert version.batch_expiry is not None
        assert version.batch_expiry >= timezone.localdate(version.administered_at)
        assert 1 <= version.dose_number <= 20
        assert (v.visit.patient_id, v.visit.care_unit_id) == (v.patient_id, v.care_unit_id)
        assert v.visit.visit_date == timezone.localdate(version.administered_at)
        order = v.order
        assert order.basis == OrderBasis.STANDING and order.status == "active"
        assert (order.patient_id, order.care_unit_id, order.product_id) == (
            v.patient_id,
            v.care_unit_id,
            product.pk,
        )
        assert order.standing_order is not None and order.standing_order.care_unit_id == v.care_unit_id
        assert order.standing_order.products.filter(pk=product.pk).exists()
        assert v.created_assignment.care_unit_id == v.care_unit_id
        assert v.created_assignment.user_id == v.created_by_id
        events = {e.action: e for e in AuditEvent.objects.filter(object_id=str(v.pk))}
        assert set(events) == {Action.CREATE, Action.SIGN}
        for event in events.values():
            assert (event.actor_kind, event.actor_identity, event.channel) == (
                ActorKind.SYSTEM,
                SYNTH_ACTOR,
                Channel.CLI,
            )
            assert event.object_type == "journal.vaccination" and event.patient_id == v.patient_id
            assert event.care_unit_id == v.care_unit_id
            assert event.care_provider_id == v.care_unit.care_provider_id
            assert event.user_id is None and event.occurred_at < now
        assert events[Action.SIGN].detail["version"] == 1
        assert events[Action.SIGN].detail.get("decision_support", []) == []
        assert events[Action.CREATE].detail["product"] == product.code
        assert events[Action.CREATE].detail["batch_number"] == version.batch_number
    assert Order.objects.count() == Vaccination.objects.count() == VaccinationVersion.objects.count()
    assert not Vaccination.objects.filter(current_version__isnull=True).exists()
    # One visit per patient, unit and day, and every visit has a vaccination.
    assert not Visit.objects.filter(vaccinations__isnull=True).exists()
    duplicates = (
        Visit.objects.values("patient", "care_unit", "visit_date").annotate(n=Count("id")).filter(n__gt=1)
    )
    assert not duplicates.exists()


def test_fill_writes_complete_signed_records() -> None:
    stats = fill()
    assert (stats.patients, stats.vaccinations) == (PATIENTS, VACCINATIONS)
    assert Patient.objects.filter(is_test_data=True).count() == PATIENTS
    assert Vaccination.objects.count() == VACCINATIONS
    assert Visit.objects.count() == stats.visits <= VACCINATIONS
    assert AuditEvent.objects.count() == stats.audit_events == 2 * VACCINATIONS + PATIENTS
    assert AuditEvent.objects.filter(object_type="patients.patient", action=Action.CREATE).count() == PATIENTS
    assert_consistent()
    for patient in Patient.objects.all():
        parsed = parse_personnummer(patient.identifier)
        assert parsed.value == patient.identifier
        assert (parsed.birth_date, parsed.legal_sex) == (patient.birth_date, patient.legal_sex)
        assert patient.is_test_data and patient.identifier_kind == "personnummer"
    # The organisation: valid HSA-ids, nurses with assignments, a standing order covering every product.
    provider = CareProvider.objects.get(hsa_id=provider_hsa_id())
    assert parse_hsa_id(provider.hsa_id) == provider.hsa_id and provider.is_test_data
    units = CareUnit.objects.filter(care_provider=provider)
    assert units.count() == len(UNITS)
    for unit in units:
        assert parse_hsa_id(unit.hsa_id) == unit.hsa_id
        assert Assignment.objects.filter(care_unit=unit, role="nurse").count() == NURSES_PER_UNIT
        standing = StandingOrder.objects.get(care_unit=unit)
        assert standing.products.count() == standing.products.model.objects.filter(active=True).count()
    for user in User.objects.filter(username__startswith="synth."):
        assert user.hsa_id and parse_hsa_id(user.hsa_id) == user.hsa_id
        assert not user.has_usable_password() and user.is_test_data


def test_a_second_fill_adds_more_and_reuses_the_organisation() -> None:
    fill(seed=1)
    fill(seed=1)
    assert Patient.objects.count() == 2 * PATIENTS
    assert Vaccination.objects.count() == 2 * VACCINATIONS
    identifiers = Counter(Patient.objects.values_list("identifier", flat=True))
    assert max(identifiers.values()) == 1
    assert CareProvider.objects.filter(hsa_id=provider_hsa_id()).count() == 1
    assert CareUnit.objects.count() == len(UNITS)
    assert StandingOrder.objects.count() == len(UNITS)
    assert User.objects.filter(username__startswith="synth.").count() == len(UNITS) * (NURSES_PER_UNIT + 1)
    ids = list(VaccinationVersion.objects.values_list("id", flat=True))
    assert len(ids) == len(set(ids)) == 2 * VACCINATIONS
    assert AuditEvent.objects.count() == 2 * (2 * VACCINATIONS + PATIENTS)
    assert_consistent()


def test_services_and_api_work_on_synthetic_records() -> None:
    fill()
    actor = nurse_actor(1)
    unit = actor.assignment.care_unit if actor.assignment else None
    vaccination = (
        Vaccination.objects.filter(care_unit__care_provider__hsa_id=provider_hsa_id())
        .select_related("current_version__product")
        .first()
    )
    assert vaccination is not None and vaccination.current_version is not None
    old = Administration.of_version(vaccination.current_version)
    corrected = vaccination_correct(
        actor=actor,
        vaccination=vaccination,
        data=Administration(**{**old.__dict__, "batch_number": old.batch_number + "X", **OVERRIDE}),
        reason="Fel batchnummer.",
    )
    assert corrected.current_version is not None and corrected.current_version.number == 2
    assert vaccination.versions.count() == 2

    # A new dose for a synthetic patient, through the service and through the API.
    # An adult with no influenza dose yet: a first dose of vaxigriptetra counts.
    patient = (
        Patient.objects.filter(is_test_data=True, birth_date__lt=today_minus_years(30))
        .exclude(vaccinations__current_version__product__vaccine_group="influenza")
        .order_by("identifier")
        .first()
    )
    assert patient is not None and unit is not None
    product = vaccination.current_version.product
    today = timezone.localdate()
    recorded = vaccination_record(
        actor=actor,
        patient=patient,
        data=Administration(
            **{
                **old.__dict__,
                "administered_at": timezone.now(),
                "batch_expiry": today + timedelta(days=90),
                **OVERRIDE,
            }
        ),
        sign=True,
    )
    assert recorded.status == EntryStatus.SIGNED and recorded.order.standing_order is not None
    assert recorded.order.standing_order.care_unit_id == unit.pk
    assert actor.user is not None and actor.assignment is not None
    _token_record, token = api_token_create(user=actor.user, assignment=actor.assignment)
    body = {
        "administered_at": timezone.now().isoformat(),
        "product": "vaxigriptetra",
        "batch_number": "AB1234",
        "dose_number": 1,
        "site": "left_deltoid",
        "route": "IM",
        "dose_volume_ml": "0.5",
        "sign": True,
    }
    response = Client().post(
        f"/api/v1/patients/{patient.pk}/vaccinations",
        data=json.dumps(body),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "synth-test-1"},
    )
    assert response.status_code == 201, response.content
    assert response.json()["status"] == "signed"
    assert product.pk  # the synthetic product exists in the catalogue
    connection.check_constraints()


def test_command_prints_a_summary() -> None:
    out = io.StringIO()
    call_command("synth", patients=3, vaccinations=10, seed=7, json=True, stdout=out, stderr=io.StringIO())
    summary = json.loads(out.getvalue())
    assert (summary["patients"], summary["vaccinations"]) == (3, 10)
    assert Vaccination.objects.count() == 10


def test_vaccinations_need_patients() -> None:
    with pytest.raises(ValueError, match="need patients"):
        synth_fill(patients=0, vaccinations=5, progress=None)


def test_a_dangling_foreign_key_fails_the_fill(monkeypatch: pytest.MonkeyPatch) -> None:
    """The database checks every reference, whichever way the rows went in."""
    chunk = synth._Generator.chunk

    def corrupt(self: synth._Generator, *args: object, **kwargs: object) -> object:
        rows, done, visits = chunk(self, *args, **kwargs)  # type: ignore[arg-type]
        order = list(rows[Order][0])
        order[ORDER_UNIT] = "999999"  # no such care unit
        rows[Order][0] = tuple(order)
        return rows, done, visits

    ORDER_UNIT = synth.ORDER_COLUMNS.index("care_unit_id")
    monkeypatch.setattr(synth._Generator, "chunk", corrupt)
    before = Order.objects.count()
    with pytest.raises(IntegrityError), transaction.atomic():
        synth_fill(patients=5, vaccinations=20, progress=None)
        # SQLite counts deferred violations and refuses the commit; the test never commits, so ask.
        connection.check_constraints()
    assert Order.objects.count() == before


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's two ways of checking")
def test_postgres_checks_per_row_when_it_cannot_skip_the_triggers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(synth._PostgresWriter, "allow_set_based_checks", False)
    fill()
    assert_consistent()
    test_a_dangling_foreign_key_fails_the_fill(monkeypatch)
