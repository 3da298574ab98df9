"""The access log's hash chains without Django: which chain a row joins, its canonical form and its MAC.

Everything that writes or checks log rows (the append path, `ympa synth`, the migration that chained older
rows, `ympa audit verify`) goes through `row_mac` with texts made here, so they cannot drift apart. The texts
are the ones PostgreSQL prints (json_build_array, jsonb), so verification there hashes what the database
sends without parsing it; tests compare the two. The canonical form is part of the stored data: changing it
makes every existing row fail verification, so a different form needs a new key label (`ROW_LABEL`) and a way
to tell old rows from new ones.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

# Rows are spread over this many chains. The number only decides where new rows go: every chain verifies on
# its own, so changing it later needs no migration.
CHAINS = 64
# prev_hash of a chain's first row.
GENESIS = "0" * 64
ROW_LABEL = b"ympa access log rows v1"
ANCHOR_LABEL = b"ympa access log anchors v1"
# A row's canonical form is two lines: its header, these fields as a JSON array, and its detail. id is not
# part of it: the database assigns it while inserting, after the MAC is computed; a row's place in the log is
# (chain, seq).
HEADER_FIELDS = (
    "chain",
    "seq",
    "occurred_at",
    "actor_kind",
    "actor_identity",
    "actor_name",
    "user_id",
    "assignment_id",
    "care_unit_id",
    "care_provider_id",
    "patient_id",
    "action",
    "object_type",
    "object_id",
    "channel",
    "purpose",
    "prev_hash",
)


@functools.lru_cache(maxsize=4)
def derive_keys(secret: str) -> tuple[bytes, bytes]:
    """(row key, anchor key) from the AUDIT_LOG_KEY setting; separate, so neither MAC passes for the other."""
    base = secret.encode()
    return hmac.digest(base, ROW_LABEL, "sha256"), hmac.digest(base, ANCHOR_LABEL, "sha256")


class Head(NamedTuple):
    """A chain's head as read at some moment: its last seq and that row's hash."""

    chain: int
    seq: int
    hash: str


def chain_for(*, care_provider_id: int | None, patient_id: str | None) -> int:
    """The chain of a row: from its care provider, else its patient (hex id), else a fixed one.

    A care provider's rows go to chain id mod CHAINS: its writers queue behind each other, and the first
    CHAINS providers (every provider of a region, in practice) never share a chain with another. Rows without
    a provider use a stable hash (not Python's salted `hash`) of the patient, so every process agrees.
    Rows keep the chain they were written in; changing this mapping moves only new rows.
    """
    if care_provider_id is not None:
        return care_provider_id % CHAINS
    key = f"patient:{patient_id}" if patient_id is not None else "none"
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big") % CHAINS


def timestamp(value: datetime) -> str:
    """A timezone-aware datetime in the canonical form: UTC, always with microseconds."""
    if value.tzinfo is None:
        raise ValueError("audit timestamps must be timezone-aware")
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def uuid_hex(value: uuid.UUID | str | None) -> str | None:
    if value is None:
        return None
    return value.hex if isinstance(value, uuid.UUID) else uuid.UUID(value).hex


def check_detail(value: Any) -> Any:
    """The detail as the database will give it back (a JSON round trip); refuses numbers it would rewrite.

    Raises ValueError for floats that are not finite, are negative zero or that Python writes with an
    exponent (1e-05, 1e+16): PostgreSQL rejects them or gives them back in another form (0.00001), which would
    break the row's MAC.
    """
    normal = json.loads(json.dumps(value))
    _check_floats(normal)
    return normal


def _check_floats(value: Any) -> None:
    if isinstance(value, float):
        text = repr(value)
        if "e" in text or "n" in text or text == "-0.0":
            raise ValueError(f"the audit detail cannot hold the number {text}")
    elif isinstance(value, dict):
        for item in value.values():
            _check_floats(item)
    elif isinstance(value, list):
        for item in value:
            _check_floats(item)


def _jsonb_order(value: Any) -> Any:
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: (len(k.encode()), k.encode()))
        return {k: _jsonb_order(value[k]) for k in keys}
    if isinstance(value, list):
        return [_jsonb_order(item) for item in value]
    return value


# Built once: json.dumps with arguments builds an encoder per call, which costs as much as the encoding.
_text = json.JSONEncoder(ensure_ascii=False, check_circular=False).encode


def detail_text(value: Any) -> str:
    """The detail's canonical text: what PostgreSQL prints for it as jsonb (`detail::text`).

    Object keys shorter first, then by their UTF-8 bytes; ", " and ": " between items; text unescaped but
    for quotes, backslashes and control characters. So on PostgreSQL verification hashes the stored text as
    it comes; on SQLite the stored text (Django's json.dumps of a dict in this order) is the same unless it
    escaped non-ASCII characters.
    """
    return _text(_jsonb_order(value))


def header_text(values: Sequence[Any]) -> str:
    """The header's canonical text: the values as a JSON array, as PostgreSQL's json_build_array prints it.

    Values in HEADER_FIELDS order and canonical form: ints or None for numbers and ids, `timestamp()` for
    occurred_at, `uuid_hex()` for the patient, str for text.
    """
    return _text(values)


def event_header(event: Any) -> str:
    """The header of an AuditEvent (or the migration's historical model) with chain, seq and prev_hash set."""
    return header_text(
        [
            event.chain,
            event.seq,
            timestamp(event.occurred_at),
            str(event.actor_kind),
            str(event.actor_identity),
            str(event.actor_name),
            event.user_id,
            event.assignment_id,
            event.care_unit_id,
            event.care_provider_id,
            uuid_hex(event.patient_id),
            str(event.action),
            str(event.object_type),
            str(event.object_id),
            str(event.channel),
            str(event.purpose),
            event.prev_hash,
        ]
    )


def row_mac(key: bytes, header: str, detail: str) -> str:
    """HMAC-SHA-256 (hex) of a row's canonical form: header, newline, detail (JSON has no raw newline)."""
    return hmac.digest(key, f"{header}\n{detail}".encode(), "sha256").hex()


_anchor_text = json.JSONEncoder(separators=(",", ":"), sort_keys=True).encode


def anchor_mac(
    key: bytes, *, seq: int, created_at: str, heads: Mapping[str, Sequence[Any]], prev_mac: str
) -> str:
    """HMAC-SHA-256 (hex) of an anchor: its number, time (canonical), the chains' heads, the previous MAC."""
    return hmac.digest(key, _anchor_text([seq, created_at, heads, prev_mac]).encode(), "sha256").hex()
