"""Reserve numbers: the published examples, properties of the SLL and VGR schemes, and the
scheme registry."""

from dataclasses import dataclass
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ympa.identifiers import (
    IdentifierError,
    LegalSex,
    PatientIdentifier,
    format_identifier,
    parse_patient_identifier,
    parse_reserve_number,
    register_reserve_scheme,
    reserve_schemes,
)
from ympa.identifiers import reserve as module
from ympa.identifiers.tests.support import WHITESPACE, change_one_digit, other_digit, reference_luhn

REFERENCE_DAY = date(2026, 3, 1)


# The examples on Inera's page "Lokala Reservidn" (version 5), the source of both formats.
@pytest.mark.parametrize(
    ("text", "scheme", "birth_date", "legal_sex"),
    [
        ("991981000010", "SLL", None, "male"),
        ("991945000023", "SLL", None, "female"),
        ("991993000032", "SLL", None, "male"),
        ("19810829M071", "VGR", date(1981, 8, 29), "male"),
        ("19450829K088", "VGR", date(1945, 8, 29), "female"),
        ("19930829X802", "VGR", date(1993, 8, 29), None),
    ],
)
def test_published_examples(
    text: str, scheme: str, birth_date: date | None, legal_sex: LegalSex | None
) -> None:
    expected = PatientIdentifier("reservnummer", text, birth_date, legal_sex, scheme)
    assert parse_reserve_number(text, today=REFERENCE_DAY) == expected
    assert parse_reserve_number(text, scheme=scheme, today=REFERENCE_DAY) == expected
    assert parse_patient_identifier(text, today=REFERENCE_DAY) == expected
    assert format_identifier(expected) == text


# --- Region Stockholm ---------------------------------------------------------------------


def stockholm_number(year: int, serial: int) -> str:
    body = f"99{year:04d}{serial:05d}"
    return body + str(reference_luhn(body[4:11]))  # positions 5-11, per the specification


@given(st.integers(1900, 2299), st.integers(0, 99_999), WHITESPACE)
def test_stockholm_round_trip(year: int, serial: int, padding: str) -> None:
    number = stockholm_number(year, serial)
    pid = parse_patient_identifier(padding + number + padding, today=REFERENCE_DAY)
    assert pid == PatientIdentifier(
        "reservnummer", number, None, "male" if serial % 2 else "female", scheme="SLL"
    )


@given(st.integers(1900, 2299), st.integers(0, 99_999), st.integers(4, 11), st.data())
def test_stockholm_single_digit_change_is_rejected(
    year: int, serial: int, position: int, data: st.DataObject
) -> None:
    """Positions 5-12 (the ones the check digit covers, and the check digit itself)."""
    number = stockholm_number(year, serial)
    changed = change_one_digit(number, position, other_digit(data, number[position]))
    with pytest.raises(IdentifierError) as caught:
        parse_reserve_number(changed, scheme="SLL", today=REFERENCE_DAY)
    assert caught.value.code == "checksum"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("991981000011", "checksum"),
        ("99198100001", "length"),
        ("981981000010", "format"),
        ("99198100001X", "characters"),
    ],
)
def test_stockholm_mistakes(text: str, code: str) -> None:
    with pytest.raises(IdentifierError) as caught:
        parse_reserve_number(text, scheme="SLL", today=REFERENCE_DAY)
    assert caught.value.code == code


def test_stockholm_messages_name_the_region() -> None:
    with pytest.raises(IdentifierError) as caught:
        parse_reserve_number("99198100001", scheme="SLL", today=REFERENCE_DAY)
    assert (
        caught.value.message("sv")
        == "Ett reservnummer från Region Stockholm har 12 siffror, men det här har 11."
    )


# --- Västra Götalandsregionen ------------------------------------------------------------

LETTER_VALUES = {"K": 5, "M": 7, "X": 8}
SERIALS = {"K": range(6, 79, 2), "M": range(7, 80, 2), "X": range(80, 90)}
SEXES: dict[str, LegalSex | None] = {"K": "female", "M": "male", "X": None}


