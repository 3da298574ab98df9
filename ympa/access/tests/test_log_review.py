"""Log review (logguppföljning): the provider's reviewer finds the accesses that need a look, exports them and
records the review; nobody else can, and the listing itself is logged."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.utils import DatabaseError
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from conftest import actor_of, make_staff, staff_client
from ympa.access.models import Action, AuditEvent
from ympa.access.pdl_services import (
    care_relation_register,
    emergency_access_open,
    emergency_access_register,
)
from ympa.access.review import ReviewFilter, log_review_page, log_review_record
from ympa.access.review_models import LogReview, ReviewCategory, ReviewOutcome
from ympa.access.services import patient_access
from ympa.authn.models import User
from ympa.core.errors import NotPermitted
from ympa.core.synthetic import personnummer
from ympa.journal.models import Visit
from ympa.orgs.models import CareUnit
from ympa.orgs.rights import Role
from ympa.patients.models import Patient
from ympa.patients.services import PatientDetails, patient_register

pytestmark = pytest.mark.django_db

URL = "/logs/review/"


@pytest.fixture
def reviewer_a(unit_a: CareUnit) -> User:
    """The administrator of clinic A: holds the right to review logs for provider A."""
    return make_staff("reviewer_a", Role.ADMINISTRATOR, unit=unit_a)


def _filter(*categories: ReviewCategory, days: int = 7) -> ReviewFilter:
    today = timezone.localdate()
    return ReviewFilter(start=today - timedelta(days=days), end=today, categories=categories)


def _post(categories: list[str], **extra: str) -> dict[str, object]:
    today = timezone.localdate()
    return {
        "start": (today - timedelta(days=6)).isoformat(),
        "end": today.isoformat(),
        "categories": categories,
        "staff": "",
        "patient": "",
        **extra,
    }


def _register(
    nurse: User,
    serial: int,
    family_name: str,
    *,
    street_address: str = "",
    postal_code: str = "",
    born: date = date(1980, 1, 1),
) -> Patient:
    return patient_register(
        actor=actor_of(nurse),
        identifier=personnummer(born, serial, female=True),
        details=PatientDetails(
            given_name="Test", family_name=family_name, street_address=street_address, postal_code=postal_code
        ),
    )


def test_flags_emergency_protected_no_visit_and_same_name(
    reviewer_a: User, nurse_a: User, nurse_b: User, citizen: Patient
) -> None:
    actor = actor_of(nurse_a)
    # Registering a patient is a care relation but not a visit; reading them later has no visit behind it.
    protected = _register(nurse_a, 1, "Hemlig")
    Patient.objects.filter(pk=protected.pk).update(protected_identity=True)
    nurse_a.last_name = "Grannsson"
    nurse_a.save(update_fields=["last_name"])
    namesake = _register(nurse_a, 2, "Grannsson")
    visited = _register(nurse_a, 3, "Besökt")
    Visit.objects.create(
        patient=visited, care_unit=nurse_a.assignments.get().care_unit, visit_date=timezone.localdate()
    )
    for patient in (protected, namesake, visited, citizen):
        patient_access(actor=actor, patient=patient)
    emergency = emergency_access_register(actor=actor, patient=citizen, reason="Medvetslös, akut")
    emergency_access_open(actor=actor, emergency=emergency)
    patient_access(actor=actor, patient=citizen)
    # Another provider's accesses are that provider's to review.
    care_relation_register(actor=actor_of(nurse_b), patient=citizen, purpose="Vaccination")
    patient_access(actor=actor_of(nurse_b), patient=citizen)

    page = log_review_page(actor=actor_of(reviewer_a), review=_filter())
    by_patient: dict[str, set[ReviewCategory]] = {}
    for row in page.rows:
        assert row.event.care_provider_id == nurse_a.assignments.get().care_unit.care_provider_id
        assert row.event.patient is not None
        by_patient.setdefault(row.event.patient.family_name, set()).update(row.categories)
    assert ReviewCategory.PROTECTED in by_patient["Hemlig"]
    assert ReviewCategory.NO_VISIT in by_patient["Hemlig"]
    assert ReviewCategory.SAME_NAME in by_patient["Grannsson"]
    assert by_patient["Besökt"] == set()
    assert ReviewCategory.EMERGENCY in by_patient["Tolvansson"]
    assert not any(row.event.user_id == nurse_b.pk for row in page.rows)

    emergency_only = log_review_page(actor=actor_of(reviewer_a), review=_filter(ReviewCategory.EMERGENCY))
    reasons = {row.event.detail.get("reason") for row in emergency_only.rows}
    # The reveal, the opening, and the read made while it was open, each with its reason where it has one.
    assert {row.event.action for row in emergency_only.rows} >= {Action.CREATE, Action.UPDATE, Action.READ}
    assert "Medvetslös, akut" in reasons
    assert all(ReviewCategory.EMERGENCY in row.categories for row in emergency_only.rows)


def test_same_address_as_the_staff_members_own_record(reviewer_a: User, nurse_a: User) -> None:
    own = _register(nurse_a, 4, "Sjuksköterska", street_address="Ekvägen 3", postal_code="75320")
    nurse_a.personal_identity_number = own.identifier
    nurse_a.save(update_fields=["personal_identity_number"])
    neighbour = _register(nurse_a, 5, "Annan", street_address="ekvägen 3", postal_code="75320")
    elsewhere = _register(nurse_a, 6, "Borta", street_address="Ekvägen 3", postal_code="11111")
    for patient in (neighbour, elsewhere):
        patient_access(actor=actor_of(nurse_a), patient=patient)
    rows = log_review_page(actor=actor_of(reviewer_a), review=_filter(ReviewCategory.SAME_NAME)).rows
    # The staff member's own record counts too: same name, same address.
    assert {row.event.patient_id for row in rows} == {neighbour.pk, own.pk}
    assert elsewhere.pk not in {row.event.patient_id for row in rows}


def test_only_reviewers_of_the_provider_may_review(
    nurse_a: User, officer: User, outsider: User, citizen: Patient
) -> None:
    for user in (nurse_a, officer, outsider):
        before = AuditEvent.objects.count()
        with pytest.raises(NotPermitted):
            log_review_page(actor=actor_of(user), review=_filter())
        assert AuditEvent.objects.count() == before
    response = staff_client(nurse_a).get(URL)
    assert response.status_code == 403
    assert b"Tolvansson" not in response.content
    assert not LogReview.objects.exists()


def test_the_page_lists_flagged_accesses_and_logs_each_patient_shown(
    reviewer_a: User, nurse_a: User, citizen: Patient
) -> None:
    protected = _register(nurse_a, 1, "Hemlig", street_address="Gömd väg 1")
    Patient.objects.filter(pk=protected.pk).update(protected_identity=True)
    patient_access(actor=actor_of(nurse_a), patient=protected)
    client = staff_client(reviewer_a)

    response = client.get(URL)
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    body = response.content.decode()
    assert "Hemlig" in body and "Skyddade personuppgifter" in body
    # The review shows who read whom; never where a protected person lives.
    assert "Gömd väg" not in body
    logged = AuditEvent.objects.filter(user=reviewer_a, object_type="access.log_review")
    assert set(logged.values_list("patient_id", flat=True)) >= {protected.pk}
    assert all(event.purpose == "log_review" for event in logged)


def test_filters_by_staff_and_patient_are_posted_not_put_in_the_url(
    reviewer_a: User, nurse_a: User, physician_a: User, citizen: Patient
) -> None:
    other = _register(nurse_a, 3, "Annan")
    patient_access(actor=actor_of(nurse_a), patient=citizen)
    patient_access(actor=actor_of(physician_a), patient=other)
    client = staff_client(reviewer_a)
    response = client.post(URL, _post([], patient="19121212-1212"))
    body = response.content.decode()
    assert "Tolvansson" in body and "Annan" not in body
    response = client.post(URL, _post([], staff="Physician"))
    body = response.content.decode()
    assert "Annan" in body and "Tolvansson" not in body


def test_invalid_period_is_a_form_error_and_lists_nothing(reviewer_a: User, citizen: Patient) -> None:
    today = timezone.localdate()
    before = AuditEvent.objects.count()
    response = staff_client(reviewer_a).post(
        URL, _post([], start=today.isoformat(), end=(today - timedelta(days=3)).isoformat())
    )
    assert response.status_code == 200
    assert "Perioden slutar innan den börjar." in response.content.decode()
    assert "Tolvansson" not in response.content.decode()
    assert AuditEvent.objects.count() == before


def test_csv_export_lists_every_match_with_flags_and_logs_exports(
    reviewer_a: User, nurse_a: User, citizen: Patient
) -> None:
    actor = actor_of(nurse_a)
    emergency = emergency_access_register(actor=actor, patient=citizen, reason="Akut allergisk reaktion")
    emergency_access_open(actor=actor, emergency=emergency)
    response = staff_client(reviewer_a).post(URL, _post([ReviewCategory.EMERGENCY.value], export="1"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Cache-Control"] == "no-store"
    assert response.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][0] == "Tid"
    assert len(rows) == 3  # header, reveal, open
    assert all(row[5] == "191212121212" and "Nödåtkomst" in row[9] for row in rows[1:])
    assert "Akut allergisk reaktion" in {row[10] for row in rows[1:]}
    assert AuditEvent.objects.filter(
        user=reviewer_a, patient=citizen, action=Action.EXPORT, object_type="access.log_review"
    ).exists()


def test_recording_a_review_keeps_who_when_what_and_finding(
    reviewer_a: User, nurse_a: User, citizen: Patient
) -> None:
    patient_access(actor=actor_of(nurse_a), patient=citizen)
    client = staff_client(reviewer_a)
    empty = client.post(URL, _post([], record="1", **{"record-outcome": "no_remarks", "record-finding": " "}))
    assert empty.status_code == 200
    assert not LogReview.objects.exists()

    response = client.post(
        URL,
        _post(
            [ReviewCategory.NO_VISIT.value],
            record="1",
            **{"record-outcome": "remarks", "record-finding": "Läsning utan besök; kontrollerat med chefen."},
        ),
    )
    assert response.status_code == 302
    review = LogReview.objects.get()
    assert review.reviewed_by == reviewer_a
    assert review.categories == ["no_visit"]
    assert review.outcome == ReviewOutcome.REMARKS
    assert review.accesses_listed >= 1
    assert review.period_end == timezone.localdate()
    page = client.get(URL).content.decode()
    assert "Läsning utan besök" in page

    with pytest.raises((IntegrityError, DatabaseError)), transaction.atomic():
        LogReview.objects.filter(pk=review.pk).update(finding="Ändrat i efterhand")
    review.refresh_from_db()
    assert review.finding.startswith("Läsning utan besök")


def test_emergency_accesses_not_yet_reviewed_are_counted(
    reviewer_a: User, nurse_a: User, citizen: Patient
) -> None:
    actor = actor_of(nurse_a)
    emergency_access_register(actor=actor, patient=citizen, reason="Akut")
    client = staff_client(reviewer_a)
    assert 'data-testid="unreviewed-emergencies"' in client.get(URL).content.decode()
    today = timezone.localdate()
    log_review_record(
        actor=actor_of(reviewer_a),
        review=ReviewFilter(
            start=today - timedelta(days=6), end=today, categories=(ReviewCategory.EMERGENCY,)
        ),
        outcome=ReviewOutcome.NO_REMARKS,
        finding="Nödåtkomsten var befogad.",
    )
    assert 'data-testid="unreviewed-emergencies"' not in client.get(URL).content.decode()


def test_the_page_costs_the_same_number_of_queries_for_many_accesses(
    reviewer_a: User, nurse_a: User, citizen: Patient
) -> None:
    def queries() -> int:
        client: Client = staff_client(reviewer_a)
        client.get(URL)  # session and first-use caches
        with CaptureQueriesContext(connection) as captured:
            assert client.post(URL, _post([])).status_code == 200
        return len(captured)

    patient_access(actor=actor_of(nurse_a), patient=citizen)
    few = queries()
    for n in range(20):
        patient = _register(nurse_a, 10 + n, f"Person{n}")
        patient_access(actor=actor_of(nurse_a), patient=patient)
    assert queries() == few


def test_a_rolled_back_listing_leaves_no_log_rows(reviewer_a: User, nurse_a: User, citizen: Patient) -> None:
    patient_access(actor=actor_of(nurse_a), patient=citizen)
    before = AuditEvent.objects.count()
    with pytest.raises(RuntimeError), transaction.atomic():
        log_review_page(actor=actor_of(reviewer_a), review=_filter())
        raise RuntimeError("the page failed to render")
    assert AuditEvent.objects.count() == before
