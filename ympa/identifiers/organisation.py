"""Organisation numbers (organisationsnummer) and HSA-ids, both returned as normalised strings.

Organisation number: ten digits, ``NNNNNN-NNNN`` or without the hyphen; the last digit is a Luhn
check digit over the other nine, and the third digit is at least 2 for legal entities so that
the number cannot be mistaken for a personnummer (https://oid-base.com/get/1.3.7). Sole traders
use their personnummer instead and are rejected here.

HSA-id: ``SE`` + the ten-digit organisation number of the directory owner (no hyphen) + ``-`` +
at least one of A-Z, a-z, 0-9; at most 31 characters in all (Inera's format as quoted in
https://openehr.atlassian.net/wiki/spaces/healthmod/pages/1922990156). The organisation number
part is checked with its Luhn check digit only.
"""

import re

from ympa.identifiers._common import (
    ASCII_DIGITS,
    checksum_error,
    describe_character,
    empty_error,
    first_not_in,
    luhn_check_digit,
)
from ympa.identifiers.errors import IdentifierError

_ORGANISATION_NUMBER = re.compile(r"[0-9]{6}-?[0-9]{4}")
_ORGANISATION_ALLOWED = ASCII_DIGITS | {"-"}

HSA_ID_MAX_LENGTH = 31
_HSA_ID = re.compile(r"(?:SE|Se|sE|se)([0-9]{10})-(.+)", re.DOTALL)
_HSA_SUFFIX_ALLOWED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")


def parse_organisation_number(value: str) -> str:
    """Validate an organisation number and return it as ``NNNNNN-NNNN``."""
    text = value.strip()
    if not text:
        raise empty_error()
    bad = first_not_in(text, _ORGANISATION_ALLOWED)
    if bad is not None:
        sv_char, en_char = describe_character(bad)
        raise IdentifierError(
            "characters",
            text,
            sv=f"{sv_char} är inte tillåtet i ett organisationsnummer: skriv tio siffror, "
            "gärna med bindestreck efter den sjätte (NNNNNN-NNNN).",
            en=f"{en_char} is not allowed in an organisation number: write ten digits, "
            "optionally with a hyphen after the sixth (NNNNNN-NNNN).",
        )
    digits = text.replace("-", "")
    if len(digits) != 10:
        raise IdentifierError(
            "length",
            text,
            sv=f"Ett organisationsnummer har 10 siffror, men det här har {len(digits)}.",
            en=f"An organisation number has 10 digits, but this one has {len(digits)}.",
        )
    if _ORGANISATION_NUMBER.fullmatch(text) is None:
        raise IdentifierError(
            "format",
            text,
            sv="Bindestrecket står på fel ställe: skriv NNNNNN-NNNN.",
            en="The hyphen is in the wrong place: write NNNNNN-NNNN.",
        )
    if int(digits[2]) < 2:
        raise IdentifierError(
            "legal_entity",
            text,
            sv=f"Tredje siffran är {digits[2]}, men i ett organisationsnummer är den minst 2. "
            "Är det en enskild firma används ägarens personnummer.",
            en=f"The third digit is {digits[2]}, but in an organisation number it is at least 2. "
            "A sole trader uses the owner's personnummer instead.",
        )
    expected = luhn_check_digit(digits[:9])
    if int(digits[9]) != expected:
        raise checksum_error(text, expected)
    return f"{digits[:6]}-{digits[6:]}"


def parse_hsa_id(value: str) -> str:
    """Validate an HSA-id and return it with the ``SE`` prefix in upper case, the rest as given."""
    text = value.strip()
    if not text:
        raise empty_error()
    match = _HSA_ID.fullmatch(text)
    if match is None:
        raise IdentifierError(
            "format",
            text,
            sv="Ett HSA-id skrivs SE, organisationsnumret med tio siffror utan bindestreck, ett "
            "bindestreck och minst ett tecken till, till exempel SE2321000016-ABC1.",
            en="An HSA-id is written SE, the ten-digit organisation number without hyphen, a "
            "hyphen and at least one more character, for example SE2321000016-ABC1.",
        )
    organisation_number, suffix = match.groups()
    bad = first_not_in(suffix, _HSA_SUFFIX_ALLOWED)
    if bad is not None:
        sv_char, en_char = describe_character(bad)
        raise IdentifierError(
            "characters",
            text,
            sv=f"{sv_char} är inte tillåtet i ett HSA-id: efter bindestrecket får bara A till Z, "
            "a till z och 0 till 9 förekomma (inte å, ä, ö eller @).",
            en=f"{en_char} is not allowed in an HSA-id: after the hyphen only A to Z, a to z and "
            "0 to 9 may occur (not å, ä, ö or @).",
        )
    if len(text) > HSA_ID_MAX_LENGTH:
        raise IdentifierError(
            "too_long",
            text,
            sv=f"Ett HSA-id får vara högst {HSA_ID_MAX_LENGTH} tecken långt, men det här har {len(text)}.",
            en=f"An HSA-id may be at most {HSA_ID_MAX_LENGTH} characters long, but this one has {len(text)}.",
        )
    expected = luhn_check_digit(organisation_number[:9])
    if int(organisation_number[9]) != expected:
        raise IdentifierError(
            "checksum",
            text,
            sv=f"Kontrollsiffran i organisationsnumret {organisation_number} stämmer inte: dess sista "
            f"siffra borde vara {expected}. Kontrollera att alla siffror är rätt inskrivna.",
            en=f"The check digit of the organisation number {organisation_number} is wrong: its last "
            f"digit should be {expected}. Check that every digit was entered correctly.",
        )
    return f"SE{organisation_number}-{suffix}"