def vgr_number(birth: date, letter: str, serial: int) -> str:
    head = f"{birth.year:04d}{birth.month:02d}{birth.day:02d}"
    payload = head[2:] + str(LETTER_VALUES[letter]) + f"{serial:02d}"
    return f"{head}{letter}{serial:02d}{reference_luhn(payload)}"


@st.composite
def vgr_cases(draw: st.DrawFn) -> tuple[date, str, int]:
    letter = draw(st.sampled_from("KMX"))
    return draw(st.dates(date(1800, 1, 1), REFERENCE_DAY)), letter, draw(st.sampled_from(SERIALS[letter]))


@given(vgr_cases(), st.booleans())
def test_vgr_round_trip(case: tuple[date, str, int], lower_case: bool) -> None:
    birth, letter, serial = case
    number = vgr_number(birth, letter, serial)
    typed = number.lower() if lower_case else number
    pid = parse_patient_identifier(typed, today=REFERENCE_DAY)
    assert pid == PatientIdentifier("reservnummer", number, birth, SEXES[letter], scheme="VGR")


@given(vgr_cases(), st.sampled_from([2, 3, 4, 5, 6, 7, 9, 10, 11]), st.data())
def test_vgr_single_digit_change_is_rejected(
    case: tuple[date, str, int], position: int, data: st.DataObject
) -> None:
    """Every digit but the two century digits, which the check digit does not cover."""
    number = vgr_number(*case)
    changed = change_one_digit(number, position, other_digit(data, number[position]))
    with pytest.raises(IdentifierError):
        parse_reserve_number(changed, scheme="VGR", today=REFERENCE_DAY)


@given(vgr_cases(), st.data())
def test_vgr_changed_letter_is_rejected(case: tuple[date, str, int], data: st.DataObject) -> None:
    number = vgr_number(*case)
    letter = data.draw(st.sampled_from([other for other in "KMX" if other != number[8]]))
    with pytest.raises(IdentifierError):
        parse_reserve_number(change_one_digit(number, 8, letter), scheme="VGR", today=REFERENCE_DAY)


@pytest.mark.parametrize(
    ("text", "code", "swedish_fragment"),
    [
        ("19810829K071", "serial", "K (kvinna)"),
        ("19810829M080", "serial", "M (man)"),
        ("19810829X071", "serial", "X (okänt kön)"),
        ("19810829M050", "serial", "udda tal från 07 till 79"),
        ("19810829M072", "checksum", "borde vara 1"),
        ("19810230M071", "date", "Datumet 19810230 finns inte."),
        ("20270101M071", "future_date", "2027-01-01"),
        ("19810829Q071", "format", "K (kvinna), M (man) eller X"),
        ("19810829MM71", "format", "K (kvinna), M (man) eller X"),
        ("19810829M07", "length", "har 11"),
        ("19810829Å071", "characters", "Tecknet 'Å'"),
        ("19810829ß071", "characters", "Tecknet 'ß'"),
    ],
)
def test_vgr_mistakes(text: str, code: str, swedish_fragment: str) -> None:
    with pytest.raises(IdentifierError) as caught:
        parse_reserve_number(text, scheme="VGR", today=REFERENCE_DAY)
    assert caught.value.code == code
    assert swedish_fragment in caught.value.message("sv")


# --- Selecting schemes -------------------------------------------------------------------


def test_unrecognised_reserve_number_names_the_known_formats() -> None:
    with pytest.raises(IdentifierError) as caught:
        parse_reserve_number("ABC-123", today=REFERENCE_DAY)
    assert caught.value.code == "format"
    assert "Region Stockholm" in caught.value.message("sv")
    assert "Västra Götalandsregionen" in caught.value.message("en")


def test_unknown_scheme_code() -> None:
    with pytest.raises(IdentifierError) as caught:
        parse_reserve_number("991981000010", scheme="XYZ", today=REFERENCE_DAY)
    assert caught.value.code == "unknown_scheme"
    assert "SLL, VGR" in caught.value.message("sv")


