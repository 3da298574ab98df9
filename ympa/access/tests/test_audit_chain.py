"""The access log is tamper-evident: rows hash-chained per shard, heads anchored and signed, and
`ympa audit verify` finds every change, removal (the newest rows included) and insertion, on SQLite and
PostgreSQL."""

from __future__ import annotations

import io
import itertools
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import import_module
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from conftest import actor_of, at_once
from ympa.access.chain import (
    CHAINS,
    GENESIS,
    chain_for,
    derive_keys,
    detail_text,
    event_header,
    row_mac,
    uuid_hex,
)
from ympa.access.models import Action, AuditAnchor, AuditChainHead, AuditEvent
from ympa.access.pdl_services import care_relation_register, patient_facts
from ympa.access.services import (
    audit_anchor_create,
    audit_event_build,
    audit_event_record,
    audit_events_save,
    patient_access,
)
from ympa.access.tasks import anchor_audit_log
from ympa.access.verify import Verification, audit_log_verify
from ympa.authn.models import User
from ympa.core.actor import Actor
from ympa.core.triggers import Guard, install, uninstall
from ympa.orgs.models import CareProvider, CareUnit, Municipality, Region
from ympa.patients.models import Patient

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs real concurrent connections"
)


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    """The problems are checked by their English wording."""
    with translation.override("en"):
        yield


# The guards of the log's tables (ympa/access/migrations/0003 and 0005), lifted to play the intruder.
GUARDS = [
    Guard(
        name="access_auditevent_append_only", table="access_auditevent", message="", refuse_all_deletes=True
    ),
    Guard(
        name="access_auditanchor_append_only", table="access_auditanchor", message="", refuse_all_deletes=True
    ),
    Guard(
        name="access_auditchainhead_forwards",
        table="access_auditchainhead",
        message="",
        refuse_all_deletes=True,
    ),
]


class _Editor:
    """What triggers.install/uninstall need of a schema editor, inside the test's transaction (SQLite's own
    schema editor refuses to run in one)."""

    def __init__(self, cursor: Any) -> None:
        self.connection = connection
        self.cursor = cursor

    def execute(self, sql: str, params: Any = None) -> None:
        self.cursor.execute(sql)


@contextmanager
def intruder() -> Iterator[Any]:
    """A cursor for someone who can write to the database directly (triggers lifted), but has no key."""
    with connection.cursor() as cursor:
        editor = _Editor(cursor)
        uninstall(editor, GUARDS)  # type: ignore[arg-type]
        try:
            yield cursor
        finally:
            # Put back as the migrations install them.
            guards = [
                *import_module("ympa.access.migrations.0003_append_only").GUARDS,
                *import_module("ympa.access.migrations.0005_chains").GUARDS,
            ]
            install(editor, guards)  # type: ignore[arg-type]


def reads(user: User, patient: Patient, count: int) -> list[AuditEvent]:
    """`count` reads of the patient by the user, one transaction each (as `patient_access` logs them)."""
    events = []
    for _ in range(count):
        with transaction.atomic():
            events.append(
                audit_event_record(
                    actor=actor_of(user),
                    action=Action.READ,
                    patient=patient,
                    object_type="patients.patient",
                    object_id=str(patient.pk),
                )
            )
    return events


def chain_of(user: User) -> int:
    return chain_for(care_provider_id=user.assignments.get().care_unit.care_provider_id, patient_id=None)


def seqs(chain: int) -> list[int]:
    return list(AuditEvent.objects.filter(chain=chain).order_by("seq").values_list("seq", flat=True))


def problems(result: Verification) -> list[tuple[int | None, int | None, int | None]]:
    return [(p.chain, p.seq, p.row_id) for p in result.problems]


def verify_command() -> str:
    out = io.StringIO()
    call_command("audit", "verify", stdout=out, stderr=io.StringIO())
    return out.getvalue()


def last_rows(chain: int, count: int) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(chain=chain).order_by("-seq")[:count])


