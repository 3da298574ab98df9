"""Hepatitis A/B, pneumococcal, influenza and COVID-19 in the "se" schedule set, checked against sources."""

from datetime import date, timedelta

from ympa.forecast import EvaluationStatus, ForecastResult, SeriesResult, SeriesStatus, SupportingData
from ympa.forecast.tests.swedish import due, run, status

ADULT = date(1990, 5, 20)
DAY0 = date(2026, 2, 2)
ONE_DAY = timedelta(days=1)


def pneumococcal_risk(result: ForecastResult) -> SeriesResult:
    """The pneumococcal risk series (the vaccine group also reports the aged-out childhood series)."""
    (risk,) = [s for s in result.antigens["Pneumococcal"].best if s.series_type == "Risk"]
    return risk


def risk_series(result: ForecastResult) -> str:
    (risk,) = [s for s in result.antigens["HepB"].best if s.series_type == "Risk"]
    return risk.series_name


def test_hepatitis_a_booster_6_to_12_months(se: SupportingData) -> None:
    """Havrix: one dose, booster 6-12 months later; given when there is an indication.

    Source: https://pro.medicin.dk/Medicin/Praeparater/1565
    """
    assert status(run(se, ADULT, [], DAY0), "HepA") is SeriesStatus.NOT_RECOMMENDED
    booster = due(run(se, ADULT, [(DAY0, "52")], DAY0 + ONE_DAY, ["SE-HEPA"]), "HepA")
    assert (booster.dose_number, booster.earliest, booster.past_due) == (
        2,
        date(2026, 8, 2),
        date(2027, 2, 1),
    )
    assert [v.vaccine_type for v in booster.recommended_vaccines] == ["Havrix 1440 ELISA U/ml"]


def test_hepatitis_b_standard_and_rapid_schedules(se: SupportingData) -> None:
    """Engerix-B: months 0, 1, 6; rapid months 0, 1, 2, 12; over 18 years days 0, 7, 21 and month 12.

    Source: https://compendium.ch/de/product/107397-engerix-b-20-inj-susp-erw
    """
    one_month = date(2026, 3, 2)
    third = due(run(se, ADULT, [(DAY0, "43"), (one_month, "43")], one_month + ONE_DAY, ["SE-HEPB"]), "HepB")
    assert (third.dose_number, third.earliest) == (3, date(2026, 8, 2))  # six months after dose 1

    rapid_doses = [(DAY0, "43"), (one_month, "43"), (date(2026, 4, 2), "43")]
    rapid = run(se, ADULT, rapid_doses, date(2026, 4, 3), ["SE-HEPB"])
    assert risk_series(rapid) == "Riskgrupp, snabbschema 0, 1, 2, 12 månader"
    assert due(rapid, "HepB").earliest == date(2027, 2, 2)  # twelve months after dose 1

    days = [(DAY0, "43"), (DAY0 + timedelta(days=7), "43"), (DAY0 + timedelta(days=21), "43")]
    very_rapid = run(se, ADULT, days, DAY0 + timedelta(days=22), ["SE-HEPB"])
    assert risk_series(very_rapid).startswith("Riskgrupp, snabbschema dag 0, 7, 21")
    assert due(very_rapid, "HepB").earliest == date(2027, 2, 2)


def test_combined_hepatitis_a_b_standard_and_rapid(se: SupportingData) -> None:
    """Twinrix: doses 2 and 3 one and six months after dose 1; rapid for adults days 0, 7, 21 and month 12.

    Source: https://www.felleskatalogen.no/medisin/twinrix-adult-twinrix-paediatric-glaxosmithkline-564888
    """
    indications = ["SE-HEPA", "SE-HEPB"]
    one_month = date(2026, 3, 2)
    standard = run(se, ADULT, [(DAY0, "104"), (one_month, "104")], one_month + ONE_DAY, indications)
    for group in ("HepA", "HepB"):
        assert due(standard, group).earliest == date(2026, 8, 2), group

    days = [(DAY0 + timedelta(days=offset), "104") for offset in (0, 7, 21)]
    rapid = run(se, ADULT, days, DAY0 + timedelta(days=22), indications)
    for group in ("HepA", "HepB"):
        fourth = due(rapid, group)
        assert (fourth.dose_number, fourth.earliest) == (4, date(2027, 2, 2)), group


