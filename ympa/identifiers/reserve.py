"""Reserve numbers (reservnummer): regional identifiers for patients without a personnummer or
samordningsnummer. Each region has its own format, so formats are scheme objects in a registry
keyed by a scheme code; :func:`register_reserve_scheme` adds more.

Built-in schemes, from Inera's specification of the regional formats ("Lokala Reservidn",
version 5, https://inera.atlassian.net/wiki/pages/diffpagesbyversion.action?pageId=3353227890&selectedPageVersions=4&selectedPageVersions=5):

``SLL`` (Region Stockholm), ``99yyyyNNNNNC``: twelve digits beginning with 99; yyyy is a year,
NNNNN a serial and C a Luhn check digit over positions 5 to 11. Validated: all of that, including
the check digit. Region Stockholm's guide for caregivers
(https://vardgivarguiden.se/administration/patientadministration/patientnara-rutiner/reservnummer/)
adds that yyyy is the year the number was issued (so no birth date is encoded) and that the
second-to-last digit is odd or even by sex, on the personnummer model; legal sex is read from
it accordingly (odd = male). The year range 1980-2299 that the Inera page gives is not enforced,
because the page's own examples (991945000023) fall outside it.

``VGR`` (Västra Götalandsregionen), ``yyyymmddGggC``: a real calendar date (the birth date), G
the legal sex as K (kvinna, female), M (man, male) or X (unknown), gg a serial that is even
06-78 for K, odd 07-79 for M and 80-89 for X, and C a Luhn check digit in which the letter
counts as K=5, M=7, X=8. Validated: all of that. The page does not say which positions the
check digit covers; its three corrected examples hold only when the century is left out, as in
a personnummer, so the check digit is computed over yymmdd, the letter's value and gg.
"""

from collections.abc import Mapping
from datetime import date
from types import MappingProxyType
from typing import Final, NamedTuple, Protocol

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
from ympa.identifiers.model import LegalSex, PatientIdentifier


class ReserveNumberScheme(Protocol):
    """One regional reserve-number format."""

    @property
    def code(self) -> str:
        """The registry key, e.g. "SLL"; also stored as ``PatientIdentifier.scheme``."""
        ...

    @property
    def region(self) -> str:
        """The region's name for messages, e.g. "Region Stockholm"."""
        ...

    def claims(self, text: str) -> bool:
        """Whether ``text`` (already trimmed) has this scheme's shape, so that automatic
        detection should parse it with this scheme and report this scheme's errors."""
        ...

    def parse(self, text: str, *, today: date) -> PatientIdentifier:
        """Validate ``text`` (already trimmed; any string) and return a ``reservnummer``
        identifier with ``scheme`` set to :attr:`code`, or raise :class:`IdentifierError`."""
        ...


class StockholmReserveScheme:
    """Region Stockholm, ``99yyyyNNNNNC``; see the module docstring for the rules and source."""

    code: Final = "SLL"
    region: Final = "Region Stockholm"

    def claims(self, text: str) -> bool:
        return len(text) == 12 and text.startswith("99") and first_not_in(text, ASCII_DIGITS) is None

    def parse(self, text: str, *, today: date) -> PatientIdentifier:
        bad = first_not_in(text, ASCII_DIGITS)
        if bad is not None:
            sv_char, en_char = describe_character(bad)
            raise IdentifierError(
                "characters",
                text,
                sv=f"{sv_char} är inte tillåtet: ett reservnummer från {self.region} består bara av siffror.",
                en=f"{en_char} is not allowed: a reserve number from {self.region} has only digits.",
            )
        if len(text) != 12:
            raise IdentifierError(
                "length",
                text,
                sv=f"Ett reservnummer från {self.region} har 12 siffror, men det här har {len(text)}.",
                en=f"A reserve number from {self.region} has 12 digits, but this one has {len(text)}.",
            )
        if not text.startswith("99"):
            raise IdentifierError(
                "format",
                text,
                sv=f"Ett reservnummer från {self.region} börjar med 99.",
                en=f"A reserve number from {self.region} starts with 99.",
            )
        expected = luhn_check_digit(text[4:11])
        if int(text[11]) != expected:
            raise checksum_error(text, expected)
        return PatientIdentifier(
            kind="reservnummer",
            value=text,
            birth_date=None,
            legal_sex="male" if int(text[10]) % 2 else "female",
            scheme=self.code,
        )


class _VgrLetter(NamedTuple):
    check_value: int  # what the letter counts as in the check-digit calculation
    legal_sex: LegalSex | None
    serials: range  # the serial numbers (gg) allowed with this letter
    sv_rule: str
    en_rule: str


_VGR_LETTERS: Final = {
    "K": _VgrLetter(
        check_value=5,
        legal_sex="female",
        serials=range(6, 79, 2),
        sv_rule="K (kvinna): då är löpnumret ett jämnt tal från 06 till 78",
        en_rule="K (female): it must be an even number from 06 to 78",
    ),
    "M": _VgrLetter(
        check_value=7,
        legal_sex="male",
        serials=range(7, 80, 2),
        sv_rule="M (man): då är löpnumret ett udda tal från 07 till 79",
        en_rule="M (male): it must be an odd number from 07 to 79",
    ),
    "X": _VgrLetter(
        check_value=8,
        legal_sex=None,
        serials=range(80, 90),
        sv_rule="X (okänt kön): då är löpnumret 80 till 89",
        en_rule="X (unknown sex): it must be 80 to 89",
    ),
}