# --- chaining --------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_rows_are_chained_per_care_provider(nurse_a: User, nurse_b: User, citizen: Patient) -> None:
    chain_a, chain_b = chain_of(nurse_a), chain_of(nurse_b)
    assert chain_a != chain_b
    registered = len(seqs(chain_a))  # the citizen fixture's registration by nurse A
    a = reads(nurse_a, citizen, 3)
    b = reads(nurse_b, citizen, 2)
    assert {e.chain for e in a} == {chain_a} and {e.chain for e in b} == {chain_b}
    rows = list(AuditEvent.objects.filter(chain=chain_a).order_by("seq"))
    assert [r.seq for r in rows] == list(range(1, registered + 4))
    assert rows[0].prev_hash == GENESIS
    assert all(later.prev_hash == earlier.row_hash for earlier, later in itertools.pairwise(rows))
    assert seqs(chain_b) == [1, 2]
    head = AuditChainHead.objects.get(chain=chain_a)
    assert (head.last_seq, head.last_hash) == (registered + 3, rows[-1].row_hash)
    assert audit_log_verify().ok


def test_the_shard_is_stable_and_spreads_care_providers() -> None:
    assert chain_for(care_provider_id=7, patient_id="ab" * 16) == chain_for(
        care_provider_id=7, patient_id=None
    )
    assert chain_for(care_provider_id=None, patient_id="ab" * 16) != chain_for(
        care_provider_id=None, patient_id=None
    )
    chains = {chain_for(care_provider_id=pk, patient_id=None) for pk in range(1, 1001)}
    assert len(chains) == CHAINS
    # Any CHAINS consecutive providers (a region's, say) never share a chain.
    assert len({chain_for(care_provider_id=pk, patient_id=None) for pk in range(500, 500 + CHAINS)}) == CHAINS


@pytest.mark.django_db
def test_a_row_without_care_provider_is_chained_by_its_patient(citizen: Patient) -> None:
    event = audit_event_record_now(Actor.citizen("191212121212", "Tolvan"), citizen)
    assert event.care_provider_id is None
    assert event.chain == chain_for(care_provider_id=None, patient_id=citizen.pk.hex)
    assert audit_log_verify().ok


def audit_event_record_now(actor: Actor, patient: Patient) -> AuditEvent:
    with transaction.atomic():
        return audit_event_record(
            actor=actor,
            action=Action.READ,
            patient=patient,
            object_type="patients.patient",
            object_id=str(patient.pk),
        )


@pytest.mark.django_db
def test_rows_of_one_call_lock_their_chain_head_once(nurse_a: User, citizen: Patient) -> None:
    actor = actor_of(nurse_a)
    events = [
        audit_event_build(
            actor=actor,
            action=Action.READ,
            patient=citizen,
            object_type="t",
            object_id=str(n),
            detail={"n": n},
        )
        for n in range(5)
    ]
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        audit_events_save(events)
    on_heads = [q["sql"] for q in queries.captured_queries if "access_auditchainhead" in q["sql"]]
    # One read (FOR UPDATE on PostgreSQL) and one write of the head, one insert of the rows.
    assert len(on_heads) == 2
    assert len([q for q in queries.captured_queries if "INSERT" in q["sql"]]) == 1
    if connection.vendor == "postgresql":
        assert "FOR UPDATE" in on_heads[0]
    first = events[0].seq
    assert [e.seq for e in events] == list(range(first, first + 5))
    assert audit_log_verify().ok


@pytest.mark.django_db
def test_details_the_database_would_rewrite_are_refused(nurse_a: User, citizen: Patient) -> None:
    for number in (1e20, 1e-7, float("nan"), -0.0):
        event = audit_event_build(
            actor=actor_of(nurse_a),
            action=Action.READ,
            patient=citizen,
            object_type="t",
            object_id="1",
            detail={"x": number},
        )
        with pytest.raises(ValueError), transaction.atomic():
            audit_events_save([event])


TRICKY = {
    "zeta": 'Göteborg 😀 "quoted" back\\slash\nline\ttab\x01',
    "a": [1, 2.5, 0.1, 100.0, -3, True, None, {"bb": [], "a": {}}],
    "é": "x",
    "bb": 12345678901234567890,
}


