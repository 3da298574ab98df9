"""The calendar file against RFC 5545's rules: CRLF lines of at most 75 octets, folding with a leading
space, escaped text, UTC times, and the required properties."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from ympa.booking.ics import CalendarEvent, calendar, escape_text, fold_line, utc_stamp

STOCKHOLM_SUMMER = timezone(timedelta(hours=2))


def _unfold(text: str) -> list[str]:
    return text.replace("\r\n ", "").split("\r\n")


def _event(**changes: object) -> CalendarEvent:
    values: dict[str, object] = {
        "uid": "b1@ympa",
        "starts_at": datetime(2026, 6, 1, 9, 0, tzinfo=STOCKHOLM_SUMMER),
        "ends_at": datetime(2026, 6, 1, 9, 10, tzinfo=STOCKHOLM_SUMMER),
        "summary": "Vaccination: Tolvan",
        "location": "Clinic A, Testgatan 1, Stockholm",
        "description": "Avboka eller omboka: https://ympa.example/boka/min-bokning/abc/",
    }
    values.update(changes)
    return CalendarEvent(**values)  # type: ignore[arg-type]


def test_the_calendar_has_the_required_structure_and_utc_times() -> None:
    now = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    text = calendar([_event()], now=now)
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    lines = _unfold(text)[:-1]
    assert lines[0] == "BEGIN:VCALENDAR" and lines[-1] == "END:VCALENDAR"
    assert "VERSION:2.0" in lines and any(line.startswith("PRODID:") for line in lines)
    assert lines.index("BEGIN:VEVENT") < lines.index("END:VEVENT")
    assert "UID:b1@ympa" in lines
    assert "DTSTAMP:20260501T120000Z" in lines
    # 09:00 at UTC+2 is 07:00 UTC.
    assert "DTSTART:20260601T070000Z" in lines and "DTEND:20260601T071000Z" in lines
    assert "LOCATION:Clinic A\\, Testgatan 1\\, Stockholm" in lines


def test_text_is_escaped() -> None:
    assert escape_text("a\\b;c,d\ne\r\nf") == "a\\\\b\\;c\\,d\\ne\\nf"


def test_long_lines_fold_at_75_octets_without_splitting_characters() -> None:
    text = calendar([_event(description="Åäö " * 60 + "slut", summary="x" * 200)], now=datetime.now(UTC))
    for line in text.split("\r\n"):
        assert len(line.encode()) <= 75
        line.encode().decode()  # each physical line is whole UTF-8
    assert "DESCRIPTION:" + escape_text("Åäö " * 60 + "slut") in _unfold(text)


def test_folding_keeps_short_lines_and_marks_continuations() -> None:
    assert fold_line("SUMMARY:short") == "SUMMARY:short"
    folded = fold_line("X" * 160)
    parts = folded.split("\r\n")
    assert [len(p) for p in parts] == [75, 75, 12] and all(p.startswith(" ") for p in parts[1:])


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError):
        utc_stamp(datetime(2026, 1, 1, 9, 0))  # noqa: DTZ001
