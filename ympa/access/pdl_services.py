"""Writes and reads of the PDL facts: care relations, consents, blocks, temporary revokes, emergency access.

Every write is logged in the access log in the same transaction. Nothing is deleted: consents are cancelled,
blocks ended or nullified, each with who and why. `patient_facts` reads what is in force now for one patient,
in one statement, as the plain facts `ympa.access.pdl.decide` works on.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from ympa.access.chain import Head
from ympa.access.models import Action, AuditChainHead
from ympa.access.pdl import AssertionFact, BlockFact, PatientFacts, Reader
from ympa.access.pdl_models import (
    AssertionType,
    Block,
    BlockType,
    CareRelation,
    PdlAssertion,
    RevokeBasis,
    TemporaryRevoke,
)
from ympa.access.services import audit_chain_of, audit_event_record
from ympa.core.actor import Actor, ActorKind
from ympa.core.errors import NotPermitted
from ympa.orgs.models import Assignment, CareUnit
from ympa.patients.models import Guardianship, Patient

# Ympa's choice, not the law's: a visit is a care relation from its day until this many days after it (the
# follow-up of a dose, an adverse event reported later). An explicit care relation states its own period.
VISIT_CARE_RELATION_DAYS = 30
EXPLICIT_CARE_RELATION_DAYS = 30
EMERGENCY_ACCESS_HOURS = 4
# The purpose stored when registering a patient starts the care relation (a free-text field, in Swedish like
# what staff type there).
REGISTRATION_PURPOSE = "Registrering av patienten"
MAX_TEMPORARY_REVOKE_HOURS = 24


def _staff(actor: Actor) -> tuple[Assignment, CareUnit]:
    assignment = actor.assignment
    if actor.user is None or assignment is None or assignment.care_unit is None or not assignment.is_active():
        raise NotPermitted(_("Choose an active assignment at a care unit first."))
    return assignment, assignment.care_unit


def _reason(text: str, field: str = "reason") -> str:
    cleaned = text.strip()
    if not cleaned:
        raise ValidationError({field: _("Give a reason.")})
    if len(cleaned) > 1024:
        raise ValidationError({field: _("The reason is longer than 1,024 characters.")})
    return cleaned


def _log(actor: Actor, action: Action, patient: Patient, obj: object, detail: dict[str, object]) -> None:
    audit_event_record(
        actor=actor,
        action=action,
        patient=patient,
        object_type=f"access.{type(obj).__name__.lower()}",
        object_id=str(getattr(obj, "pk", "")),
        detail=detail,
    )


@transaction.atomic
def care_relation_register(
    *, actor: Actor, patient: Patient, purpose: str, days: int = EXPLICIT_CARE_RELATION_DAYS
) -> CareRelation:
    """Register that the actor's care unit cares for the patient (for `purpose`), for `days` days."""
    _assignment, unit = _staff(actor)
    assert actor.user is not None
    now = timezone.now()
    relation = CareRelation.objects.create(
        patient=patient,
        care_unit=unit,
        purpose=_reason(purpose, "purpose"),
        valid_from=now,
        valid_until=now + timedelta(days=days),
        registered_by=actor.user,
    )
    _log(actor, Action.CREATE, patient, relation, {"purpose": relation.purpose, "days": days})
    return relation


def has_care_relation(*, patient: Patient, care_unit: CareUnit, now: datetime | None = None) -> bool:
    return care_unit.pk in patient_facts(patient=patient, now=now).care_relation_units


@transaction.atomic
def consent_register(
    *,
    actor: Actor,
    patient: Patient,
    whole_unit: bool,
    valid_until: datetime | None = None,
    represented_by: str = "",
) -> PdlAssertion:
    """The patient consents to the actor (or the actor's whole unit) reading other care providers' records."""
    assignment, unit = _staff(actor)
    assert actor.user is not None
    now = timezone.now()
    if not has_care_relation(patient=patient, care_unit=unit, now=now):
        raise NotPermitted(_("Register a care relation with the patient before registering consent."))
    if valid_until is not None and valid_until <= now:
        raise ValidationError({"valid_until": _("The consent must be valid for some time from now.")})
    consent = PdlAssertion.objects.create(
        assertion_type=AssertionType.CONSENT,
        patient=patient,
        care_unit=unit,
        care_provider_id=unit.care_provider_id,
        user=None if whole_unit else actor.user,
        starts_at=now,
        ends_at=valid_until,
        represented_by=represented_by,
        registered_by=actor.user,
        registered_assignment=assignment,
    )
    _log(actor, Action.CREATE, patient, consent, {"type": "consent", "whole_unit": whole_unit})
    return consent


