"""The log extract (loggutdrag): which care units and care providers accessed a patient's record, and when.

The patient has the right to learn of the accesses to their record (patientdatalagen 2008:355, 8 kap. 5 §);
the extract must show from which care unit and at what time (HSLF-FS 2016:40, 4 kap. 10 §). It names the care
provider and care unit behind each access, never the staff member; rows written by the patient in the citizen
app, a guardian or the system say so instead of a unit.

Three plain functions build it (`log_extract_rows`, `log_extract_csv`, `log_extract_pdf`), for any channel;
`log_extract_create` is the staff service that decides, logs and builds the file in one go.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from ympa.access.models import Action, AuditEvent
from ympa.access.services import patient_access
from ympa.core.actor import Actor, ActorKind, Channel
from ympa.core.dates import SWEDEN, day_after, day_start
from ympa.core.spreadsheet import csv_bytes
from ympa.orgs.models import Purpose
from ympa.patients.models import IdentifierKind, Patient
from ympa.patients.templatetags.patients import identifier_display

LOG_EXTRACT = "access.log_extract"
TIME_FORMAT = "%Y-%m-%d %H:%M"

Format = Literal["csv", "pdf"]


@dataclass(frozen=True, slots=True)
class LogExtractRow:
    """One access, as the patient may learn of it. Texts are in the language active when it was built."""

    occurred_at: datetime
    care_provider: str
    care_unit: str
    action: str
    channel: str

    @property
    def time_text(self) -> str:
        """Swedish time, whatever timezone the request activated (templates would convert to that)."""
        return self.occurred_at.strftime(TIME_FORMAT)


@dataclass(frozen=True, slots=True)
class LogExtractFile:
    content: bytes
    filename: str
    content_type: str


def log_extract_rows(
    *, patient: Patient, start: date | None = None, end: date | None = None
) -> list[LogExtractRow]:
    """Every access to the patient's record from `start` to `end` (Swedish days, both included), oldest
    first. One query, joined with the units, providers and (for regional staff) regions; no access decision
    or logging here: callers do that (`log_extract_create`, or a view through `patient_access`)."""
    events = AuditEvent.objects.filter(patient=patient)
    if start is not None:
        events = events.filter(occurred_at__gte=day_start(start))
    if end is not None:
        events = events.filter(occurred_at__lt=day_after(end))
    # values_list rather than select_related: the same joins, without building models or reading the
    # detail JSON, which is most of the cost for a long extract.
    found = events.order_by("occurred_at", "pk").values_list(
        "occurred_at",
        "actor_kind",
        "actor_identity",
        "care_provider__name",
        "care_unit__name",
        "assignment__region__name",
        "purpose",
        "action",
        "channel",
    )
    actions = {value: str(label) for value, label in Action.choices}
    channels = {value: str(label) for value, label in Channel.choices}
    purposes = {value: str(label) for value, label in Purpose.choices}
    kinds = {value: str(label) for value, label in ActorKind.choices}
    own = _("The patient (citizen app)")
    guardian = _("A guardian (citizen app)")
    rows = []
    for occurred_at, kind, identity, provider, unit, region, purpose, action, channel in found:
        if unit is None:
            if kind == ActorKind.CITIZEN:
                # Citizens act in the citizen app for themselves or for a child in their care.
                unit = own if identity == patient.identifier else guardian
            elif kind == ActorKind.STAFF and region is not None:
                # Regional staff (infection control) have an assignment at a region, not at a care unit.
                provider, unit = region, purposes.get(purpose, purpose)
            else:
                unit = kinds.get(kind, kind)
        rows.append(
            LogExtractRow(
                occurred_at=occurred_at.astimezone(SWEDEN),
                care_provider=provider or "",
                care_unit=unit,
                action=actions.get(action, action),
                channel=channels.get(channel, channel),
            )
        )
    return rows


def log_extract_csv(rows: Iterable[LogExtractRow]) -> bytes:
    """The extract as CSV for a spreadsheet (`ympa.core.spreadsheet`), its header in the active language."""
    return csv_bytes(
        [_("Time"), _("Care provider"), _("Care unit"), _("Action"), _("Channel")],
        ([row.time_text, row.care_provider, row.care_unit, row.action, row.channel] for row in rows),
    )


def _css_string(text: str) -> SafeString:
    """`text` as a quoted CSS string, safe inside the style element: anything but letters, digits and plain
    punctuation is escaped, so no name can end the string or the element."""
    escaped = "".join(ch if ch.isalnum() or ch in " .,:()/" else f"\\{ord(ch):x} " for ch in text)
    return mark_safe(f'"{escaped}"')  # noqa: S308


def _page_counter() -> SafeString:
    """CSS `content` for the footer's page number, from one translatable sentence."""
    # Each placeholder becomes a CSS counter between the translated words around it.
    sentence = _("Page %(page)s of %(pages)s") % {"page": "\x00page\x00", "pages": "\x00pages\x00"}
    parts = [
        f"counter({part})" if index % 2 else _css_string(part)
        for index, part in enumerate(sentence.split("\x00"))
        if part
    ]
    # Escaped CSS strings and the two counter names only.
    return mark_safe(" ".join(parts))  # noqa: S308


