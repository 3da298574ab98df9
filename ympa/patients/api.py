from __future__ import annotations

from datetime import date
from uuid import UUID

from django.http import Http404, HttpRequest, HttpResponse
from ninja import Router, Schema, Status

from ympa.access.routes import returns_patient_data
from ympa.access.services import patient_access, patient_access_many
from ympa.authn.api_auth import api_actor
from ympa.patients.models import Patient
from ympa.patients.selectors import patient_get, patient_search
from ympa.patients.services import PatientDetails, patient_register

router = Router(tags=["patients"])


class PatientOut(Schema):
    id: UUID
    identifier_kind: str
    identifier: str
    given_name: str
    family_name: str
    birth_date: date | None
    legal_sex: str
    protected_identity: bool
    deceased_on: date | None
    # Null for a patient with protected identity: never sent in any channel.
    street_address: str | None
    postal_code: str | None
    city: str | None
    phone: str | None
    email: str | None

    @staticmethod
    def of(patient: Patient) -> PatientOut:
        hidden = patient.protected_identity
        return PatientOut(
            id=patient.pk,
            identifier_kind=patient.identifier_kind,
            identifier=patient.identifier,
            given_name=patient.given_name,
            family_name=patient.family_name,
            birth_date=patient.birth_date,
            legal_sex=patient.legal_sex,
            protected_identity=hidden,
            deceased_on=patient.deceased_on,
            street_address=None if hidden else patient.street_address,
            postal_code=None if hidden else patient.postal_code,
            city=None if hidden else patient.city,
            phone=None if hidden else patient.phone,
            email=None if hidden else patient.email,
        )


class PatientIn(Schema):
    identifier: str
    given_name: str
    family_name: str
    street_address: str = ""
    postal_code: str = ""
    city: str = ""
    phone: str = ""
    email: str = ""
    protected_identity: bool = False
    deceased_on: date | None = None


def _patient(request: HttpRequest, patient_id: UUID) -> Patient:
    patient = patient_get(actor=api_actor(request), patient_id=patient_id)
    if patient is None:
        raise Http404
    return patient


@router.get("/patients", response=list[PatientOut], summary="Search patients by identity number or name")
@returns_patient_data
def search(request: HttpRequest, response: HttpResponse, q: str) -> list[PatientOut]:
    response["Cache-Control"] = "no-store"
    actor = api_actor(request)
    results = patient_search(actor=actor, query=q)
    patient_access_many(actor=actor, patients=results, object_type="patients.search")
    return [PatientOut.of(p) for p in results]


@router.post("/patients", response={201: PatientOut}, summary="Register a patient")
@returns_patient_data
def register(request: HttpRequest, response: HttpResponse, payload: PatientIn) -> Status[PatientOut]:
    response["Cache-Control"] = "no-store"
    details = PatientDetails(**payload.dict(exclude={"identifier"}))
    patient = patient_register(actor=api_actor(request), identifier=payload.identifier, details=details)
    return Status(201, PatientOut.of(patient))


@router.get("/patients/{patient_id}", response=PatientOut, summary="Read a patient")
@returns_patient_data
def read(request: HttpRequest, response: HttpResponse, patient_id: UUID) -> PatientOut:
    response["Cache-Control"] = "no-store"
    patient = _patient(request, patient_id)
    patient_access(actor=api_actor(request), patient=patient)
    return PatientOut.of(patient)
