"""Phone numbers: E.164 normalisation with Sweden as the default region."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ympa.identifiers import IdentifierError, PhoneNumber, parse_phone_number


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("070-123 45 67", PhoneNumber("+46701234567", is_mobile=True)),
        ("+46 70 123 45 67", PhoneNumber("+46701234567", is_mobile=True)),
        ("0046701234567", PhoneNumber("+46701234567", is_mobile=True)),
        (" 08-123 456 78 ", PhoneNumber("+46812345678", is_mobile=False)),
        ("+47 412 34 567", PhoneNumber("+4741234567", is_mobile=True)),
        # The +1 plan does not tell mobile numbers from fixed lines.
        ("+1 650 253 0000", PhoneNumber("+16502530000", is_mobile=False)),
    ],
)
def test_known_numbers(text: str, expected: PhoneNumber) -> None:
    assert parse_phone_number(text) == expected


def test_default_region_decides_national_numbers() -> None:
    assert parse_phone_number("412 34 567", default_region="NO").e164 == "+4741234567"


# 070, 072, 073, 076 and 079 are Swedish mobile series.
mobile_numbers = st.tuples(
    st.sampled_from(["70", "72", "73", "76", "79"]), st.text("0123456789", min_size=7, max_size=7)
)


@settings(deadline=None)  # the first call loads phonenumbers' metadata
@given(mobile_numbers)
def test_every_way_of_writing_a_mobile_number_gives_the_same_e164(number: tuple[str, str]) -> None:
    series, rest = number
    expected = PhoneNumber(f"+46{series}{rest}", is_mobile=True)
    forms = [
        f"0{series}{rest}",
        f"0{series}-{rest[:3]} {rest[3:5]} {rest[5:]}",
        f"0{series}-{rest}",
        f"+46 {series} {rest[:3]} {rest[3:5]} {rest[5:]}",
        f"+46{series}{rest}",
        f"0046 {series} {rest}",
        f"(0{series}) {rest}",
    ]
    for form in forms:
        assert parse_phone_number(form) == expected


@settings(deadline=None)
@given(st.text("+0123456789 -()", max_size=20))
def test_normalised_numbers_are_stable(text: str) -> None:
    try:
        parsed = parse_phone_number(text)
    except IdentifierError:
        return
    assert parsed.e164.startswith("+")
    assert parse_phone_number(parsed.e164) == parsed


@pytest.mark.parametrize(
    ("text", "code", "swedish_fragment"),
    [
        ("", "empty", "Inget nummer"),
        ("hej", "format", "ser inte ut som ett telefonnummer"),
        ("+999 1234 5678", "format", "Landsnumret"),
        ("070-12", "length", "för få siffror"),
        ("0701234567890123456789", "too_long", "för många siffror"),
        ("+46 99 123 45 67", "number_range", "+46"),
    ],
)
def test_mistakes(text: str, code: str, swedish_fragment: str) -> None:
    with pytest.raises(IdentifierError) as caught:
        parse_phone_number(text)
    assert caught.value.code == code
    assert swedish_fragment in caught.value.message("sv")
