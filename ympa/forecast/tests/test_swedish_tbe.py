"""TBE in the "se" schedule set: both brands, rapid schedules, boosters and the regional 50/60 choice.

Each test names the public source its expected dates are derived from.
"""

from datetime import date, timedelta

import pytest

from ympa.forecast import EvaluationStatus, SeriesStatus, SupportingData, load_schedule_set
from ympa.forecast.tests.swedish import due, run, status

TBE = ["SE-TBE"]
VUXEN = "FSME-IMMUN Vuxen"
ENCEPUR = "Encepur"
ADULT = date(1996, 3, 1)  # 30 years old in 2026
OLDER = date(1971, 3, 1)  # 55 years old in 2026
DAY0 = date(2026, 1, 10)


def fsme(*days: date) -> list[tuple[date, str, str]]:
    return [(d, "77", VUXEN) for d in days]


def encepur(*days: date) -> list[tuple[date, str, str]]:
    return [(d, "77", ENCEPUR) for d in days]


def test_no_tbe_forecast_without_the_risk_indication(se: SupportingData) -> None:
    """TBE vaccination is recommended to people who spend time outdoors in TBE areas, not to everyone.

    Source: https://vardgivarguiden.se/kunskapsstod/smittskydd/amnesomraden/vaccination/tbe/
    """
    assert status(run(se, ADULT, [], DAY0), "TBE") is SeriesStatus.NOT_RECOMMENDED
    assert due(run(se, ADULT, [], DAY0, TBE), "TBE").dose_number == 1


def test_fsme_immun_conventional_schedule_and_boosters(se: SupportingData) -> None:
    """FSME-IMMUN: dose 2 after 1-3 months, dose 3 5-12 months later, booster after 3 years, then every 5.

    Sources: https://www.pfizerpro.se/lakemedel/fsme-immun,
    https://www.regiongavleborg.se/samverkanswebben/halsa-vard-tandvard/kunskapsstod-och-rutiner/smittskydd/smittskydd-a-o/t/Tbe/
    """
    second = due(run(se, ADULT, fsme(DAY0), DAY0 + timedelta(days=1), TBE), "TBE")
    assert (second.recommended, second.past_due) == (date(2026, 2, 10), date(2026, 4, 9))

    dose2 = date(2026, 2, 10)
    third = due(run(se, ADULT, fsme(DAY0, dose2), dose2 + timedelta(days=1), TBE), "TBE")
    assert (third.dose_number, third.earliest, third.past_due) == (3, date(2026, 7, 10), date(2027, 2, 9))

    dose3 = date(2026, 8, 10)
    booster = due(run(se, ADULT, fsme(DAY0, dose2, dose3), dose3 + timedelta(days=1), TBE), "TBE")
    assert (booster.dose_number, booster.earliest) == (4, date(2029, 8, 10))

    dose4 = date(2029, 8, 10)
    later = run(se, ADULT, fsme(DAY0, dose2, dose3, dose4), dose4 + timedelta(days=1), TBE)
    assert due(later, "TBE").earliest == date(2034, 8, 10)
    dose5 = date(2034, 9, 1)
    again = run(se, ADULT, fsme(DAY0, dose2, dose3, dose4, dose5), dose5 + timedelta(days=1), TBE)
    assert due(again, "TBE").earliest == date(2039, 9, 1)


def test_fsme_immun_rapid_schedule_two_weeks(se: SupportingData) -> None:
    """FSME-IMMUN rapid protection: dose 2 two weeks after dose 1; 13 days is too soon.

    Source: https://www.tbe-info.com/upload/medialibrary/929592-f-fi-06-06-23-fsme-immun-05-ml-pdf
    (FSME-IMMUN 0,5 ml product information, section 4.2)
    """
    rapid = run(se, ADULT, fsme(DAY0, DAY0 + timedelta(days=14)), DAY0 + timedelta(days=15), TBE)
    (best,) = rapid.antigens["TBE"].best
    assert [e.status for e in best.evaluations] == [EvaluationStatus.VALID, EvaluationStatus.VALID]
    assert due(rapid, "TBE").earliest == date(2026, 6, 24)  # 5 months after dose 2

    early = run(se, ADULT, fsme(DAY0, DAY0 + timedelta(days=13)), DAY0 + timedelta(days=14), TBE)
    (best,) = early.antigens["TBE"].best
    assert best.evaluations[1].status is EvaluationStatus.NOT_VALID


def test_encepur_conventional_schedule(se: SupportingData) -> None:
    """Encepur: dose 2 after 1-3 months, dose 3 9-12 months after dose 2, first booster 3 years later.

    Sources: https://pro.medicin.dk/Medicin/Praeparater/10318, https://pro.medicin.dk/Medicin/Praeparater/8840
    """
    dose2 = date(2026, 2, 10)
    result = run(se, ADULT, encepur(DAY0, dose2), dose2 + timedelta(days=1), TBE)
    (best,) = result.antigens["TBE"].best
    assert best.series_name == "Encepur"
    third = due(result, "TBE")
    assert (third.earliest, third.past_due) == (date(2026, 11, 10), date(2027, 2, 9))
    assert {v.vaccine_type for v in third.recommended_vaccines} == {"Encepur"}

    dose3 = date(2026, 11, 20)
    booster = due(run(se, ADULT, encepur(DAY0, dose2, dose3), dose3 + timedelta(days=1), TBE), "TBE")
    assert booster.earliest == date(2029, 11, 20)


