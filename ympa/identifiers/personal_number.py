"""Personal identity numbers (personnummer) and coordination numbers (samordningsnummer).

Rules, from Skatteverket's legal guidance on personnummer
(https://www4.skatteverket.se/rattsligvagledning/edition/2020.9/330245.html):

* birth date YYMMDD, a three-digit birth number 001-999 (odd for men, even for women) and a Luhn
  check digit computed over those nine digits;
* the separator becomes '+' from the calendar year in which the holder turns 100: it depends on
  the year only, not on whether the birthday has passed;
* the 12-digit storage form prefixes the century, which is 18, 19 or 20.

A samordningsnummer is built the same way with 60 added to the day (61-91).

Accepted input: ``YYMMDD-NNNC``, ``YYMMDD+NNNC``, ``YYMMDDNNNC``, ``YYYYMMDDNNNC`` and
``YYYYMMDD-NNNC``, with surrounding whitespace ignored.
"""

import re
from datetime import date

from ympa.identifiers._common import (
    ASCII_DIGITS,
    checksum_error,
    date_error,
    describe_character,
    empty_error,
    first_not_in,
    future_date_error,
    luhn_check_digit,
    today_in_sweden,
)
from ympa.identifiers.errors import IdentifierError
from ympa.identifiers.model import PatientIdentifier

_PATTERN = re.compile(
    r"(?P<century>[0-9]{2})?(?P<yy>[0-9]{2})(?P<mm>[0-9]{2})(?P<dd>[0-9]{2})"
    r"(?P<separator>[-+]?)(?P<serial>[0-9]{3})(?P<check>[0-9])"
)
_ALLOWED = ASCII_DIGITS | {"-", "+"}
_CENTURIES = ("18", "19", "20")
_COORDINATION_OFFSET = 60


def parse_personnummer(value: str, *, today: date | None = None) -> PatientIdentifier:
    """Validate a personnummer or samordningsnummer; ``kind`` in the result tells which.

    ``today`` is the reference date that decides the century of the 10-digit forms and which
    birth dates lie in the future; it defaults to today's date in Sweden.
    """
    today = today_in_sweden() if today is None else today
    text = value.strip()
    if not text:
        raise empty_error()
    match = _PATTERN.fullmatch(text)
    if match is None:
        raise _structure_error(text)
    century, yy, mm, dd, separator, serial, check = match.group(
        "century", "yy", "mm", "dd", "separator", "serial", "check"
    )

    if century is None:
        year = _year_of_short_form(int(yy), plus=separator == "+", today=today)
    elif separator == "+":
        raise IdentifierError(
            "separator",
            text,
            sv="Plustecken används bara i den tiosiffriga formen (ÅÅMMDD+NNNN). "
            "Skriv ÅÅÅÅMMDDNNNN eller ÅÅÅÅMMDD-NNNN.",
            en="A plus sign is only used in the 10-digit form (YYMMDD+NNNN). "
            "Write YYYYMMDDNNNN or YYYYMMDD-NNNN.",
        )
    elif century not in _CENTURIES:
        raise IdentifierError(
            "century",
            text,
            sv=f"Ett tolvsiffrigt personnummer börjar med 18, 19 eller 20, inte {century}.",
            en=f"A 12-digit personnummer starts with 18, 19 or 20, not {century}.",
        )
    else:
        year = int(century + yy)

    written_day = int(dd)
    coordination = written_day > _COORDINATION_OFFSET
    day = written_day - _COORDINATION_OFFSET if coordination else written_day
    if not 1 <= day <= 31:
        raise IdentifierError(
            "date",
            text,
            sv=f"Dagen {dd} är inte möjlig: ett personnummer har dag 01 till 31 "
            "och ett samordningsnummer dag 61 till 91.",
            en=f"Day {dd} is not possible: a personnummer has day 01 to 31 "
            "and a coordination number (samordningsnummer) day 61 to 91.",
        )
    if serial == "000":
        raise IdentifierError(
            "serial",
            text,
            sv="Födelsenumret (de tre siffrorna efter datumet) får inte vara 000.",
            en="The birth number (the three digits after the date) cannot be 000.",
        )
    try:
        birth_date = date(year, int(mm), day)
    except ValueError:
        raise date_error(
            text, f"{year:04d}{mm}{day:02d}", coordination_day=written_day if coordination else None
        ) from None
    if birth_date > today:
        raise _future_error(text, birth_date, short_form=century is None)
    expected = luhn_check_digit(yy + mm + dd + serial)
    if int(check) != expected:
        raise checksum_error(text, expected)

    return PatientIdentifier(
        kind="samordningsnummer" if coordination else "personnummer",
        value=f"{year:04d}{mm}{dd}{serial}{check}",
        birth_date=birth_date,
        legal_sex="male" if int(serial[2]) % 2 else "female",
    )


def _year_of_short_form(yy: int, *, plus: bool, today: date) -> int:
    """The birth year of a 10-digit number: '-' means the holder turns at most 99 this year,
    '+' that they turn 100 to 199."""
    latest = today.year - 100 if plus else today.year
    return latest - (latest - yy) % 100


def _future_error(text: str, birth_date: date, *, short_form: bool) -> IdentifierError:
    if not short_form:
        return future_date_error(text, birth_date)
    # A '-' written for someone who turns 100 this year lands on a date later this year;
    # say how the number should have been written.
    older = f"{text[:6]}+{text[-4:]}"
    born = birth_date.year - 100
    return future_date_error(
        text,
        birth_date,
        sv_hint=f" Om personen är född {born} ska numret skrivas med plustecken: {older}.",
        en_hint=f" If the person was born in {born}, write the number with a plus sign: {older}.",
    )


def _structure_error(text: str) -> IdentifierError:
    """Why ``text`` matches none of the accepted forms."""
    bad = first_not_in(text, _ALLOWED)
    if bad is not None:
        sv_char, en_char = describe_character(bad)
        return IdentifierError(
            "characters",
            text,
            sv=f"{sv_char} är inte tillåtet i ett personnummer: skriv bara siffror och "
            "bindestreck (eller plustecken).",
            en=f"{en_char} is not allowed in a personnummer: use only digits and a hyphen (or a plus sign).",
        )
    digit_count = sum(char in ASCII_DIGITS for char in text)
    if digit_count not in (10, 12):
        return IdentifierError(
            "length",
            text,
            sv=f"Numret har {digit_count} siffror, men ett personnummer har 10 eller 12 siffror.",
            en=f"The number has {digit_count} digits, but a personnummer has 10 or 12 digits.",
        )
    return IdentifierError(
        "format",
        text,
        sv="Skiljetecknet står på fel ställe. Skriv ÅÅMMDD-NNNN eller ÅÅÅÅMMDD-NNNN.",
        en="The separator is in the wrong place. Write YYMMDD-NNNN or YYYYMMDD-NNNN.",
    )
