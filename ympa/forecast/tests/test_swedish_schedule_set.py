"""Schedule-set selection, the format extensions and the sourcing of every Swedish rule."""

import json
import xml.etree.ElementTree as ET
from datetime import date
from pathlib import Path

import pytest

from ympa.forecast import (
    DEFAULT_SCHEDULE_SET,
    SupportingData,
    load_schedule_set,
    load_supporting_data,
    parse_duration,
    schedule_parameters,
    schedule_sets,
)

SE_DIR = Path(__file__).resolve().parents[1] / "data" / "se-2026.1"
CATALOG = Path(__file__).resolve().parents[2] / "catalog" / "data" / "products.json"


def test_schedule_sets_swedish_first_and_cdc_available(se: SupportingData) -> None:
    assert schedule_sets() == ["se", "cdc"]
    assert DEFAULT_SCHEDULE_SET == "se"
    assert load_schedule_set() is se
    assert load_schedule_set("cdc") is load_supporting_data()
    with pytest.raises(ValueError, match="unknown schedule set"):
        load_schedule_set("us")


def test_regional_parameters_are_declared_with_their_allowed_values(se: SupportingData) -> None:
    (parameter,) = schedule_parameters("se")
    assert (parameter.name, parameter.default, parameter.allowed) == (
        "tbe_shorter_interval_from_age",
        "50",
        ("50", "60"),
    )
    assert se.options == {"tbe_shorter_interval_from_age": "50"}
    sixty = load_schedule_set("se", options={"tbe_shorter_interval_from_age": "60"})
    assert sixty is not se
    assert sixty.options["tbe_shorter_interval_from_age"] == "60"
    assert schedule_parameters("cdc") == []


@pytest.mark.parametrize(
    ("birth", "text", "expected"),
    [
        (date(1951, 11, 30), "calendar year 75", date(2026, 1, 1)),  # the year one turns 75
        (date(1951, 11, 30), "calendar year 76", date(2027, 1, 1)),
        (date(2019, 12, 31), "calendar year 7 + 7 months", date(2026, 8, 1)),  # school year 1 starts
        (date(2020, 1, 1), "calendar year 7 + 7 months", date(2027, 8, 1)),
        (date(2020, 1, 1), "calendar year 9 + 6 months", date(2029, 7, 1)),  # after school year 2
        (date(2020, 1, 1), "calendar year 75 - 4 days", date(2094, 12, 28)),
    ],
)
def test_calendar_year_ages(birth: date, text: str, expected: date) -> None:
    duration = parse_duration(text)
    assert duration is not None
    assert duration.add_to(birth) == expected
    assert parse_duration(str(duration)) == duration


def _swedish_files() -> list[Path]:
    return sorted(SE_DIR.glob("AntigenSupportingData-*.xml"))


@pytest.mark.parametrize("path", _swedish_files(), ids=lambda p: p.stem)
def test_every_series_and_dose_names_its_public_source(path: Path) -> None:
    root = ET.parse(path, parser=ET.XMLParser(target=ET.TreeBuilder(insert_comments=True))).getroot()  # noqa: S314
    for parent in [root, *root.findall("series")]:
        children = list(parent)
        for index, child in enumerate(children):
            if child.tag not in {"series", "seriesDose"}:
                continue
            before = children[index - 1] if index else None
            assert before is not None, f"{path.name}: {child.tag} without a source comment"
            assert before.tag is ET.Comment, f"{path.name}: {child.tag} without a source comment"
            text = before.text or ""
            assert "Source:" in text, f"{path.name}: {child.tag} without a source comment"
            assert "http" in text, f"{path.name}: {child.tag} without a source URL"


def test_every_code_used_is_mapped_and_local_codes_come_from_the_catalogue(se: SupportingData) -> None:
    catalogue = {p["local_code"]: p for p in json.loads(CATALOG.read_text())["products"] if p["local_code"]}
    for antigen in se.antigens.values():
        for series in antigen.series:
            for dose in series.doses:
                for vaccine in (*dose.preferable_vaccines, *dose.allowable_vaccines):
                    assert vaccine.cvx in se.cvx, (series.name, vaccine.cvx)
    local = [code for code in se.cvx if code.startswith("YMPA-")]
    assert local
    for code in local:
        assert catalogue[code]["cvx_code"]["value"] is None, code


def test_swedish_set_covers_the_programme_antigens(se: SupportingData) -> None:
    assert set(se.antigens) >= {
        "Diphtheria",
        "Tetanus",
        "Pertussis",
        "Polio",
        "Hib",
        "HepB",
        "Pneumococcal",
        "Rotavirus",
        "Measles",
        "Mumps",
        "Rubella",
        "HPV",
        "TBE",
        "HepA",
        "Influenza",
        "COVID-19",
    }


def test_parameter_placeholders_are_replaced_before_parsing(se: SupportingData) -> None:
    """``${tbe_shorter_interval_from_age} years`` in the TBE skip condition becomes the chosen age."""
    sixty = load_schedule_set("se", options={"tbe_shorter_interval_from_age": "60"})
    for data, years in ((se, 50), (sixty, 60)):
        ends = {
            condition.end_age
            for series in data.antigens["TBE"].series
            for dose in series.doses
            for skip in dose.skips
            for skip_set in skip.sets
            for condition in skip_set.conditions
        }
        assert ends == {parse_duration(f"{years} years")}
