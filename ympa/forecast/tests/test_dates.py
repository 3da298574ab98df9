"""CALCDT date rules (Logic Specification v4.6, table 3-6)."""

from datetime import date

import pytest

from ympa.forecast.dates import Duration, add_months, add_years, parse_cdc_date, parse_duration


@pytest.mark.parametrize(
    ("start", "text", "expected"),
    [
        (date(2000, 1, 1), "3 years", date(2003, 1, 1)),  # CALCDT-1
        (date(2000, 1, 1), "6 months", date(2000, 7, 1)),  # CALCDT-2
        (date(2000, 11, 1), "6 months", date(2001, 5, 1)),  # CALCDT-2, year rolls over
        (date(2000, 1, 1), "3 days", date(2000, 1, 4)),  # CALCDT-3
        (date(2000, 1, 1), "3 weeks", date(2000, 1, 22)),
        (date(2000, 2, 1), "5 weeks", date(2000, 3, 7)),  # leap year
        (date(2001, 2, 1), "5 weeks", date(2001, 3, 8)),  # not a leap year
        (date(2000, 3, 31), "6 months", date(2000, 10, 1)),  # CALCDT-5: 31 September
        (date(2000, 8, 31), "6 months", date(2001, 3, 1)),  # CALCDT-5: 31 February
        (date(2000, 1, 31), "6 months - 4 days", date(2000, 7, 27)),  # CALCDT-6
        (date(2000, 1, 31), "1 month - 4 days", date(2000, 2, 26)),  # 31 Feb -> 1 Mar, then -4 days
        (date(2000, 2, 29), "1 year", date(2001, 3, 1)),  # leap day in a common year
        (date(2000, 2, 29), "4 years", date(2004, 2, 29)),  # leap day kept in a leap year
        (date(2000, 2, 29), "12 months", date(2001, 3, 1)),
        (date(2024, 1, 10), "6 weeks - 4 days", date(2024, 2, 17)),
        (date(2024, 1, 10), "8 months + 1 day", date(2024, 9, 11)),
        (date(2000, 1, 15), "16 years - 4 months", date(2015, 9, 15)),
        (date(2020, 12, 31), "2 months", date(2021, 3, 1)),  # 31 February 2021
    ],
)
def test_calcdt(start: date, text: str, expected: date) -> None:
    duration = parse_duration(text)
    assert duration is not None
    assert duration.add_to(start) == expected


def test_subtracting_days_crosses_month_and_year() -> None:
    assert Duration(days=-4).add_to(date(2000, 1, 2)) == date(1999, 12, 29)  # CALCDT-4


def test_add_helpers() -> None:
    assert add_years(date(2016, 2, 29), 1) == date(2017, 3, 1)
    assert add_months(date(2021, 1, 31), 1) == date(2021, 3, 1)
    assert add_months(date(2021, 3, 31), -1) == date(2021, 3, 1)


@pytest.mark.parametrize("text", ["", "  ", "n/a", None])
def test_empty_duration(text: str | None) -> None:
    assert parse_duration(text) is None


def test_parse_duration_parts() -> None:
    assert parse_duration("1 year - 4 days") == Duration(1, 0, -4)
    assert parse_duration("1 years - 4 days") == Duration(1, 0, -4)
    assert parse_duration("7 months + 4 weeks") == Duration(0, 7, 28)
    with pytest.raises(ValueError, match="unrecognised"):
        parse_duration("soon")


def test_parse_cdc_date_formats() -> None:
    assert parse_cdc_date("20250827") == date(2025, 8, 27)
    assert parse_cdc_date("01/01/1957") == date(1957, 1, 1)
    assert parse_cdc_date("2025-11-10") == date(2025, 11, 10)
    assert parse_cdc_date("") is None
