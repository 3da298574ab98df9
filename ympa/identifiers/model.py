"""The parsed form of a patient identifier and how to show it."""

from dataclasses import dataclass
from datetime import date
from typing import Literal, assert_never

PatientIdentifierKind = Literal["personnummer", "samordningsnummer", "reservnummer"]
LegalSex = Literal["female", "male"]
FormatStyle = Literal["display", "storage"]


@dataclass(frozen=True, slots=True)
class PatientIdentifier:
    """A validated patient identifier.

    ``value`` is the normalised storage form: twelve digits without separator for personnummer
    and samordningsnummer (day + 60 kept as written), the regional form for reserve numbers.
    ``birth_date`` and ``legal_sex`` are None where the identifier does not encode them.
    ``scheme`` is the reserve-number scheme code (e.g. "SLL"), None for the national numbers.
    """

    kind: PatientIdentifierKind
    value: str
    birth_date: date | None
    legal_sex: LegalSex | None
    scheme: str | None = None


def format_identifier(pid: PatientIdentifier, style: FormatStyle = "display") -> str:
    """``pid`` for people ("display": YYYYMMDD-NNNN) or for storage (the normalised value).

    Reserve numbers are shown as stored: the regional formats define no separator.
    """
    match style:
        case "storage":
            return pid.value
        case "display":
            if pid.kind == "reservnummer":
                return pid.value
            return f"{pid.value[:8]}-{pid.value[8:]}"
        case _:
            assert_never(style)