def test_pneumococcal_vaccination_the_year_one_turns_75(se: SupportingData) -> None:
    """Everyone is offered pneumococcal vaccination in the calendar year they turn 75 (programme from 2022).

    Sources: https://www.vgregion.se/halsa-och-vard/vardgivarwebben/vardadministration/patientavgiftshandboken/halsovard/vaccination-pneumokocker/,
    https://folkhalsomyndigheten.se/publikationer-och-material/publikationsarkiv/r/rekommendationer-om-pneumokockvaccination-/?pub=56914
    """
    birth = date(1951, 11, 30)  # turns 75 on 30 November 2026
    in_the_year = due(run(se, birth, [], date(2026, 2, 1)), "Pneumococcal")
    assert (in_the_year.earliest, in_the_year.latest) == (date(2026, 1, 1), date(2026, 12, 31))
    assert status(run(se, birth, [], date(2025, 12, 31)), "Pneumococcal") is not SeriesStatus.NOT_COMPLETE
    assert status(run(se, birth, [(date(2026, 3, 1), "216")], date(2026, 3, 2)), "Pneumococcal") is (
        SeriesStatus.COMPLETE
    )
    assert status(run(se, birth, [], date(2027, 1, 1)), "Pneumococcal") is SeriesStatus.AGED_OUT


def test_influenza_each_season_from_65(se: SupportingData) -> None:
    """Annual influenza vaccination from 65 and for risk groups from 6 months; season 2025/26 from 14 October.

    Sources: http://www.famlak.se/nyhet/snart-dags-for-arets-influensavaccin-har-ar-tiderna-for-drop-in/,
    https://8sidor.se/sverige/2025/10/vaccinationerna-borjar/
    """
    senior = date(1955, 4, 1)
    season = due(run(se, senior, [(date(2024, 11, 1), "150")], date(2025, 9, 1)), "Influenza")
    assert season.earliest == date(2025, 10, 14)
    done = run(se, senior, [(date(2024, 11, 1), "150"), (date(2025, 10, 20), "150")], date(2025, 11, 1))
    assert status(done, "Influenza") is SeriesStatus.COMPLETE

    younger = date(1970, 4, 1)
    assert status(run(se, younger, [], date(2025, 10, 20)), "Influenza") is SeriesStatus.NOT_RECOMMENDED
    assert due(run(se, younger, [], date(2025, 10, 20), ["SE-INFLUENSA"]), "Influenza").earliest == date(
        2025, 10, 14
    )


def test_covid_19_from_75(se: SupportingData) -> None:
    """COVID-19 vaccination from 75 years under the recommendations valid from 1 September 2025.

    Sources: https://www.folkhalsomyndigheten.se/publikationer-och-material/publikationsarkiv/r/rekommendationer-om-vaccination-mot-covid-19?nav-open=true,
    https://www.marsta.nu/startsidan/influensasasongen-startar-knappt-tva-av-tre-a-vaccinerade/
    """
    assert due(run(se, date(1948, 6, 1), [], date(2025, 8, 1)), "COVID-19").earliest == date(2025, 9, 1)
    assert (
        status(run(se, date(1960, 6, 1), [], date(2025, 10, 1)), "COVID-19") is SeriesStatus.NOT_RECOMMENDED
    )


