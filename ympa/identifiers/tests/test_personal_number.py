"""personnummer and samordningsnummer: known numbers, properties, and the `personnummer`
library as an oracle."""

from contextlib import AbstractContextManager
from datetime import date
from unittest import mock

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from personnummer import personnummer as oracle

from ympa.identifiers import IdentifierError, format_identifier, parse_personnummer
from ympa.identifiers import personal_number as module
from ympa.identifiers.tests.support import (
    TODAY,
    WHITESPACE,
    PersonCase,
    change_one_digit,
    other_digit,
    person_cases,
    reference_luhn,
    with_check_digit,
)

REFERENCE_DAY = date(2026, 3, 1)


# --- Known numbers ----------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["19121212-1212", "191212121212", " 19121212-1212\n", "121212+1212"])
def test_tolvan_tolvansson_is_a_man_born_1912_12_12(text: str) -> None:
    pid = parse_personnummer(text, today=REFERENCE_DAY)
    assert pid.kind == "personnummer"
    assert pid.value == "191212121212"
    assert pid.birth_date == date(1912, 12, 12)
    assert pid.legal_sex == "male"
    assert pid.scheme is None
    assert format_identifier(pid) == "19121212-1212"
    assert format_identifier(pid, "storage") == "191212121212"


def test_ten_digits_with_hyphen_mean_under_100_this_year() -> None:
    assert parse_personnummer("121212-1212", today=REFERENCE_DAY).value == "201212121212"
    assert parse_personnummer("1212121212", today=REFERENCE_DAY).value == "201212121212"
    # In 1950 the same digits can only be Tolvan, then 38.
    assert parse_personnummer("121212-1212", today=date(1950, 6, 1)).value == "191212121212"


def test_coordination_number_has_day_plus_60_and_keeps_it_in_storage() -> None:
    pid = parse_personnummer(with_check_digit("121272121"), today=REFERENCE_DAY)
    assert pid.kind == "samordningsnummer"
    assert pid.birth_date == date(2012, 12, 12)
    assert format_identifier(pid) == f"20121272-121{reference_luhn('121272121')}"