@transaction.atomic
def pdl_assertion_cancel(*, actor: Actor, assertion: PdlAssertion, reason: str) -> PdlAssertion:
    """End a consent (or an emergency access) before its time; the record stays, with who and why."""
    _assignment, unit = _staff(actor)
    assert actor.user is not None
    locked = PdlAssertion.objects.select_for_update().get(pk=assertion.pk)
    if locked.care_provider_id != unit.care_provider_id:
        raise NotPermitted(_("Only the care provider that registered it can end it."))
    if locked.cancelled_at is None:
        locked.cancelled_at = timezone.now()
        locked.cancelled_by = actor.user
        locked.cancellation_reason = _reason(reason)
        locked.save(update_fields=["cancelled_at", "cancelled_by", "cancellation_reason"])
        _log(actor, Action.UPDATE, locked.patient, locked, {"cancelled": locked.cancellation_reason})
    return locked


@dataclass(frozen=True)
class BlockRequest:
    block_type: BlockType
    care_unit: CareUnit | None
    information_start: date | None = None
    information_end: date | None = None
    reason: str = ""
    requested_by_guardian: bool = False


@transaction.atomic
def block_register(*, actor: Actor, patient: Patient, request: BlockRequest) -> Block:
    """Block the actor's care provider's information (or one unit's) at the patient's request."""
    assignment, unit = _staff(actor)
    assert actor.user is not None
    if request.requested_by_guardian:
        # The right to block belongs to the patient; a guardian cannot block a child's information.
        raise ValidationError({"requested_by": _("Only the patient can ask for a block, not a guardian.")})
    if request.care_unit is not None and request.care_unit.care_provider_id != unit.care_provider_id:
        raise ValidationError({"care_unit": _("You can only block your own care provider's information.")})
    if request.block_type == BlockType.INNER and request.care_unit is None:
        raise ValidationError(
            {"care_unit": _("An inner block names the care unit whose information it hides.")}
        )
    block = Block.objects.create(
        block_type=request.block_type,
        patient=patient,
        information_care_provider_id=unit.care_provider_id,
        information_care_unit=request.care_unit,
        information_start=request.information_start,
        information_end=request.information_end,
        reason=request.reason.strip(),
        registered_by=actor.user,
        registered_assignment=assignment,
    )
    _log(
        actor,
        Action.CREATE,
        patient,
        block,
        {"type": block.block_type, "unit": request.care_unit and request.care_unit.pk},
    )
    return block


def _own_block(actor: Actor, block: Block) -> Block:
    _assignment, unit = _staff(actor)
    locked = Block.objects.select_for_update().get(pk=block.pk)
    if locked.information_care_provider_id != unit.care_provider_id:
        raise NotPermitted(_("Only the care provider that registered the block can change it."))
    return locked


@transaction.atomic
def block_end(*, actor: Actor, block: Block, reason: str) -> Block:
    """Lift a block for good (the patient asked); it stays on record as ended, with who and why."""
    locked = _own_block(actor, block)
    if locked.ended_at is None and locked.nullified_at is None:
        locked.ended_at = timezone.now()
        locked.ended_by = actor.user
        locked.end_reason = _reason(reason)
        locked.save(update_fields=["ended_at", "ended_by", "end_reason"])
        _log(actor, Action.UPDATE, locked.patient, locked, {"ended": locked.end_reason})
    return locked


@transaction.atomic
def block_nullify(*, actor: Actor, block: Block, reason: str) -> Block:
    """Void a block registered by mistake."""
    locked = _own_block(actor, block)
    if locked.nullified_at is None:
        locked.nullified_at = timezone.now()
        locked.nullified_by = actor.user
        locked.nullification_reason = _reason(reason)
        locked.save(update_fields=["nullified_at", "nullified_by", "nullification_reason"])
        _log(actor, Action.NULLIFY, locked.patient, locked, {"nullified": locked.nullification_reason})
    return locked


