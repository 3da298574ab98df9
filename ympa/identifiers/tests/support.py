"""Test helpers: a Luhn implementation written independently of the production one, and
Hypothesis strategies that build valid identifiers from their parts."""

from dataclasses import dataclass
from datetime import date
from itertools import cycle

from hypothesis import strategies as st

from ympa.identifiers import LegalSex


def reference_luhn(payload: str) -> int:
    """Luhn check digit: weights 2, 1, 2, ... from the right-most payload digit, add the digit
    sums of the products, and take what is missing up to the next multiple of ten."""
    products = (int(digit) * weight for digit, weight in zip(reversed(payload), cycle((2, 1)), strict=False))
    total = sum(sum(int(d) for d in str(product)) for product in products)
    return (10 - total % 10) % 10


def with_check_digit(payload: str) -> str:
    return payload + str(reference_luhn(payload))


# Reference dates in the two centuries the software will plausibly see, with birth dates that
# the 12-digit form can express (centuries 18, 19, 20).
TODAY = st.dates(date(1900, 1, 1), date(2099, 12, 31))
EARLIEST_BIRTH = date(1800, 1, 1)


@dataclass(frozen=True)
class PersonCase:
    """A valid personnummer or samordningsnummer built from its parts."""

    today: date
    birth_date: date
    serial: int
    coordination: bool

    @property
    def written_day(self) -> int:
        return self.birth_date.day + (60 if self.coordination else 0)

    @property
    def short_digits(self) -> str:
        """The ten digits YYMMDDNNNC."""
        birth = self.birth_date
        return with_check_digit(
            f"{birth.year % 100:02d}{birth.month:02d}{self.written_day:02d}{self.serial:03d}"
        )

    @property
    def normalised(self) -> str:
        return f"{self.birth_date.year // 100:02d}{self.short_digits}"

    @property
    def short_separator(self) -> str:
        # '+' from the calendar year in which the holder turns 100.
        return "+" if self.today.year - self.birth_date.year >= 100 else "-"

    @property
    def legal_sex(self) -> LegalSex:
        return "male" if self.serial % 2 else "female"

    @property
    def kind(self) -> str:
        return "samordningsnummer" if self.coordination else "personnummer"

    def accepted_forms(self) -> list[str]:
        short, full = self.short_digits, self.normalised
        forms = [full, f"{full[:8]}-{full[8:]}", f"{short[:6]}{self.short_separator}{short[6:]}"]
        if self.short_separator == "-":
            forms.append(short)
        return forms


@st.composite
def person_cases(draw: st.DrawFn, *, coordination: bool | None = None) -> PersonCase:
    today = draw(TODAY)
    earliest = max(EARLIEST_BIRTH, date(today.year - 199, 1, 1))
    return PersonCase(
        today=today,
        birth_date=draw(st.dates(earliest, today)),
        serial=draw(st.integers(1, 999)),
        coordination=draw(st.booleans()) if coordination is None else coordination,
    )


def valid_organisation_numbers() -> st.SearchStrategy[str]:
    """Ten digits, third digit at least 2, valid check digit, without hyphen."""
    return st.builds(
        lambda head, third, tail: with_check_digit(head + third + tail),
        st.text("0123456789", min_size=2, max_size=2),
        st.sampled_from("23456789"),
        st.text("0123456789", min_size=6, max_size=6),
    )


def luhn_valid_digits(length: int) -> st.SearchStrategy[str]:
    """``length`` digits whose last one is the Luhn check digit of the others."""
    return st.text("0123456789", min_size=length - 1, max_size=length - 1).map(with_check_digit)


def change_one_digit(text: str, position: int, replacement: str) -> str:
    return text[:position] + replacement + text[position + 1 :]


def other_digit(data: st.DataObject, current: str) -> str:
    """Any digit but ``current``."""
    return data.draw(st.sampled_from([d for d in "0123456789" if d != current]))


WHITESPACE = st.sampled_from(["", " ", "  ", "\t", "\n", "\u00a0"])
