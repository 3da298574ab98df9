"""The recall list: the patients a care provider gave a batch (or any batch of a vaccine) in a period.

A unit's staff with the right to manage stock or to view statistics list the doses given at any unit of
their care provider, to contact the patients after a recall or a fault in storage. The list is a read of
every listed patient's data, for the reason the reader gives (a case reference): each listed patient gets
one access-log row with it, written with the read. The legal basis is that the reader needs the
information for their work in the provider's care (PDL 4 kap. 1 §), so no care relation with each patient
is asked for; the patient's inner blocks still apply, decided per dose by `ympa.access.pdl.decide` like
every other read of the record.

The doses come from the journal (`dose_recipients`), the truth about who got what whether or not the dose
was booked in stock, so a provider that keeps its stock outside Ympa can list a recall too. The criteria
and their checks are shared with the infection-control officer's region recall (`ympa.reporting`), which
lists the same doses for the whole region.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from ympa.access.models import Action
from ympa.access.pdl import Basis, PatientFacts, Reader, decide
from ympa.access.pdl_models import Block, BlockType
from ympa.access.pdl_services import patient_facts, reader_for
from ympa.access.services import audit_event_build, audit_events_save
from ympa.catalog.models import Product
from ympa.core.actor import Actor
from ympa.core.errors import NotPermitted
from ympa.inventory.selectors import dose_recipients
from ympa.inventory.services import MAX_BATCH_LENGTH
from ympa.journal.models import EntryStatus, Vaccination
from ympa.journal.selectors import entry_source
from ympa.orgs.models import Assignment
from ympa.orgs.rights import Right
from ympa.patients.models import Patient
from ympa.patients.templatetags.patients import identifier_display

RECALL_OBJECT = "inventory.recall"
MAX_REASON_LENGTH = 200
# Without a batch number the list names everyone given the vaccine in the period, and every name is a
# logged read of a patient's record: the period is what keeps it to the recall's question. Two years
# covers the shelf life of the batches in use at any one time; a longer question is one for statistics
# (counts, without names), not for a list of patients to contact.
MAX_PERIOD_MONTHS = 24


@dataclass(frozen=True)
class RecallCriteria:
    """What a recall lists: the doses of a vaccine (one batch of it, or all), optionally in a period, and
    the reason the reader gives, checked by `recall_criteria`."""

    product: Product
    batch_number: str
    start: date | None
    end: date | None
    reason: str

    def log_detail(self) -> dict[str, Any]:
        """What each listed patient's log row says about the list. The period only when one was given."""
        detail: dict[str, Any] = {
            "reason": self.reason,
            "product": self.product.code,
            "batch": self.batch_number,
        }
        if self.start is not None or self.end is not None:
            detail["period"] = {
                "start": self.start.isoformat() if self.start else None,
                "end": self.end.isoformat() if self.end else None,
            }
        return detail


