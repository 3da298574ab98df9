"""`ympa audit verify`: walk every chain of the access log and every anchor, and name what does not hold.

Reads only. Anchors and chain heads are read first, then all rows in one stream ordered by (chain, seq) (a
server-side cursor on PostgreSQL; the unique (chain, seq) index gives the order), without the ORM: the
database prints each row's canonical texts (on SQLite Python prints the header), Python only hashes them.
Rows appended while the walk runs are checked too; only heads read at the start are required to be there.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.utils.translation import gettext as _

from ympa.access.chain import GENESIS, anchor_mac, detail_text, header_text, row_mac, timestamp
from ympa.access.models import AuditAnchor, AuditChainHead, AuditEvent
from ympa.access.services import audit_log_keys

FETCH = 10_000


@dataclass(frozen=True)
class Problem:
    """The first thing that does not hold in one chain (chain, seq and row id where there is a row), or in
    one anchor."""

    reason: str
    chain: int | None = None
    seq: int | None = None
    row_id: int | None = None
    anchor: int | None = None

    def __str__(self) -> str:
        if self.anchor is not None and self.chain is None:
            where = _("anchor %(anchor)d") % {"anchor": self.anchor}
        elif self.row_id is not None:
            where = _("chain %(chain)d, seq %(seq)d (row id %(id)d)") % {
                "chain": self.chain,
                "seq": self.seq,
                "id": self.row_id,
            }
        else:
            where = _("chain %(chain)d") % {"chain": self.chain}
        return f"{where}: {self.reason}"


@dataclass
class Verification:
    rows: int = 0
    chains: int = 0
    anchors: int = 0
    seconds: float = 0.0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class _Anchored:
    """What the anchors say about one chain: every anchored (seq -> hash, anchor number) and the highest."""

    points: dict[int, tuple[str, int]] = field(default_factory=dict)
    highest: int = 0


def _anchors(anchor_key: bytes, result: Verification) -> dict[int, _Anchored]:
    anchored: dict[int, _Anchored] = {}
    expected, prev_mac = 1, ""
    previous_heads: dict[str, list[Any]] = {}
    rows = AuditAnchor.objects.order_by("seq").values_list("seq", "created_at", "heads", "prev_mac", "mac")
    for seq, created_at, heads, stored_prev, mac in rows.iterator(chunk_size=1000):
        result.anchors += 1
        if seq != expected:
            reason = _("anchors %(first)d to %(last)d are missing") % {"first": expected, "last": seq - 1}
            result.problems.append(Problem(reason, anchor=seq))
        elif stored_prev != prev_mac:
            result.problems.append(Problem(_("does not link to the anchor before it"), anchor=seq))
        expected, prev_mac = seq + 1, mac
        computed = anchor_mac(
            anchor_key, seq=seq, created_at=timestamp(created_at), heads=heads, prev_mac=stored_prev
        )
        if computed != mac:
            # Changed or forged: what it says about the chains cannot be trusted.
            result.problems.append(Problem(_("its signature does not match its content"), anchor=seq))
            continue
        for chain_text, (before_seq, _before_hash) in previous_heads.items():
            now = heads.get(chain_text)
            if now is None or now[0] < before_seq:
                reason = _("chain %(chain)s went back from seq %(seq)d since the anchor before") % {
                    "chain": chain_text,
                    "seq": before_seq,
                }
                result.problems.append(Problem(reason, anchor=seq))
        previous_heads = heads
        for chain_text, (head_seq, head_hash) in heads.items():
            chain = anchored.setdefault(int(chain_text), _Anchored())
            known = chain.points.get(head_seq)
            if known is not None and known[0] != head_hash:
                reason = _("says chain %(chain)s seq %(seq)d has another hash than anchor %(other)d") % {
                    "chain": chain_text,
                    "seq": head_seq,
                    "other": known[1],
                }
                result.problems.append(Problem(reason, anchor=seq))
            chain.points.setdefault(head_seq, (head_hash, seq))
            chain.highest = max(chain.highest, head_seq)
    return anchored


# The header's fields in SQL: PostgreSQL prints the header itself (chain.header_text is its format); SQLite
# gives the fields and Python prints them. A timestamp is stored as UTC text by SQLite, "2026-11-25 18:20:00"
# with or without ".ffffff".
_POSTGRES_HEADER = (
    "json_build_array(chain, seq, "
    """to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'), """
    "actor_kind, actor_identity, actor_name, user_id, assignment_id, care_unit_id, care_provider_id, "
    "replace(patient_id::text, '-', ''), action, object_type, object_id, channel, purpose, prev_hash)::text"
)
_SQLITE_HEADER = (
    "chain, seq, "
    "substr(occurred_at, 1, 10) || 'T' || substr(occurred_at, 12, 8) || '.' "
    "|| substr(substr(occurred_at, 21) || '000000', 1, 6) || '+00:00', "
    "actor_kind, actor_identity, actor_name, user_id, assignment_id, care_unit_id, care_provider_id, "
    "patient_id, action, object_type, object_id, channel, purpose, prev_hash"
)


def _fetch(cursor: Any, out: queue.Queue[object], stop: threading.Event) -> None:
    """Fetch batches in a thread of its own, so PostgreSQL prints the next batch while Python hashes."""

    def put(item: object) -> None:
        while not stop.is_set():
            try:
                out.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    try:
        while not stop.is_set() and (batch := cursor.fetchmany(FETCH)):
            put(batch)
    except BaseException as exc:  # handed to the verifying thread, which raises it
        put(exc)
    finally:
        put(None)


