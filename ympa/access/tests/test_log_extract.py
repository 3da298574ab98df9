"""The log extract (loggutdrag): which care units accessed a record and when, as a page, CSV and PDF.

It names care providers and units, never staff; it never carries the patient's address, phone or e-mail; the
staff member asking needs a care relation, and the extract itself is logged (export for CSV, print for PDF).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from conftest import actor_of, staff_client
from ympa.access.extract import (
    LOG_EXTRACT,
    LogExtractRow,
    log_extract_create,
    log_extract_csv,
    log_extract_html,
    log_extract_rows,
)
from ympa.access.models import Action, AuditEvent
from ympa.access.pdl_services import care_relation_register
from ympa.access.services import audit_event_record, patient_access
from ympa.authn.models import User
from ympa.core.actor import Actor
from ympa.core.errors import NotPermitted
from ympa.orgs.models import CareUnit
from ympa.patients.models import Patient

pytestmark = pytest.mark.django_db

START = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
# Personal details that must never reach an extract.
CONTACT = ("Testgatan", "070-123", "tolvan@example.se")
# Staff names and log-in names that must never reach an extract.
STAFF = ("Agnes", "Bodil", "Staffname", "nurse_a", "nurse_b")


@pytest.fixture(autouse=True)
def clock() -> Iterator[time_machine.Coordinates]:
    """A fixed clock, set before the personas are made, so care relations are in force when moved on."""
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def named(nurse_a: User, nurse_b: User) -> None:
    User.objects.filter(pk=nurse_a.pk).update(first_name="Agnes", last_name="Staffname")
    User.objects.filter(pk=nurse_b.pk).update(first_name="Bodil", last_name="Staffname")


@pytest.fixture
def accesses(
    citizen: Patient, nurse_a: User, nurse_b: User, named: None, clock: time_machine.Coordinates
) -> Patient:
    """Tolvan's record read by the nurse at clinic A on 4 March and by the nurse at clinic B (another
    provider, after registering a care relation) on 10 March, 12:00 Swedish time."""
    nurse_a.refresh_from_db()
    nurse_b.refresh_from_db()
    clock.move_to(datetime(2025, 3, 4, 8, 15, tzinfo=UTC))
    patient_access(actor=actor_of(nurse_a), patient=citizen)
    clock.move_to(datetime(2025, 3, 10, 11, 0, tzinfo=UTC))
    actor_b = actor_of(nurse_b)
    care_relation_register(actor=actor_b, patient=citizen, purpose="Vaccination")
    patient_access(actor=actor_b, patient=citizen)
    return citizen


def _rows(patient: Patient, start: date | None = None, end: date | None = None) -> list[LogExtractRow]:
    with translation.override("en"):
        return log_extract_rows(patient=patient, start=start, end=end)


def _reads(rows: list[LogExtractRow]) -> list[tuple[str, str, str, str, str]]:
    return [
        (r.time_text, r.care_provider, r.care_unit, r.action, r.channel) for r in rows if r.action == "Read"
    ]


def test_rows_list_the_units_and_times_of_reads_at_both_providers(accesses: Patient) -> None:
    rows = _rows(accesses)
    assert _reads(rows) == [
        ("2025-03-04 09:15", "Provider A", "Clinic A", "Read", "Staff web app"),
        ("2025-03-10 12:00", "Provider B", "Clinic B", "Read", "Staff web app"),
    ]
    # The registration and the care relation at clinic B are accesses too, oldest first.
    assert [r.occurred_at for r in rows] == sorted(r.occurred_at for r in rows)
    assert ("Clinic B", "Create") in {(r.care_unit, r.action) for r in rows}
    assert all(r.occurred_at.utcoffset() is not None for r in rows)


def test_rows_without_a_care_unit_say_who_acted(citizen: Patient, officer: User) -> None:
    audit_event_record(
        actor=Actor.citizen(citizen.identifier, "Tolvan Tolvansson"),
        action=Action.READ,
        patient=citizen,
        object_type="citizen.record",
        object_id=str(citizen.pk),
    )
    audit_event_record(
        actor=Actor.citizen("197001010000", "Some Guardian"),
        action=Action.READ,
        patient=citizen,
        object_type="citizen.record",
        object_id=str(citizen.pk),
    )
    audit_event_record(
        actor=Actor.system("forecast"),
        action=Action.UPDATE,
        patient=citizen,
        object_type="journal.forecast",
        object_id=str(citizen.pk),
    )
    audit_event_record(
        actor=actor_of(officer),
        action=Action.READ,
        patient=citizen,
        object_type="patients.patient",
        object_id=str(citizen.pk),
    )
    units = [(r.care_provider, r.care_unit, r.channel) for r in _rows(citizen)][-4:]
    assert units == [
        ("", "The patient (citizen app)", "Citizen app"),
        ("", "A guardian (citizen app)", "Citizen app"),
        ("", "System", "System"),
        (officer.assignments.get().region.name, "Infection control", "Staff web app"),
    ]
    assert not any("Guardian" in r.care_unit or "Tolvan" in r.care_unit for r in _rows(citizen))


def test_the_period_is_swedish_days_both_included(
    citizen: Patient, nurse_a: User, clock: time_machine.Coordinates
) -> None:
    actor = actor_of(nurse_a)
    # 23:30 UTC on 4 March is 00:30 on 5 March in Stockholm.
    for moment in (
        datetime(2025, 3, 4, 22, 30, tzinfo=UTC),
        datetime(2025, 3, 4, 23, 30, tzinfo=UTC),
        datetime(2025, 3, 6, 22, 59, tzinfo=UTC),
        datetime(2025, 3, 6, 23, 0, tzinfo=UTC),
    ):
        clock.move_to(moment)
        patient_access(actor=actor, patient=citizen)
    period = _reads(_rows(citizen, start=date(2025, 3, 5), end=date(2025, 3, 6)))
    assert [time for time, *_rest in period] == ["2025-03-05 00:30", "2025-03-06 23:59"]
    assert len(_reads(_rows(citizen, start=date(2025, 3, 7)))) == 1
    assert len(_reads(_rows(citizen, end=date(2025, 3, 4)))) == 1
    assert len(_reads(_rows(citizen))) == 4


def test_csv_has_a_bom_semicolons_a_header_and_no_staff_names(accesses: Patient) -> None:
    with translation.override("en"):
        content = log_extract_csv(_rows(accesses))
    assert content.startswith(b"\xef\xbb\xbf")
    lines = list(csv.reader(io.StringIO(content.decode("utf-8-sig")), delimiter=";"))
    assert lines[0] == ["Time", "Care provider", "Care unit", "Action", "Channel"]
    assert ["2025-03-10 12:00", "Provider B", "Clinic B", "Read", "Staff web app"] in lines
    text = content.decode("utf-8-sig")
    assert not [name for name in (*STAFF, *CONTACT) if name in text]


def test_the_csv_header_follows_the_language() -> None:
    with translation.override("sv"):
        header = log_extract_csv([]).decode("utf-8-sig").splitlines()[0]
    assert header.count(";") == 4 and "Time" not in header


def test_a_cell_a_spreadsheet_would_run_is_quoted() -> None:
    row = LogExtractRow(START, "=HYPERLINK(1)", "@SUM(1)", "Read", "System")
    line = log_extract_csv([row]).decode("utf-8-sig").splitlines()[1]
    assert line.split(";")[1:3] == ["'=HYPERLINK(1)", "'@SUM(1)"]


def _protect(patient: Patient) -> Patient:
    Patient.objects.filter(pk=patient.pk).update(protected_identity=True, email=CONTACT[2])
    patient.refresh_from_db()
    return patient


def test_pdf_html_names_units_not_staff_and_no_contact_details(accesses: Patient) -> None:
    for patient in (accesses, _protect(accesses)):
        with translation.override("en"):
            html = log_extract_html(
                patient=patient,
                rows=_rows(patient),
                generated_at=START,
                requested_by="Clinic A, Provider A",
                start=date(2025, 3, 1),
            )
        assert "Log extract" in html and "Tolvan Tolvansson" in html and "19121212-1212" in html
        assert "Clinic A" in html and "Clinic B" in html and "Provider B" in html
        assert "2025-03-10 12:00" in html and "from 2025-03-01" in html
        assert "DejaVu Sans" in html and "counter(pages)" in html
        assert not [name for name in (*STAFF, *CONTACT) if name in html]


def test_the_footer_cannot_be_broken_out_of_by_a_name(citizen: Patient) -> None:
    Patient.objects.filter(pk=citizen.pk).update(family_name='x"; } </style><script>')
    citizen.refresh_from_db()
    html = log_extract_html(patient=citizen, rows=[], generated_at=START, requested_by="Clinic A")
    style = html.split("<style>", 1)[1].split("</style>", 1)[0]
    assert "<script>" not in style and "</style" not in style and '"; }' not in style
    assert "&lt;script&gt;" in html.split("</style>", 1)[1]


def test_a_pdf_is_printed_and_logged(accesses: Patient, nurse_a: User) -> None:
    extract = log_extract_create(actor=actor_of(nurse_a), patient=accesses, fmt="pdf")
    assert extract.content.startswith(b"%PDF-") and len(extract.content) > 5_000
    assert extract.filename == "loggutdrag-20250310.pdf"
    assert extract.content_type == "application/pdf"
    assert AuditEvent.objects.filter(
        patient=accesses, user=nurse_a, action=Action.PRINT, object_type=LOG_EXTRACT
    ).exists()


def test_a_csv_is_exported_logged_and_lists_its_own_export(accesses: Patient, nurse_a: User) -> None:
    with translation.override("en"):
        extract = log_extract_create(actor=actor_of(nurse_a), patient=accesses, fmt="csv")
    assert extract.filename == "loggutdrag-20250310.csv"
    assert AuditEvent.objects.filter(
        patient=accesses, user=nurse_a, action=Action.EXPORT, object_type=LOG_EXTRACT
    ).exists()
    assert extract.content.decode("utf-8-sig").splitlines()[-1].split(";")[2:4] == ["Clinic A", "Export"]


def test_staff_without_a_care_relation_get_no_extract_and_nothing_is_logged(
    citizen: Patient, nurse_b: User
) -> None:
    with pytest.raises(NotPermitted):
        log_extract_create(actor=actor_of(nurse_b), patient=citizen, fmt="csv")
    client = staff_client(nurse_b)
    for suffix in ("", "csv", "pdf"):
        response = client.get(f"/patients/pdl/log-extract/{citizen.pk}/{suffix}")
        assert response.status_code == 403, suffix
        assert "Content-Disposition" not in response
        body = response.content.decode()
        assert "Tolvansson" not in body and "19121212" not in body and "Clinic A" not in body
    assert not AuditEvent.objects.filter(object_type=LOG_EXTRACT).exists()


def test_the_page_previews_the_rows_and_logs_a_read(accesses: Patient, nurse_a: User) -> None:
    page = staff_client(nurse_a).get(f"/patients/pdl/log-extract/{accesses.pk}/?start=2025-03-10")
    assert page.status_code == 200 and page["Cache-Control"] == "no-store"
    body = page.content.decode()
    table = body.split('data-testid="log-extract"', 1)[1].split("</table>", 1)[0]
    assert "Clinic B" in table and "2025-03-10 12:00" in table and "2025-03-04" not in table
    assert not [name for name in ("Bodil", "nurse_b", *CONTACT) if name in body]
    assert "?start=2025-03-10" in body  # the download links keep the period
    assert AuditEvent.objects.filter(
        patient=accesses, user=nurse_a, action=Action.READ, object_type=LOG_EXTRACT
    ).exists()


def test_a_protected_patients_contact_details_reach_no_page_or_file(accesses: Patient, nurse_a: User) -> None:
    patient = _protect(accesses)
    client = staff_client(nurse_a)
    base = f"/patients/pdl/log-extract/{patient.pk}/"
    page, csv_file = client.get(base), client.get(base + "csv")
    assert page.status_code == csv_file.status_code == 200
    for content in (page.content.decode(), csv_file.content.decode("utf-8-sig")):
        assert not [detail for detail in CONTACT if detail in content]


def test_downloads_are_attachments_and_logged(accesses: Patient, nurse_a: User) -> None:
    client = staff_client(nurse_a)
    base = f"/patients/pdl/log-extract/{accesses.pk}/"
    csv_file = client.get(base + "csv?start=2025-03-01&end=2025-03-31")
    assert csv_file.status_code == 200 and csv_file["Cache-Control"] == "no-store"
    assert csv_file["Content-Type"] == "text/csv; charset=utf-8"
    assert csv_file["Content-Disposition"] == 'attachment; filename="loggutdrag-20250310.csv"'
    assert csv_file.content.startswith(b"\xef\xbb\xbf")
    pdf = client.get(base + "pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    assert pdf["Content-Disposition"] == 'attachment; filename="loggutdrag-20250310.pdf"'
    logged = AuditEvent.objects.filter(patient=accesses, user=nurse_a, object_type=LOG_EXTRACT)
    assert sorted(logged.values_list("action", flat=True)) == [Action.EXPORT, Action.PRINT]


@pytest.mark.parametrize("query", ["start=2025-02-30", "end=yesterday", "start=2025-03-10&end=2025-03-01"])
def test_an_invalid_period_gives_a_form_error_and_no_file(
    accesses: Patient, nurse_a: User, query: str
) -> None:
    client = staff_client(nurse_a)
    for suffix in ("csv", "pdf"):
        response = client.get(f"/patients/pdl/log-extract/{accesses.pk}/{suffix}?{query}")
        assert response.status_code == 400 and "Content-Disposition" not in response
        assert "invalid-feedback" in response.content.decode() or "alert-danger" in response.content.decode()
    page = client.get(f"/patients/pdl/log-extract/{accesses.pk}/?{query}")
    assert page.status_code == 200 and 'data-testid="log-extract"' not in page.content.decode()
    assert not AuditEvent.objects.filter(action__in=[Action.EXPORT, Action.PRINT]).exists()


def test_the_preview_costs_the_same_queries_however_long_the_log(
    accesses: Patient, nurse_a: User, unit_a: CareUnit
) -> None:
    client = staff_client(nurse_a)
    url = f"/patients/pdl/log-extract/{accesses.pk}/"

    def queries() -> list[str]:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return [query["sql"] for query in captured.captured_queries]

    client.get(url)  # the session's first request may load more than later ones
    few = queries()
    actor = actor_of(nurse_a)
    for _index in range(30):
        patient_access(actor=actor, patient=accesses)
    many = queries()
    assert len(many) == len(few)
    table = AuditEvent._meta.db_table
    reads = [sql for sql in many if sql.lstrip().upper().startswith("SELECT") and f'FROM "{table}"' in sql]
    assert len(reads) == 1, reads


def test_the_overview_links_to_the_extract(citizen: Patient, nurse_a: User) -> None:
    page = staff_client(nurse_a).get(f"/patients/{citizen.pk}/")
    assert f"/patients/pdl/log-extract/{citizen.pk}/" in page.content.decode()
