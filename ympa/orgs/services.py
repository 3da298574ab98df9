"""Writes to the organisation register: care providers, care units and staff with their assignments."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ympa.access.models import Action
from ympa.access.services import audit_event_record
from ympa.authn.models import User
from ympa.core.actor import Actor
from ympa.core.errors import NotPermitted
from ympa.core.validation import parse_field
from ympa.forecast import schedule_parameters, schedule_sets
from ympa.identifiers import parse_hsa_id, parse_organisation_number, parse_phone_number
from ympa.orgs.models import Assignment, CareProvider, CareUnit, Municipality, Purpose, Region
from ympa.orgs.rights import REGION_ROLES, Right, Role


@transaction.atomic
def care_provider_create(
    *,
    hsa_id: str,
    name: str,
    organisation_number: str,
    region: Region,
    modules: list[str],
    is_test_data: bool = False,
) -> CareProvider:
    errors: dict[str, str] = {}
    clean_hsa = parse_field(errors, "hsa_id", parse_hsa_id, hsa_id)
    clean_org = parse_field(errors, "organisation_number", parse_organisation_number, organisation_number)
    if not name.strip():
        errors["name"] = _("Enter the name.")
    if errors:
        raise ValidationError(errors)
    assert clean_hsa is not None and clean_org is not None
    provider, _created = CareProvider.objects.get_or_create(
        hsa_id=clean_hsa,
        defaults={
            "name": name.strip(),
            "organisation_number": clean_org,
            "region": region,
            "modules": modules,
            "is_test_data": is_test_data,
        },
    )
    return provider


@transaction.atomic
def care_unit_create(
    *,
    care_provider: CareProvider,
    hsa_id: str,
    name: str,
    municipality: Municipality,
    street_address: str = "",
    postal_code: str = "",
    city: str = "",
    latitude: Decimal | None = None,
    longitude: Decimal | None = None,
    is_test_data: bool = False,
) -> CareUnit:
    errors: dict[str, str] = {}
    clean_hsa = parse_field(errors, "hsa_id", parse_hsa_id, hsa_id)
    if not name.strip():
        errors["name"] = _("Enter the name.")
    if errors:
        raise ValidationError(errors)
    assert clean_hsa is not None
    unit, _created = CareUnit.objects.get_or_create(
        hsa_id=clean_hsa,
        defaults={
            "care_provider": care_provider,
            "name": name.strip(),
            "municipality": municipality,
            "street_address": street_address,
            "postal_code": postal_code,
            "city": city,
            "latitude": latitude,
            "longitude": longitude,
            "is_test_data": is_test_data,
        },
    )
    if unit.care_provider_id != care_provider.pk:
        raise ValidationError({"hsa_id": _("This HSA-id belongs to a care unit of another care provider.")})
    return unit


@dataclass(frozen=True)
class StaffDetails:
    username: str
    first_name: str
    last_name: str
    role: str
    hsa_id: str = ""
    phone: str = ""
    email: str = ""
    rights_granted: tuple[str, ...] = ()
    rights_revoked: tuple[str, ...] = ()
    valid_until: datetime | None = None


def _require_unit_admin(actor: Actor) -> CareUnit:
    assignment = actor.assignment
    if assignment is None or assignment.care_unit is None or not assignment.has_right(Right.ADMINISTER_UNIT):
        raise NotPermitted(
            _("Administering the care unit needs the right: %(right)s.")
            % {"right": Right.ADMINISTER_UNIT.label}
        )
    return assignment.care_unit


@transaction.atomic
def staff_add(
    *, actor: Actor, details: StaffDetails, password: str | None = None, is_test_data: bool = False
) -> User:
    """Give a staff member an assignment at the administrator's care unit (creating the login if new)."""
    unit = _require_unit_admin(actor)
    errors: dict[str, str] = {}
    username = details.username.strip()
    if not username:
        errors["username"] = _("Enter a username.")
    if details.role not in Role.values:
        errors["role"] = _("Choose a role.")
    elif Role(details.role) in REGION_ROLES:
        errors["role"] = _("This role is assigned to a region, not to a care unit.")
    hsa_id = parse_field(errors, "hsa_id", parse_hsa_id, details.hsa_id) if details.hsa_id.strip() else None
    number = (
        parse_field(errors, "phone", parse_phone_number, details.phone) if details.phone.strip() else None
    )
    phone = number.e164 if number else ""
    unknown = [r for r in (*details.rights_granted, *details.rights_revoked) if r not in Right.values]
    if unknown:
        errors["rights_granted"] = _("Unknown right.")
    if details.valid_until is not None and details.valid_until <= timezone.now():
        errors["valid_until"] = _("The end of the assignment must be in the future.")
    if errors:
        raise ValidationError(errors)
    user = User.objects.filter(username=username).first()
    if user is None:
        user = User(
            username=username,
            first_name=details.first_name.strip(),
            last_name=details.last_name.strip(),
            email=details.email.strip(),
            hsa_id=hsa_id,
            phone=phone,
            is_test_data=is_test_data,
        )
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        try:
            with transaction.atomic():
                user.save()
        except IntegrityError as exc:
            raise ValidationError({"hsa_id": _("Another user already has this HSA-id.")}) from exc
    elif hsa_id and user.hsa_id and user.hsa_id != hsa_id:
        raise ValidationError({"hsa_id": _("The user is registered with another HSA-id.")})
    return _assign(actor=actor, user=user, unit=unit, details=details)