@pytest.mark.django_db
def test_the_canonical_texts_are_what_the_database_prints(nurse_a: User, citizen: Patient) -> None:
    """Verification hashes the texts the database prints (PostgreSQL) or stores (SQLite) without parsing."""
    with transaction.atomic():
        event = audit_event_record(
            actor=actor_of(nurse_a),
            action=Action.READ,
            patient=citizen,
            object_type="t",
            object_id="1",
            detail=TRICKY,
        )
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            from ympa.access.verify import _POSTGRES_HEADER

            cursor.execute(
                f"SELECT {_POSTGRES_HEADER}, detail::text FROM access_auditevent WHERE id = %s",  # noqa: S608
                [event.pk],
            )
            header, detail = cursor.fetchone()
            assert header == event_header(event)
            assert detail == detail_text(TRICKY)
        else:
            cursor.execute("SELECT detail FROM access_auditevent WHERE id = %s", [event.pk])
            [stored] = cursor.fetchone()
            # Django's json.dumps of the dict in canonical order: the same but for \\u escapes of non-ASCII.
            assert stored.encode().decode("unicode_escape") != stored
            assert "Göteborg" not in stored
    stored_event = AuditEvent.objects.get(pk=event.pk)
    row_key, _anchor_key = derive_keys_now()
    assert row_mac(row_key, event_header(stored_event), detail_text(stored_event.detail)) == event.row_hash
    assert audit_log_verify().ok


def derive_keys_now() -> tuple[bytes, bytes]:
    from django.conf import settings

    return derive_keys(settings.AUDIT_LOG_KEY)


# --- verification finds tampering --------------------------------------------------------------------------


@pytest.fixture
def log(nurse_a: User, nurse_b: User, citizen: Patient) -> dict[str, Any]:
    """Two chains (providers A and B), anchored, then two more rows in chain A that are not anchored yet."""
    chain_a = chain_of(nurse_a)
    # Rows 1..8 in chain A, whatever the citizen fixture's registration wrote.
    reads(nurse_a, citizen, 6 - len(seqs(chain_a)))
    reads(nurse_b, citizen, 3)
    anchor = audit_anchor_create()
    assert anchor is not None
    reads(nurse_a, citizen, 2)
    assert seqs(chain_a) == list(range(1, 9))
    assert audit_log_verify().ok
    return {
        "chain": chain_a,
        "anchor": anchor,
        "rows": AuditEvent.objects.count(),
        "nurse_a": nurse_a,
        "nurse_b": nurse_b,
        "citizen": citizen,
    }


@pytest.mark.django_db
def test_an_intact_log_verifies(log: dict[str, Any]) -> None:
    result = audit_log_verify()
    assert result.ok and result.rows == log["rows"] and result.chains >= 2 and result.anchors == 1
    assert "intact" in verify_command()


@pytest.mark.django_db
def test_an_edited_row_is_found(log: dict[str, Any]) -> None:
    row = AuditEvent.objects.get(chain=log["chain"], seq=3)
    with intruder() as cursor:
        cursor.execute("UPDATE access_auditevent SET actor_name = %s WHERE id = %s", ["Someone Else", row.pk])
    result = audit_log_verify()
    assert problems(result) == [(log["chain"], 3, row.pk)]
    assert "changed" in result.problems[0].reason
    with pytest.raises(CommandError) as failure:
        verify_command()
    assert f"chain {log['chain']}, seq 3 (row id {row.pk})" in str(failure.value)


@pytest.mark.django_db
def test_an_edited_detail_is_found(log: dict[str, Any]) -> None:
    row = AuditEvent.objects.get(chain=log["chain"], seq=2)
    with intruder() as cursor:
        cursor.execute(
            "UPDATE access_auditevent SET detail = %s WHERE id = %s", ['{"purpose": "curiosity"}', row.pk]
        )
    assert problems(audit_log_verify()) == [(log["chain"], 2, row.pk)]


@pytest.mark.django_db
def test_a_row_deleted_in_the_middle_is_found(log: dict[str, Any]) -> None:
    gone = AuditEvent.objects.get(chain=log["chain"], seq=4)
    after = AuditEvent.objects.get(chain=log["chain"], seq=5)
    with intruder() as cursor:
        cursor.execute("DELETE FROM access_auditevent WHERE id = %s", [gone.pk])
    result = audit_log_verify()
    assert problems(result) == [(log["chain"], 5, after.pk)]
    assert "4 to 4" in result.problems[0].reason
    with pytest.raises(CommandError):
        verify_command()