def test_patient_identifier_limited_to_one_scheme() -> None:
    assert parse_patient_identifier("991981000010", reserve_scheme="SLL", today=REFERENCE_DAY).scheme == "SLL"
    # A personnummer is always accepted, whatever the region's reserve scheme.
    assert (
        parse_patient_identifier("19121212-1212", reserve_scheme="VGR", today=REFERENCE_DAY).kind
        == "personnummer"
    )
    # Another region's reserve number is not.
    with pytest.raises(IdentifierError):
        parse_patient_identifier("991981000010", reserve_scheme="VGR", today=REFERENCE_DAY)
    with pytest.raises(IdentifierError) as caught:
        parse_patient_identifier("19121212-1212", reserve_scheme="XYZ", today=REFERENCE_DAY)
    assert caught.value.code == "unknown_scheme"


def test_error_comes_from_the_scheme_whose_shape_the_input_has() -> None:
    with pytest.raises(IdentifierError) as caught:
        parse_patient_identifier("19810829K071", today=REFERENCE_DAY)
    assert caught.value.code == "serial"
    with pytest.raises(IdentifierError) as caught:
        parse_patient_identifier("991981000011", today=REFERENCE_DAY)
    assert caught.value.code == "checksum"


# --- Registering schemes -----------------------------------------------------------------


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """A copy of the registry, so that schemes registered by a test vanish afterwards."""
    monkeypatch.setattr(module, "_SCHEMES", dict(module._SCHEMES))


@dataclass(frozen=True)
class DigitsScheme:
    """A made-up scheme: "R" followed by six digits; encodes nothing."""

    code: str = "TEST"
    region: str = "Testregionen"

    def claims(self, text: str) -> bool:
        return text.startswith("R")

    def parse(self, text: str, *, today: date) -> PatientIdentifier:
        if len(text) != 7 or not text[1:].isascii() or not text[1:].isdigit():
            raise IdentifierError("format", text, sv="Fel format.", en="Wrong format.")
        return PatientIdentifier("reservnummer", text, None, None, scheme=self.code)


@pytest.mark.usefixtures("registry")
def test_registered_scheme_is_used_by_every_entry_point() -> None:
    register_reserve_scheme(DigitsScheme())
    assert list(reserve_schemes()) == ["SLL", "VGR", "TEST"]
    assert parse_reserve_number("R123456", today=REFERENCE_DAY).scheme == "TEST"
    assert parse_patient_identifier(" R123456 ", today=REFERENCE_DAY).value == "R123456"
    assert parse_patient_identifier("R123456", reserve_scheme="TEST", today=REFERENCE_DAY).scheme == "TEST"
    with pytest.raises(IdentifierError) as caught:
        parse_patient_identifier("R12", today=REFERENCE_DAY)
    assert caught.value.message("sv") == "Fel format."


@pytest.mark.usefixtures("registry")
def test_a_code_cannot_be_taken_twice_by_accident() -> None:
    with pytest.raises(ValueError, match="SLL"):
        register_reserve_scheme(DigitsScheme(code="SLL"))
    register_reserve_scheme(DigitsScheme(code="SLL"), replace=True)
    assert parse_reserve_number("R123456", scheme="SLL", today=REFERENCE_DAY).scheme == "SLL"


class EverythingScheme(DigitsScheme):
    """A scheme that claims and accepts any input."""

    def claims(self, text: str) -> bool:
        return True

    def parse(self, text: str, *, today: date) -> PatientIdentifier:
        return PatientIdentifier("reservnummer", text, None, None, scheme=self.code)


@pytest.mark.usefixtures("registry")
def test_a_valid_personnummer_wins_over_an_overlapping_scheme() -> None:
    register_reserve_scheme(EverythingScheme(code="ANY"))
    assert parse_patient_identifier("19121212-1212", today=REFERENCE_DAY).kind == "personnummer"
    assert parse_patient_identifier("19121212-1213", today=REFERENCE_DAY).scheme == "ANY"


def test_registry_view_is_read_only() -> None:
    with pytest.raises(TypeError):
        reserve_schemes()["X"] = DigitsScheme()  # type: ignore[index]
