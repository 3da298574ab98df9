from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal
from uuid import UUID

from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Field, Header, Router, Schema, Status
from pydantic import AwareDatetime

from ympa.access.pdl_services import patient_facts
from ympa.access.routes import returns_patient_data
from ympa.access.services import patient_access
from ympa.authn.api_auth import api_actor
from ympa.catalog.models import Product
from ympa.core import rows
from ympa.journal.models import AdverseEvent, Order, Vaccination, VaccinationVersion
from ympa.journal.selectors import adverse_events_of, patient_history, vaccination_get, vaccination_versions
from ympa.journal.services import (
    Administration,
    AdverseEventReport,
    adverse_event_register,
    vaccination_correct,
    vaccination_nullify,
    vaccination_record,
    vaccination_sign,
    vaccination_update_draft,
)
from ympa.patients.selectors import patient_get

router = Router(tags=["vaccinations"])


class VersionOut(Schema):
    number: int
    administered_at: datetime
    product: str
    product_name: str
    batch_number: str
    batch_expiry: date | None
    expired_batch_confirmed: bool
    dose_number: int
    dose_volume_ml: Decimal | None
    site: str
    route: str
    note: str
    performer: str
    correction_reason: str
    created_at: datetime
    signed_at: datetime | None
    signed_by: str | None

    @staticmethod
    def of(version: VaccinationVersion) -> VersionOut:
        return VersionOut(
            number=version.number,
            administered_at=version.administered_at,
            product=version.product.code,
            product_name=version.product.name,
            batch_number=version.batch_number,
            batch_expiry=version.batch_expiry,
            expired_batch_confirmed=version.expired_batch_confirmed,
            dose_number=version.dose_number,
            dose_volume_ml=version.dose_volume_ml,
            site=version.site,
            route=version.route,
            note=version.note,
            performer=version.performer.get_full_name() or version.performer.get_username(),
            correction_reason=version.correction_reason,
            created_at=version.created_at,
            signed_at=version.signed_at,
            signed_by=(version.signed_by.get_full_name() or version.signed_by.get_username())
            if version.signed_by
            else None,
        )


class VaccinationOut(Schema):
    id: UUID
    patient: UUID
    care_unit: str
    care_unit_hsa_id: str
    status: str
    current: VersionOut
    versions: list[VersionOut] | None = None
    nullified_at: datetime | None
    nullification_reason: str

    @staticmethod
    def of(vaccination: Vaccination, *, with_versions: bool = False) -> VaccinationOut:
        assert vaccination.current_version is not None
        return VaccinationOut(
            id=vaccination.pk,
            patient=vaccination.patient_id,
            care_unit=vaccination.care_unit.name,
            care_unit_hsa_id=vaccination.care_unit.hsa_id,
            status=vaccination.status,
            current=VersionOut.of(vaccination.current_version),
            versions=[VersionOut.of(v) for v in vaccination_versions(vaccination)] if with_versions else None,
            nullified_at=vaccination.nullified_at,
            nullification_reason=vaccination.nullification_reason,
        )


# Every recorded dose looks its product up by code: written out (ympa.core.rows).
_PRODUCT = rows.Columns(Product, "p", defer=("sources",))


class AdministrationIn(Schema):
    administered_at: AwareDatetime
    product: str = Field(description="Product code from the catalogue, e.g. 'rotarix'")
    batch_number: str
    batch_expiry: date | None = None
    expired_batch_confirmed: bool = False
    dose_number: int
    dose_volume_ml: Decimal | None = None
    site: str
    route: str
    note: str = ""
    override_reason: str = Field(
        "",
        description="Why a dose that decision support says does not count was given (needed to sign it)",
    )

    def administration(self) -> Administration:
        product = rows.get_by(_PRODUCT, "code", self.product)
        if not isinstance(product, Product):
            raise ValidationError({"product": f"Unknown product code {self.product!r}."})
        return Administration(
            administered_at=self.administered_at,
            product=product,
            batch_number=self.batch_number,
            batch_expiry=self.batch_expiry,
            expired_batch_confirmed=self.expired_batch_confirmed,
            dose_number=self.dose_number,
            dose_volume_ml=self.dose_volume_ml,
            site=self.site,
            route=self.route,
            note=self.note,
            override_reason=self.override_reason,
        )


