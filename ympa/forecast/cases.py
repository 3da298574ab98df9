"""Run CDC CDSi test cases (CSV) through the engine: ``ympa forecast cases FILE.csv``.

The CSV follows CDC's test-case layout (``CDC_Test_ID``, ``DOB``, ``gender``, up to seven
``Date_Administered_n``/``CVX_n``/``MVX_n``/``Evaluation_Status_n`` groups, ``Forecast_#``,
``Earliest_Date``, ``Recommended_Date``, ``Past_Due_Date``, ``Vaccine_Group``,
``Assessment_Date`` ...). The underlying-conditions layout adds ``Observation_Code_n``
(patient observations) and ``Series_Type_n`` columns; both are read when present.

A case passes when every dose's evaluation status, the series status and the forecast dose
number, earliest, recommended and past-due dates all match. Cases listed in
``data/known-defects.csv`` still count as failed but are marked as known CDC defects.
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from ympa.forecast.dates import parse_cdc_date
from ympa.forecast.engine import forecast
from ympa.forecast.loader import load_supporting_data
from ympa.forecast.model import SupportingData
from ympa.forecast.types import AdministeredDose, ForecastResult, Observation, Patient

__all__ = ["CaseOutcome", "Mismatch", "TestCase", "load_cases", "main", "run_case", "run_cases"]

KNOWN_DEFECTS = Path(__file__).resolve().parent / "data" / "known-defects.csv"

# CDC test files name vaccine groups with short codes; the supporting data uses full names.
_GROUP_CODES = {
    "DTAP": "DTaP/Tdap/Td",
    "TDAP": "DTaP/Tdap/Td",
    "TD": "DTaP/Tdap/Td",
    "POL": "Polio",
    "IPV": "Polio",
    "HIB": "Hib",
    "PCV": "Pneumococcal",
    "PNEUMO": "Pneumococcal",
    "VAR": "Varicella",
    "ROTA": "Rotavirus",
    "RV": "Rotavirus",
    "MCV": "Meningococcal",
    "MENACWY": "Meningococcal",
    "MENB": "Meningococcal B",
    "FLU": "Influenza",
    "JE": "Japanese Encephalitis",
    "YF": "Yellow Fever",
}

_MAX_DOSES = 20


@dataclass(frozen=True, slots=True)
class ExpectedDose:
    day: date
    cvx: str
    mvx: str | None
    status: str
    reason: str


@dataclass(frozen=True, slots=True)
class TestCase:
    case_id: str
    name: str
    birth_date: date
    gender: str
    doses: tuple[ExpectedDose, ...]
    series_status: str
    dose_number: str
    earliest: date | None
    recommended: date | None
    past_due: date | None
    vaccine_group: str
    assessment_date: date
    observations: tuple[tuple[str, date | None], ...]
    series_type: str


@dataclass(frozen=True, slots=True)
class Mismatch:
    field: str
    expected: str
    actual: str


@dataclass(frozen=True, slots=True)
class CaseOutcome:
    case: TestCase
    mismatches: tuple[Mismatch, ...]
    known_defect: str | None = None

    @property
    def passed(self) -> bool:
        return not self.mismatches


def _clean(value: str | None) -> str:
    return (value or "").strip()


def _indexed(row: dict[str, str], prefix: str) -> list[str]:
    pattern = re.compile(rf"^{re.escape(prefix)}_?(\d+)$", re.IGNORECASE)
    found = sorted(
        (int(m.group(1)), _clean(v)) for k, v in row.items() if k and (m := pattern.match(k.strip()))
    )
    return [v for _, v in found if v]


def _column(row: dict[str, str], *names: str) -> str:
    lowered = {k.strip().lower(): v for k, v in row.items() if k}
    for name in names:
        value = lowered.get(name.lower())
        if value is not None:
            return _clean(value)
    return ""


def _observations(row: dict[str, str]) -> tuple[tuple[str, date | None], ...]:
    """``Observation_Code_n`` with its optional ``Observation_Date_n``, plus the legacy history code."""
    found = []
    for n in range(1, _MAX_DOSES + 1):
        code = _column(row, f"Observation_Code_{n}")
        if code:
            found.append((code, parse_cdc_date(_column(row, f"Observation_Date_{n}"))))
    legacy = _column(row, "Med_History_Code")
    if legacy:
        found.append((legacy, None))
    return tuple(found)


def _case_from_row(row: dict[str, str]) -> TestCase:
    doses = []
    for n in range(1, _MAX_DOSES + 1):
        day = parse_cdc_date(_column(row, f"Date_Administered_{n}"))
        if day is None:
            continue
        doses.append(
            ExpectedDose(
                day=day,
                cvx=_column(row, f"CVX_{n}"),
                mvx=_column(row, f"MVX_{n}") or None,
                status=_column(row, f"Evaluation_Status_{n}"),
                reason=_column(row, f"Evaluation_Reason_{n}"),
            )
        )
    birth = parse_cdc_date(_column(row, "DOB"))
    assessment = parse_cdc_date(_column(row, "Assessment_Date", "Assessment Date"))
    if birth is None or assessment is None:
        raise ValueError(f"case {_column(row, 'CDC_Test_ID')}: missing DOB or assessment date")
    series_types = _indexed(row, "Series_Type")
    # Per-dose series types: the last one names the series the forecast continues.
    return TestCase(
        case_id=_column(row, "CDC_Test_ID"),
        name=_column(row, "Test_Case_Name"),
        birth_date=birth,
        gender=_column(row, "Gender") or "U",
        doses=tuple(doses),
        series_status=_column(row, "Series_Status"),
        dose_number=_column(row, "Forecast_#"),
        earliest=parse_cdc_date(_column(row, "Earliest_Date")),
        recommended=parse_cdc_date(_column(row, "Recommended_Date")),
        past_due=parse_cdc_date(_column(row, "Past_Due_Date")),
        vaccine_group=_column(row, "Vaccine_Group"),
        assessment_date=assessment,
        observations=_observations(row),
        series_type=series_types[-1] if series_types else "",
    )


def load_cases(path: Path | str) -> list[TestCase]:
    """Read every case of a CDC test-case CSV (rows without an id are skipped)."""
    with Path(path).open(newline="", encoding="utf-8-sig") as handle:
        return [_case_from_row(row) for row in csv.DictReader(handle) if _column(row, "CDC_Test_ID")]


def resolve_group(code: str, data: SupportingData) -> str:
    """Map a test file's vaccine-group code (``DTAP``, ``POL``, ``HepB`` ...) to a supporting-data group."""
    if code in data.vaccine_groups:
        return code
    mapped = _GROUP_CODES.get(code.upper())
    if mapped is not None:
        return mapped
    for name in data.vaccine_groups:
        if name.lower() == code.lower():
            return name
    raise KeyError(f"unknown vaccine group {code!r}")


