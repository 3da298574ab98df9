"""What an infection-control officer reads across the region, each read logged with its purpose.

Two ways in, both refused to anyone without an active infection-control assignment for a region:

- `region_aggregate`: counts only, small counts withheld; one log row for the region, no patient.
- `batch_recall_list`: the named list of the patients who got one batch (or, in a period, any batch of a
  vaccine), for a recall. The officer gives a reason (a case reference); every listed patient gets a log row
  with it, written with the read. The criteria are checked like the care providers' own recall list's
  (`ympa.inventory.recall`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from ympa.access.models import Action
from ympa.access.services import audit_event_build, audit_event_record, audit_events_save
from ympa.catalog.models import Product
from ympa.core.actor import Actor
from ympa.core.errors import NotPermitted
from ympa.inventory.recall import recall_criteria
from ympa.journal.models import EntryStatus
from ympa.orgs.models import Purpose
from ympa.orgs.rights import Right
from ympa.patients.templatetags.patients import identifier_display
from ympa.reporting.selectors import (
    RegionCounts,
    batch_doses,
    month_start,
    officer_region,
    region_dose_counts,
)

AGGREGATE_OBJECT = "reporting.region_aggregate"
RECALL_OBJECT = "reporting.batch_recall"
# A longer period is no infection-control question this page answers, and would be a heavy query.
MAX_PERIOD_MONTHS = 60


@transaction.atomic
def region_aggregate(*, actor: Actor, start: date, end: date) -> RegionCounts:
    """Dose counts for the actor's region from `start` to `end` (both included), logged as one read."""
    region = officer_region(actor)
    assert actor.assignment is not None
    if not actor.assignment.has_right(Right.VIEW_STATISTICS):
        raise NotPermitted(
            _("Your assignment does not include the right: %(right)s.")
            % {"right": Right.VIEW_STATISTICS.label}
        )
    if end < start:
        raise ValidationError({"end": _("The period must end after it starts.")})
    if month_start(start, MAX_PERIOD_MONTHS) <= end:
        raise ValidationError(
            {"start": _("Choose a period of at most %(months)d months.") % {"months": MAX_PERIOD_MONTHS}}
        )
    counts = region_dose_counts(region=region, start=start, end=end)
    # No identified patient's data is returned, but what the officer looked at is still on record.
    audit_event_record(
        actor=actor,
        action=Action.READ,
        patient=None,
        object_type=AGGREGATE_OBJECT,
        object_id=region.code,
        detail={"start": start.isoformat(), "end": end.isoformat()},
        purpose=Purpose.INFECTION_CONTROL.value,
    )
    return counts


@dataclass(frozen=True)
class RecallRow:
    """One dose of the recall, as the list shows it. The phone is empty for a patient with protected
    identity: it is left out here, so no page or file can show it."""

    patient_id: UUID
    name: str
    identifier: str
    given_at: datetime
    care_unit: str
    care_provider: str
    batch_number: str
    phone: str
    protected_identity: bool
    signed: bool


@dataclass(frozen=True)
class BatchRecall:
    product: Product
    # Empty: every batch of the vaccine given in the period.
    batch_number: str
    reason: str
    rows: tuple[RecallRow, ...]
    start: date | None = None
    end: date | None = None

    @property
    def patient_count(self) -> int:
        return len({row.patient_id for row in self.rows})


@transaction.atomic
def batch_recall_list(
    *,
    actor: Actor,
    product: Product | None,
    batch_number: str = "",
    reason: str,
    start: date | None = None,
    end: date | None = None,
    export: bool = False,
) -> BatchRecall:
    """The patients in the actor's region given a dose of this batch (or, without a batch number, of any
    batch of the vaccine in the period), for a recall. The criteria are checked as for a care provider's
    own recall list (`inventory.recall.recall_criteria`).

    Every listed patient gets one log row (READ, or EXPORT when the list leaves as a file) with the reason,
    the batch and the period if one was given, written in this transaction. An empty list logs nothing: no
    patient's data was read.
    """
    region = officer_region(actor)
    criteria = recall_criteria(
        product=product, batch_number=batch_number, start=start, end=end, reason=reason
    )
    rows: list[RecallRow] = []
    patients = {}
    doses = batch_doses(
        region=region,
        product=criteria.product,
        batch_number=criteria.batch_number,
        start=criteria.start,
        end=criteria.end,
    )
    for vaccination in doses:
        patient = vaccination.patient
        version = vaccination.current_version
        assert version is not None
        patients[patient.pk] = patient
        rows.append(
            RecallRow(
                patient_id=patient.pk,
                name=patient.full_name,
                identifier=identifier_display(patient),
                given_at=version.administered_at,
                care_unit=vaccination.care_unit.name,
                care_provider=vaccination.care_unit.care_provider.name,
                batch_number=version.batch_number,
                phone="" if patient.protected_identity else patient.phone,
                protected_identity=patient.protected_identity,
                signed=vaccination.status == EntryStatus.SIGNED,
            )
        )
    detail = criteria.log_detail()
    audit_events_save(
        [
            audit_event_build(
                actor=actor,
                action=Action.EXPORT if export else Action.READ,
                patient=patient,
                object_type=RECALL_OBJECT,
                object_id=str(patient.pk),
                detail=detail,
                purpose=Purpose.INFECTION_CONTROL.value,
            )
            for patient in patients.values()
        ]
    )
    return BatchRecall(
        product=criteria.product,
        batch_number=criteria.batch_number,
        reason=criteria.reason,
        rows=tuple(rows),
        start=criteria.start,
        end=criteria.end,
    )
