"""IdentifierError itself, and garbage input for every parser."""

import ast
import pickle
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import get_args

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ympa.identifiers
from ympa.identifiers import (
    ErrorCode,
    IdentifierError,
    parse_hsa_id,
    parse_organisation_number,
    parse_patient_identifier,
    parse_personnummer,
    parse_phone_number,
    parse_reserve_number,
)

REFERENCE_DAY = date(2026, 3, 1)


def _checksum_error() -> IdentifierError:
    with pytest.raises(IdentifierError) as caught:
        parse_personnummer("19121212-1213", today=REFERENCE_DAY)
    return caught.value


def test_error_is_a_value_error_with_english_str() -> None:
    error = _checksum_error()
    assert isinstance(error, ValueError)
    assert error.code == "checksum"
    assert error.value == "19121212-1213"
    assert str(error) == error.message("en") == error.message()


@pytest.mark.parametrize(
    ("language", "swedish"), [("sv", True), ("sv-se", True), ("sv_SE", True), ("en", False), ("de", False)]
)
def test_message_language(language: str, swedish: bool) -> None:
    error = _checksum_error()
    assert error.message(language) == (error.sv if swedish else error.en)


def test_error_survives_pickling() -> None:
    error = _checksum_error()
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes
    assert (copy.code, copy.value, copy.message("sv"), str(copy)) == (
        error.code,
        error.value,
        error.message("sv"),
        str(error),
    )


PARSERS: list[Callable[[str], object]] = [
    lambda text: parse_personnummer(text, today=REFERENCE_DAY),
    lambda text: parse_patient_identifier(text, today=REFERENCE_DAY),
    lambda text: parse_reserve_number(text, today=REFERENCE_DAY),
    lambda text: parse_reserve_number(text, scheme="SLL", today=REFERENCE_DAY),
    lambda text: parse_reserve_number(text, scheme="VGR", today=REFERENCE_DAY),
    parse_organisation_number,
    parse_hsa_id,
    parse_phone_number,
]

garbage = st.one_of(
    st.text(),
    st.text("0123456789-+ ", max_size=16),
    st.text("0123456789KMXkmxSEse-+ \u00df\u017f\u0130", max_size=16),
    st.from_regex(r"(SE|se)?[0-9]{0,12}[-+]?[0-9A-Za-z]{0,4}", fullmatch=True),
)


@settings(deadline=None)
@given(garbage)
def test_garbage_raises_only_identifier_error_with_both_messages(text: str) -> None:
    for parse in PARSERS:
        try:
            parse(text)
        except IdentifierError as error:
            assert error.code in get_args(ErrorCode)
            assert error.message("sv")
            assert error.message("en")
            assert str(error) == error.message("en")


def test_package_does_not_import_django() -> None:
    """The identifiers are plain Python, usable without Django settings."""
    package = Path(ympa.identifiers.__file__).parent
    for source in package.glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            assert not any(name.split(".")[0] == "django" for name in names), source.name