@transaction.atomic
def temporary_revoke_register(*, actor: Actor, block: Block, hours: int, only_me: bool) -> TemporaryRevoke:
    """Lift a block for the actor's unit (or only the actor) for some hours, with the patient's consent."""
    _assignment, unit = _staff(actor)
    assert actor.user is not None
    if not 1 <= hours <= MAX_TEMPORARY_REVOKE_HOURS:
        raise ValidationError(
            {"hours": _("Lift the block for 1 to %(max)d hours.") % {"max": MAX_TEMPORARY_REVOKE_HOURS}}
        )
    now = timezone.now()
    if not has_care_relation(patient=block.patient, care_unit=unit, now=now):
        raise NotPermitted(_("Register a care relation with the patient first."))
    revoke = TemporaryRevoke.objects.create(
        block=block,
        revoked_for_care_unit=unit,
        revoked_for_user=actor.user if only_me else None,
        basis=RevokeBasis.CONSENT,
        starts_at=now,
        ends_at=now + timedelta(hours=hours),
        registered_by=actor.user,
    )
    _log(actor, Action.CREATE, block.patient, revoke, {"block": str(block.pk), "hours": hours})
    return revoke


@transaction.atomic
def temporary_revoke_blocks(
    *, actor: Actor, patient: Patient, hours: int, only_me: bool
) -> list[TemporaryRevoke]:
    """With the patient's consent, lift for some hours every block that hides information from the actor's
    unit (or only the actor): inner blocks of the actor's own care provider, outer blocks of the others.

    The actor never learns which blocks or where: the patient, who knows, consented to lifting them all.
    """
    _assignment, unit = _staff(actor)
    blocks = Block.objects.filter(patient=patient, ended_at__isnull=True, nullified_at__isnull=True).filter(
        Q(block_type=BlockType.INNER, information_care_provider_id=unit.care_provider_id)
        & ~Q(information_care_unit_id=unit.pk)
        | Q(block_type=BlockType.OUTER) & ~Q(information_care_provider_id=unit.care_provider_id)
    )
    return [
        temporary_revoke_register(actor=actor, block=block, hours=hours, only_me=only_me) for block in blocks
    ]


@transaction.atomic
def emergency_access_register(*, actor: Actor, patient: Patient, reason: str) -> PdlAssertion:
    """Step 1 of emergency access: with a reason, the reader learns where blocked information exists."""
    assignment, unit = _staff(actor)
    assert actor.user is not None
    now = timezone.now()
    if not has_care_relation(patient=patient, care_unit=unit, now=now):
        raise NotPermitted(_("Register a care relation with the patient first."))
    emergency = PdlAssertion.objects.create(
        assertion_type=AssertionType.EMERGENCY,
        patient=patient,
        care_unit=unit,
        care_provider_id=unit.care_provider_id,
        user=actor.user,
        starts_at=now,
        ends_at=now + timedelta(hours=EMERGENCY_ACCESS_HOURS),
        reason=_reason(reason),
        registered_by=actor.user,
        registered_assignment=assignment,
    )
    _log(
        actor,
        Action.CREATE,
        patient,
        emergency,
        {"type": "emergency", "step": "reveal", "reason": emergency.reason},
    )
    return emergency


@transaction.atomic
def emergency_access_open(*, actor: Actor, emergency: PdlAssertion) -> PdlAssertion:
    """Step 2: open the blocked information. Only the staff member who registered it, while it is in force."""
    _staff(actor)
    locked = PdlAssertion.objects.select_for_update().get(pk=emergency.pk)
    now = timezone.now()
    if (
        locked.assertion_type != AssertionType.EMERGENCY
        or locked.user_id != (actor.user.pk if actor.user else None)
        or locked.cancelled_at is not None
        or locked.ends_at is None
        or locked.ends_at <= now
    ):
        raise NotPermitted(_("This emergency access is not yours or no longer in force. Start a new one."))
    if locked.opened_at is None:
        locked.opened_at = now
        locked.save(update_fields=["opened_at"])
        _log(actor, Action.UPDATE, locked.patient, locked, {"type": "emergency", "step": "open"})
    return locked