class RecordIn(AdministrationIn):
    order: UUID | None = Field(
        None, description="An active order; omitted: the unit's standing order or your own order"
    )
    sign: bool = Field(False, description="Sign at once (needs the sign right)")


class CorrectionIn(AdministrationIn):
    reason: str


class ReasonIn(Schema):
    reason: str


class AdverseEventIn(Schema):
    symptoms: list[str]
    onset_at: AwareDatetime
    severity: Literal["mild", "moderate", "severe"]
    description: str = ""
    serious: bool = False
    reported_to_mpa: bool = False
    mpa_reported_on: date | None = None
    mpa_reference: str = ""


class AdverseEventOut(Schema):
    id: UUID
    vaccination: UUID
    symptoms: list[str]
    severity: str
    serious: bool
    onset_at: datetime
    reported_to_mpa: bool
    nullified_at: datetime | None

    @staticmethod
    def of(event: AdverseEvent) -> AdverseEventOut:
        return AdverseEventOut(
            id=event.pk,
            vaccination=event.vaccination_id,
            symptoms=event.symptoms,
            severity=event.severity,
            serious=event.serious,
            onset_at=event.onset_at,
            reported_to_mpa=event.reported_to_mpa,
            nullified_at=event.nullified_at,
        )


def _vaccination(request: HttpRequest, vaccination_id: UUID) -> Vaccination:
    vaccination = vaccination_get(actor=api_actor(request), vaccination_id=vaccination_id)
    if vaccination is None:
        raise Http404
    return vaccination


def _reloaded(request: HttpRequest, vaccination: Vaccination) -> VaccinationOut:
    return VaccinationOut.of(_vaccination(request, vaccination.pk), with_versions=True)


@router.get(
    "/patients/{patient_id}/vaccinations", response=list[VaccinationOut], summary="A patient's vaccinations"
)
@returns_patient_data
def list_for_patient(request: HttpRequest, response: HttpResponse, patient_id: UUID) -> list[VaccinationOut]:
    response["Cache-Control"] = "no-store"
    actor = api_actor(request)
    patient = patient_get(actor=actor, patient_id=patient_id)
    if patient is None:
        raise Http404
    facts = patient_facts(patient=patient, log_for=actor)
    patient_access(
        actor=actor, patient=patient, object_type="journal.vaccination", object_id="*", facts=facts
    )
    return [VaccinationOut.of(v) for v in patient_history(actor=actor, patient=patient, facts=facts).entries]


@router.post(
    "/patients/{patient_id}/vaccinations",
    response={200: VaccinationOut, 201: VaccinationOut},
    summary="Record a dose that was given (as a draft, or signed with sign=true)",
    description="Send an `Idempotency-Key` header: repeating the request with the same key returns the first "
    "record (status 200) instead of creating a second one.",
)
@returns_patient_data
def record(
    request: HttpRequest,
    response: HttpResponse,
    patient_id: UUID,
    payload: RecordIn,
    idempotency_key: str | None = Header(None, alias="Idempotency-Key"),
) -> Status[VaccinationOut]:
    response["Cache-Control"] = "no-store"
    started = timezone.now()
    actor = api_actor(request)
    patient = patient_get(actor=actor, patient_id=patient_id)
    if patient is None:
        raise Http404
    order = Order.objects.filter(pk=payload.order).first() if payload.order else None
    if payload.order and order is None:
        raise ValidationError({"order": "Unknown order."})
    vaccination = vaccination_record(
        actor=actor,
        patient=patient,
        data=payload.administration(),
        order=order,
        idempotency_key=idempotency_key,
        sign=payload.sign,
    )
    replayed = vaccination.created_at < started
    if replayed:
        # Nothing was written, yet the answer carries the entry: log it as a read.
        patient_access(
            actor=actor, patient=patient, object_type="journal.vaccination", object_id=str(vaccination.pk)
        )
        response["Idempotent-Replayed"] = "true"
    return Status(200 if replayed else 201, VaccinationOut.of(vaccination))


