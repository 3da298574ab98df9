from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils.translation import gettext as _

from ympa.access.chain import (
    Head,
    anchor_mac,
    chain_for,
    check_detail,
    derive_keys,
    detail_text,
    event_header,
    row_mac,
    timestamp,
    uuid_hex,
)
from ympa.access.models import Action, AuditAnchor, AuditChainHead, AuditEvent
from ympa.access.pdl import PatientFacts
from ympa.access.pdl_models import AssertionType
from ympa.core.actor import Actor
from ympa.core.errors import NotPermitted
from ympa.patients.models import Patient

logger = logging.getLogger(__name__)


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


def audit_log_keys() -> tuple[bytes, bytes]:
    """(row key, anchor key), derived from the AUDIT_LOG_KEY setting."""
    return derive_keys(settings.AUDIT_LOG_KEY)


# The head statements are written out: every logged read runs them, and the ORM's query building cost
# more than the statements themselves (about 0.8 ms of CPU per call on the reference machine).
_HEAD_TABLE = AuditChainHead._meta.db_table


def audit_chain_heads_lock(*, chains: list[int]) -> dict[int, AuditChainHead]:
    """The head rows of these chains, created if missing and locked until commit (in chain order, so writers
    of several chains cannot deadlock). For code that appends rows itself (`ympa synth`) and then calls
    `audit_chain_heads_save`."""
    if not connection.in_atomic_block:
        raise RuntimeError("audit chain heads must be locked inside the writing transaction")
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    marks = ", ".join(["%s"] * len(chains))
    query = (
        f"SELECT chain, last_seq, last_hash FROM {_HEAD_TABLE} "  # noqa: S608
        f"WHERE chain IN ({marks}) ORDER BY chain{lock}"
    )

    def locked() -> dict[int, AuditChainHead]:
        with connection.cursor() as cursor:
            cursor.execute(query, chains)
            return {
                chain: AuditChainHead(chain=chain, last_seq=seq, last_hash=last_hash)
                for chain, seq, last_hash in cursor.fetchall()
            }

    heads = locked()
    if len(heads) < len(chains):
        # A chain's first row: a concurrent first writer may create the same head; ignore_conflicts waits
        # for it and keeps its row.
        missing = [AuditChainHead(chain=chain) for chain in chains if chain not in heads]
        AuditChainHead.objects.bulk_create(missing, ignore_conflicts=True)
        heads = locked()
    return heads


def audit_chain_heads_save(heads: Iterable[AuditChainHead]) -> None:
    """Store heads locked by `audit_chain_heads_lock` and advanced by the caller (one UPDATE each)."""
    with connection.cursor() as cursor:
        for head in heads:
            cursor.execute(_HEAD_UPDATE, [head.last_seq, head.last_hash, head.chain])


_HEAD_UPDATE = f"UPDATE {_HEAD_TABLE} SET last_seq = %s, last_hash = %s WHERE chain = %s"  # noqa: S608
_EVENT_FIELDS = [field for field in AuditEvent._meta.concrete_fields if not field.primary_key]
# Table and column names come from the model; every value is a parameter.
_EVENT_INTO = "INSERT INTO {table} ({columns})".format(
    table=AuditEvent._meta.db_table, columns=", ".join(str(field.column) for field in _EVENT_FIELDS)
)
_EVENT_MARKS = ", ".join(["%s"] * len(_EVENT_FIELDS))
_EVENT_RETURNING = f"RETURNING {AuditEvent._meta.pk.column}"
_EVENT_INSERT = f"{_EVENT_INTO} VALUES {{rows}} {_EVENT_RETURNING}"
_EVENT_ROW = f"({_EVENT_MARKS})"