@pytest.mark.django_db
def test_a_deleted_row_renumbered_over_is_found(log: dict[str, Any]) -> None:
    """Closing the gap (seq and prev_hash of the later rows moved down) does not help without the key."""
    chain = log["chain"]
    rows = list(AuditEvent.objects.filter(chain=chain).order_by("seq"))
    with intruder() as cursor:
        cursor.execute("DELETE FROM access_auditevent WHERE id = %s", [rows[3].pk])
        cursor.execute(
            "UPDATE access_auditevent SET prev_hash = %s WHERE id = %s", [rows[2].row_hash, rows[4].pk]
        )
        for later in rows[4:]:
            cursor.execute("UPDATE access_auditevent SET seq = seq - 1 WHERE id = %s", [later.pk])
        cursor.execute("UPDATE access_auditchainhead SET last_seq = last_seq - 1 WHERE chain = %s", [chain])
    assert problems(audit_log_verify())[0] == (chain, 4, rows[4].pk)


@pytest.mark.django_db
def test_the_newest_rows_deleted_are_found_by_the_head(log: dict[str, Any]) -> None:
    chain = log["chain"]
    newest = last_rows(chain, 2)
    with intruder() as cursor:
        cursor.execute("DELETE FROM access_auditevent WHERE id IN (%s, %s)", [r.pk for r in newest])
    result = audit_log_verify()
    survivor = AuditEvent.objects.get(chain=chain, seq=6)
    assert problems(result) == [(chain, 6, survivor.pk)]
    assert "7 to 8" in result.problems[0].reason and "newest" in result.problems[0].reason


@pytest.mark.django_db
def test_the_newest_rows_deleted_with_the_head_moved_back_are_found_by_the_anchor(
    log: dict[str, Any],
) -> None:
    chain = log["chain"]
    survivor = AuditEvent.objects.get(chain=chain, seq=4)
    with intruder() as cursor:
        cursor.execute("DELETE FROM access_auditevent WHERE chain = %s AND seq > 4", [chain])
        cursor.execute(
            "UPDATE access_auditchainhead SET last_seq = 4, last_hash = %s WHERE chain = %s",
            [survivor.row_hash, chain],
        )
    result = audit_log_verify()
    assert problems(result) == [(chain, 4, survivor.pk)]
    assert f"anchor {log['anchor'].seq}" in result.problems[0].reason
    with pytest.raises(CommandError):
        verify_command()


@pytest.mark.django_db
def test_rows_written_after_the_last_anchor_can_only_vanish_with_the_head_moved_back(
    log: dict[str, Any],
) -> None:
    """The limit of the design, stated: rows 7 and 8 are not anchored yet; only the head still knows them."""
    chain = log["chain"]
    survivor = AuditEvent.objects.get(chain=chain, seq=6)
    with intruder() as cursor:
        cursor.execute("DELETE FROM access_auditevent WHERE chain = %s AND seq > 6", [chain])
        cursor.execute(
            "UPDATE access_auditchainhead SET last_seq = 6, last_hash = %s WHERE chain = %s",
            [survivor.row_hash, chain],
        )
    assert audit_log_verify().ok


@pytest.mark.django_db
def test_an_inserted_row_is_found(log: dict[str, Any]) -> None:
    """A row appended at the end of a chain, linked and numbered right, but hashed without the key."""
    chain = log["chain"]
    [last] = last_rows(chain, 1)
    forged = AuditEvent.objects.get(pk=last.pk)
    forged.pk, forged.seq, forged.prev_hash, forged.object_id = None, last.seq + 1, last.row_hash, "forged"
    forged.row_hash = row_mac(b"not the key", event_header(forged), detail_text(forged.detail))
    with intruder():
        forged.save()
        AuditChainHead.objects.filter(chain=chain).update(last_seq=forged.seq, last_hash=forged.row_hash)
    assert problems(audit_log_verify()) == [(chain, last.seq + 1, forged.pk)]


@pytest.mark.django_db
def test_a_row_inserted_in_the_middle_is_found(log: dict[str, Any]) -> None:
    chain = log["chain"]
    rows = list(AuditEvent.objects.filter(chain=chain).order_by("-seq"))
    with intruder() as cursor:
        # Make room after seq 3, from the end backwards so (chain, seq) stays unique.
        for row in rows[:-3]:
            cursor.execute("UPDATE access_auditevent SET seq = seq + 1 WHERE id = %s", [row.pk])
        third = AuditEvent.objects.get(chain=chain, seq=3)
        inserted = AuditEvent.objects.get(pk=third.pk)
        inserted.pk, inserted.seq, inserted.prev_hash, inserted.object_id = (
            None,
            4,
            third.row_hash,
            "inserted",
        )
        inserted.row_hash = row_mac(b"not the key", event_header(inserted), detail_text(inserted.detail))
        inserted.save()
    assert problems(audit_log_verify())[0] == (chain, 4, inserted.pk)