def period_text(start: date | None, end: date | None) -> str:
    if start and end:
        return _("%(start)s to %(end)s") % {"start": start.isoformat(), "end": end.isoformat()}
    if start:
        return _("from %(start)s") % {"start": start.isoformat()}
    if end:
        return _("up to %(end)s") % {"end": end.isoformat()}
    return _("the whole log")


def log_extract_html(
    *,
    patient: Patient,
    rows: Sequence[LogExtractRow],
    generated_at: datetime,
    requested_by: str,
    start: date | None = None,
    end: date | None = None,
) -> str:
    """The PDF's HTML. The template gets the name and identifier as text, not the patient: it cannot show
    an address, phone number or e-mail address by mistake."""
    name, identifier = patient.full_name, identifier_display(patient)
    return render_to_string(
        "access/log_extract_pdf.html",
        {
            "language": get_language(),
            "name": name,
            "identifier": identifier,
            "identifier_kind": patient.get_identifier_kind_display()
            if patient.identifier_kind != IdentifierKind.PERSONNUMMER
            else "",
            "footer_patient": _css_string(f"{name}, {identifier}"),
            "page_counter": _page_counter(),
            "period": period_text(start, end),
            "generated_at": generated_at.astimezone(SWEDEN).strftime(TIME_FORMAT),
            "requested_by": requested_by,
            "rows": rows,
        },
    )


def log_extract_pdf(html: str) -> bytes:
    """The extract's HTML (`log_extract_html`) as an A4 PDF (WeasyPrint)."""
    # Imported here: loading WeasyPrint loads Pango, which only the PDF needs.
    from weasyprint import HTML

    pdf = HTML(string=html).write_pdf()
    assert isinstance(pdf, bytes)
    return pdf


def log_extract_create(
    *, actor: Actor, patient: Patient, fmt: Format, start: date | None = None, end: date | None = None
) -> LogExtractFile:
    """The staff service: decide and log the export (CSV) or print (PDF) of the extract, then build it.

    `patient_access` refuses staff without a care relation and writes the audit row. The rows are read in
    the same transaction, so the extract lists its own export. The file is built after commit: rendering a
    long PDF takes a while, and the transaction holds the audit chain's head lock, which other writers of
    the chain wait for. Should building fail, the log says more than happened, never less.
    """
    with transaction.atomic():
        patient_access(
            actor=actor,
            patient=patient,
            action=Action.EXPORT if fmt == "csv" else Action.PRINT,
            object_type=LOG_EXTRACT,
        )
        rows = log_extract_rows(patient=patient, start=start, end=end)
    now = timezone.now()
    filename = f"loggutdrag-{now.astimezone(SWEDEN):%Y%m%d}.{fmt}"
    if fmt == "csv":
        return LogExtractFile(log_extract_csv(rows), filename, "text/csv; charset=utf-8")
    return LogExtractFile(
        log_extract_pdf(
            log_extract_html(
                patient=patient,
                rows=rows,
                generated_at=now,
                requested_by=_requester(actor),
                start=start,
                end=end,
            )
        ),
        filename,
        "application/pdf",
    )


def _requester(actor: Actor) -> str:
    """Who asked for the extract: the care unit and its provider (patient_access made sure there is one)."""
    unit = actor.assignment.care_unit if actor.assignment else None
    assert unit is not None
    return f"{unit.name}, {unit.care_provider.name}"
