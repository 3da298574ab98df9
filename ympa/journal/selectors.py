"""Reads of the vaccination record, always scoped to what the actor may see."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from uuid import UUID

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from ympa.access.pdl import PatientFacts, Refusal, Source, decide
from ympa.access.pdl_services import patient_facts, reader_for
from ympa.catalog.models import Product
from ympa.core.actor import Actor
from ympa.core.errors import NotPermitted
from ympa.forecast import EvaluationStatus, SeriesStatus
from ympa.journal.forecasts import (
    QUIET,
    STATUS_LABELS,
    group_label,
    history,
    history_of,
    next_dose_number,
    reason_label,
    run,
    schedule_data,
    schedule_key,
)
from ympa.journal.models import (
    AdverseEvent,
    Condition,
    EntryStatus,
    StoredForecast,
    Vaccination,
    VaccinationVersion,
    Visit,
)
from ympa.orgs.models import CareUnit
from ympa.patients.models import Patient


def _provider_id(actor: Actor) -> int:
    assignment = actor.assignment
    if assignment is None or assignment.care_unit is None:
        raise NotPermitted(_("Choose an active assignment at a care unit to open patient records."))
    return assignment.care_unit.care_provider_id


def with_current(queryset: QuerySet[Vaccination]) -> QuerySet[Vaccination]:
    return queryset.select_related(
        "patient",
        "care_unit__care_provider",
        "current_version__product",
        "current_version__performer",
        "current_version__signed_by",
        "nullified_by",
        "created_by",
    )


@dataclass(frozen=True)
class PatientHistory:
    entries: Sequence[Vaccination]
    # Entries at other care providers exist but are not shown: reading them needs the patient's consent
    # (and a BankID or SITHS login).
    hidden_at_other_providers: int
    # Some entries are blocked for this reader; they may be told that, but not where (PDL).
    blocked_information: bool = False
    # The reader's unit has no care relation with the patient, so nothing is shown.
    needs_care_relation: bool = False


def entry_source(vaccination: Vaccination) -> Source:
    """Whose information an entry is, for `decide`: its unit, provider and the day the dose was given."""
    version = vaccination.current_version
    day = timezone.localdate(version.administered_at) if version is not None else None
    return Source(vaccination.care_unit_id, vaccination.care_unit.care_provider_id, day)


def patient_history(*, actor: Actor, patient: Patient, facts: PatientFacts | None = None) -> PatientHistory:
    """The entries the actor may read, decided per entry by the PDL rules (`ympa.access.pdl`); `facts` are
    the patient's PDL facts if the caller has read them in this request."""
    provider_id = _provider_id(actor)
    reader = reader_for(actor, assurance=actor.assurance)
    facts = facts if facts is not None else patient_facts(patient=patient)
    candidates = (
        with_current(Vaccination.objects.filter(patient=patient))
        # Drafts are the writer's own work in progress; they are not part of the shared record.
        .exclude(~Q(care_unit__care_provider_id=provider_id) & Q(status=EntryStatus.DRAFT))
        .prefetch_related(
            Prefetch(
                "adverse_events",
                queryset=AdverseEvent.objects.filter(nullified_at__isnull=True).order_by("onset_at"),
                to_attr="active_adverse_events",
            )
        )
    )
    shown: list[Vaccination] = []
    hidden = 0
    blocked = False
    needs_care_relation = False
    for vaccination in candidates:
        decision = decide(reader, entry_source(vaccination), facts)
        if decision.allowed:
            shown.append(vaccination)
            continue
        blocked = blocked or decision.blocked
        needs_care_relation = needs_care_relation or decision.refusal is Refusal.NO_CARE_RELATION
        if vaccination.care_unit.care_provider_id != provider_id and not decision.blocked:
            hidden += 1
    if reader.care_unit_id not in facts.care_relation_units:
        needs_care_relation = True
    entries = sorted(
        shown,
        key=lambda v: v.current_version.administered_at if v.current_version else v.created_at,
        reverse=True,
    )
    return PatientHistory(
        entries=entries,
        hidden_at_other_providers=hidden,
        blocked_information=blocked,
        needs_care_relation=needs_care_relation,
    )


def blocked_sources(*, actor: Actor, patient: Patient) -> list[tuple[str, str]]:
    """Where information blocked for the actor exists: (care provider, care unit) names.

    Only for the emergency access page, after its first step: the step that tells *where* (PDL).
    """
    reader = reader_for(actor, assurance=actor.assurance)
    facts = patient_facts(patient=patient)
    places: set[tuple[str, str]] = set()
    for vaccination in with_current(
        Vaccination.objects.filter(patient=patient).exclude(status=EntryStatus.DRAFT)
    ):
        if decide(reader, entry_source(vaccination), facts).blocked:
            places.add((vaccination.care_unit.care_provider.name, vaccination.care_unit.name))
    return sorted(places)