@pytest.mark.django_db
def test_a_changed_or_removed_anchor_is_found(log: dict[str, Any]) -> None:
    reads(log["nurse_b"], log["citizen"], 1)
    later = audit_anchor_create()
    assert later is not None and later.prev_mac == log["anchor"].mac
    with intruder() as cursor:
        heads = dict(log["anchor"].heads)
        heads[str(log["chain"])] = [1, GENESIS]
        cursor.execute(
            "UPDATE access_auditanchor SET heads = %s WHERE id = %s", [json_text(heads), log["anchor"].pk]
        )
    result = audit_log_verify()
    assert [(p.anchor, p.chain) for p in result.problems] == [(1, None)]
    assert "signature" in result.problems[0].reason
    with intruder() as cursor:
        cursor.execute("DELETE FROM access_auditanchor WHERE id = %s", [log["anchor"].pk])
    result = audit_log_verify()
    assert [(p.anchor, p.chain) for p in result.problems] == [(2, None)]


def json_text(value: Any) -> str:
    import json

    return json.dumps(value)


@pytest.mark.django_db
def test_a_missing_chain_is_found(log: dict[str, Any]) -> None:
    chain_b = chain_of(log["nurse_b"])
    with intruder() as cursor:
        cursor.execute("DELETE FROM access_auditevent WHERE chain = %s", [chain_b])
        cursor.execute("DELETE FROM access_auditchainhead WHERE chain = %s", [chain_b])
    result = audit_log_verify()
    assert [(p.chain, p.seq) for p in result.problems] == [(chain_b, None)]
    assert "all 3 rows" in result.problems[0].reason


@pytest.mark.django_db
def test_the_database_refuses_to_change_the_log(log: dict[str, Any]) -> None:
    chain = [log["chain"]]
    statements = [
        ("UPDATE access_auditevent SET actor_name = 'x'", []),
        ("UPDATE access_auditanchor SET mac = 'x'", []),
        ("UPDATE access_auditchainhead SET last_seq = 1 WHERE chain = %s", chain),
        ("UPDATE access_auditchainhead SET last_hash = 'x' WHERE chain = %s", chain),
        ("UPDATE access_auditchainhead SET chain = 99 WHERE chain = %s", chain),
    ]
    if connection.vendor == "postgresql":
        # SQLite refuses UPDATE only (see ympa.core.triggers).
        statements += [
            ("DELETE FROM access_auditevent", []),
            ("DELETE FROM access_auditanchor", []),
            ("DELETE FROM access_auditchainhead", []),
        ]
    for statement, params in statements:
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement, params)
    assert audit_log_verify().ok


# --- anchors ----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_anchoring_is_idempotent_and_linked(nurse_a: User, citizen: Patient) -> None:
    chain = chain_of(nurse_a)
    first = audit_anchor_create()
    assert first is not None and first.seq == 1 and first.prev_mac == ""
    assert audit_anchor_create() is None
    anchor_audit_log.call_local()
    assert AuditAnchor.objects.count() == 1
    reads(nurse_a, citizen, 1)
    anchor_audit_log.call_local()
    second = AuditAnchor.objects.get(seq=2)
    assert second.prev_mac == first.mac
    assert second.heads[str(chain)] == [
        first.heads[str(chain)][0] + 1,
        AuditChainHead.objects.get(chain=chain).last_hash,
    ]
    out = io.StringIO()
    call_command("audit", "anchor", stdout=out)
    assert "Nothing to anchor" in out.getvalue()
    assert audit_log_verify().ok


@pytest.mark.django_db
def test_an_empty_log_verifies_and_is_not_anchored() -> None:
    assert audit_anchor_create() is None
    result = audit_log_verify()
    assert result.ok and result.rows == 0


# --- synthetic data and the demo ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_synthetic_rows_are_chained_and_anchored(nurse_a: User, citizen: Patient) -> None:
    from ympa.core.synth import synth_fill

    before = AuditEvent.objects.count()
    stats = synth_fill(patients=20, vaccinations=120, progress=None)
    assert AuditAnchor.objects.count() == 1
    result = audit_log_verify()
    assert result.ok and result.rows == AuditEvent.objects.count() == before + stats.audit_events
    # The services and a second fill continue the same chains.
    synth_fill(patients=5, vaccinations=10, seed=2, progress=None)
    reads(nurse_a, citizen, 1)
    assert audit_log_verify().ok and AuditAnchor.objects.count() == 2


