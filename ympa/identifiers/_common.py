"""Helpers shared by the parsers in this package: the Luhn check digit, today's date, and the error
messages that read the same for every kind of identifier."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

from ympa.identifiers.errors import IdentifierError

# str.isdigit() also accepts e.g. "²" and Arabic-Indic digits, which int() may reject or which
# can never occur in these identifiers; every check in this package uses this set instead.
ASCII_DIGITS = frozenset("0123456789")

_SWEDEN = ZoneInfo("Europe/Stockholm")


def today_in_sweden() -> date:
    """Today's date in Sweden, the default reference date of the public parse functions."""
    # Birth dates and the '+' separator follow the Swedish calendar; the server may run on UTC,
    # which is a different day for one or two hours around midnight.
    return datetime.now(_SWEDEN).date()


def luhn_check_digit(payload: str) -> int:
    """The Luhn (modulus 10, weights 2 and 1) check digit for a string of ASCII digits."""
    total = 0
    # The weight 2 falls on the digit next to the check digit, then alternates leftwards.
    for position, char in enumerate(reversed(payload)):
        product = int(char) * (2 if position % 2 == 0 else 1)
        total += product - 9 if product > 9 else product
    return -total % 10


def first_not_in(text: str, allowed: frozenset[str]) -> str | None:
    """The first character of ``text`` that is not in ``allowed``, if any."""
    return next((char for char in text if char not in allowed), None)


def describe_character(char: str) -> tuple[str, str]:
    """Swedish and English sentence openings naming ``char`` so that a reader can find it.

    A space or an invisible character pasted from another program would otherwise show up as
    an empty pair of quotes.
    """
    if char.isspace():
        return "Ett mellanslag", "A space"
    if not char.isprintable():
        code_point = f"U+{ord(char):04X}"
        return f"Det osynliga tecknet {code_point}", f"The invisible character {code_point}"
    return f"Tecknet '{char}'", f"The character '{char}'"


def empty_error() -> IdentifierError:
    return IdentifierError("empty", "", sv="Inget nummer har angetts.", en="No number was entered.")


def checksum_error(value: str, expected: int) -> IdentifierError:
    return IdentifierError(
        "checksum",
        value,
        sv=f"Kontrollsiffran stämmer inte: sista siffran borde vara {expected}. "
        "Kontrollera att alla siffror är rätt inskrivna.",
        en=f"The check digit is wrong: the last digit should be {expected}. "
        "Check that every digit was entered correctly.",
    )


def date_error(value: str, digits: str, *, coordination_day: int | None = None) -> IdentifierError:
    """``digits`` is the date as YYYYMMDD; ``coordination_day`` the day as written (day + 60)."""
    sv = f"Datumet {digits} finns inte."
    en = f"The date {digits} does not exist."
    if coordination_day is not None:
        sv = f"Datumet {digits} finns inte (samordningsnummer: dag {coordination_day} minus 60)."
        en = f"The date {digits} does not exist (coordination number: day {coordination_day} minus 60)."
    return IdentifierError("date", value, sv=sv, en=en)


def future_date_error(
    value: str, birth_date: date, *, sv_hint: str = "", en_hint: str = ""
) -> IdentifierError:
    return IdentifierError(
        "future_date",
        value,
        sv=f"Födelsedatumet {birth_date.isoformat()} ligger i framtiden.{sv_hint}",
        en=f"The birth date {birth_date.isoformat()} is in the future.{en_hint}",
    )