def _events_insert(events: list[AuditEvent], heads: Iterable[AuditChainHead]) -> None:
    """Insert the rows and move their chains' heads; the ids come back in the rows' order.

    Written out because every logged read runs it: the ORM's bulk_create cost more CPU than the statement.
    On PostgreSQL the head updates ride in the same statement (data-modifying WITH clauses), one round trip.
    """
    values = [
        field.get_db_prep_save(getattr(event, field.attname), connection)
        for event in events
        for field in _EVENT_FIELDS
    ]
    insert = _EVENT_INSERT.format(rows=", ".join([_EVENT_ROW] * len(events)))
    heads = list(heads)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            updates = ", ".join(f"h{index} AS ({_HEAD_UPDATE})" for index in range(len(heads)))
            params: list[Any] = [v for head in heads for v in (head.last_seq, head.last_hash, head.chain)]
            cursor.execute(f"WITH {updates} {insert}", params + values)
            ids = cursor.fetchall()
        else:
            cursor.execute(insert, values)
            ids = cursor.fetchall()
            for head in heads:
                cursor.execute(_HEAD_UPDATE, [head.last_seq, head.last_hash, head.chain])
    for event, (pk,) in zip(events, ids, strict=True):
        event.pk = pk
        event._state.adding = False
        event._state.db = connection.alias


def audit_chain_of(*, actor: Actor, patient_id: UUID | str | None) -> int:
    """The chain `actor`'s rows about this patient join (what `audit_events_save` assigns them)."""
    assignment = actor.assignment
    care_unit = assignment.care_unit if assignment else None
    return chain_for(
        care_provider_id=care_unit.care_provider_id if care_unit else None, patient_id=uuid_hex(patient_id)
    )


def _events_chain(events: list[AuditEvent]) -> dict[int, list[AuditEvent]]:
    """Give each row its canonical detail and its chain; the rows by chain."""
    by_chain: dict[int, list[AuditEvent]] = {}
    for event in events:
        # The MAC must be computed over what the database will give back; a dict in the canonical key order
        # is also stored as the canonical text on SQLite (see chain.detail_text).
        event.detail = json.loads(detail_text(check_detail(event.detail))) if event.detail else {}
        event.chain = chain_for(
            care_provider_id=event.care_provider_id, patient_id=uuid_hex(event.patient_id)
        )
        by_chain.setdefault(event.chain, []).append(event)
    return by_chain


def _event_link(event: AuditEvent, *, seq: int, prev_hash: str, row_key: bytes) -> None:
    event.seq = seq
    event.prev_hash = prev_hash
    event.row_hash = row_mac(row_key, event_header(event), detail_text(event.detail))


def audit_events_save(events: list[AuditEvent]) -> None:
    """Append rows to the audit log. Must run inside the transaction of the action they record.

    Each row joins its chain (see AuditEvent): the chains' heads are locked once for all rows of the call,
    each row gets the next seq and the MAC linking it to the row before.
    """
    if not connection.in_atomic_block:
        # A log row committed separately from its action could survive a rolled-back action or vanish
        # with a committed one; both break the log's promise.
        raise RuntimeError("audit events must be written inside the action's transaction")
    if not events:
        return
    row_key, _anchor_key = audit_log_keys()
    by_chain = _events_chain(events)
    heads = audit_chain_heads_lock(chains=sorted(by_chain))
    for chain, chained in by_chain.items():
        head = heads[chain]
        for event in chained:
            _event_link(event, seq=head.last_seq + 1, prev_hash=head.last_hash, row_key=row_key)
            head.last_seq, head.last_hash = event.seq, event.row_hash
    _events_insert(events, heads.values())


# One row after a known head, in one statement: the head moves only if it is still the one read, and the row
# is inserted only if it moved (INSERT … SELECT from the UPDATE's RETURNING; the values' types come from the
# columns). PostgreSQL only: SQLite has no UPDATE in WITH, and serialises its writers anyway.
_EVENT_AFTER = (
    f"WITH h AS ({_HEAD_UPDATE} AND last_seq = %s RETURNING chain) "  # noqa: S608
    f"{_EVENT_INTO} SELECT {_EVENT_MARKS} FROM h {_EVENT_RETURNING}"
)


def _event_append_after(event: AuditEvent, head: Head) -> bool:
    """Append one row right after `head` if that is still its chain's head; False, writing nothing, if
    another row came first.

    One statement is atomic on its own, so this needs neither a transaction nor a lock round trip: a
    concurrent writer's uncommitted move of the head is waited for, and the condition is then checked again
    on the committed head (PostgreSQL's READ COMMITTED), so two rows never take the same seq. Inside a
    caller's transaction the row commits with it, like any other.
    """
    row_key, _anchor_key = audit_log_keys()
    _event_link(event, seq=head.seq + 1, prev_hash=head.hash, row_key=row_key)
    values = [field.get_db_prep_save(getattr(event, field.attname), connection) for field in _EVENT_FIELDS]
    with connection.cursor() as cursor:
        cursor.execute(_EVENT_AFTER, [event.seq, event.row_hash, head.chain, head.seq, *values])
        row = cursor.fetchone()
    if row is None:
        return False
    event.pk = row[0]
    event._state.adding = False
    event._state.db = connection.alias
    return True


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