def vaccination_get(*, actor: Actor, vaccination_id: UUID | str) -> Vaccination | None:
    """One vaccination, if the PDL rules let the actor read it (None otherwise, as if it did not exist)."""
    provider_id = _provider_id(actor)
    vaccination = (
        with_current(Vaccination.objects.filter(pk=vaccination_id))
        .select_related("order__standing_order", "order__prescriber", "visit")
        .first()
    )
    if vaccination is None:
        return None
    if vaccination.care_unit.care_provider_id != provider_id and vaccination.status == EntryStatus.DRAFT:
        return None
    reader = reader_for(actor, assurance=actor.assurance)
    if not decide(reader, entry_source(vaccination), patient_facts(patient=vaccination.patient)).allowed:
        return None
    return vaccination


def vaccination_versions(vaccination: Vaccination) -> list[VaccinationVersion]:
    return list(
        vaccination.versions.select_related("product", "performer", "signed_by", "created_by").order_by(
            "-number"
        )
    )


def adverse_events_of(vaccination: Vaccination) -> list[AdverseEvent]:
    return list(vaccination.adverse_events.select_related("recorded_by", "nullified_by").order_by("onset_at"))


def unsigned_entries(*, actor: Actor, mine_only: bool) -> QuerySet[Vaccination]:
    assignment = actor.assignment
    if assignment is None or assignment.care_unit_id is None:
        raise NotPermitted(_("Choose an active assignment at a care unit to open patient records."))
    queryset = Vaccination.objects.filter(care_unit_id=assignment.care_unit_id, status=EntryStatus.DRAFT)
    if mine_only:
        queryset = queryset.filter(Q(created_by=actor.user) | Q(current_version__performer=actor.user))
    return with_current(queryset).order_by("created_at")


@dataclass(frozen=True)
class AdministrationDefaults:
    batch_number: str = ""
    batch_expiry: str = ""
    site: str = ""
    route: str = ""
    dose_volume_ml: Decimal | None = None
    dose_number: int = 1


def administration_defaults(
    *, unit: CareUnit, product: Product | None, patient: Patient
) -> AdministrationDefaults:
    """Sensible defaults: the batch and site last used for this product at this unit, the next dose number."""
    if product is None:
        return AdministrationDefaults()
    last = (
        VaccinationVersion.objects.filter(
            vaccination__care_unit=unit, product=product, signed_at__isnull=False
        )
        .exclude(vaccination__status=EntryStatus.NULLIFIED)
        .order_by("-signed_at")
        .only("batch_number", "batch_expiry", "site", "route", "dose_volume_ml")
        .first()
    )
    # The dose number comes from the evaluation of the whole history when decision support knows the
    # product; otherwise from counting this provider's earlier doses in the same catalogue group.
    dose_number = next_dose_number(patient, unit.care_provider, product)
    if dose_number is None:
        dose_number = (
            Vaccination.objects.filter(patient=patient, care_unit__care_provider_id=unit.care_provider_id)
            .exclude(status=EntryStatus.NULLIFIED)
            .filter(current_version__product__vaccine_group=product.vaccine_group)
            .count()
            + 1
        )
    routes = list(product.routes)
    volumes = list(product.dose_volumes_ml)
    return AdministrationDefaults(
        batch_number=last.batch_number if last else "",
        batch_expiry=last.batch_expiry.isoformat() if last and last.batch_expiry else "",
        site=last.site if last else "",
        route=last.route if last else (routes[0] if len(routes) == 1 else ""),
        dose_volume_ml=last.dose_volume_ml
        if last
        else (Decimal(str(volumes[0])) if len(volumes) == 1 else None),
        dose_number=dose_number,
    )


@dataclass(frozen=True)
class GroupForecastRow:
    vaccine_group: str
    label: str
    status: str
    status_label: str
    dose_number: int | None
    earliest: date | None
    recommended: date | None
    past_due: date | None
    state: str  # "overdue", "due", "upcoming" or "" (nothing to do)


@dataclass(frozen=True)
class InvalidDose:
    day: date
    code: str
    vaccine_group: str
    reasons: str


@dataclass(frozen=True)
class DecisionSupport:
    groups: list[GroupForecastRow]
    quiet_groups: list[GroupForecastRow]
    invalid_doses: list[InvalidDose]
    unknown_codes: list[str]
    schedule_set: str
    # Doses the reader may not see (other providers' without consent, blocked) are left out of the forecast.
    partial: bool = False