def _fmt(value: date | None) -> str:
    return value.isoformat() if value is not None else ""


def _same_status(expected: str, actual: str) -> bool:
    return expected.strip().lower() == actual.strip().lower()


def run_case(case: TestCase, data: SupportingData) -> tuple[Mismatch, ...]:
    """Run one case and list every field that differs from CDC's expectation."""
    patient = Patient(
        birth_date=case.birth_date,
        gender=case.gender,
        observations=[Observation(code, start=start) for code, start in case.observations],
    )
    doses = [AdministeredDose(d.day, d.cvx, d.mvx) for d in case.doses]
    result = forecast(patient, doses, case.assessment_date, data)
    return tuple(_compare(case, result, data))


def _compare(case: TestCase, result: ForecastResult, data: SupportingData) -> Iterable[Mismatch]:
    group = result.vaccine_groups.get(resolve_group(case.vaccine_group, data))
    if group is not None and case.series_type:
        # The conditions layout names the series type (standard/risk) the case is about.
        wanted = case.series_type.lower()
        group = next((g for g in (group, *group.alternatives) if g.series_type.lower() == wanted), group)
    statuses = dict(group.dose_statuses) if group else {}
    for n, dose in enumerate(case.doses):
        # A dose outside the tested group (e.g. varicella in an MMR case) is judged in its own antigens.
        actual = statuses.get(n) or result.dose_status(n)
        actual_text = actual.value if actual is not None else ""
        if dose.status and not _same_status(dose.status, actual_text):
            yield Mismatch(f"Evaluation_Status_{n + 1}", dose.status, actual_text)
    actual_status = group.status.value if group else ""
    if not _same_status(case.series_status, actual_status):
        yield Mismatch("Series_Status", case.series_status, actual_status)
    dates = group.forecast if group else None
    expected_number = "" if case.dose_number in {"", "-"} else case.dose_number
    actual_number = str(dates.dose_number) if dates is not None and dates.dose_number is not None else ""
    if expected_number != actual_number:
        yield Mismatch("Forecast_#", case.dose_number, actual_number)
    for label, expected, actual_date in (
        ("Earliest_Date", case.earliest, dates.earliest if dates else None),
        ("Recommended_Date", case.recommended, dates.recommended if dates else None),
        ("Past_Due_Date", case.past_due, dates.past_due if dates else None),
    ):
        if expected != actual_date:
            yield Mismatch(label, _fmt(expected), _fmt(actual_date))


def load_known_defects(path: Path = KNOWN_DEFECTS) -> dict[str, str]:
    if not path.exists():
        return {}
    with path.open(newline="", encoding="utf-8") as handle:
        return {
            _clean(r.get("case_id")): _clean(r.get("reason"))
            for r in csv.DictReader(handle)
            if r.get("case_id")
        }


def run_cases(path: Path | str, data: SupportingData | None = None) -> list[CaseOutcome]:
    """Run every case of a CSV; the outcome list keeps the file's order."""
    supporting = data if data is not None else load_supporting_data()
    defects = load_known_defects()
    outcomes = []
    for case in load_cases(path):
        mismatches = run_case(case, supporting)
        outcomes.append(CaseOutcome(case, mismatches, defects.get(case.case_id) if mismatches else None))
    return outcomes


def _report(outcomes: Sequence[CaseOutcome], out: list[str]) -> int:
    failed = 0
    for outcome in outcomes:
        if outcome.passed:
            continue
        failed += 1
        marker = f" [known defect: {outcome.known_defect}]" if outcome.known_defect else ""
        out.append(f"FAIL {outcome.case.case_id} {outcome.case.name}{marker}")
        out.extend(
            f"  {m.field}: expected {m.expected or '-'!s}, actual {m.actual or '-'!s}"
            for m in outcome.mismatches
        )
    out.append(f"{len(outcomes) - failed} passed, {failed} failed")
    return failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="ympa forecast cases", description="Run CDC CDSi test cases through the forecasting engine."
    )
    parser.add_argument("file", metavar="FILE.csv", type=Path, help="CDC test-case CSV")
    parser.add_argument(
        "--supporting-data", metavar="DIR", type=Path, default=None, help="supporting-data directory"
    )
    args = parser.parse_args(argv)
    data = load_supporting_data(args.supporting_data)
    lines: list[str] = []
    failed = _report(run_cases(args.file, data), lines)
    sys.stdout.write("\n".join(lines) + "\n")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