def patient_access(
    *,
    actor: Actor,
    patient: Patient,
    action: Action = Action.READ,
    object_type: str = "patients.patient",
    object_id: str = "",
    purpose: str = "",
    facts: PatientFacts | None = None,
) -> AuditEvent:
    """The gate for reading a patient's data: decides, and logs the access in the same transaction.

    The decision here is the patient's: a staff member with an active assignment at a care unit that has a
    care relation with the patient (PDL). Which entries of which care units they may see is decided per
    entry by the selectors, with `ympa.access.pdl.decide`. A caller that has read the patient's PDL facts
    for those decisions (`pdl_services.patient_facts`, this request) passes them, and the gate reads
    nothing more; facts read with `log_for=actor` also carry the head of the log chain the row joins.

    The row is appended in one statement after that head (on PostgreSQL, when nobody appended to the
    chain since it was read), else in a transaction that locks the head. Either way it is written before
    the caller reads the data it guards, inside the caller's transaction if there is one.
    """
    # Imported here: pdl_services writes its own rows through this module.
    from ympa.access.pdl_services import patient_facts

    assignment = actor.assignment
    if actor.user is None or assignment is None or assignment.care_unit is None or not assignment.is_active():
        raise NotPermitted(_("Choose an active assignment at a care unit to open patient records."))
    known = facts if facts is not None else patient_facts(patient=patient, log_for=actor)
    if assignment.care_unit.pk not in known.care_relation_units:
        raise NotPermitted(
            _("Your care unit has no care relation with this patient. Register one on the patient's page.")
        )
    # A read while the reader's opened emergency access is in force says so, with the reason: the log review
    # lists every such access (PDL: emergency access is always followed up).
    emergency = next(
        (
            fact
            for fact in known.assertions
            if fact.kind == AssertionType.EMERGENCY
            and fact.care_unit_id == assignment.care_unit.pk
            and fact.user_id == actor.user.pk
        ),
        None,
    )
    event = audit_event_build(
        actor=actor,
        action=action,
        patient=patient,
        object_type=object_type,
        object_id=object_id or str(patient.pk),
        purpose=purpose,
        detail={"emergency": True, "reason": emergency.reason} if emergency else {},
    )
    head = known.log_head
    if head is not None and connection.vendor == "postgresql":
        (chain,) = _events_chain([event])
        if chain == head.chain and _event_append_after(event, head):
            return event
    with transaction.atomic():
        audit_events_save([event])
    return event


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


def audit_anchor_create() -> AuditAnchor | None:
    """Anchor the access log: record and sign every chain's head now. None if nothing changed since the last
    anchor (or a concurrent call anchored the same heads first), so running it often costs nothing.

    Reads the heads without locking them: writers never wait for an anchor, and one query sees a
    consistent set of committed heads.
    """
    _row_key, anchor_key = audit_log_keys()
    try:
        with transaction.atomic():
            last = AuditAnchor.objects.order_by("-seq").first()
            heads = {
                str(chain): [seq, row_hash]
                for chain, seq, row_hash in AuditChainHead.objects.filter(last_seq__gt=0)
                .order_by("chain")
                .values_list("chain", "last_seq", "last_hash")
            }
            if not heads or (last is not None and last.heads == heads):
                return None
            anchor = AuditAnchor(
                seq=last.seq + 1 if last else 1, heads=heads, prev_mac=last.mac if last else ""
            )
            anchor.mac = anchor_mac(
                anchor_key,
                seq=anchor.seq,
                created_at=timestamp(anchor.created_at),
                heads=heads,
                prev_mac=anchor.prev_mac,
            )
            anchor.save()
    except IntegrityError:
        # Another process took this anchor number a moment ago: its anchor covers (nearly) the same heads.
        return None
    logger.info(
        "access log anchor %d at %s: %s %s", anchor.seq, anchor.created_at.isoformat(), anchor.mac, heads
    )
    return anchor
