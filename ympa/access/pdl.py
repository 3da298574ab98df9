"""The Patient Data Act (PDL) access decision, as plain Python: who may read which care unit's information.

One function, `decide`, answers for one reader and one source of information (the care unit, and its care
provider, that documented it). Everything it needs is passed in as facts, read beforehand in a few queries, so
that a patient overview with entries from many units asks the database once and decides per entry in memory.

The rules (patientdatalagen 2008:355, chapters 4 and 6, and lag 2022:913 on shared documentation; the block
and consent semantics mirror the RIVTA contracts ehr_blocking 3.2 and ehr_patientconsent 1.0, whose
`BlockType` is Inner/Outer and whose `PDLAssertion` is a Consent or an Emergency, for one employee or a whole
care unit, with a start and an optional end):

- Staff need an active assignment at a care unit and a care relation with the patient at that unit.
- Information of the reader's own care unit: allowed.
- Another unit of the same care provider: allowed unless an inner block covers that unit's information and
  is not lifted for the reader (a temporary revoke for the reader's unit or the reader, or an opened
  emergency access).
- Another care provider (the shared record): a high-assurance login (BankID or SITHS), and the patient's
  consent for the reader or the reader's unit, or an opened emergency access; and no outer block on that
  provider's information unless lifted for the reader.
- Emergency access has two steps: revealing *where* blocked information exists, then opening it; only an
  opened one grants reading, and only until it expires.
- A citizen reads their own record and their minor children's, all of it: blocks protect the patient from
  other care providers, not from themselves.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from ympa.access.chain import Head


class Basis(StrEnum):
    """Why access was given (stored in the access log)."""

    OWN_UNIT = "own_unit"
    SAME_PROVIDER = "same_provider"
    CONSENT = "consent"
    EMERGENCY = "emergency"
    OWN_RECORD = "own_record"
    GUARDIAN = "guardian"


class Refusal(StrEnum):
    """Why access was refused (shown to the reader in their words, stored in tests and logs)."""

    NO_ASSIGNMENT = "no_assignment"
    NO_CARE_RELATION = "no_care_relation"
    INNER_BLOCK = "inner_block"
    OUTER_BLOCK = "outer_block"
    NO_CONSENT = "no_consent"
    LOW_ASSURANCE = "low_assurance"
    NOT_YOUR_RECORD = "not_your_record"


HIGH_ASSURANCE = 3


@dataclass(frozen=True)
class Reader:
    """Who reads: staff (user and unit), or a citizen (their own patient id and their minor children's)."""

    user_id: int | None
    care_unit_id: int | None
    care_provider_id: int | None
    assurance: int
    citizen_patient_id: str | None = None
    citizen_children: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Source:
    """Whose information: the unit that documented it, its provider, and the day it was documented."""

    care_unit_id: int
    care_provider_id: int
    day: date | None = None


@dataclass(frozen=True)
class BlockFact:
    block_type: str  # "inner" or "outer"
    care_provider_id: int
    care_unit_id: int | None  # None: all of the provider's units
    information_start: date | None
    information_end: date | None
    # Temporary revokes in force now: (care unit, user or None for the whole unit).
    revoked_for: frozenset[tuple[int, int | None]] = frozenset()

    def covers(self, source: Source) -> bool:
        if source.care_provider_id != self.care_provider_id:
            return False
        if self.care_unit_id is not None and source.care_unit_id != self.care_unit_id:
            return False
        if source.day is not None:
            if self.information_start is not None and source.day < self.information_start:
                return False
            if self.information_end is not None and source.day > self.information_end:
                return False
        return True

    def lifted_for(self, reader: Reader) -> bool:
        return any(
            unit == reader.care_unit_id and (user is None or user == reader.user_id)
            for unit, user in self.revoked_for
        )


@dataclass(frozen=True)
class AssertionFact:
    """A consent or an opened emergency access in force now, for a unit (user None) or one staff member."""

    kind: str  # "consent" or "emergency"
    care_unit_id: int
    user_id: int | None
    # An emergency access's stated reason, for the log rows of the reads it opens.
    reason: str = ""

    def applies_to(self, reader: Reader) -> bool:
        return self.care_unit_id == reader.care_unit_id and (
            self.user_id is None or self.user_id == reader.user_id
        )


@dataclass(frozen=True)
class PatientFacts:
    """What is known about one patient now: care relations (unit ids), blocks, consents and emergencies."""

    patient_id: str
    care_relation_units: frozenset[int] = frozenset()
    blocks: tuple[BlockFact, ...] = ()
    assertions: tuple[AssertionFact, ...] = ()
    # Not a PDL fact: the head of the access-log chain the reader's rows go to, read in the same statement
    # (`patient_facts(log_for=…)`) so that the gate can append its row in one more (`access.services`).
    log_head: Head | None = None

    def has(self, kind: str, reader: Reader) -> bool:
        return any(a.kind == kind and a.applies_to(reader) for a in self.assertions)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    basis: Basis | None = None
    refusal: Refusal | None = None
    # The refusal is a block: the reader may be told that blocked information exists (not where).
    blocked: bool = False


def _allow(basis: Basis) -> Decision:
    return Decision(True, basis=basis)


def _refuse(refusal: Refusal) -> Decision:
    return Decision(False, refusal=refusal, blocked=refusal in (Refusal.INNER_BLOCK, Refusal.OUTER_BLOCK))


def decide(reader: Reader, source: Source, facts: PatientFacts) -> Decision:
    """May `reader` read the information `source` documented about the patient of `facts`?"""
    if reader.user_id is None:
        if reader.citizen_patient_id == facts.patient_id:
            return _allow(Basis.OWN_RECORD)
        if facts.patient_id in reader.citizen_children:
            return _allow(Basis.GUARDIAN)
        return _refuse(Refusal.NOT_YOUR_RECORD)
    if reader.care_unit_id is None or reader.care_provider_id is None:
        return _refuse(Refusal.NO_ASSIGNMENT)
    if reader.care_unit_id not in facts.care_relation_units:
        return _refuse(Refusal.NO_CARE_RELATION)
    if source.care_unit_id == reader.care_unit_id:
        return _allow(Basis.OWN_UNIT)
    emergency = facts.has("emergency", reader)
    if source.care_provider_id == reader.care_provider_id:
        inner = _blocked(facts.blocks, "inner", source, reader)
        if inner and not emergency:
            return _refuse(Refusal.INNER_BLOCK)
        return _allow(Basis.EMERGENCY if inner else Basis.SAME_PROVIDER)
    if reader.assurance < HIGH_ASSURANCE:
        return _refuse(Refusal.LOW_ASSURANCE)
    if emergency:
        return _allow(Basis.EMERGENCY)
    # A block outweighs a consent: with or without one, the reader learns only that blocked information
    # exists.
    if _blocked(facts.blocks, "outer", source, reader):
        return _refuse(Refusal.OUTER_BLOCK)
    if not facts.has("consent", reader):
        return _refuse(Refusal.NO_CONSENT)
    return _allow(Basis.CONSENT)


def _blocked(blocks: Iterable[BlockFact], block_type: str, source: Source, reader: Reader) -> bool:
    return any(b.block_type == block_type and b.covers(source) and not b.lifted_for(reader) for b in blocks)
