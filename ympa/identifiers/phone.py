"""Phone numbers, normalised to E.164 with the ``phonenumbers`` library (Google's libphonenumber
metadata), Swedish by default."""

from dataclasses import dataclass

import phonenumbers

from ympa.identifiers._common import empty_error
from ympa.identifiers.errors import IdentifierError


@dataclass(frozen=True, slots=True)
class PhoneNumber:
    """A valid phone number. ``is_mobile`` is true only where the numbering plan says "mobile";
    plans that cannot tell mobile from fixed lines (such as +1) give false."""

    e164: str
    is_mobile: bool


def parse_phone_number(value: str, *, default_region: str = "SE") -> PhoneNumber:
    """Validate a phone number; numbers without ``+`` or ``00`` are read as national numbers of
    ``default_region`` (an ISO 3166 country code), so ``070-123 45 67`` gives ``+46701234567``."""
    text = value.strip()
    if not text:
        raise empty_error()
    try:
        number = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException as exc:
        raise _unparsable(text, exc.error_type) from None
    if not phonenumbers.is_valid_number(number):
        raise _not_valid(text, number)
    return PhoneNumber(
        e164=phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
        is_mobile=phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.MOBILE,
    )


def _unknown_country_code(text: str) -> IdentifierError:
    return IdentifierError(
        "format",
        text,
        sv="Landsnumret känns inte igen. Skriv numret med + och ett giltigt landsnummer, "
        "till exempel +46 70 123 45 67.",
        en="The country code is not recognised. Write the number with + and a valid country code, "
        "for example +46 70 123 45 67.",
    )


def _too_short(text: str) -> IdentifierError:
    return IdentifierError(
        "length",
        text,
        sv="Telefonnumret har för få siffror.",
        en="The phone number has too few digits.",
    )


def _too_long(text: str) -> IdentifierError:
    return IdentifierError(
        "too_long",
        text,
        sv="Telefonnumret har för många siffror.",
        en="The phone number has too many digits.",
    )


def _unparsable(text: str, error_type: int) -> IdentifierError:
    if error_type == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE:
        return _unknown_country_code(text)
    if error_type in (
        phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD,
        phonenumbers.NumberParseException.TOO_SHORT_NSN,
    ):
        return _too_short(text)
    if error_type == phonenumbers.NumberParseException.TOO_LONG:
        return _too_long(text)
    return IdentifierError(
        "format",
        text,
        sv="Det här ser inte ut som ett telefonnummer: det har för få siffror eller tecken som inte "
        "hör hemma i ett telefonnummer.",
        en="This does not look like a phone number: it has too few digits or characters that do "
        "not belong in a phone number.",
    )


def _not_valid(text: str, number: phonenumbers.PhoneNumber) -> IdentifierError:
    reason = phonenumbers.is_possible_number_with_reason(number)
    if reason == phonenumbers.ValidationResult.INVALID_COUNTRY_CODE:
        return _unknown_country_code(text)
    if reason == phonenumbers.ValidationResult.TOO_SHORT:
        return _too_short(text)
    if reason == phonenumbers.ValidationResult.TOO_LONG:
        return _too_long(text)
    if reason == phonenumbers.ValidationResult.INVALID_LENGTH:
        return IdentifierError(
            "length",
            text,
            sv=f"Telefonnumret har fel antal siffror för landsnummer +{number.country_code}.",
            en=f"The phone number has the wrong number of digits for country code +{number.country_code}.",
        )
    return IdentifierError(
        "number_range",
        text,
        sv=f"Numret hör inte till någon nummerserie som används för landsnummer +{number.country_code}: "
        "kontrollera riktnumret och siffrorna.",
        en=f"The number is not in any number series in use for country code +{number.country_code}: "
        "check the area code and the digits.",
    )