@pytest.mark.django_db
def test_the_demo_leaves_a_verified_anchored_log() -> None:
    from ympa.core.demo import demo_load

    demo_load(patients=20)
    anchor = AuditAnchor.objects.get()
    assert sum(1 for _ in anchor.heads) == AuditChainHead.objects.count() >= 2
    assert audit_log_verify().ok


# --- the upgrade ------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_rows_written_before_the_chains_are_chained_by_the_migration(citizen: Patient) -> None:
    from django.db.migrations.executor import MigrationExecutor

    before = AuditEvent.objects.count()
    provider = citizen.audit_events.exclude(care_provider=None).values_list("care_provider", flat=True)[0]
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes("access")
    executor.migrate([("access", "0004_pdl_facts")])
    try:
        executor = MigrationExecutor(connection)
        old_apps = executor.loader.project_state([("access", "0004_pdl_facts")]).apps
        OldEvent = old_apps.get_model("access", "AuditEvent")
        for n in range(4):
            OldEvent.objects.create(
                actor_kind="staff",
                actor_identity="x",
                actor_name="X",
                care_provider_id=provider if n % 2 else None,
                patient_id=citizen.pk,
                action="read",
                object_type="t",
                object_id=str(n),
                channel="ui",
                detail={"n": n, "name": "Åsa"},
            )
        executor = MigrationExecutor(connection)
        executor.migrate(latest)
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes("access"))
    result = audit_log_verify()
    # Two chains, the provider's and the patient's, unless the provider's id lands on the patient's chain
    # (ids depend on what other tests created first).
    chains = {
        chain_for(care_provider_id=provider, patient_id=None),
        chain_for(care_provider_id=None, patient_id=citizen.pk.hex),
    }
    assert result.ok and result.rows == before + 4 and result.chains == len(chains)
    assert set(AuditEvent.objects.values_list("chain", flat=True)) == chains
    first = AuditEvent.objects.order_by("id").first()
    assert first is not None and first.seq == 1
    assert audit_anchor_create() is not None
    # The guards are back.
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE access_auditevent SET actor_name = 'x'")


# --- concurrency (PostgreSQL) ------------------------------------------------------------------------------


def provider_in_another_chain(than: CareProvider, number: int) -> CareUnit:
    """A care unit of a new care provider whose rows go to another chain than `than`'s."""
    taken = chain_for(care_provider_id=than.pk, patient_id=None)
    for attempt in range(100):
        provider = CareProvider.objects.create(
            hsa_id=f"SE5599000019-C{number}{attempt:02d}",
            name=f"Provider {number}.{attempt}",
            organisation_number="559900-0019",
            region=Region.objects.get(code="01"),
        )
        if chain_for(care_provider_id=provider.pk, patient_id=None) != taken:
            return CareUnit.objects.create(
                hsa_id=f"SE5599000019-U{number}{attempt:02d}",
                name=f"Clinic {number}.{attempt}",
                care_provider=provider,
                municipality=Municipality.objects.get(code="0180"),
            )
    raise AssertionError("no other chain")


@postgres_only
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_writers_in_different_chains_do_not_wait_for_each_other(
    nurse_a: User, nurse_b: User, citizen: Patient
) -> None:
    """One transaction holds its chain's head lock; a write to another chain completes meanwhile, while a
    write to the same chain waits for it."""
    if chain_of(nurse_a) == chain_of(nurse_b):
        pytest.skip("providers A and B share a chain in this database")
    holding, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def hold() -> None:
        try:
            with transaction.atomic():
                reads(nurse_a, citizen, 1)
                holding.set()
                release.wait(10)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert holding.wait(10)
        started = time.monotonic()
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '3s'")
            reads(nurse_b, citizen, 1)
        assert time.monotonic() - started < 2
        # The same chain waits (and gives up after the lock timeout).
        with pytest.raises(DatabaseError), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '300ms'")
            reads(nurse_a, citizen, 1)
    finally:
        release.set()
        thread.join()
    assert not errors
    assert audit_log_verify().ok