def _postgres_batches(cursor: Any) -> Iterator[list[tuple[Any, ...]]]:
    batches: queue.Queue[object] = queue.Queue(maxsize=4)
    stop = threading.Event()
    fetcher = threading.Thread(target=_fetch, args=(cursor, batches, stop), name="ympa-audit-verify-fetch")
    fetcher.start()
    try:
        while (batch := batches.get()) is not None:
            if isinstance(batch, BaseException):
                raise batch
            assert isinstance(batch, list)
            yield batch
    finally:
        stop.set()
        fetcher.join()


def _rows() -> Iterator[tuple[int, int, int, str, str, str, str]]:
    """(id, chain, seq, prev_hash, row_hash, detail text, header text) of every row, by chain and seq."""
    table = connection.ops.quote_name(AuditEvent._meta.db_table)
    select = "SELECT id, chain, seq, prev_hash, row_hash, detail, {header} FROM {table} ORDER BY chain, seq"
    if connection.vendor == "postgresql":
        # A server-side cursor needs a transaction.
        with transaction.atomic(), connection.chunked_cursor() as cursor:
            cursor.execute(select.format(header=_POSTGRES_HEADER, table=table))
            for batch in _postgres_batches(cursor):
                yield from batch
    else:
        # No transaction: on SQLite it would take the write lock (IMMEDIATE), and one statement reads one
        # snapshot anyway. No fetching thread either: sqlite3 holds the GIL while it reads.
        with connection.chunked_cursor() as cursor:
            cursor.execute(select.format(header=_SQLITE_HEADER, table=table))
            while batch := cursor.fetchmany(FETCH):
                for row in batch:
                    yield (*row[:6], header_text(row[6:]))


def audit_log_verify(*, progress: Callable[[int], None] | None = None) -> Verification:
    """Check the whole access log; the result lists the first problem of each chain and of the anchors."""
    started = time.perf_counter()
    result = Verification()
    row_key, anchor_key = audit_log_keys()
    anchored = _anchors(anchor_key, result)
    heads = {
        chain: (seq, row_hash)
        for chain, seq, row_hash in AuditChainHead.objects.filter(last_seq__gt=0).values_list(
            "chain", "last_seq", "last_hash"
        )
    }
    seen: set[int] = set()
    current: int | None = None
    expected, prev_hash, broken, last_id = 1, GENESIS, False, 0
    points: dict[int, tuple[str, int]] = {}
    head: tuple[int, str] | None = None
    loads = json.loads

    def chain_end() -> None:
        """The newest rows of the chain just walked: its head and anchors must not be beyond them."""
        assert current is not None
        if broken:
            return
        last = expected - 1
        if head is not None and head[0] > last:
            reason = _(
                "rows %(first)d to %(last)d, the newest, are missing (the chain head is at %(last)d)"
            ) % {
                "first": last + 1,
                "last": head[0],
            }
            result.problems.append(Problem(reason, chain=current, seq=last, row_id=last_id or None))
            return
        chain_anchors = anchored.get(current)
        if chain_anchors is not None and chain_anchors.highest > last:
            anchor = chain_anchors.points[chain_anchors.highest][1]
            reason = _("rows %(first)d to %(last)d, the newest, are missing (anchor %(anchor)d has them)") % {
                "first": last + 1,
                "last": chain_anchors.highest,
                "anchor": anchor,
            }
            result.problems.append(Problem(reason, chain=current, seq=last, row_id=last_id or None))

    for row in _rows():
        result.rows += 1
        if progress is not None and result.rows % 100_000 == 0:
            progress(result.rows)
        row_id, chain, seq = row[0], row[1], row[2]
        if chain != current:
            if current is not None:
                chain_end()
            current, expected, prev_hash, broken, last_id = chain, 1, GENESIS, False, 0
            seen.add(chain)
            chain_anchors = anchored.get(chain)
            points = chain_anchors.points if chain_anchors is not None else {}
            head = heads.get(chain)
            if head is None:
                reason = _("the chain has rows but no head")
                result.problems.append(Problem(reason, chain=chain, seq=seq, row_id=row_id))
                broken = True
        if broken:
            continue
        stored_prev, stored_hash, detail, header = row[3:]
        if seq != expected:
            reason = _("rows %(first)d to %(last)d before this one are missing") % {
                "first": expected,
                "last": seq - 1,
            }
        elif stored_prev != prev_hash:
            reason = _("it does not link to the row before it (a row was removed or inserted)")
        else:
            computed = row_mac(row_key, header, detail)
            if computed != stored_hash:
                # Stored in another form than the canonical one (SQLite escapes non-ASCII text; rows chained
                # by the upgrade migration may have numbers PostgreSQL prints differently): hash it canonical.
                computed = row_mac(row_key, header, detail_text(loads(detail)))
            if computed != stored_hash:
                reason = _("its content does not match its hash (the row was changed or inserted)")
            elif seq in points and points[seq][0] != stored_hash:
                reason = _("anchor %(anchor)d has another hash for this row") % {"anchor": points[seq][1]}
            elif head is not None and seq == head[0] and head[1] != stored_hash:
                reason = _("the chain head has another hash for this row")
            else:
                expected, prev_hash, last_id = seq + 1, stored_hash, row_id
                continue
        result.problems.append(Problem(reason, chain=chain, seq=seq, row_id=row_id))
        broken = True
    if current is not None:
        chain_end()
    for chain in sorted((set(heads) | set(anchored)) - seen):
        anchor_highest = anchored[chain].highest if chain in anchored else 0
        last = max(heads.get(chain, (0, ""))[0], anchor_highest)
        if last:
            reason = _("all %(count)d rows of the chain are missing") % {"count": last}
            result.problems.append(Problem(reason, chain=chain))
    result.chains = len(seen)
    result.seconds = time.perf_counter() - started
    return result
