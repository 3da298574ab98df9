from __future__ import annotations

from typing import Any

from django.db import connection, transaction
from django.utils.translation import gettext as _

from ympa.access.models import Action, AuditEvent
from ympa.core.actor import Actor
from ympa.core.errors import NotPermitted
from ympa.patients.models import Patient


def audit_event_build(
    *,
    actor: Actor,
    action: Action,
    patient: Patient | None,
    object_type: str,
    object_id: str,
    detail: dict[str, Any] | None = None,
    purpose: str = "",
) -> AuditEvent:
    """An unsaved audit row, for callers that write several rows of one action at once."""
    assignment = actor.assignment
    care_unit = assignment.care_unit if assignment else None
    return AuditEvent(
        actor_kind=actor.kind,
        actor_identity=actor.identity,
        actor_name=actor.display_name,
        user=actor.user,
        assignment=assignment,
        care_unit=care_unit,
        care_provider_id=care_unit.care_provider_id if care_unit else None,
        patient=patient,
        action=action,
        object_type=object_type,
        object_id=object_id,
        channel=actor.channel,
        purpose=purpose or (assignment.purpose if assignment else ""),
        detail=detail or {},
    )


def audit_events_save(events: list[AuditEvent]) -> None:
    """Append rows to the audit log. Must run inside the transaction of the action they record."""
    if not connection.in_atomic_block:
        # A log row committed separately from its action could survive a rolled-back action or vanish
        # with a committed one; both break the log's promise.
        raise RuntimeError("audit events must be written inside the action's transaction")
    AuditEvent.objects.bulk_create(events)


def audit_event_record(
    *,
    actor: Actor,
    action: Action,
    patient: Patient | None,
    object_type: str,
    object_id: str,
    detail: dict[str, Any] | None = None,
    purpose: str = "",
) -> AuditEvent:
    """Append one row to the audit log, inside the transaction of the action it records."""
    event = audit_event_build(
        actor=actor,
        action=action,
        patient=patient,
        object_type=object_type,
        object_id=object_id,
        detail=detail,
        purpose=purpose,
    )
    audit_events_save([event])
    return event


@transaction.atomic
def patient_access(
    *,
    actor: Actor,
    patient: Patient,
    action: Action = Action.READ,
    object_type: str = "patients.patient",
    object_id: str = "",
    purpose: str = "",
) -> AuditEvent:
    """The gate for reading a patient's data: decides, and logs the access in the same transaction.

    Today the decision is: a staff member with an active assignment at a care unit. Which other care
    providers' entries they may see is decided by the selectors (own care provider only until consent and
    blocks exist).
    """
    assignment = actor.assignment
    if (
        actor.user is None
        or assignment is None
        or assignment.care_unit_id is None
        or not assignment.is_active()
    ):
        raise NotPermitted(_("Choose an active assignment at a care unit to open patient records."))
    return audit_event_record(
        actor=actor,
        action=action,
        patient=patient,
        object_type=object_type,
        object_id=object_id or str(patient.pk),
        purpose=purpose,
    )


def patient_access_many(
    *,
    actor: Actor,
    patients: list[Patient],
    object_type: str,
    object_id: str = "",
    detail: dict[str, Any] | None = None,
) -> list[AuditEvent]:
    """The gate for a page or answer that lists several patients (search results, worklists).

    The decision is `patient_access`'s, made once for the list; each patient shown gets one read row, all
    written together, so a list costs the same number of queries however long it is. A list with no
    patients reads nothing and logs nothing (not even a transaction).
    """
    distinct = list({patient.pk: patient for patient in patients}.values())
    if not distinct:
        return []
    assignment = actor.assignment
    # The same rule as patient_access (not refactored into one helper here: that function is being
    # changed in parallel); test_route_declarations checks that both refuse the same actors.
    if (
        actor.user is None
        or assignment is None
        or assignment.care_unit_id is None
        or not assignment.is_active()
    ):
        raise NotPermitted(_("Choose an active assignment at a care unit to open patient records."))
    events = [
        audit_event_build(
            actor=actor,
            action=Action.READ,
            patient=patient,
            object_type=object_type,
            object_id=object_id or str(patient.pk),
            detail=detail,
        )
        for patient in distinct
    ]
    with transaction.atomic():
        audit_events_save(events)
    return events