@router.get(
    "/vaccinations/{vaccination_id}", response=VaccinationOut, summary="A vaccination with all its versions"
)
@returns_patient_data
def read(request: HttpRequest, response: HttpResponse, vaccination_id: UUID) -> VaccinationOut:
    response["Cache-Control"] = "no-store"
    vaccination = _vaccination(request, vaccination_id)
    patient_access(
        actor=api_actor(request),
        patient=vaccination.patient,
        object_type="journal.vaccination",
        object_id=str(vaccination.pk),
    )
    return VaccinationOut.of(vaccination, with_versions=True)


@router.patch(
    "/vaccinations/{vaccination_id}",
    response=VaccinationOut,
    summary="Change a draft (a signed entry answers 409: correct it instead)",
)
@returns_patient_data
def update_draft(
    request: HttpRequest, response: HttpResponse, vaccination_id: UUID, payload: AdministrationIn
) -> VaccinationOut:
    response["Cache-Control"] = "no-store"
    vaccination = vaccination_update_draft(
        actor=api_actor(request),
        vaccination=_vaccination(request, vaccination_id),
        data=payload.administration(),
    )
    return _reloaded(request, vaccination)


class SignIn(Schema):
    override_reason: str = ""


@router.post("/vaccinations/{vaccination_id}/sign", response=VaccinationOut, summary="Sign a draft")
@returns_patient_data
def sign(
    request: HttpRequest, response: HttpResponse, vaccination_id: UUID, payload: SignIn | None = None
) -> VaccinationOut:
    response["Cache-Control"] = "no-store"
    vaccination = vaccination_sign(
        actor=api_actor(request),
        vaccination=_vaccination(request, vaccination_id),
        override_reason=payload.override_reason if payload is not None else "",
    )
    return _reloaded(request, vaccination)


@router.post(
    "/vaccinations/{vaccination_id}/correct", response=VaccinationOut, summary="Correct a signed entry"
)
@returns_patient_data
def correct(
    request: HttpRequest, response: HttpResponse, vaccination_id: UUID, payload: CorrectionIn
) -> VaccinationOut:
    response["Cache-Control"] = "no-store"
    vaccination = vaccination_correct(
        actor=api_actor(request),
        vaccination=_vaccination(request, vaccination_id),
        data=payload.administration(),
        reason=payload.reason,
    )
    return _reloaded(request, vaccination)


@router.post("/vaccinations/{vaccination_id}/nullify", response=VaccinationOut, summary="Nullify an entry")
@returns_patient_data
def nullify(
    request: HttpRequest, response: HttpResponse, vaccination_id: UUID, payload: ReasonIn
) -> VaccinationOut:
    response["Cache-Control"] = "no-store"
    vaccination = vaccination_nullify(
        actor=api_actor(request), vaccination=_vaccination(request, vaccination_id), reason=payload.reason
    )
    return _reloaded(request, vaccination)


@router.post(
    "/vaccinations/{vaccination_id}/adverse-events",
    response={201: AdverseEventOut},
    summary="Register a suspected adverse event following the dose",
)
@returns_patient_data
def register_adverse_event(
    request: HttpRequest, response: HttpResponse, vaccination_id: UUID, payload: AdverseEventIn
) -> Status[AdverseEventOut]:
    response["Cache-Control"] = "no-store"
    event = adverse_event_register(
        actor=api_actor(request),
        vaccination=_vaccination(request, vaccination_id),
        report=AdverseEventReport(**payload.dict()),
    )
    return Status(201, AdverseEventOut.of(event))


@router.get(
    "/vaccinations/{vaccination_id}/adverse-events", response=list[AdverseEventOut], summary="Adverse events"
)
@returns_patient_data
def list_adverse_events(
    request: HttpRequest, response: HttpResponse, vaccination_id: UUID
) -> list[AdverseEventOut]:
    response["Cache-Control"] = "no-store"
    vaccination = _vaccination(request, vaccination_id)
    patient_access(
        actor=api_actor(request),
        patient=vaccination.patient,
        object_type="journal.adverseevent",
        object_id=str(vaccination.pk),
    )
    return [AdverseEventOut.of(e) for e in adverse_events_of(vaccination)]