def test_pneumococcal_risk_group_gets_one_pneumovax_dose_from_2_years(se: SupportingData) -> None:
    """Increased risk of severe pneumococcal disease: one Pneumovax (PPV23) dose for everyone over 2 years.

    Sources: https://vardgivarguiden.se/kunskapsstod/smittskydd/amnesomraden/vaccination/pneumokocker-vaccinering-av-riskgrupper/
    (one dose of Pneumovax; programme from 2 years),
    https://vardgivare.skane.se/vardriktlinjer/vaccinationer/pneumokocker/ (Pneumovax is PPV23)
    """
    risk = ["SE-PNEUMOKOCK"]
    assert status(run(se, ADULT, [], DAY0), "Pneumococcal") is not SeriesStatus.NOT_COMPLETE
    first = due(run(se, ADULT, [], DAY0, risk), "Pneumococcal")
    assert (first.dose_number, first.earliest) == (1, date(1992, 5, 20))  # from 2 years of age
    assert [v.cvx for v in first.recommended_vaccines] == ["YMPA-PNEUMOVAX"]
    for code in ("YMPA-PNEUMOVAX", "33"):
        done = run(se, ADULT, [(DAY0, code)], DAY0 + ONE_DAY, risk)
        assert pneumococcal_risk(done).status is SeriesStatus.COMPLETE, code

    toddler = date(2025, 3, 1)
    child = run(se, toddler, [], DAY0, risk)
    assert [s.series_name for s in child.antigens["Pneumococcal"].best] == ["Barnprogrammet pneumokocker"]
    two_years = run(se, toddler, [], date(2027, 3, 1), risk)
    assert "Riskgrupp, ökad risk: en dos Pneumovax" in [
        s.series_name for s in two_years.antigens["Pneumococcal"].best
    ]


def test_pneumococcal_very_high_risk_adults_get_pcv20(se: SupportingData) -> None:
    """Very high risk (adults): one dose of PCV20, at least a year after PPV23 and 6 months after PCV13.

    Sources: https://vardgivare.regionorebrolan.se/sv/vardriktlinjer-och-kunskapsstod/smittskydd/vaccinationer/pneumokockvaccination/
    (group 1: one dose of PCV20; 6-12 months after PCV13; at least one year after the latest PPV23),
    https://vardgivare.regionorebrolan.se/sv/vardriktlinjer-och-kunskapsstod/smittskydd/vaccinationer/pneumokockvaccination/?E-47222=47222
    (the recommendations concern adults)
    """
    risk = ["SE-PNEUMOKOCK-HOG"]
    first = due(run(se, ADULT, [], DAY0, risk), "Pneumococcal")
    assert (first.dose_number, first.earliest) == (1, date(2008, 5, 20))  # from 18 years of age
    assert [v.cvx for v in first.recommended_vaccines] == ["216"]
    done = run(se, ADULT, [(DAY0, "216")], DAY0 + ONE_DAY, risk)
    assert pneumococcal_risk(done).status is SeriesStatus.COMPLETE

    ppv23 = date(2025, 9, 1)
    assert due(run(se, ADULT, [(ppv23, "YMPA-PNEUMOVAX")], DAY0, risk), "Pneumococcal").earliest == date(
        2026, 9, 1
    )
    too_soon = run(se, ADULT, [(ppv23, "33"), (DAY0, "216")], DAY0 + ONE_DAY, risk)
    assert pneumococcal_risk(too_soon).evaluations[-1].status is EvaluationStatus.NOT_VALID
    assert due(too_soon, "Pneumococcal").dose_number == 1

    pcv13 = date(2025, 11, 1)
    assert due(run(se, ADULT, [(pcv13, "133")], DAY0, risk), "Pneumococcal").earliest == date(2026, 5, 1)

    teenager = date(2010, 5, 20)  # 15 years old: the adult recommendation does not apply
    assert all(
        s.series_type != "Risk" for s in run(se, teenager, [], DAY0, risk).antigens["Pneumococcal"].best
    )