def test_encepur_rapid_schedule(se: SupportingData) -> None:
    """Encepur rapid schedule: days 0, 7 and 21, first booster 12-18 months after dose 3.

    Sources: https://pro.medicin.dk/Medicin/Praeparater/10318,
    https://www.regiongavleborg.se/samverkanswebben/halsa-vard-tandvard/kunskapsstod-och-rutiner/smittskydd/smittskydd-a-o/t/Tbe/
    """
    after_two = run(se, ADULT, encepur(DAY0, DAY0 + timedelta(days=7)), DAY0 + timedelta(days=8), TBE)
    assert after_two.antigens["TBE"].best[0].series_name == "Encepur snabbschema dag 0, 7, 21"
    assert due(after_two, "TBE").earliest == DAY0 + timedelta(days=21)

    days = encepur(DAY0, DAY0 + timedelta(days=7), DAY0 + timedelta(days=21))
    booster = due(run(se, ADULT, days, DAY0 + timedelta(days=22), TBE), "TBE")
    assert (booster.dose_number, booster.earliest, booster.past_due) == (
        4,
        date(2027, 1, 31),
        date(2027, 7, 30),
    )


@pytest.mark.parametrize(
    ("limit", "birth", "extra_dose"),
    [
        ("50", OLDER, True),  # 55 years old: extra dose with the 50-year limit
        ("60", OLDER, False),  # ... but not with the 60-year limit
        ("60", date(1964, 3, 1), True),  # 61 years old: extra dose with either limit
        ("50", ADULT, False),  # 30 years old: never
    ],
)
def test_regional_choice_of_the_extra_dose_age(limit: str, birth: date, extra_dose: bool) -> None:
    """From 50 (Stockholm, Värmland since 2018) or 60 (the earlier limit): dose 2 after one month, an extra
    dose two months after dose 2, then the last primary dose 5-12 months later.

    Sources: https://vardgivarguiden.se/kunskapsstod/smittskydd/amnesomraden/vaccination/tbe/,
    https://www.vardfokus.se/webbnyheter/2018/mars/personer-over-50-bor-fa-en-extra-dos-tbe-vaccin/,
    https://www.liv.se/For-vardgivare-och-samarbeten1/Smittskydd-Varmland/Smittskydd/Nyheter-Smittskydd/2018/02/tbe---ny-rekommendation-2018/
    """
    data = load_schedule_set("se", options={"tbe_shorter_interval_from_age": limit})
    dose2 = date(2026, 2, 10)
    after_two = due(run(data, birth, fsme(DAY0, dose2), dose2 + timedelta(days=1), TBE), "TBE")
    expected = date(2026, 4, 10) if extra_dose else date(2026, 7, 10)
    assert after_two.earliest == expected
    if extra_dose:
        extra = date(2026, 4, 10)
        last = due(run(data, birth, fsme(DAY0, dose2, extra), extra + timedelta(days=1), TBE), "TBE")
        assert (last.dose_number, last.earliest, last.past_due) == (4, date(2026, 9, 10), date(2027, 4, 9))


def test_extra_dose_depends_on_the_age_when_vaccination_started(se: SupportingData) -> None:
    """The extra dose is for persons who had turned 50 when TBE vaccination started.

    Source: https://vardgivarguiden.se/kunskapsstod/smittskydd/amnesomraden/vaccination/tbe/
    """
    birth = date(1976, 6, 1)  # 49 at dose 1 on 2026-01-10, 50 by dose 2
    dose2 = date(2026, 7, 10)
    result = run(se, birth, fsme(DAY0, dose2), dose2 + timedelta(days=1), TBE)
    assert due(result, "TBE").earliest == date(2026, 12, 10)  # straight to the last primary dose


def test_children_get_the_junior_presentation(se: SupportingData) -> None:
    """Children get the junior presentation (FSME-IMMUN Junior 1-15 years); infants wait until 1 year.

    Sources: https://www.pfizerpro.se/lakemedel/fsme-immun/kort-produktresume-fsme (product catalogue),
    https://regionvarmland.se/vaccinertbe.html
    """
    child = due(run(se, date(2021, 3, 1), [], DAY0, TBE), "TBE")
    assert [v.vaccine_type for v in child.recommended_vaccines] == ["FSME-IMMUN Junior"]
    assert due(run(se, date(2025, 6, 1), [], DAY0, TBE), "TBE").earliest == date(2026, 6, 1)  # from 1 year


def test_unknown_regional_choice_is_rejected() -> None:
    """Only the sourced limits 50 and 60 are accepted; unknown parameters are rejected."""
    with pytest.raises(ValueError, match="50, 60"):
        load_schedule_set("se", options={"tbe_shorter_interval_from_age": "55"})
    with pytest.raises(ValueError, match="unknown schedule parameter"):
        load_schedule_set("se", options={"tbe_booster": "3"})