def _assign(*, actor: Actor, user: User, unit: CareUnit, details: StaffDetails) -> User:
    assignment = Assignment.objects.create(
        user=user,
        care_unit=unit,
        role=details.role,
        purpose=Purpose.CARE,
        rights_granted=sorted(set(details.rights_granted)),
        rights_revoked=sorted(set(details.rights_revoked)),
        valid_until=details.valid_until,
    )
    audit_event_record(
        actor=actor,
        action=Action.CREATE,
        patient=None,
        object_type="orgs.assignment",
        object_id=str(assignment.pk),
        detail={
            "user": user.get_username(),
            "role": details.role,
            "granted": assignment.rights_granted,
            "revoked": assignment.rights_revoked,
        },
    )
    return user


@transaction.atomic
def assignment_end(*, actor: Actor, assignment: Assignment) -> Assignment:
    """End an assignment now (it is kept, for the audit trail)."""
    unit = _require_unit_admin(actor)
    locked = Assignment.objects.select_for_update().get(pk=assignment.pk)
    if locked.care_unit_id != unit.pk:
        raise NotPermitted(_("The assignment belongs to another care unit."))
    if locked.pk == getattr(actor.assignment, "pk", None):
        raise ValidationError({"__all__": _("You cannot end the assignment you are using.")})
    now = timezone.now()
    if locked.valid_until is None or locked.valid_until > now:
        # An assignment that has not started yet ends the moment it starts.
        locked.valid_until = now if now > locked.valid_from else locked.valid_from + timedelta(microseconds=1)
        locked.save(update_fields=["valid_until"])
        audit_event_record(
            actor=actor,
            action=Action.UPDATE,
            patient=None,
            object_type="orgs.assignment",
            object_id=str(locked.pk),
            detail={"ended": locked.valid_until.isoformat()},
        )
    return locked


@transaction.atomic
def care_provider_set_schedule(*, actor: Actor, schedule_set: str, options: dict[str, str]) -> CareProvider:
    """Choose the vaccination schedules decision support follows for the actor's care provider.

    All stored forecasts are recomputed afterwards (a task after commit), since worklists read them.
    """
    unit = _require_unit_admin(actor)
    errors: dict[str, str] = {}
    if schedule_set not in schedule_sets():
        errors["schedule_set"] = _("Choose one of the schedule sets.")
    else:
        allowed = {p.name: p.allowed for p in schedule_parameters(schedule_set)}
        for name, value in options.items():
            if name not in allowed or value not in allowed[name]:
                errors[name] = _("Choose one of the offered values.")
    if errors:
        raise ValidationError(errors)
    provider = CareProvider.objects.select_for_update().get(pk=unit.care_provider_id)
    clean_options = {name: value for name, value in sorted(options.items())}
    if (provider.schedule_set, provider.schedule_options) == (schedule_set, clean_options):
        return provider
    before = {"schedule_set": provider.schedule_set, "options": provider.schedule_options}
    provider.schedule_set = schedule_set
    provider.schedule_options = clean_options
    provider.save(update_fields=["schedule_set", "schedule_options"])
    audit_event_record(
        actor=actor,
        action=Action.UPDATE,
        patient=None,
        object_type="orgs.careprovider",
        object_id=str(provider.pk),
        detail={"before": before, "after": {"schedule_set": schedule_set, "options": clean_options}},
    )
    transaction.on_commit(_refresh_all_forecasts)
    return provider


def _refresh_all_forecasts() -> None:
    from ympa.journal.tasks import refresh_all_forecasts

    refresh_all_forecasts.enqueue()