def test_pneumococcal_asplenia_pcv20_then_ppv23_two_months_later(se: SupportingData) -> None:
    """Asplenia or hyposplenia (adults): PCV20, then PPV23 at least two months later.

    Source: https://vardgivare.regionorebrolan.se/sv/vardriktlinjer-och-kunskapsstod/smittskydd/vaccinationer/pneumokockvaccination/
    """
    risk = ["SE-PNEUMOKOCK-ASPLENI"]
    assert [v.cvx for v in due(run(se, ADULT, [], DAY0, risk), "Pneumococcal").recommended_vaccines] == [
        "216"
    ]
    second = due(run(se, ADULT, [(DAY0, "216")], DAY0 + ONE_DAY, risk), "Pneumococcal")
    assert (second.dose_number, second.earliest) == (2, date(2026, 4, 2))
    assert [v.cvx for v in second.recommended_vaccines] == ["YMPA-PNEUMOVAX"]
    doses = [(DAY0, "216"), (date(2026, 4, 2), "YMPA-PNEUMOVAX")]
    assert pneumococcal_risk(run(se, ADULT, doses, date(2026, 4, 3), risk)).status is SeriesStatus.COMPLETE


def test_influenza_two_doses_for_risk_group_children_never_vaccinated(se: SupportingData) -> None:
    """Risk-group children 6 months-8 years never vaccinated for influenza: two doses 4 weeks apart at first.

    Then one dose per season; from 9 years one dose.

    Sources: https://www.folkhalsomyndigheten.se/smittskydd-beredskap/vaccinationer/fragor-och-svar/barn-och-sasongsinfluensavaccin/?exp=57585,
    https://vardgivarguiden.se/kunskapsstod/smittskydd/sjukdomar/influensa/sasongsinfluensan/vaccination-av-barn/
    """
    risk = ["SE-INFLUENSA"]
    child = date(2020, 3, 1)
    first = date(2025, 10, 20)
    assert due(run(se, child, [], first, risk), "Influenza").earliest == date(2025, 10, 14)
    second = due(run(se, child, [(first, "150")], first + ONE_DAY, risk), "Influenza")
    assert (second.dose_number, second.earliest) == (2, date(2025, 11, 17))  # four weeks later
    both = run(se, child, [(first, "150"), (date(2025, 11, 17), "150")], date(2025, 11, 18), risk)
    assert status(both, "Influenza") is SeriesStatus.COMPLETE

    vaccinated_before = [(date(2024, 11, 1), "150"), (first, "150")]
    assert (
        status(run(se, child, vaccinated_before, first + ONE_DAY, risk), "Influenza") is SeriesStatus.COMPLETE
    )
    nine = date(2016, 3, 1)
    assert (
        status(run(se, nine, [(first, "150")], first + ONE_DAY, risk), "Influenza") is SeriesStatus.COMPLETE
    )


def test_covid_19_risk_groups_by_age(se: SupportingData) -> None:
    """COVID-19 2025/26 risk groups: one autumn dose, each group from its own age.

    From 65 with daily care at home, 50-74 with conditions that increase the risk, 18-49 with reduced immune
    defence; no interval since an earlier dose was sourced.

    Sources: https://www.dagensvimmerby.se/nyheter/e/309808/vaccinationen-mot-arets-influensa-och-covid-borjas-rekommendationerna-ser-annorlunda-ut/,
    https://www.folkhalsomyndigheten.se/publikationer-och-material/publikationsarkiv/r/rekommendationer-om-vaccination-mot-covid-19?nav-open=true
    """
    day = date(2025, 10, 1)
    groups = [
        (date(1990, 1, 1), "SE-COVID-IMMUNBRIST", True),
        (date(1970, 1, 1), "SE-COVID-IMMUNBRIST", False),
        (date(1970, 1, 1), "SE-COVID", True),
        (date(1990, 1, 1), "SE-COVID", False),
        (date(1958, 1, 1), "SE-COVID-OMSORG", True),
        (date(1965, 1, 1), "SE-COVID-OMSORG", False),
    ]
    for birth, code, recommended in groups:
        result = run(se, birth, [], day, [code])
        if recommended:
            assert due(result, "COVID-19").earliest == date(2025, 9, 1), (birth, code)
        else:
            assert status(result, "COVID-19") is SeriesStatus.NOT_RECOMMENDED, (birth, code)

    this_autumn = run(
        se, date(1970, 1, 1), [(date(2025, 10, 5), "YMPA-COMIRNATY-30")], date(2025, 10, 6), ["SE-COVID"]
    )
    assert status(this_autumn, "COVID-19") is SeriesStatus.COMPLETE
