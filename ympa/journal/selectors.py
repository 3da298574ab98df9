"""Reads of the vaccination record, always scoped to what the actor may see."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID

from django.db.models import Prefetch, Q, QuerySet

from ympa.catalog.models import Product
from ympa.core.actor import Actor
from ympa.core.errors import NotPermitted
from ympa.journal.models import AdverseEvent, EntryStatus, Vaccination, VaccinationVersion
from ympa.orgs.models import CareUnit
from ympa.patients.models import Patient


def _provider_id(actor: Actor) -> int:
    assignment = actor.assignment
    if assignment is None or assignment.care_unit is None:
        raise NotPermitted("no care unit assignment")
    return assignment.care_unit.care_provider_id


def _with_current(queryset: QuerySet[Vaccination]) -> QuerySet[Vaccination]:
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
    # Entries at other care providers exist but are not shown: reading them needs the shared-record rules.
    hidden_at_other_providers: int


def patient_history(*, actor: Actor, patient: Patient) -> PatientHistory:
    provider_id = _provider_id(actor)
    own = _with_current(
        Vaccination.objects.filter(patient=patient, care_unit__care_provider_id=provider_id)
    ).prefetch_related(
        Prefetch(
            "adverse_events",
            queryset=AdverseEvent.objects.filter(nullified_at__isnull=True).order_by("onset_at"),
            to_attr="active_adverse_events",
        )
    )
    entries = sorted(
        own,
        key=lambda v: v.current_version.administered_at if v.current_version else v.created_at,
        reverse=True,
    )
    hidden = (
        Vaccination.objects.filter(patient=patient)
        .exclude(care_unit__care_provider_id=provider_id)
        .exclude(status=EntryStatus.DRAFT)
        .count()
    )
    return PatientHistory(entries=entries, hidden_at_other_providers=hidden)


def vaccination_get(*, actor: Actor, vaccination_id: UUID | str) -> Vaccination | None:
    provider_id = _provider_id(actor)
    return (
        _with_current(Vaccination.objects.filter(pk=vaccination_id, care_unit__care_provider_id=provider_id))
        .select_related("order__standing_order", "order__prescriber", "visit")
        .first()
    )


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
        raise NotPermitted("no care unit assignment")
    queryset = Vaccination.objects.filter(care_unit_id=assignment.care_unit_id, status=EntryStatus.DRAFT)
    if mine_only:
        queryset = queryset.filter(Q(created_by=actor.user) | Q(current_version__performer=actor.user))
    return _with_current(queryset).order_by("created_at")


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
    given_before = (
        Vaccination.objects.filter(patient=patient, care_unit__care_provider_id=unit.care_provider_id)
        .exclude(status=EntryStatus.NULLIFIED)
        .filter(current_version__product__vaccine_group=product.vaccine_group)
        .count()
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
        dose_number=given_before + 1,
    )