class VastraGotalandReserveScheme:
    """Västra Götalandsregionen, ``yyyymmddGggC``; see the module docstring for the rules and
    source."""

    code: Final = "VGR"
    region: Final = "Västra Götalandsregionen"

    def claims(self, text: str) -> bool:
        return (
            len(text) == 12
            and first_not_in(text[:8] + text[9:], ASCII_DIGITS) is None
            and text[8].isascii()
            and text[8].isalpha()
        )

    def parse(self, text: str, *, today: date) -> PatientIdentifier:
        # Rejected before upper-casing, which can turn one non-ASCII letter into two.
        bad = next((char for char in text if not char.isascii()), None)
        if bad is not None:
            sv_char, en_char = describe_character(bad)
            raise IdentifierError(
                "characters",
                text,
                sv=f"{sv_char} är inte tillåtet: ett reservnummer från {self.region} har bara siffror "
                "och en av bokstäverna K, M och X.",
                en=f"{en_char} is not allowed: a reserve number from {self.region} has only digits "
                "and one of the letters K, M and X.",
            )
        if len(text) != 12:
            raise IdentifierError(
                "length",
                text,
                sv=f"Ett reservnummer från {self.region} har 12 tecken (ÅÅÅÅMMDD, en bokstav och "
                f"tre siffror), men det här har {len(text)}.",
                en=f"A reserve number from {self.region} has 12 characters (YYYYMMDD, a letter and "
                f"three digits), but this one has {len(text)}.",
            )
        letter = _VGR_LETTERS.get(text[8].upper())
        if letter is None or first_not_in(text[:8] + text[9:], ASCII_DIGITS) is not None:
            raise IdentifierError(
                "format",
                text,
                sv=f"Ett reservnummer från {self.region} skrivs ÅÅÅÅMMDD följt av K (kvinna), "
                "M (man) eller X (okänt kön) och tre siffror, till exempel 19810829M071.",
                en=f"A reserve number from {self.region} is written YYYYMMDD followed by K (female), "
                "M (male) or X (unknown sex) and three digits, for example 19810829M071.",
            )
        try:
            birth_date = date(int(text[:4]), int(text[4:6]), int(text[6:8]))
        except ValueError:
            raise date_error(text, text[:8]) from None
        if birth_date > today:
            raise future_date_error(text, birth_date)
        serial = int(text[9:11])
        if serial not in letter.serials:
            raise IdentifierError(
                "serial",
                text,
                sv=f"Löpnumret {text[9:11]} passar inte ihop med {letter.sv_rule}.",
                en=f"The serial number {text[9:11]} does not match {letter.en_rule}.",
            )
        expected = luhn_check_digit(text[2:8] + str(letter.check_value) + text[9:11])
        if int(text[11]) != expected:
            raise checksum_error(text, expected)
        return PatientIdentifier(
            kind="reservnummer",
            value=text[:8] + text[8].upper() + text[9:],
            birth_date=birth_date,
            legal_sex=letter.legal_sex,
            scheme=self.code,
        )


_SCHEMES: dict[str, ReserveNumberScheme] = {}


def register_reserve_scheme(scheme: ReserveNumberScheme, *, replace: bool = False) -> None:
    """Make ``scheme`` available under ``scheme.code``.

    Registering a second scheme under a code already in use raises ValueError unless
    ``replace`` is true, so that two regions' formats cannot silently shadow each other.
    """
    if scheme.code in _SCHEMES and not replace:
        raise ValueError(f"a reserve-number scheme with code {scheme.code!r} is already registered")
    _SCHEMES[scheme.code] = scheme


def reserve_schemes() -> Mapping[str, ReserveNumberScheme]:
    """A read-only view of the registered schemes, by code, in registration order."""
    return MappingProxyType(_SCHEMES)


def lookup_reserve_scheme(code: str) -> ReserveNumberScheme:
    """The scheme registered under ``code``; IdentifierError("unknown_scheme") if there is none."""
    try:
        return _SCHEMES[code]
    except KeyError:
        known = ", ".join(_SCHEMES)
        raise IdentifierError(
            "unknown_scheme",
            code,
            sv=f"Reservnummerformatet '{code}' är okänt. Kända format: {known}.",
            en=f"The reserve-number format '{code}' is unknown. Known formats: {known}.",
        ) from None


def parse_with_schemes(text: str, schemes: list[ReserveNumberScheme], *, today: date) -> PatientIdentifier:
    """The first successful parse of ``text`` by ``schemes``; if all fail, the first one's error."""
    errors: list[IdentifierError] = []
    for scheme in schemes:
        try:
            return scheme.parse(text, today=today)
        except IdentifierError as error:
            errors.append(error)
    raise errors[0]


def parse_reserve_number(
    value: str, *, scheme: str | None = None, today: date | None = None
) -> PatientIdentifier:
    """Validate a reserve number in the scheme with code ``scheme``, or, if None, in whichever
    registered scheme it has the shape of.

    ``today`` (default: today's date in Sweden) is the reference date for rejecting birth dates
    in the future.
    """
    today = today_in_sweden() if today is None else today
    text = value.strip()
    if not text:
        raise empty_error()
    if scheme is not None:
        return lookup_reserve_scheme(scheme).parse(text, today=today)
    claiming = [candidate for candidate in _SCHEMES.values() if candidate.claims(text)]
    if not claiming:
        regions = ", ".join(candidate.region for candidate in _SCHEMES.values())
        raise IdentifierError(
            "format",
            text,
            sv=f"Numret har inget känt reservnummerformat ({regions}).",
            en=f"The number is not in any known reserve-number format ({regions}).",
        )
    return parse_with_schemes(text, claiming, today=today)


register_reserve_scheme(StockholmReserveScheme())
register_reserve_scheme(VastraGotalandReserveScheme())
