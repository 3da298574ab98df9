from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ympa.access.models import Action
from ympa.access.pdl_services import REGISTRATION_PURPOSE, care_relation_register
from ympa.access.services import audit_event_record
from ympa.core.actor import Actor
from ympa.core.errors import NotPermitted
from ympa.core.validation import identifier_validation_error, parse_field
from ympa.identifiers import IdentifierError, parse_patient_identifier, parse_phone_number
from ympa.patients.models import Guardianship, IdentifierKind, LegalSex, Patient


@dataclass(frozen=True)
class PatientDetails:
    """The editable demographics of a patient (the identifier is set at registration)."""

    given_name: str
    family_name: str
    street_address: str = ""
    postal_code: str = ""
    city: str = ""
    phone: str = ""
    email: str = ""
    protected_identity: bool = False
    deceased_on: date | None = None


def _require_care_unit(actor: Actor) -> None:
    if actor.assignment is None or actor.assignment.care_unit_id is None:
        raise NotPermitted(_("Choose an assignment at a care unit first."))


def _clean_details(details: PatientDetails) -> PatientDetails:
    errors: dict[str, str] = {}
    given = details.given_name.strip()
    family = details.family_name.strip()
    if not given:
        errors["given_name"] = _("Enter the given name.")
    if not family:
        errors["family_name"] = _("Enter the family name.")
    postal_code = details.postal_code.replace(" ", "")
    if postal_code and (len(postal_code) != 5 or not postal_code.isdigit()):
        errors["postal_code"] = _("A Swedish postal code has five digits, e.g. 123 45.")
    number = (
        parse_field(errors, "phone", parse_phone_number, details.phone) if details.phone.strip() else None
    )
    phone = number.e164 if number else ""
    email = details.email.strip()
    if email:
        try:
            validate_email(email)
        except ValidationError:
            errors["email"] = _("Enter a valid e-mail address, e.g. name@example.se.")
    if details.deceased_on is not None and details.deceased_on > timezone.localdate():
        errors["deceased_on"] = _("The date of death is in the future.")
    if errors:
        raise ValidationError(errors)
    return PatientDetails(
        given_name=given,
        family_name=family,
        street_address=details.street_address.strip(),
        postal_code=postal_code,
        city=details.city.strip(),
        phone=phone,
        email=email.lower(),
        protected_identity=details.protected_identity,
        deceased_on=details.deceased_on,
    )


@transaction.atomic
def patient_register(
    *,
    actor: Actor,
    identifier: str,
    details: PatientDetails,
    reserve_scheme: str | None = None,
    is_test_data: bool = False,
) -> Patient:
    """Register a patient by personnummer, samordningsnummer or reserve number."""
    _require_care_unit(actor)
    try:
        parsed = parse_patient_identifier(
            identifier, today=timezone.localdate(), reserve_scheme=reserve_scheme
        )
    except IdentifierError as exc:
        raise identifier_validation_error("identifier", exc) from exc
    clean = _clean_details(details)
    if Patient.objects.filter(
        identifier_kind=parsed.kind, identifier=parsed.value, reserve_scheme=parsed.scheme or ""
    ).exists():
        raise ValidationError({"identifier": _("A patient with this identity number is already registered.")})
    patient = Patient(
        identifier_kind=IdentifierKind(parsed.kind),
        identifier=parsed.value,
        reserve_scheme=parsed.scheme or "",
        birth_date=parsed.birth_date,
        legal_sex=LegalSex(parsed.legal_sex) if parsed.legal_sex else LegalSex.UNKNOWN,
        is_test_data=is_test_data,
        **{f.name: getattr(clean, f.name) for f in fields(clean)},
    )
    try:
        with transaction.atomic():
            patient.save(force_insert=True)
    except IntegrityError as exc:
        # Two registrations of the same person raced; the constraint kept one.
        raise ValidationError(
            {"identifier": _("A patient with this identity number is already registered.")}
        ) from exc
    audit_event_record(
        actor=actor,
        action=Action.CREATE,
        patient=patient,
        object_type="patients.patient",
        object_id=str(patient.pk),
        detail={"identifier_kind": patient.identifier_kind},
    )
    # The patient is at the registering unit: that is a care relation (PDL), logged like any other.
    care_relation_register(actor=actor, patient=patient, purpose=REGISTRATION_PURPOSE)
    return patient


@transaction.atomic
def patient_update(*, actor: Actor, patient: Patient, details: PatientDetails) -> Patient:
    _require_care_unit(actor)
    clean = _clean_details(details)
    locked = Patient.objects.select_for_update().get(pk=patient.pk)
    changed = [f.name for f in fields(clean) if getattr(locked, f.name) != getattr(clean, f.name)]
    if not changed:
        return locked
    for name in changed:
        setattr(locked, name, getattr(clean, name))
    locked.updated_at = timezone.now()
    locked.save(update_fields=[*changed, "updated_at"])
    # Only field names are logged: values may be a protected address.
    audit_event_record(
        actor=actor,
        action=Action.UPDATE,
        patient=locked,
        object_type="patients.patient",
        object_id=str(locked.pk),
        detail={"fields": changed},
    )
    return locked


@transaction.atomic
def guardianship_add(*, actor: Actor, child: Patient, guardian: Patient) -> Guardianship:
    _require_care_unit(actor)
    today = timezone.localdate()
    if child.pk == guardian.pk:
        raise ValidationError({"guardian": _("A person cannot be their own guardian.")})
    if not child.is_minor(today):
        raise ValidationError({"child": _("Only a minor (under 18) has guardians.")})
    if guardian.is_minor(today):
        raise ValidationError({"guardian": _("A guardian must be an adult.")})
    existing = Guardianship.objects.filter(child=child, guardian=guardian, ended_at__isnull=True).first()
    if existing is not None:
        return existing
    guardianship = Guardianship.objects.create(child=child, guardian=guardian)
    audit_event_record(
        actor=actor,
        action=Action.CREATE,
        patient=child,
        object_type="patients.guardianship",
        object_id=str(guardianship.pk),
        detail={"guardian": str(guardian.pk)},
    )
    return guardianship