@functools.cache
def _facts_query(*, with_head: bool) -> str:
    """Every fact of one patient in one statement (`patient_facts`): a tagged row per visit, booking,
    check-in, care relation, block, temporary revoke and assertion, and, `with_head`, the access-log chain
    head the reader's row will follow. Written out: every overview asks it, and as five ORM queries it cost
    several milliseconds of CPU, most of it query building."""
    from ympa.booking.models import Booking, QueueEntry, Slot
    from ympa.journal.models import Visit

    visit, relation = Visit._meta.db_table, CareRelation._meta.db_table
    booking, slot, queue = Booking._meta.db_table, Slot._meta.db_table, QueueEntry._meta.db_table
    block, revoke = Block._meta.db_table, TemporaryRevoke._meta.db_table
    assertion = PdlAssertion._meta.db_table
    head = AuditChainHead._meta.db_table
    # Table names come from the models; every value is a parameter. The first branch names the column
    # types (PostgreSQL would type a column of NULLs as text); block ids are compared as text.
    first = (
        "SELECT 'v', CAST(NULL AS text), care_unit_id, CAST(NULL AS bigint), CAST(NULL AS bigint), "
        "CAST(NULL AS date), CAST(NULL AS date), CAST(NULL AS text), CAST(NULL AS text)"
    )
    return (
        f"{first} FROM {visit} WHERE patient_id = %(patient)s AND visit_date >= %(since)s "  # noqa: S608
        # A booking is a care relation from when it is made until 30 days after its time; a check-in
        # (with or without a booking) like a visit on its day.
        f"UNION ALL SELECT 'r', NULL, k.care_unit_id, NULL, NULL, NULL, NULL, NULL, NULL FROM {booking} k "
        f"JOIN {slot} s ON s.id = k.slot_id WHERE k.patient_id = %(patient)s "
        "AND k.status IN ('booked', 'attended') AND s.starts_at >= %(since_at)s "
        f"UNION ALL SELECT 'r', NULL, care_unit_id, NULL, NULL, NULL, NULL, NULL, NULL FROM {queue} "
        "WHERE patient_id = %(patient)s AND day >= %(since)s "
        f"UNION ALL SELECT 'r', NULL, care_unit_id, NULL, NULL, NULL, NULL, NULL, NULL FROM {relation} "
        "WHERE patient_id = %(patient)s AND valid_from <= %(now)s AND valid_until > %(now)s "
        "AND ended_at IS NULL "
        "UNION ALL SELECT 'b', CAST(id AS text), information_care_unit_id, information_care_provider_id, "
        f"NULL, information_start, information_end, block_type, NULL FROM {block} "
        "WHERE patient_id = %(patient)s AND ended_at IS NULL AND nullified_at IS NULL "
        "UNION ALL SELECT 't', CAST(t.block_id AS text), t.revoked_for_care_unit_id, NULL, "
        f"t.revoked_for_user_id, NULL, NULL, NULL, NULL FROM {revoke} t JOIN {block} b ON b.id = t.block_id "
        "WHERE b.patient_id = %(patient)s AND t.starts_at <= %(now)s "
        "AND (t.ends_at IS NULL OR t.ends_at > %(now)s) AND t.cancelled_at IS NULL "
        "UNION ALL SELECT 'a', NULL, care_unit_id, NULL, user_id, NULL, NULL, assertion_type, reason "
        f"FROM {assertion} WHERE patient_id = %(patient)s AND starts_at <= %(now)s "
        "AND (ends_at IS NULL OR ends_at > %(now)s) AND cancelled_at IS NULL "
        # Only an opened emergency access grants reading; a consent holds from its start.
        "AND (assertion_type = %(consent)s OR opened_at IS NOT NULL)"
        + (
            f" UNION ALL SELECT 'h', last_hash, chain, last_seq, NULL, NULL, NULL, NULL, NULL FROM {head} "  # noqa: S608
            "WHERE chain = %(chain)s"
            if with_head
            else ""
        )
    )


