"""Recording a dose re-evaluates only the antigens it can change (`antigens_changed_by`).

Both halves of that promise are checked against full runs of the engine, on the CDC's healthy test cases
(with the CDC supporting data) and on random histories under the Swedish schedule set: the groups evaluated
are exactly what the full run says, and every other group is the same with or without the dose.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path

import pytest

from ympa.forecast import Observation, SupportingData, load_schedule_set, load_supporting_data
from ympa.forecast.affected import affected_antigens
from ympa.forecast.cases import load_cases
from ympa.journal.decision import GivenDose, antigens_changed_by, run_for

HEALTHY = Path(__file__).resolve().parents[4] / "shared" / "reference" / "cdsi" / "test-cases"
HEALTHY = HEALTHY / "cdsi-healthy-v4.45.csv"


def check(
    data: SupportingData,
    birth: date,
    sex: str,
    before: Sequence[GivenDose],
    dose: GivenDose,
    on: date,
    conditions: Sequence[Observation] = (),
) -> frozenset[str]:
    antigens = antigens_changed_by(birth, before, dose, data)
    part = run_for(birth, sex, [*before, dose], data, on, conditions, antigens)
    full = run_for(birth, sex, [*before, dose], data, on, conditions)
    without = run_for(birth, sex, before, data, on, conditions)
    assert set(part.antigens) == set(antigens)
    for name, group in part.vaccine_groups.items():
        assert group == full.vaccine_groups[name], (name, dose, before)
    for name, group in full.vaccine_groups.items():
        if name not in part.vaccine_groups:
            assert group == without.vaccine_groups[name], (name, dose, before)
    return antigens


@pytest.mark.skipif(not HEALTHY.exists(), reason="CDC healthy test cases not available")
def test_cdc_cases_last_dose_and_a_random_one() -> None:
    data = load_supporting_data()
    codes = sorted({code for codes in data.cvx_of_group.values() for code in codes})
    rng = random.Random(7)
    cases = load_cases(HEALTHY)
    narrowed = 0
    for case in cases:
        sex = {"F": "female", "M": "male"}.get(case.gender, "")
        history = [GivenDose(d.day, d.cvx, None) for d in case.doses if d.day <= case.assessment_date]
        conditions = [Observation(code, start) for code, start in case.observations]
        if history:
            antigens = check(
                data, case.birth_date, sex, history[:-1], history[-1], case.assessment_date, conditions
            )
            narrowed += len(antigens) < len(data.antigens)
        span = (case.assessment_date - case.birth_date).days
        given = case.birth_date + timedelta(days=rng.randint(0, max(span, 0)))
        earlier = [d for d in history if d.day <= given]
        dose = GivenDose(given, rng.choice(codes), None)
        check(data, case.birth_date, sex, earlier, dose, given, conditions)
    assert len(cases) >= 700
    # The point of it: most doses leave most antigens alone.
    assert narrowed > len(cases) // 2


def test_random_swedish_histories() -> None:
    data = load_schedule_set("se")
    codes = sorted({code for codes in data.cvx_of_group.values() for code in codes})
    rng = random.Random(11)
    today = date(2026, 11, 25)
    for _ in range(250):
        birth = today - timedelta(days=rng.randint(0, 90 * 365))
        days = sorted(rng.randint(0, (today - birth).days) for _ in range(rng.randint(0, 12)))
        history = [GivenDose(birth + timedelta(days=d), rng.choice(codes), None) for d in days]
        dose = GivenDose(today, rng.choice(codes), None)
        check(data, birth, rng.choice(("female", "male")), history, dose, today)


def test_an_influenza_dose_leaves_the_child_programme_alone() -> None:
    data = load_schedule_set("se")
    influenza = sorted(data.cvx_of_group["Influenza"])[0]
    antigens = affected_antigens(data, influenza, present=())
    assert "Influenza" in antigens
    assert not {"Measles", "Diphtheria", "Polio"} & antigens


def test_a_live_vaccine_reaches_the_other_live_vaccines_it_conflicts_with() -> None:
    data = load_supporting_data()
    current, conflicts = next(iter(data.conflicts_by_current.items()))
    earlier = conflicts[0].previous_cvx
    later_antigens = {a.antigen for a in data.cvx[current].associations}
    # A dose of the earlier vaccine moves the later one's forecast (the conflict's end).
    assert later_antigens <= affected_antigens(data, earlier, present=())
    # A dose of the later vaccine after one of the earlier: the earlier dose's own antigens decide whether
    # it was valid, which sets how long the conflict lasts.
    earlier_antigens = {a.antigen for a in data.cvx[earlier].associations}
    assert earlier_antigens <= affected_antigens(data, current, present={earlier})
