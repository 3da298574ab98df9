"""Swedish identifiers used in Ympa: validation, normalisation and messages for the user.

Plain Python, no Django. Every rejection raises :class:`IdentifierError` (a ValueError) with a
machine ``code``, the rejected ``value`` and ``message("sv")`` / ``message("en")``.

Patients
    ``parse_patient_identifier(value, *, today=None, reserve_scheme=None) -> PatientIdentifier``
        personnummer, samordningsnummer or reserve number, whichever fits.
    ``parse_personnummer(value, *, today=None) -> PatientIdentifier``
        personnummer or samordningsnummer only.
    ``parse_reserve_number(value, *, scheme=None, today=None) -> PatientIdentifier``
        reserve number only, in one scheme or any registered one.
    ``format_identifier(pid, style="display") -> str``
        ``YYYYMMDD-NNNN`` ("display") or the stored value ("storage").
    ``PatientIdentifier``
        frozen dataclass: kind, value (normalised), birth_date, legal_sex, scheme.
    ``PatientIdentifierKind``, ``LegalSex``, ``FormatStyle``: the Literal types used above.

Reserve-number schemes
    ``ReserveNumberScheme``: the Protocol a regional format implements.
    ``register_reserve_scheme(scheme, *, replace=False) -> None``
    ``reserve_schemes() -> Mapping[str, ReserveNumberScheme]``
    ``StockholmReserveScheme`` ("SLL") and ``VastraGotalandReserveScheme`` ("VGR"), registered
    on import.

Organisations and staff
    ``parse_organisation_number(value) -> str``: ``NNNNNN-NNNN``.
    ``parse_hsa_id(value) -> str``: ``SE`` + organisation number + ``-`` + code.
    ``HSA_ID_MAX_LENGTH``: 31.

Contact details
    ``parse_phone_number(value, *, default_region="SE") -> PhoneNumber``
    ``PhoneNumber``: frozen dataclass: e164, is_mobile.

Check digits
    ``luhn_check_digit(payload) -> int``: the check digit personnummer and organisation numbers use.

Errors
    ``IdentifierError``, ``ErrorCode`` (Literal of the codes).

Sources for the formats are cited in the docstrings of the modules that implement them.
"""

from ympa.identifiers._common import luhn_check_digit
from ympa.identifiers.errors import ErrorCode, IdentifierError
from ympa.identifiers.model import (
    FormatStyle,
    LegalSex,
    PatientIdentifier,
    PatientIdentifierKind,
    format_identifier,
)
from ympa.identifiers.organisation import HSA_ID_MAX_LENGTH, parse_hsa_id, parse_organisation_number
from ympa.identifiers.patient import parse_patient_identifier
from ympa.identifiers.personal_number import parse_personnummer
from ympa.identifiers.phone import PhoneNumber, parse_phone_number
from ympa.identifiers.reserve import (
    ReserveNumberScheme,
    StockholmReserveScheme,
    VastraGotalandReserveScheme,
    parse_reserve_number,
    register_reserve_scheme,
    reserve_schemes,
)

__all__ = [
    "HSA_ID_MAX_LENGTH",
    "ErrorCode",
    "FormatStyle",
    "IdentifierError",
    "LegalSex",
    "PatientIdentifier",
    "PatientIdentifierKind",
    "PhoneNumber",
    "ReserveNumberScheme",
    "StockholmReserveScheme",
    "VastraGotalandReserveScheme",
    "format_identifier",
    "luhn_check_digit",
    "parse_hsa_id",
    "parse_organisation_number",
    "parse_patient_identifier",
    "parse_personnummer",
    "parse_phone_number",
    "parse_reserve_number",
    "register_reserve_scheme",
    "reserve_schemes",
]
