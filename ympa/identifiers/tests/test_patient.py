"""parse_patient_identifier and format_identifier across the kinds of patient identifier."""

from datetime import date

import pytest
from hypothesis import given

from ympa.identifiers import IdentifierError, format_identifier, parse_patient_identifier, parse_personnummer
from ympa.identifiers import patient as module
from ympa.identifiers.tests.support import PersonCase, person_cases


@given(person_cases())
def test_national_numbers_parse_as_with_parse_personnummer(case: PersonCase) -> None:
    for form in case.accepted_forms():
        assert parse_patient_identifier(form, today=case.today) == parse_personnummer(form, today=case.today)


def test_display_and_storage_formats() -> None:
    today = date(2026, 3, 1)
    assert format_identifier(parse_patient_identifier("121212+1212", today=today)) == "19121212-1212"
    samordningsnummer = parse_patient_identifier("19121272-1219", today=today)
    assert samordningsnummer.kind == "samordningsnummer"
    assert format_identifier(samordningsnummer) == "19121272-1219"
    assert format_identifier(samordningsnummer, "storage") == "191212721219"
    reserve = parse_patient_identifier("19810829m071", today=today)
    assert format_identifier(reserve) == format_identifier(reserve, "storage") == "19810829M071"


def test_default_reference_date_is_today_in_sweden(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(module, "today_in_sweden", lambda: date(1950, 6, 1))
    assert parse_patient_identifier("121212-1212").birth_date == date(1912, 12, 12)


def test_unrecognised_input_gets_the_personnummer_explanation() -> None:
    with pytest.raises(IdentifierError) as caught:
        parse_patient_identifier("12345", today=date(2026, 3, 1))
    assert caught.value.code == "length"
    assert caught.value.message("sv") == "Numret har 5 siffror, men ett personnummer har 10 eller 12 siffror."
