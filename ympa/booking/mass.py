"""Mass-vaccination sessions: one product, batch and default site for everyone at a desk, so each dose is
registered and signed in one step, through the journal's own service (order, decision support, stock and
audit rows all come from there)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ympa.authn.models import User
from ympa.booking.declaration import declaration_confirm
from ympa.booking.models import AppointmentType, HealthDeclaration, MassSession, QueueEntry, QueueStatus
from ympa.booking.queue import queue_call_next, queue_entry_finish
from ympa.catalog.models import Product
from ympa.core.actor import Actor
from ympa.core.errors import ConflictError, NotPermitted
from ympa.journal.models import Site, Vaccination
from ympa.journal.selectors import administration_defaults
from ympa.journal.services import Administration, vaccination_record
from ympa.orgs.models import Assignment, CareUnit, Module
from ympa.orgs.rights import Right
from ympa.patients.models import Patient

# The open queue states a desk may sign from: the patient was called (or is already being seen).
SIGNABLE = (QueueStatus.CALLED, QueueStatus.IN_PROGRESS)


def _desk_staff(actor: Actor, right: Right = Right.ADMINISTER) -> tuple[User, Assignment, CareUnit]:
    assignment = actor.assignment
    if actor.user is None or assignment is None or assignment.care_unit is None or not assignment.is_active():
        raise NotPermitted(_("Choose an active assignment at a care unit first."))
    if not assignment.has_right(right):
        raise NotPermitted(
            _("Your assignment does not include the right: %(right)s.") % {"right": Right(right).label}
        )
    return actor.user, assignment, assignment.care_unit


def _own_session(actor: Actor, session: MassSession, right: Right = Right.ADMINISTER) -> User:
    """The session must be of the actor's own unit; another unit's session is refused, not hidden."""
    user, _assignment, unit = _desk_staff(actor, right)
    if session.care_unit_id != unit.pk:
        raise NotPermitted(_("The session belongs to another care unit."))
    return user


@transaction.atomic
def mass_session_start(
    *,
    actor: Actor,
    name: str,
    product: Product,
    batch_number: str,
    batch_expiry: date | None,
    default_site: str,
    appointment_type: AppointmentType | None = None,
) -> MassSession:
    user, _assignment, unit = _desk_staff(actor)
    if Module.BOOKING.value not in (unit.care_provider.modules or []):
        raise NotPermitted(_("The care unit's provider does not use the booking module."))
    errors: dict[str, str] = {}
    clean_name = name.strip()
    if not clean_name:
        errors["name"] = _("Give the session a name.")
    elif len(clean_name) > 100:
        errors["name"] = _("The name is longer than 100 characters.")
    if not product.active:
        errors["product"] = _("This product is no longer in the catalogue.")
    batch = batch_number.strip().upper()
    if not batch:
        errors["batch_number"] = _("Enter the batch number from the package.")
    elif len(batch) > 40:
        errors["batch_number"] = _("The batch number is longer than 40 characters.")
    if batch_expiry is not None and batch_expiry < timezone.localdate():
        errors["batch_expiry"] = _("The batch has expired: choose another batch.")
    if default_site not in Site.values:
        errors["default_site"] = _("Choose the injection site.")
    if appointment_type is not None and appointment_type.care_unit_id != unit.pk:
        errors["appointment_type"] = _("The appointment type belongs to another care unit.")
    if errors:
        raise ValidationError(errors)
    return MassSession.objects.create(
        care_unit=unit,
        name=clean_name,
        product=product,
        batch_number=batch,
        batch_expiry=batch_expiry,
        default_site=default_site,
        appointment_type=appointment_type,
        started_by=user,
    )


@transaction.atomic
def mass_session_end(*, actor: Actor, session: MassSession) -> MassSession:
    _own_session(actor, session)
    locked = MassSession.objects.select_for_update().get(pk=session.pk)
    if locked.ended_at is None:
        locked.ended_at = timezone.now()
        locked.save(update_fields=["ended_at"])
    return locked


def latest_declaration(*, patient: Patient, unit: CareUnit) -> HealthDeclaration | None:
    """The declaration that counts at the desk: the patient's latest at the unit (a new answer adds one)."""
    return (
        HealthDeclaration.objects.filter(patient=patient, care_unit=unit)
        .select_related("form")
        .order_by("-submitted_at")
        .first()
    )


def needs_declaration_confirmation(declaration: HealthDeclaration | None) -> bool:
    return declaration is not None and bool(declaration.flagged) and declaration.confirmed_at is None


@dataclass(frozen=True)
class DeskDose:
    """What the desk registers for a patient unless the nurse changes it."""

    dose_number: int
    site: str
    route: str
    dose_volume_ml: Decimal | None


def mass_dose_defaults(*, session: MassSession, patient: Patient) -> DeskDose:
    """The session's product and site, the dose number from the forecast evaluation exactly as the
    journal's record form prefills it."""
    product = session.product
    defaults = administration_defaults(unit=session.care_unit, product=product, patient=patient)
    routes = list(product.routes)
    return DeskDose(
        dose_number=defaults.dose_number,
        site=session.default_site,
        route=defaults.route or (routes[0] if routes else ""),
        dose_volume_ml=defaults.dose_volume_ml,
    )


