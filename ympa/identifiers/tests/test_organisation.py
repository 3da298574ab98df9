"""Organisation numbers and HSA-ids."""

from collections.abc import Callable

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from ympa.identifiers import HSA_ID_MAX_LENGTH, IdentifierError, parse_hsa_id, parse_organisation_number
from ympa.identifiers.tests.support import (
    WHITESPACE,
    change_one_digit,
    luhn_valid_digits,
    other_digit,
    valid_organisation_numbers,
)

HSA_SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def _error(parse: Callable[[str], str], text: str) -> IdentifierError:
    with pytest.raises(IdentifierError) as caught:
        parse(text)
    return caught.value


# --- Organisation numbers ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "normalised"),
    [
        ("232100-0016", "232100-0016"),  # Region Stockholm
        ("2321000131", "232100-0131"),  # Västra Götalandsregionen
        (" 556036-0793 ", "556036-0793"),
    ],
)
def test_known_organisation_numbers(text: str, normalised: str) -> None:
    assert parse_organisation_number(text) == normalised


@given(valid_organisation_numbers(), WHITESPACE)
def test_organisation_number_round_trip(digits: str, padding: str) -> None:
    normalised = f"{digits[:6]}-{digits[6:]}"
    for form in (digits, normalised, padding + normalised + padding):
        assert parse_organisation_number(form) == normalised
    assert parse_organisation_number(normalised) == normalised


@given(valid_organisation_numbers(), st.integers(0, 9), st.data())
def test_organisation_number_single_digit_change_is_rejected(
    digits: str, position: int, data: st.DataObject
) -> None:
    changed = change_one_digit(digits, position, other_digit(data, digits[position]))
    with pytest.raises(IdentifierError):
        parse_organisation_number(changed)


@pytest.mark.parametrize(
    ("text", "code", "swedish_fragment"),
    [
        ("", "empty", "Inget nummer"),
        ("232100-0017", "checksum", "sista siffran borde vara 6"),
        ("121212-1212", "legal_entity", "Tredje siffran är 1"),  # a valid personnummer
        ("2321-000016", "format", "Bindestrecket"),
        ("232100-001", "length", "har 9"),
        ("232100 0016", "characters", "Ett mellanslag"),
        ("SE232100-0016", "characters", "Tecknet 'S'"),
    ],
)
def test_organisation_number_mistakes(text: str, code: str, swedish_fragment: str) -> None:
    error = _error(parse_organisation_number, text)
    assert error.code == code
    assert swedish_fragment in error.message("sv")


# --- HSA-ids -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "normalised"),
    [
        ("SE2321000016-ABC1", "SE2321000016-ABC1"),
        ("se2321000016-abc1", "SE2321000016-abc1"),
        (" Se2321000131-x ", "SE2321000131-x"),
    ],
)
def test_known_hsa_ids(text: str, normalised: str) -> None:
    assert parse_hsa_id(text) == normalised


@given(
    luhn_valid_digits(10),
    st.sampled_from(["SE", "se", "Se", "sE"]),
    st.text(HSA_SUFFIX_ALPHABET, min_size=1, max_size=40),
)
def test_hsa_id_length_limit(organisation_number: str, prefix: str, suffix: str) -> None:
    text = f"{prefix}{organisation_number}-{suffix}"
    if len(text) <= HSA_ID_MAX_LENGTH:
        assert parse_hsa_id(text) == f"SE{organisation_number}-{suffix}"
    else:
        error = _error(parse_hsa_id, text)
        assert error.code == "too_long"
        assert f"har {len(text)}" in error.message("sv")


@given(
    luhn_valid_digits(10),
    st.text(HSA_SUFFIX_ALPHABET, max_size=5),
    st.characters(exclude_characters=HSA_SUFFIX_ALPHABET),
    st.text(HSA_SUFFIX_ALPHABET, max_size=5),
)
def test_hsa_id_character_set(organisation_number: str, before: str, bad: str, after: str) -> None:
    text = f"SE{organisation_number}-{before}{bad}{after}"
    assume(text.strip() == text)  # surrounding whitespace is trimmed, not rejected
    assert _error(parse_hsa_id, text).code == "characters"


@given(luhn_valid_digits(10), st.integers(0, 9), st.data())
def test_hsa_id_organisation_number_single_digit_change_is_rejected(
    organisation_number: str, position: int, data: st.DataObject
) -> None:
    changed = change_one_digit(
        organisation_number, position, other_digit(data, organisation_number[position])
    )
    assert _error(parse_hsa_id, f"SE{changed}-A1").code == "checksum"


@pytest.mark.parametrize(
    ("text", "code", "swedish_fragment"),
    [
        ("SE2321000017-ABC", "checksum", "organisationsnumret 2321000017"),
        ("SE2321000016-åäö", "characters", "Tecknet 'å'"),
        ("SE2321000016-a@b", "characters", "Tecknet '@'"),
        ("SE2321000016-A B", "characters", "Ett mellanslag"),
        ("SE2321000016-", "format", "minst ett tecken"),
        ("SE2321000016", "format", "minst ett tecken"),
        ("SE232100-0016-A", "format", "utan bindestreck"),
        ("DK2321000016-A", "format", "skrivs SE"),
        ("\u017fE2321000016-A", "format", "skrivs SE"),  # long s, which upper-cases to S
        ("SE2321000016-" + "A" * 19, "too_long", "högst 31"),
    ],
)
def test_hsa_id_mistakes(text: str, code: str, swedish_fragment: str) -> None:
    error = _error(parse_hsa_id, text)
    assert error.code == code
    assert swedish_fragment in error.message("sv")
