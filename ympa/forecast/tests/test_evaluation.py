"""One test per evaluation outcome of chapter 6, on real CDSi supporting data."""

from datetime import date, timedelta

from ympa.forecast import (
    AdministeredDose,
    DoseEvaluation,
    EvaluationReason,
    EvaluationStatus,
    Patient,
    SupportingData,
    forecast,
)
from ympa.forecast.tests.swedish import at_age


def _evaluations(
    data: SupportingData,
    antigen: str,
    birth: date,
    doses: list[tuple[date, str]],
    assessment: date,
    gender: str = "F",
) -> list[DoseEvaluation]:
    result = forecast(
        Patient(birth, gender), [AdministeredDose(d, cvx) for d, cvx in doses], assessment, data
    )
    primary = result.antigens[antigen].primary
    assert primary is not None
    return list(primary.evaluations)


BIRTH = date(2024, 1, 10)


def test_valid_dose(data: SupportingData) -> None:
    (evaluation,) = _evaluations(
        data, "Diphtheria", BIRTH, [(at_age(BIRTH, "2 months"), "20")], date(2024, 4, 1)
    )
    assert evaluation.status is EvaluationStatus.VALID
    assert evaluation.reasons == ()


def test_too_young(data: SupportingData) -> None:
    given = at_age(BIRTH, "6 weeks - 5 days")  # one day before the absolute minimum age
    (evaluation,) = _evaluations(data, "Diphtheria", BIRTH, [(given, "20")], date(2024, 4, 1))
    assert evaluation.status is EvaluationStatus.NOT_VALID
    assert evaluation.reasons[0] is EvaluationReason.TOO_YOUNG


def test_age_grace_period(data: SupportingData) -> None:
    given = at_age(BIRTH, "6 weeks - 4 days")  # exactly the absolute minimum age: the 4-day grace
    (evaluation,) = _evaluations(data, "Diphtheria", BIRTH, [(given, "20")], date(2024, 4, 1))
    assert evaluation.status is EvaluationStatus.VALID
    assert EvaluationReason.GRACE_PERIOD in evaluation.reasons


def test_interval_too_short(data: SupportingData) -> None:
    first = at_age(BIRTH, "2 months")
    second = first + timedelta(days=23)  # absolute minimum interval is 4 weeks - 4 days = 24 days
    evaluations = _evaluations(data, "Diphtheria", BIRTH, [(first, "20"), (second, "20")], date(2024, 6, 1))
    assert [e.status for e in evaluations] == [EvaluationStatus.VALID, EvaluationStatus.NOT_VALID]
    assert evaluations[1].reasons[0] is EvaluationReason.TOO_SOON


def test_interval_grace_period(data: SupportingData) -> None:
    first = at_age(BIRTH, "2 months")
    second = first + timedelta(days=24)
    evaluations = _evaluations(data, "Diphtheria", BIRTH, [(first, "20"), (second, "20")], date(2024, 6, 1))
    assert evaluations[1].status is EvaluationStatus.VALID
    assert EvaluationReason.GRACE_PERIOD in evaluations[1].reasons


def test_live_virus_conflict(data: SupportingData) -> None:
    birth = date(2024, 10, 12)
    varicella = date(2025, 10, 14)
    mmr = varicella + timedelta(days=27)
    result = forecast(
        Patient(birth, "F"), [AdministeredDose(varicella, "21"), AdministeredDose(mmr, "03")], mmr, data
    )
    primary = result.antigens["Measles"].primary
    assert primary is not None
    (evaluation,) = primary.evaluations
    assert evaluation.status is EvaluationStatus.NOT_VALID
    assert evaluation.reasons[0] is EvaluationReason.LIVE_VIRUS_CONFLICT


def test_not_a_preferable_or_allowable_vaccine(data: SupportingData) -> None:
    birth = date(2009, 5, 10)
    doses = [(date(2025, 5, 10), "163"), (date(2025, 11, 10), "162")]  # MenB-4C then MenB-FHbp
    evaluations = _evaluations(data, "Meningococcal B", birth, doses, date(2025, 11, 10), "M")
    assert evaluations[1].status is EvaluationStatus.NOT_VALID
    assert evaluations[1].reasons[0] is EvaluationReason.NOT_ALLOWABLE


def test_inadvertent_vaccine(data: SupportingData) -> None:
    birth = date(2024, 10, 11)
    doses = [(date(2024, 12, 11), "115"), (date(2025, 2, 13), "107")]  # Tdap is not for infants
    evaluations = _evaluations(data, "Diphtheria", birth, doses, date(2025, 3, 1))
    assert evaluations[0].status is EvaluationStatus.NOT_VALID
    assert evaluations[0].reasons == (EvaluationReason.INADVERTENT,)
    assert evaluations[1].status is EvaluationStatus.VALID


def test_too_old_is_extraneous(data: SupportingData) -> None:
    birth = date(2020, 11, 10)
    (evaluation,) = _evaluations(data, "Hib", birth, [(date(2025, 11, 10), "48")], date(2025, 11, 10))
    assert evaluation.status is EvaluationStatus.EXTRANEOUS
    assert evaluation.reasons[0] is EvaluationReason.TOO_OLD


def test_extra_dose_after_complete_series_is_extraneous(data: SupportingData) -> None:
    birth = date(2018, 11, 10)
    days = [date(2019, 2, 10), date(2019, 5, 10), date(2019, 8, 10), date(2020, 5, 25), date(2025, 11, 10)]
    evaluations = _evaluations(data, "HepB", birth, [(d, "110") for d in days], date(2025, 11, 10))
    assert [e.status for e in evaluations[:3]] == [EvaluationStatus.VALID] * 3
    assert evaluations[-1].status is EvaluationStatus.EXTRANEOUS
    assert evaluations[-1].reasons == (EvaluationReason.SERIES_COMPLETE,)


def test_sub_standard_dose_is_not_valid(data: SupportingData) -> None:
    given = at_age(BIRTH, "2 months")
    result = forecast(
        Patient(BIRTH, "F"),
        [AdministeredDose(given, "20", lot_expiration=given - timedelta(days=1))],
        given,
        data,
    )
    primary = result.antigens["Diphtheria"].primary
    assert primary is not None
    assert primary.evaluations[0].reasons == (EvaluationReason.SUB_STANDARD,)


def test_gender_selects_the_series(data: SupportingData) -> None:
    birth = date(2014, 11, 10)
    for gender, expected in (("F", "HPV 2-dose series"), ("M", "HPV male 2-dose series")):
        result = forecast(Patient(birth, gender), [], date(2025, 11, 10), data)
        names = {s.series_name for s in result.antigens["HPV"].series}
        assert expected in names
        other = "HPV male 2-dose series" if gender == "F" else "HPV 2-dose series"
        assert other not in names


def test_unknown_cvx_is_reported_not_evaluated(data: SupportingData) -> None:
    result = forecast(
        Patient(BIRTH, "F"), [AdministeredDose(date(2024, 3, 10), "99999")], date(2024, 4, 1), data
    )
    assert result.unknown_cvx == ("99999",)
    assert result.dose_status(0) is None
