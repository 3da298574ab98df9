"""The one exception type raised for rejected input, with messages in Swedish and English."""

from typing import Literal

# Machine-readable reasons, so callers (forms, API responses, import reports) can react to the
# kind of mistake without parsing message text.
ErrorCode = Literal[
    "empty",  # nothing but whitespace was entered
    "characters",  # a character that can never occur in this kind of identifier
    "length",  # wrong number of digits/characters (or too short, for phone numbers)
    "too_long",  # longer than the format allows
    "format",  # the right characters in the wrong arrangement
    "separator",  # a '+' in a 12-digit personnummer
    "century",  # 12-digit personnummer whose century is not 18, 19 or 20
    "date",  # the date part is not a real calendar date
    "future_date",  # the birth date has not happened yet
    "serial",  # the serial (birth number) part is not allowed
    "checksum",  # the check digit does not match the other digits
    "legal_entity",  # an organisation number whose third digit is below 2
    "unknown_scheme",  # a reserve-number scheme code that is not registered
    "number_range",  # a phone number of plausible length outside every number series in use
]


class IdentifierError(ValueError):
    """An identifier was rejected.

    ``code`` tells what kind of mistake it is, ``value`` is the rejected input with surrounding
    whitespace removed, and :meth:`message` gives a sentence a nurse can act on. ``str(err)`` is
    the English message.
    """

    # sv/en are ordinary parameters (callers pass them by keyword) so __reduce__ can rebuild the
    # error, e.g. when a task queue pickles it.
    def __init__(self, code: ErrorCode, value: str, sv: str, en: str) -> None:
        super().__init__(en)
        self.code: ErrorCode = code
        self.value = value
        self.sv = sv
        self.en = en

    def message(self, language: str = "en") -> str:
        """The message in ``language``: Swedish for "sv" (also "sv-se", "sv_SE"), otherwise English."""
        return self.sv if language.lower().replace("_", "-").split("-")[0] == "sv" else self.en

    def __reduce__(self) -> tuple[type["IdentifierError"], tuple[ErrorCode, str, str, str]]:
        return (type(self), (self.code, self.value, self.sv, self.en))
