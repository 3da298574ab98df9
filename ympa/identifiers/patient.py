"""One entry point for whatever a nurse types as a patient's identifier."""

from datetime import date

from ympa.identifiers._common import today_in_sweden
from ympa.identifiers.errors import IdentifierError
from ympa.identifiers.model import PatientIdentifier
from ympa.identifiers.personal_number import parse_personnummer
from ympa.identifiers.reserve import lookup_reserve_scheme, parse_with_schemes, reserve_schemes


def parse_patient_identifier(
    value: str, *, today: date | None = None, reserve_scheme: str | None = None
) -> PatientIdentifier:
    """Validate a personnummer, samordningsnummer or reserve number.

    Reserve numbers are tried in the scheme ``reserve_scheme`` only, or, if None, in every
    registered scheme whose shape the input has. A valid personnummer or samordningsnummer wins
    over a reserve-number reading. When nothing fits, the error is the reserve-number scheme's
    if the input has that scheme's shape, otherwise the personnummer one, so the message talks
    about the format the nurse was evidently typing.

    ``today`` (default: today's date in Sweden) is the reference date for the century of
    10-digit numbers and for rejecting birth dates in the future.
    """
    today = today_in_sweden() if today is None else today
    # Looked up first, so that a misconfigured scheme code fails on every input, not only on
    # reserve numbers.
    schemes = (
        [lookup_reserve_scheme(reserve_scheme)]
        if reserve_scheme is not None
        else list(reserve_schemes().values())
    )
    text = value.strip()
    claiming = [scheme for scheme in schemes if scheme.claims(text)]
    if not claiming:
        return parse_personnummer(text, today=today)
    try:
        return parse_personnummer(text, today=today)
    except IdentifierError:
        return parse_with_schemes(text, claiming, today=today)
