"""Swedish days as moments: where a day of a period starts, in Swedish time."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

# Periods asked for in Ympa are Swedish days, whatever timezone a request has activated.
SWEDEN = ZoneInfo("Europe/Stockholm")


def day_start(day: date) -> datetime:
    """Midnight at the start of `day` in Swedish time (daylight saving time included)."""
    return datetime.combine(day, time.min, tzinfo=SWEDEN)


def day_after(day: date) -> datetime:
    """Midnight at the end of `day`: the exclusive upper bound of a period that includes `day`."""
    return day_start(day + timedelta(days=1))