@postgres_only
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_eight_concurrent_clients_of_different_providers_keep_every_chain_gap_free(
    nurse_a: User, nurse_a2: User, citizen: Patient
) -> None:
    """Eight clients at once, 20 writes each: two at provider A (one chain), six at six other providers."""
    from conftest import make_staff
    from ympa.orgs.rights import Role

    provider_a = nurse_a.assignments.get().care_unit.care_provider
    others = [provider_in_another_chain(provider_a, number) for number in range(6)]
    users = [nurse_a, nurse_a2] + [make_staff(f"nurse_{n}", Role.NURSE, unit=u) for n, u in enumerate(others)]
    before = AuditEvent.objects.count()
    _results, errors = at_once([lambda user=user: reads(user, citizen, 20) for user in users])
    assert not errors
    for chain in AuditEvent.objects.values_list("chain", flat=True).distinct():
        assert seqs(chain) == list(range(1, len(seqs(chain)) + 1))
    result = audit_log_verify()
    assert result.ok and result.rows == before + 8 * 20
    assert audit_anchor_create() is not None and audit_log_verify().ok


@pytest.mark.django_db
def test_patient_ids_are_hashed_as_hex(citizen: Patient) -> None:
    assert uuid_hex(citizen.pk) == uuid_hex(str(citizen.pk)) == citizen.pk.hex


@pytest.mark.django_db
def test_the_gate_appends_after_the_head_read_with_the_facts(nurse_a: User, citizen: Patient) -> None:
    actor = actor_of(nurse_a)
    reads(nurse_a, citizen, 2)
    facts = patient_facts(patient=citizen, log_for=actor)
    assert facts.log_head is not None
    head = AuditChainHead.objects.get(chain=facts.log_head.chain)
    assert facts.log_head == (head.chain, head.last_seq, head.last_hash)
    with CaptureQueriesContext(connection) as queries:
        event = patient_access(actor=actor, patient=citizen, facts=facts)
    assert (event.chain, event.seq, event.prev_hash) == (head.chain, head.last_seq + 1, head.last_hash)
    if connection.vendor == "postgresql":
        # One statement: no lock round trip, and no transaction of its own.
        assert [q["sql"].split()[0] for q in queries.captured_queries] == ["WITH"]
    assert AuditEvent.objects.get(pk=event.pk).row_hash == event.row_hash
    assert audit_log_verify().ok


@pytest.mark.django_db
def test_a_gate_whose_head_moved_since_the_facts_appends_after_the_new_head(
    nurse_a: User, citizen: Patient
) -> None:
    actor = actor_of(nurse_a)
    facts = patient_facts(patient=citizen, log_for=actor)
    first = patient_access(actor=actor, patient=citizen, facts=facts)
    # The same facts again: their head is now one row behind.
    with CaptureQueriesContext(connection) as queries:
        second = patient_access(actor=actor, patient=citizen, facts=facts)
    assert (second.seq, second.prev_hash) == (first.seq + 1, first.row_hash)
    if connection.vendor == "postgresql":
        assert "FOR UPDATE" in " ".join(q["sql"] for q in queries.captured_queries)
    assert seqs(first.chain) == list(range(1, second.seq + 1))
    assert audit_log_verify().ok


@postgres_only
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_gates_racing_on_one_chain_keep_it_gap_free(nurse_a: User, nurse_a2: User, citizen: Patient) -> None:
    """Eight readers of one provider (one chain) at once, ten reads each, half of them after a stale head:
    every read is logged once, in one gap-free chain that verifies."""
    care_relation_register(actor=actor_of(nurse_a2), patient=citizen, purpose="Vaccination")
    actors = [actor_of(nurse_a if n % 2 else nurse_a2) for n in range(8)]
    stale = [patient_facts(patient=citizen, log_for=actor) for actor in actors]
    before = AuditEvent.objects.count()

    def reader(n: int) -> int:
        for read in range(10):
            facts = stale[n] if read % 2 else patient_facts(patient=citizen, log_for=actors[n])
            patient_access(actor=actors[n], patient=citizen, facts=facts)
        return n

    results, errors = at_once([lambda n=n: reader(n) for n in range(8)])
    assert not errors and sorted(results) == list(range(8))  # type: ignore[type-var]
    chain = chain_of(nurse_a)
    assert seqs(chain) == list(range(1, len(seqs(chain)) + 1))
    result = audit_log_verify()
    assert result.ok and result.rows == before + 80