def test_default_reference_date_is_today_in_sweden(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(module, "today_in_sweden", lambda: date(1950, 6, 1))
    assert parse_personnummer("121212-1212").birth_date == date(1912, 12, 12)


# --- The '+' rule: calendar year of the 100th birthday (Skatteverket) -------------------------


def test_plus_applies_from_new_year_of_the_year_the_holder_turns_100() -> None:
    turns_100_in_june = with_check_digit("260601123")
    short_plus = f"{turns_100_in_june[:6]}+{turns_100_in_june[6:]}"
    assert parse_personnummer(short_plus, today=REFERENCE_DAY).birth_date == date(1926, 6, 1)

    with pytest.raises(IdentifierError) as caught:
        parse_personnummer(f"{turns_100_in_june[:6]}-{turns_100_in_june[6:]}", today=REFERENCE_DAY)
    assert caught.value.code == "future_date"
    assert "260601+" in caught.value.message("sv")
    assert "260601+" in caught.value.message("en")

    # On New Year's Eve before, the same person was still written with '-'.
    assert parse_personnummer(
        f"{turns_100_in_june[:6]}-{turns_100_in_june[6:]}", today=date(2025, 12, 31)
    ).birth_date == date(1926, 6, 1)


@given(TODAY, st.data())
def test_century_at_the_100_year_boundary(today: date, data: st.DataObject) -> None:
    """Born in the year the holder turns 99 -> '-'; turns 100 -> '+', whatever the birthday."""
    for age_this_year, separator in ((99, "-"), (100, "+")):
        year = today.year - age_this_year
        birth = data.draw(st.dates(date(year, 1, 1), date(year, 12, 31)))
        case = PersonCase(
            today=today, birth_date=birth, serial=data.draw(st.integers(1, 999)), coordination=False
        )
        short = case.short_digits
        assert case.short_separator == separator
        assert parse_personnummer(f"{short[:6]}{separator}{short[6:]}", today=today).birth_date == birth


# --- Round trips and error detection ---------------------------------------------------------


@given(person_cases(), WHITESPACE, WHITESPACE)
def test_every_accepted_form_parses_to_the_same_identifier(case: PersonCase, before: str, after: str) -> None:
    for form in case.accepted_forms():
        pid = parse_personnummer(before + form + after, today=case.today)
        assert pid.kind == case.kind
        assert pid.value == case.normalised
        assert pid.birth_date == case.birth_date
        assert pid.legal_sex == case.legal_sex
        # What is displayed can be typed back in.
        assert parse_personnummer(format_identifier(pid), today=case.today) == pid


@given(person_cases(coordination=False))
def test_samordningsnummer_is_the_personnummer_with_day_plus_60(case: PersonCase) -> None:
    coordination = PersonCase(case.today, case.birth_date, case.serial, coordination=True)
    person = parse_personnummer(case.normalised, today=case.today)
    coord = parse_personnummer(coordination.normalised, today=case.today)
    assert coord.kind == "samordningsnummer"
    assert int(coord.value[6:8]) == int(person.value[6:8]) + 60
    assert (coord.birth_date, coord.legal_sex) == (person.birth_date, person.legal_sex)


@given(person_cases(), st.integers(2, 11), st.data())
def test_any_single_digit_change_is_rejected(case: PersonCase, position: int, data: st.DataObject) -> None:
    """Positions 2-11: the ten digits of the personnummer proper. The century digits are not
    covered by the check digit, by definition."""
    number = case.normalised
    changed = change_one_digit(number, position, other_digit(data, number[position]))
    with pytest.raises(IdentifierError):
        parse_personnummer(changed, today=case.today)


# --- The personnummer library as oracle -------------------------------------------------------


def _oracle_at(today: date) -> AbstractContextManager[object]:
    """The library reads the date through this module-level function; fix it to ``today``."""
    return mock.patch.object(oracle, "_get_current_date", return_value=today)


@given(person_cases())
def test_valid_numbers_agree_with_the_personnummer_library(case: PersonCase) -> None:
    short = case.short_digits
    with _oracle_at(case.today):
        for text in (case.normalised, f"{short[:6]}{case.short_separator}{short[6:]}"):
            theirs = oracle.parse(text)
            ours = parse_personnummer(text, today=case.today)
            assert theirs.format(long_format=True) == ours.value
            assert theirs.get_date() == ours.birth_date
            assert theirs.is_male() == (ours.legal_sex == "male")
            assert theirs.is_coordination_number() == (ours.kind == "samordningsnummer")


number_like = st.one_of(
    st.from_regex(r"[0-9]{6}[-+]?[0-9]{4}", fullmatch=True),
    st.from_regex(r"(18|19|20)[0-9]{6}-?[0-9]{4}", fullmatch=True),
    # Mostly plausible dates, so that checksum and century handling are exercised too.
    st.builds(
        lambda yy, mm, dd, serial, check: f"{yy:02d}{mm:02d}{dd:02d}{serial:03d}{check}",
        st.integers(0, 99),
        st.integers(0, 13),
        st.integers(0, 99),
        st.integers(0, 999),
        st.integers(0, 9),
    ),
    st.builds(
        lambda yy, mm, dd, serial: with_check_digit(f"{yy:02d}{mm:02d}{dd:02d}{serial:03d}"),
        st.integers(0, 99),
        st.integers(1, 12),
        st.sampled_from([*range(1, 32), *range(61, 92)]),
        st.integers(0, 999),
    ),
)


@given(number_like, TODAY)
def test_validity_agrees_with_the_personnummer_library(text: str, today: date) -> None:
    """The library accepts birth dates in the future, which we reject; elsewhere we agree."""
    with _oracle_at(today):
        theirs = oracle.parse(text) if oracle.valid(text) else None
    try:
        ours = parse_personnummer(text, today=today)
    except IdentifierError as error:
        assume(error.code != "future_date")
        assert theirs is None, error.message()
    else:
        assert theirs is not None
        assert theirs.format(long_format=True) == ours.value


# --- Messages for specific mistakes -----------------------------------------------------------


def _error(text: str) -> IdentifierError:
    with pytest.raises(IdentifierError) as caught:
        parse_personnummer(text, today=REFERENCE_DAY)
    assert caught.value.value == text.strip()
    return caught.value


def test_wrong_check_digit_says_which_digit_is_expected() -> None:
    error = _error("19121212-1213")
    assert error.code == "checksum"
    assert error.message("sv").startswith("Kontrollsiffran stämmer inte: sista siffran borde vara 2.")
    assert str(error).startswith("The check digit is wrong: the last digit should be 2.")


def test_impossible_date_is_named() -> None:
    error = _error(with_check_digit("990231123"))
    assert error.code == "date"
    assert error.message("sv") == "Datumet 19990231 finns inte."
    assert error.message("en") == "The date 19990231 does not exist."


def test_impossible_coordination_date_explains_the_60() -> None:
    error = _error(with_check_digit("990291123"))
    assert error.code == "date"
    assert "19990231" in error.message("sv")
    assert "91 minus 60" in error.message("sv")


@pytest.mark.parametrize("day", ["00", "32", "45", "60", "92", "99"])
def test_day_outside_both_ranges_is_explained(day: str) -> None:
    error = _error(with_check_digit(f"9901{day}123"))
    assert error.code == "date"
    assert f"Dagen {day}" in error.message("sv")
    assert "61 till 91" in error.message("sv")


def test_29_february_only_in_leap_years() -> None:
    digits = with_check_digit("000229123")
    assert _error("19" + digits).code == "date"  # 1900 was not a leap year
    assert parse_personnummer("20" + digits, today=REFERENCE_DAY).birth_date == date(2000, 2, 29)


def test_birth_number_000_is_not_used() -> None:
    error = _error(with_check_digit("121212000"))
    assert error.code == "serial"
    assert "000" in error.message("sv")


@pytest.mark.parametrize(
    ("text", "code", "swedish_fragment"),
    [
        ("", "empty", "Inget nummer"),
        ("   ", "empty", "Inget nummer"),
        ("19121212-121X", "characters", "Tecknet 'X'"),
        ("191212 12-1212", "characters", "Ett mellanslag"),
        ("19121212\u200b-1212", "characters", "U+200B"),
        ("1912121-1212", "length", "11 siffror"),
        ("19121212121", "length", "11 siffror"),
        ("1212-121212", "format", "Skiljetecknet"),
        ("121212--1212", "format", "Skiljetecknet"),
        ("19121212+1212", "separator", "Plustecken"),
        ("21121212-1212", "century", "18, 19 eller 20"),
        ("99198100-0010", "century", "18, 19 eller 20"),
        ("20270101-" + with_check_digit("270101123")[6:], "future_date", "2027-01-01"),
    ],
)
def test_structural_mistakes(text: str, code: str, swedish_fragment: str) -> None:
    error = _error(text)
    assert error.code == code
    assert swedish_fragment in error.message("sv")
    assert error.message("en") != error.message("sv")


def test_unicode_digits_are_not_digits() -> None:
    assert _error("١٢١٢١٢-١٢١٢").code == "characters"
    assert _error("19121212-121²").code == "characters"
