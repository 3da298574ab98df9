"""Durations and the CDSi date arithmetic (Logic Specification v4.6, section 3.4, CALCDT-1..6).

Supporting data express ages and intervals as text such as ``"6 weeks - 4 days"``,
``"12 months - 4 days"``, ``"8 months + 1 day"`` or ``"16 years - 4 months"``. A
:class:`Duration` keeps the year, month and day parts apart because the specification
applies them in a fixed order: years first (CALCDT-1), then months (CALCDT-2), then weeks
and days (CALCDT-3/4). A date that does not exist after a year or month step moves to the
first day of the following month (CALCDT-5).

Extension (documented in ``data/se-*/EXTENSIONS.md``): a duration may start with a calendar-year
anchor, ``"calendar year 75"``, meaning 1 January of the calendar year in which the patient turns
75. The remaining parts are added to that date, so ``"calendar year 7 + 7 months"`` is 1 August of
the year the patient turns 7. Swedish rules are tied to calendar years ("the year one turns 75")
and to school years, which start in the autumn of the calendar year a child turns a given age.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache

__all__ = ["MAX_DATE", "MIN_DATE", "Duration", "add_months", "add_years", "parse_cdc_date", "parse_duration"]

# Assumed values the specification uses when an age or date attribute is empty.
MIN_DATE = date(1900, 1, 1)
MAX_DATE = date(2999, 12, 31)

_UNIT_RE = re.compile(r"([+-]?)\s*(\d+)\s*(year|month|week|day)s?", re.IGNORECASE)
_ANCHOR_RE = re.compile(r"^\s*calendar\s+year\s+(\d+)\b", re.IGNORECASE)


def _valid_or_next_month(year: int, month: int, day: int) -> date:
    """Build a date, moving an impossible day (31 Feb) to the first of the next month (CALCDT-5)."""
    try:
        return date(year, month, day)
    except ValueError:
        if month == 12:
            return date(year + 1, 1, 1)
        return date(year, month + 1, 1)


def add_years(start: date, years: int) -> date:
    """CALCDT-1: change the year only; 29 Feb in a non-leap year becomes 1 March."""
    return _valid_or_next_month(start.year + years, start.month, start.day)


def add_months(start: date, months: int) -> date:
    """CALCDT-2: change the month (and year when it rolls over) while holding the day."""
    index = start.year * 12 + (start.month - 1) + months
    return _valid_or_next_month(index // 12, index % 12 + 1, start.day)


@dataclass(frozen=True, slots=True)
class Duration:
    """A calendar duration: whole years, whole months and days (weeks are stored as days).

    ``calendar_year`` set to N anchors the duration at 1 January of the calendar year ``start``'s
    year + N (for an age: the year the patient turns N) before the other parts are applied.
    """

    years: int = 0
    months: int = 0
    days: int = 0
    calendar_year: int | None = None

    def add_to(self, start: date) -> date:
        """Apply the duration to ``start`` in the order CALCDT-6 requires."""
        result = start if self.calendar_year is None else date(start.year + self.calendar_year, 1, 1)
        if self.years:
            result = add_years(result, self.years)
        if self.months:
            result = add_months(result, self.months)
        if self.days:
            result = result + timedelta(days=self.days)
        return result

    def __str__(self) -> str:
        parts = []
        for value, unit in ((self.years, "year"), (self.months, "month"), (self.days, "day")):
            if value:
                parts.append(f"{value} {unit}{'' if abs(value) == 1 else 's'}")
        if self.calendar_year is None:
            return " ".join(parts) or "0 days"
        return " + ".join([f"calendar year {self.calendar_year}", *parts])


@cache
def parse_duration(text: str | None) -> Duration | None:
    """Parse a supporting-data duration; an empty value (or ``n/a``) means "not specified"."""
    if text is None:
        return None
    cleaned = text.strip()
    if not cleaned or cleaned.lower() == "n/a":
        return None
    years = months = days = 0
    anchor = _ANCHOR_RE.match(cleaned)
    calendar_year = int(anchor.group(1)) if anchor else None
    matched = anchor is not None
    for sign, amount, unit in _UNIT_RE.findall(cleaned[anchor.end() :] if anchor else cleaned):
        matched = True
        value = -int(amount) if sign == "-" else int(amount)
        kind = unit.lower()
        if kind == "year":
            years += value
        elif kind == "month":
            months += value
        elif kind == "week":
            days += 7 * value
        else:
            days += value
    if not matched:
        raise ValueError(f"unrecognised duration: {text!r}")
    return Duration(years, months, days, calendar_year)


def parse_cdc_date(text: str | None) -> date | None:
    """Parse a date as CDC writes it: ``YYYYMMDD`` in supporting data, ``MM/DD/YYYY`` or ISO elsewhere."""
    if text is None:
        return None
    cleaned = text.strip()
    if not cleaned or cleaned.lower() == "n/a":
        return None
    if "/" in cleaned:
        month, day, year = (int(part) for part in cleaned.split("/"))
        return date(year, month, day)
    if "-" in cleaned:
        return date.fromisoformat(cleaned)
    if len(cleaned) == 8 and cleaned.isdigit():
        return date(int(cleaned[:4]), int(cleaned[4:6]), int(cleaned[6:]))
    raise ValueError(f"unrecognised date: {text!r}")