def patient_decision_support(
    *, actor: Actor, patient: Patient, today: date, readable: PatientHistory | None = None
) -> DecisionSupport | None:
    """Evaluation and forecast under the schedules of the actor's provider: of the whole signed history, or,
    given the reader's `readable` history, of the doses in it only. What a reader may not see must not show
    through the forecast either (a series "complete" would tell of doses elsewhere)."""
    assignment = actor.assignment
    if assignment is None or assignment.care_unit is None or patient.birth_date is None:
        return None
    provider = assignment.care_unit.care_provider
    doses = history(patient) if readable is None else history_of(readable.entries)
    result = run(patient, doses, schedule_data(provider), today)
    rows: list[GroupForecastRow] = []
    quiet: list[GroupForecastRow] = []
    for name, group in result.vaccine_groups.items():
        dates = group.forecast
        state = ""
        if group.status == SeriesStatus.NOT_COMPLETE and dates is not None and dates.recommended is not None:
            if dates.past_due is not None and dates.past_due <= today:
                state = "overdue"
            elif dates.recommended <= today:
                state = "due"
            else:
                state = "upcoming"
        row = GroupForecastRow(
            vaccine_group=name,
            label=group_label(name),
            status=str(group.status),
            status_label=str(STATUS_LABELS.get(group.status, group.status)),
            dose_number=dates.dose_number if dates else None,
            earliest=dates.earliest if dates else None,
            recommended=dates.recommended if dates else None,
            past_due=dates.past_due if dates else None,
            state=state,
        )
        (quiet if group.status in QUIET and not group.dose_statuses else rows).append(row)
    # A dose "does not count" where it is not valid, or where it is extraneous and counts in no group at all
    # (a combination vaccine that counts for one antigen is not listed for the other).
    counted = {
        index
        for group in result.vaccine_groups.values()
        for index, status in group.dose_statuses
        if status == EvaluationStatus.VALID
    }
    invalid = []
    for name, group in result.vaccine_groups.items():
        for index, status in group.dose_statuses:
            if status == EvaluationStatus.NOT_VALID or (
                status == EvaluationStatus.EXTRANEOUS and index not in counted
            ):
                reasons = {
                    r
                    for series in group.series
                    for e in series.evaluations
                    if e.dose_index == index
                    for r in e.reasons
                }
                invalid.append(
                    InvalidDose(
                        day=doses[index].day,
                        code=doses[index].code,
                        vaccine_group=group_label(name),
                        reasons=", ".join(reason_label(r) for r in sorted(reasons)),
                    )
                )
    return DecisionSupport(
        groups=sorted(rows, key=lambda r: ({"overdue": 0, "due": 1, "upcoming": 2}.get(r.state, 3), r.label)),
        quiet_groups=sorted(quiet, key=lambda r: r.label),
        invalid_doses=sorted(invalid, key=lambda d: d.day),
        unknown_codes=sorted(set(result.unknown_cvx)),
        schedule_set=provider.schedule_set,
        partial=readable is not None
        and bool(readable.hidden_at_other_providers or readable.blocked_information),
    )


@dataclass(frozen=True)
class DueRow:
    patient: Patient
    vaccine_group: str
    label: str
    dose_number: int | None
    recommended: date
    past_due: date | None
    overdue: bool


def due_worklist(
    *, actor: Actor, on: date, vaccine_group: str = "", limit: int = 500
) -> tuple[list[DueRow], int]:
    """Patients with a care relation to the actor's unit (a visit there) who are due or overdue on `on`,
    read from the stored forecasts. Returns the rows (at most `limit`) and the total count."""
    assignment = actor.assignment
    if assignment is None or assignment.care_unit is None:
        raise NotPermitted(_("Choose an active assignment at a care unit to open patient records."))
    unit = assignment.care_unit
    queryset = (
        StoredForecast.objects.filter(
            schedule_key=schedule_key(unit.care_provider),
            status=SeriesStatus.NOT_COMPLETE,
            recommended__lte=on,
        )
        .filter(Exists(Visit.objects.filter(care_unit=unit, patient=OuterRef("patient"))))
        .filter(patient__deceased_on__isnull=True)
    )
    if vaccine_group:
        queryset = queryset.filter(vaccine_group=vaccine_group)
    total = queryset.count()
    rows = [
        DueRow(
            patient=f.patient,
            vaccine_group=f.vaccine_group,
            label=group_label(f.vaccine_group),
            dose_number=f.dose_number,
            recommended=f.recommended or on,
            past_due=f.past_due,
            overdue=f.past_due is not None and f.past_due <= on,
        )
        for f in queryset.select_related("patient").order_by(
            "past_due", "recommended", "patient__family_name"
        )[:limit]
    ]
    return rows, total


def patient_conditions(*, actor: Actor, patient: Patient) -> list[Condition]:
    """The conditions recorded at the actor's care provider (nullified ones too: the record shows them)."""
    provider_id = _provider_id(actor)
    return list(
        Condition.objects.filter(patient=patient, care_unit__care_provider_id=provider_id)
        .select_related("recorded_by", "nullified_by")
        .order_by("nullified_at", "end_date", "-start_date")
    )


def condition_choices(*, actor: Actor) -> list[tuple[str, str]]:
    """The conditions decision support knows under the actor's provider's schedule set."""
    assignment = actor.assignment
    if assignment is None or assignment.care_unit is None:
        return []
    observations = schedule_data(assignment.care_unit.care_provider).observations
    return sorted(((code, o.title) for code, o in observations.items()), key=lambda item: item[1])
