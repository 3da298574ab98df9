"""The permission matrix of the PDL decision, every combination, against expectations written as a table.

Reader: a nurse at unit A1 of provider A (the reader), reading information documented at her own unit, at
another unit of her provider (A2), or at another provider's unit (B1); a region officer without a care unit;
a citizen (the patient, a guardian, a stranger). Facts: care relation yes/no, consent yes/no (an expired
consent is no consent: the facts hold what is in force now), block none/inner/outer/lifted, emergency access
yes/no, login assurance high/low.
"""

from __future__ import annotations

import itertools

import pytest

from ympa.access.pdl import (
    AssertionFact,
    Basis,
    BlockFact,
    Decision,
    PatientFacts,
    Reader,
    Refusal,
    Source,
    decide,
)

NURSE, A1, A2, PROVIDER_A = 7, 11, 12, 1
B1, PROVIDER_B = 21, 2
PATIENT, CHILD = "patient", "child"
SOURCES = {
    "own unit": Source(A1, PROVIDER_A),
    "same provider": Source(A2, PROVIDER_A),
    "other provider": Source(B1, PROVIDER_B),
}


def facts(*, relation: bool, consent: bool, block: str, emergency: bool) -> PatientFacts:
    blocks: list[BlockFact] = []
    revoked: frozenset[tuple[int, int | None]]
    if block in ("inner", "inner lifted"):
        revoked = frozenset({(A1, None)}) if block == "inner lifted" else frozenset()
        blocks.append(BlockFact("inner", PROVIDER_A, A2, None, None, revoked))
    if block in ("outer", "outer lifted"):
        revoked = frozenset({(A1, NURSE)}) if block == "outer lifted" else frozenset()
        blocks.append(BlockFact("outer", PROVIDER_B, None, None, None, revoked))
    assertions = []
    if consent:
        assertions.append(AssertionFact("consent", A1, None))
    if emergency:
        assertions.append(AssertionFact("emergency", A1, NURSE))
    return PatientFacts(
        PATIENT,
        care_relation_units=frozenset({A1}) if relation else frozenset(),
        blocks=tuple(blocks),
        assertions=tuple(assertions),
    )


def expected(
    where: str, *, relation: bool, consent: bool, block: str, emergency: bool, high: bool
) -> tuple[bool, Basis | Refusal]:
    """The rules as the issue states them, written out case by case."""
    if not relation:
        return False, Refusal.NO_CARE_RELATION
    if where == "own unit":
        return True, Basis.OWN_UNIT
    if where == "same provider":
        if block == "inner":
            return (True, Basis.EMERGENCY) if emergency else (False, Refusal.INNER_BLOCK)
        return True, Basis.SAME_PROVIDER
    if not high:
        return False, Refusal.LOW_ASSURANCE
    if emergency:
        return True, Basis.EMERGENCY
    if block == "outer":
        return False, Refusal.OUTER_BLOCK
    if not consent:
        return False, Refusal.NO_CONSENT
    return True, Basis.CONSENT


CASES = list(
    itertools.product(
        SOURCES,
        (True, False),
        (True, False),
        ("none", "inner", "outer", "inner lifted", "outer lifted"),
        (True, False),
        (True, False),
    )
)


@pytest.mark.parametrize(("where", "relation", "consent", "block", "emergency", "high"), CASES)
def test_staff_matrix(
    where: str, relation: bool, consent: bool, block: str, emergency: bool, high: bool
) -> None:
    reader = Reader(NURSE, A1, PROVIDER_A, 3 if high else 1)
    decision = decide(
        reader, SOURCES[where], facts(relation=relation, consent=consent, block=block, emergency=emergency)
    )
    allowed, why = expected(
        where, relation=relation, consent=consent, block=block, emergency=emergency, high=high
    )
    assert decision.allowed is allowed
    assert (decision.basis if allowed else decision.refusal) == why
    assert decision.blocked is (why in (Refusal.INNER_BLOCK, Refusal.OUTER_BLOCK))


def test_a_consent_for_another_staff_member_does_not_count() -> None:
    reader = Reader(NURSE, A1, PROVIDER_A, 3)
    others = PatientFacts(PATIENT, frozenset({A1}), (), (AssertionFact("consent", A1, NURSE + 1),))
    assert decide(reader, SOURCES["other provider"], others).refusal is Refusal.NO_CONSENT
    mine = PatientFacts(PATIENT, frozenset({A1}), (), (AssertionFact("consent", A1, NURSE),))
    assert decide(reader, SOURCES["other provider"], mine).basis is Basis.CONSENT


def test_a_block_covers_only_its_information_period() -> None:
    from datetime import date

    block = BlockFact("outer", PROVIDER_B, None, date(2024, 1, 1), date(2024, 12, 31))
    known = PatientFacts(PATIENT, frozenset({A1}), (block,), (AssertionFact("consent", A1, None),))
    reader = Reader(NURSE, A1, PROVIDER_A, 3)
    assert decide(reader, Source(B1, PROVIDER_B, date(2024, 6, 1)), known).refusal is Refusal.OUTER_BLOCK
    assert decide(reader, Source(B1, PROVIDER_B, date(2025, 6, 1)), known).basis is Basis.CONSENT


def test_region_officer_without_a_unit_reads_nothing_here() -> None:
    officer = Reader(9, None, None, 3)
    assert decide(
        officer, SOURCES["own unit"], facts(relation=True, consent=True, block="none", emergency=False)
    ) == Decision(False, refusal=Refusal.NO_ASSIGNMENT)


@pytest.mark.parametrize(
    ("patient", "expected_basis"),
    [(PATIENT, Basis.OWN_RECORD), (CHILD, Basis.GUARDIAN), ("stranger", None)],
)
def test_citizen_reads_own_and_children_only_and_blocks_do_not_hide_from_the_patient(
    patient: str, expected_basis: Basis | None
) -> None:
    citizen = Reader(None, None, None, 3, citizen_patient_id=PATIENT, citizen_children=frozenset({CHILD}))
    blocked = PatientFacts(patient, blocks=(BlockFact("outer", PROVIDER_B, None, None, None),))
    decision = decide(citizen, SOURCES["other provider"], blocked)
    assert decision.allowed is (expected_basis is not None)
    assert decision.basis == expected_basis
    if expected_basis is None:
        assert decision.refusal is Refusal.NOT_YOUR_RECORD