def patient_facts(
    *, patient: Patient, now: datetime | None = None, log_for: Actor | None = None
) -> PatientFacts:
    """What is in force now for `patient`: care relations, blocks and their revokes, consents, emergencies.

    One statement, so the facts are consistent without a transaction of their own. With `log_for`, the
    statement also reads the head of the access-log chain that actor's rows about the patient join, for
    `patient_access` to append its row in one statement (a head that moved meanwhile only costs a retry).
    """
    moment = now or timezone.now()
    since = timezone.localdate(moment) - timedelta(days=VISIT_CARE_RELATION_DAYS)
    connection = transaction.get_connection()
    params = {
        "patient": Patient._meta.pk.get_db_prep_value(patient.pk, connection),
        "since": connection.ops.adapt_datefield_value(since),
        "since_at": connection.ops.adapt_datetimefield_value(
            moment - timedelta(days=VISIT_CARE_RELATION_DAYS)
        ),
        "now": connection.ops.adapt_datetimefield_value(moment),
        "consent": AssertionType.CONSENT.value,
        "chain": audit_chain_of(actor=log_for, patient_id=patient.pk) if log_for is not None else None,
    }
    head: Head | None = None
    units: set[int] = set()
    blocks: list[tuple[str, str, int, int | None, date | None, date | None]] = []
    revokes: dict[str, set[tuple[int, int | None]]] = {}
    assertions: list[AssertionFact] = []
    with connection.cursor() as cursor:
        cursor.execute(_facts_query(with_head=log_for is not None), params)
        rows = cursor.fetchall()
    for kind, ref, unit, provider, user, start, end, text, reason in rows:
        if kind == "h":
            head = Head(unit, provider, ref)
        elif kind in ("v", "r"):
            units.add(unit)
        elif kind == "b":
            blocks.append((ref, text, provider, unit, _date(start), _date(end)))
        elif kind == "t":
            revokes.setdefault(ref, set()).add((unit, user))
        else:
            assertions.append(
                AssertionFact(text, unit, user, (reason or "") if text == AssertionType.EMERGENCY else "")
            )
    return PatientFacts(
        patient_id=str(patient.pk),
        care_relation_units=frozenset(units),
        blocks=tuple(
            BlockFact(
                block_type=block_type,
                care_provider_id=provider_id,
                care_unit_id=unit_id,
                information_start=start,
                information_end=end,
                revoked_for=frozenset(revokes.get(block_id, ())),
            )
            for block_id, block_type, provider_id, unit_id, start, end in blocks
        ),
        assertions=tuple(assertions),
        log_head=head,
    )


def _date(value: object) -> date | None:
    """A date column as the driver returns it (SQLite: ISO text)."""
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def reader_for(actor: Actor, *, assurance: int) -> Reader:
    assignment = actor.assignment
    unit = assignment.care_unit if assignment is not None and assignment.is_active() else None
    return Reader(
        user_id=actor.user.pk if actor.user else None,
        care_unit_id=unit.pk if unit else None,
        care_provider_id=unit.care_provider_id if unit else None,
        assurance=assurance,
    )


def reader_for_citizen(actor: Actor, *, patient_id: UUID | None, today: date | None = None) -> Reader:
    """A citizen in the citizen app: their own record (if their login found one) and those of the minor
    children they are guardian of now (an ended guardianship, or a child who turned 18, gives nothing)."""
    if actor.kind != ActorKind.CITIZEN or actor.user is not None:
        raise ValueError("a citizen reader is read for a citizen actor")
    if patient_id is None:
        return Reader(user_id=None, care_unit_id=None, care_provider_id=None, assurance=actor.assurance)
    day = today or timezone.localdate()
    children = Patient.objects.filter(
        pk__in=Guardianship.objects.filter(guardian_id=patient_id, ended_at__isnull=True).values("child_id")
    ).only("pk", "birth_date")
    return Reader(
        user_id=None,
        care_unit_id=None,
        care_provider_id=None,
        assurance=actor.assurance,
        citizen_patient_id=str(patient_id),
        citizen_children=frozenset(str(child.pk) for child in children if child.is_minor(day)),
    )
