"""The CDC test-case runner, and the healthy CDC test set as a regression gate."""

import time
from pathlib import Path

import pytest

from ympa.forecast.cases import main, run_cases

HEALTHY = (
    Path(__file__).resolve().parents[4]
    / "shared"
    / "reference"
    / "cdsi"
    / "test-cases"
    / "cdsi-healthy-v4.45.csv"
)

HEADER = (
    "CDC_Test_ID,Test_Case_Name,DOB,gender,Series_Status,Date_Administered_1,Vaccine_Name_1,CVX_1,MVX_1,"
    "Evaluation_Status_1,Evaluation_Reason_1,Forecast_#,Earliest_Date,Recommended_Date,Past_Due_Date,"
    "Vaccine_Group,Assessment_Date\n"
)


def test_main_reports_pass_and_fail(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv_file = tmp_path / "cases.csv"
    csv_file.write_text(
        HEADER
        + "T-1,newborn,11/10/2025,F,Not complete,,,,,,,1,12/22/2025,01/10/2026,03/09/2026,DTAP,11/10/2025\n"
        + "T-2,wrong date,11/10/2025,F,Not complete,,,,,,,1,12/23/2025,01/10/2026,03/09/2026,"
        + "DTAP,11/10/2025\n",
        encoding="utf-8",
    )
    assert main([str(csv_file)]) == 1
    out = capsys.readouterr().out
    assert "T-2" in out
    assert "Earliest_Date: expected 2025-12-23, actual 2025-12-22" in out
    assert out.strip().splitlines()[-1] == "1 passed, 1 failed"


def test_main_all_pass_returns_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv_file = tmp_path / "cases.csv"
    csv_file.write_text(
        HEADER + "T-1,dose 1,2025-09-06,F,Not complete,2025-10-15,DTaP,107,,Valid,,2,2025-11-15,2026-01-06,"
        "2026-03-05,DTAP,2025-11-10\n",
        encoding="utf-8",
    )
    assert main([str(csv_file)]) == 0
    assert capsys.readouterr().out.strip() == "1 passed, 0 failed"


@pytest.mark.skipif(not HEALTHY.exists(), reason="CDC healthy test cases not available")
def test_healthy_cases_pass_rate() -> None:
    start = time.perf_counter()
    outcomes = run_cases(HEALTHY)
    elapsed = time.perf_counter() - start
    passed = sum(1 for o in outcomes if o.passed)
    assert len(outcomes) >= 700
    assert passed / len(outcomes) >= 0.995, [o.case.case_id for o in outcomes if not o.passed]
    assert elapsed < 60