def _months_later(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    year, month = index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def recall_criteria(
    *,
    product: Product | None,
    batch_number: str,
    start: date | None,
    end: date | None,
    reason: str,
) -> RecallCriteria:
    """The criteria, or a ValidationError with a message per field: a vaccine; a batch number or a period
    (without a batch, a period of both days and at most MAX_PERIOD_MONTHS months); a reason."""
    batch = batch_number.strip()
    why = reason.strip()
    errors: dict[str, str] = {}
    if product is None:
        errors["product"] = _("Choose the vaccine.")
    if len(batch) > MAX_BATCH_LENGTH:
        errors["batch_number"] = _("The batch number is longer than %(n)d characters.") % {
            "n": MAX_BATCH_LENGTH
        }
    if not batch:
        if start is None:
            errors["start"] = _("Without a batch number, give the first day of the period.")
        if end is None:
            errors["end"] = _("Without a batch number, give the last day of the period.")
    if start is not None and end is not None:
        if end < start:
            errors["end"] = _("The period must end after it starts.")
        elif not batch and end >= _months_later(start, MAX_PERIOD_MONTHS):
            errors["start"] = _("Without a batch number, choose a period of at most %(months)d months.") % {
                "months": MAX_PERIOD_MONTHS
            }
    if not why:
        errors["reason"] = _("Give the reason for the recall, such as its case reference.")
    elif len(why) > MAX_REASON_LENGTH:
        errors["reason"] = _("The reason is longer than %(n)d characters.") % {"n": MAX_REASON_LENGTH}
    if errors:
        raise ValidationError(errors)
    assert product is not None
    return RecallCriteria(product=product, batch_number=batch, start=start, end=end, reason=why)


def recall_assignment(actor: Actor) -> Assignment:
    """The actor's assignment, if it may list a recall: active, at a care unit, with the right to manage
    stock or to view statistics. NotPermitted otherwise (the region's officer has /region/recall/)."""
    assignment = actor.assignment
    if actor.user is None or assignment is None or assignment.care_unit is None or not assignment.is_active():
        raise NotPermitted(_("Choose an active assignment at a care unit to list the patients of a recall."))
    if not (assignment.has_right(Right.MANAGE_STOCK) or assignment.has_right(Right.VIEW_STATISTICS)):
        raise NotPermitted(
            _("Your assignment does not include the right: %(right)s.")
            % {"right": f"{Right.MANAGE_STOCK.label} / {Right.VIEW_STATISTICS.label}"}
        )
    return assignment


@dataclass(frozen=True)
class RecallRow:
    """One listed dose. The phone is empty for a patient with protected identity: it is left out here, so
    no page or file can show it."""

    patient_id: UUID
    name: str
    identifier: str
    given_at: datetime
    care_unit: str
    batch_number: str
    phone: str
    protected_identity: bool
    signed: bool


@dataclass(frozen=True)
class RecallList:
    criteria: RecallCriteria
    rows: tuple[RecallRow, ...]
    # Doses given at another unit of the provider to patients who have blocked that unit's information from
    # the reader's unit: not listed, only counted, so the reader can tell the unit that gave them.
    withheld: int

    @property
    def patient_count(self) -> int:
        return len({row.patient_id for row in self.rows})


@transaction.atomic
def recall_list(
    *,
    actor: Actor,
    product: Product | None,
    batch_number: str = "",
    start: date | None = None,
    end: date | None = None,
    reason: str,
    export: bool = False,
) -> RecallList:
    """The doses of the recall given at the units of the actor's care provider, oldest first.

    Every listed patient gets one log row (READ, or EXPORT when the list leaves as a file) with the reason,
    the vaccine, the batch and the period, and the purpose of the actor's assignment, written in this
    transaction. An empty list logs nothing: no patient's data was read. Queries: the doses (one), then,
    only if some were given at other units, the patients among them with an inner block of the provider
    in force (one), and the PDL facts of each of those (one each); then the log rows. Blocks are rare, so
    a list costs about the same however long it is.
    """
    assignment = recall_assignment(actor)
    criteria = recall_criteria(
        product=product, batch_number=batch_number, start=start, end=end, reason=reason
    )
    unit = assignment.care_unit
    assert unit is not None
    doses = dose_recipients(
        scope=Q(care_unit__care_provider_id=unit.care_provider_id),
        product=criteria.product,
        batch_number=criteria.batch_number,
        start=criteria.start,
        end=criteria.end,
    )
    candidates = list(doses)
    reader = reader_for(actor, assurance=actor.assurance)
    facts = _recall_facts(reader, doses, candidates)
    rows: list[RecallRow] = []
    patients: dict[UUID, Patient] = {}
    emergency: set[UUID] = set()
    withheld = 0
    for vaccination in candidates:
        patient = vaccination.patient
        decision = decide(reader, entry_source(vaccination), facts[patient.pk])
        if not decision.allowed:
            # With the care relation given and only the provider's own units in scope, a block is the
            # only refusal left.
            withheld += 1
            continue
        if decision.basis is Basis.EMERGENCY:
            emergency.add(patient.pk)
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
                # A dose listed only through the reader's opened emergency access is flagged like every
                # read under one, for the log review.
                detail={**detail, "emergency": True} if patient.pk in emergency else detail,
                purpose=assignment.purpose,
            )
            for patient in patients.values()
        ]
    )
    return RecallList(criteria=criteria, rows=tuple(rows), withheld=withheld)


def _recall_facts(
    reader: Reader, doses: QuerySet[Vaccination], candidates: list[Vaccination]
) -> dict[UUID, PatientFacts]:
    """The PDL facts to decide each candidate's doses on, per patient.

    The recall stands in for the care relation (see the module's docstring), so each patient's facts
    include the reader's unit as one. Within one provider only an inner block can then refuse a dose, and
    only one on another unit than the reader's: a patient without such a block in force has no other fact
    that matters, and is decided on the recall's basis alone, without reading anything. The others' facts
    (the blocks with their temporary revokes, and the reader's opened emergency accesses) are read by
    `patient_facts`, the same reading every other decision uses.
    """
    assert reader.care_unit_id is not None and reader.care_provider_id is not None
    recall_basis = frozenset({reader.care_unit_id})
    facts = {
        vaccination.patient.pk: PatientFacts(
            patient_id=str(vaccination.patient.pk), care_relation_units=recall_basis
        )
        for vaccination in candidates
    }
    if all(vaccination.care_unit_id == reader.care_unit_id for vaccination in candidates):
        return facts
    blocked = Block.objects.filter(
        # A subquery, not a list of ids: a list for a whole vaccine can be longer than a statement takes.
        patient_id__in=doses.exclude(care_unit_id=reader.care_unit_id).values("patient_id"),
        block_type=BlockType.INNER,
        information_care_provider_id=reader.care_provider_id,
        ended_at__isnull=True,
        nullified_at__isnull=True,
    ).exclude(information_care_unit_id=reader.care_unit_id)
    patients = {vaccination.patient.pk: vaccination.patient for vaccination in candidates}
    for patient_id in set(blocked.values_list("patient_id", flat=True)):
        patient = patients.get(patient_id)
        if patient is None:
            # A dose recorded since the list was read: it is not on this list.
            continue
        read = patient_facts(patient=patient)
        facts[patient_id] = replace(read, care_relation_units=read.care_relation_units | recall_basis)
    return facts