@transaction.atomic
def mass_vaccinate(
    *,
    actor: Actor,
    session: MassSession,
    entry: QueueEntry,
    dose_number: int | None = None,
    site: str | None = None,
    override_reason: str = "",
    declaration_confirmed: bool = False,
    idempotency_key: str,
) -> Vaccination:
    """Register and sign the called patient's dose with the session's product and batch, then finish the
    queue entry; all or nothing.

    The same idempotency key returns the dose already signed (a double Enter at the desk signs once).
    Flagged health-declaration answers need `declaration_confirmed`; decision-support warnings need
    `override_reason`, as in the journal.
    """
    _own_session(actor, session, Right.SIGN)
    _own_session(actor, session, Right.ADMINISTER)
    key = idempotency_key.strip()
    if not key:
        raise ValidationError({"idempotency_key": _("The form is missing its idempotency key: reload it.")})
    # A second submit waits here for the first; the dose is read in a statement of its own, because a
    # join in the locking one would not see the dose the first submit committed meanwhile (PostgreSQL).
    locked = QueueEntry.objects.select_for_update(of=("self",)).select_related("patient").get(pk=entry.pk)
    if locked.care_unit_id != session.care_unit_id:
        raise NotPermitted(_("The patient is in another care unit's queue."))
    if locked.session_id not in (None, session.pk):
        raise ConflictError(_("The patient was called to another session."), code="other_session")
    if locked.vaccination_id is not None:
        replayed = Vaccination.objects.filter(pk=locked.vaccination_id, idempotency_key=key).first()
        if replayed is not None:
            return replayed
    if session.ended_at is not None:
        raise ConflictError(_("The session has ended."), code="session_ended")
    if locked.status not in SIGNABLE:
        raise ConflictError(
            _("The patient is not called to the desk (%(status)s).")
            % {"status": locked.get_status_display()},
            code="not_called",
        )
    patient = locked.patient
    declaration = latest_declaration(patient=patient, unit=session.care_unit)
    if needs_declaration_confirmation(declaration) and not declaration_confirmed:
        raise ValidationError(
            {
                "declaration_confirmed": _(
                    "The health declaration has answers that need attention: go through them with the "
                    "patient and confirm before signing."
                )
            }
        )
    defaults = mass_dose_defaults(session=session, patient=patient)
    data = Administration(
        administered_at=timezone.now().replace(microsecond=0),
        product=session.product,
        batch_number=session.batch_number,
        batch_expiry=session.batch_expiry,
        dose_number=dose_number if dose_number is not None else defaults.dose_number,
        site=site or defaults.site,
        route=defaults.route,
        dose_volume_ml=defaults.dose_volume_ml,
        override_reason=override_reason,
    )
    vaccination = vaccination_record(actor=actor, patient=patient, data=data, idempotency_key=key, sign=True)
    if declaration is not None and declaration.confirmed_at is None:
        # Signing at the desk is going through the declaration with the patient; it joins the dose's visit.
        declaration_confirm(actor=actor, declaration=declaration)
    queue_entry_finish(actor=actor, entry=locked, vaccination=vaccination)
    return vaccination


@transaction.atomic
def mass_call_next(*, actor: Actor, session: MassSession) -> QueueEntry | None:
    """Call the session's next waiting patient to the actor's desk (a nurse of the session's unit).

    A patient new to the unit (booked on the public page) may be opened at the desk: a check-in is a care
    relation in the PDL facts."""
    _own_session(actor, session)
    if session.ended_at is not None:
        raise ConflictError(_("The session has ended."), code="session_ended")
    return queue_call_next(actor=actor, session=session)


def mass_session_get(*, actor: Actor, session_id: UUID | str) -> MassSession | None:
    """A session of the actor's own unit, or None."""
    assignment = actor.assignment
    if assignment is None or assignment.care_unit_id is None:
        return None
    return (
        MassSession.objects.filter(pk=session_id, care_unit_id=assignment.care_unit_id)
        .select_related("product", "care_unit__care_provider", "appointment_type")
        .first()
    )


def mass_sessions(*, actor: Actor) -> list[MassSession]:
    """The unit's sessions, running first, then the latest ended ones."""
    assignment = actor.assignment
    if assignment is None or assignment.care_unit_id is None:
        return []
    return list(
        MassSession.objects.filter(care_unit_id=assignment.care_unit_id)
        .select_related("product", "started_by")
        .order_by("-started_at")[:30]
    )


def mass_current_entry(*, actor: Actor, session: MassSession) -> QueueEntry | None:
    """The patient this desk (the actor) has called in the session and not finished."""
    return (
        QueueEntry.objects.filter(
            care_unit_id=session.care_unit_id,
            session=session,
            day=timezone.localdate(),
            called_by=actor.user,
            status__in=SIGNABLE,
        )
        .select_related("patient", "booking__appointment_type")
        .order_by("-called_at")
        .first()
    )


def mass_waiting_count(*, session: MassSession) -> int:
    return QueueEntry.objects.filter(
        care_unit_id=session.care_unit_id, day=timezone.localdate(), status=QueueStatus.WAITING
    ).count()
