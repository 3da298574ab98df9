"""The Swedish national child programme in the "se" schedule set, checked against its sources.

Each test names the public source its expected dates are derived from.
"""

from datetime import date, timedelta

from ympa.forecast import EvaluationStatus, ForecastResult, SeriesResult, SeriesStatus, SupportingData
from ympa.forecast.tests.swedish import at_age, due, run, status

BIRTH = date(2026, 1, 15)
HEXA = "YMPA-INFANRIX-HEXA"
ONE_DAY = timedelta(days=1)


def test_infant_doses_due_at_3_months(se: SupportingData) -> None:
    """DTaP-IPV-Hib with hepatitis B and PCV at 3 months; DTP from 2 months, products from 6 weeks.

    Sources: https://www.vaccin.se/barn/barnvaccinationsprogrammet/ (schedule after HSLF-FS 2019:17),
    https://www.folkhalsomyndigheten.se/publicerat-material/publikationsarkiv/v/vaccination-av-barn-och-ungdomar--/?pub=63136
    (first of two primary doses at 2 months at the earliest),
    https://samverkan.regionsormland.se/for-vardgivare/smittskydd-och-vardhygien/vaccination/vaccination-mot-hepatit-b/?share=on
    (hepatitis B for all infants).
    """
    result = run(se, BIRTH, [], BIRTH)
    three_months = date(2026, 4, 15)
    for group in ("DTaP/Tdap/Td", "Polio", "Hib", "HepB", "Pneumococcal"):
        assert due(result, group).recommended == three_months, group
    assert due(result, "DTaP/Tdap/Td").earliest == date(2026, 3, 15)
    assert due(result, "Hib").earliest == BIRTH + timedelta(weeks=6)
    assert HEXA in {v.cvx for v in due(result, "DTaP/Tdap/Td").recommended_vaccines}
    assert HEXA in {v.cvx for v in due(result, "HepB").recommended_vaccines}


def test_second_and_third_doses_at_5_and_12_months(se: SupportingData) -> None:
    """Dose 2 at 5 months (6 weeks or more after dose 1), dose 3 at 12 months (6 months or more after dose 2).

    Sources: https://www.vaccin.se/barn/barnvaccinationsprogrammet/,
    https://www.folkhalsomyndigheten.se/publicerat-material/publikationsarkiv/v/vaccination-av-barn-och-ungdomar--/?pub=63136,
    https://www.folkhalsomyndigheten.se/smittskydd-beredskap/vaccinationer/fragor-och-svar/haemophilus-influenzae-typ-b2/?exp=57433
    """
    first = at_age(BIRTH, "3 months")
    after_first = run(se, BIRTH, [(first, HEXA), (first, "133")], first + ONE_DAY)
    dtp = due(after_first, "DTaP/Tdap/Td")
    assert (dtp.dose_number, dtp.earliest, dtp.recommended) == (
        2,
        first + timedelta(weeks=6),
        date(2026, 6, 15),
    )
    assert due(after_first, "Pneumococcal").recommended == date(2026, 6, 15)
    assert due(after_first, "HepB").recommended == date(2026, 6, 15)

    second = at_age(BIRTH, "5 months")
    doses = [(first, HEXA), (first, "133"), (second, HEXA), (second, "133")]
    after_second = run(se, BIRTH, doses, second + ONE_DAY)
    dtp = due(after_second, "DTaP/Tdap/Td")
    assert (dtp.dose_number, dtp.earliest, dtp.recommended) == (3, date(2026, 12, 15), date(2027, 1, 15))
    assert due(after_second, "Hib").earliest == date(2026, 12, 15)
    assert due(after_second, "Pneumococcal").recommended == date(2027, 1, 15)

    third = at_age(BIRTH, "12 months")
    done = run(se, BIRTH, [*doses, (third, HEXA), (third, "133")], third + ONE_DAY)
    for group in ("Hib", "HepB"):
        assert status(done, group) is SeriesStatus.COMPLETE, group
    assert done.antigens["Pneumococcal"].best[0].status is SeriesStatus.COMPLETE


def test_rotavirus_from_6_weeks_with_the_smpc_upper_age_limits(se: SupportingData) -> None:
    """Rotarix from 6 weeks, not started from 12 weeks, dose 2 due before 16 weeks and given by 24 weeks.

    Sources: https://ema.europa.eu/medicines/human/EPAR/rotarix
    (Rotarix, EMA: from 6 weeks, 4 weeks apart, by 24 weeks),
    https://www.folkhalsomyndigheten.se/smittskydd-beredskap/vaccinationer/fragor-och-svar/rotavirus/?exp=57188
    (not started when the child has turned 12 weeks),
    https://www.folkhalsomyndigheten.se/publicerat-material/publikationsarkiv/v/vaccination-av-barn-och-ungdomar--/?pub=63136
    (second dose before 16 weeks, at least 4 weeks apart).
    """
    first = run(se, BIRTH, [], BIRTH)
    rota = due(first, "Rotavirus")
    assert (rota.earliest, rota.recommended) == (BIRTH + timedelta(weeks=6), BIRTH + timedelta(weeks=6))
    assert rota.latest == BIRTH + timedelta(weeks=12) - ONE_DAY
    assert [v.cvx for v in rota.recommended_vaccines] == ["119"]

    dose1 = BIRTH + timedelta(weeks=6)
    second = due(run(se, BIRTH, [(dose1, "119")], dose1 + ONE_DAY), "Rotavirus")
    assert second.earliest == dose1 + timedelta(weeks=4)
    assert second.past_due == BIRTH + timedelta(weeks=16) - ONE_DAY
    assert second.latest == BIRTH + timedelta(weeks=24) - ONE_DAY

    too_late = run(se, BIRTH, [], BIRTH + timedelta(weeks=12))
    assert status(too_late, "Rotavirus") is SeriesStatus.AGED_OUT


def test_rotateq_third_dose_by_32_weeks(se: SupportingData) -> None:
    """RotaTeq: three doses at least 4 weeks apart, the third at 5 months, the course finished by week 32.

    Sources: https://www.ema.europa.eu/en/medicines/human/EPAR/rotateq
    (RotaTeq, EMA: three doses at least 4 weeks apart, first dose at 6-12 weeks, the last up to 32 weeks),
    https://www.vaccin.se/barn/barnvaccinationsprogrammet/
    """
    doses = [(BIRTH + timedelta(weeks=6), "116"), (at_age(BIRTH, "3 months"), "116")]
    result = run(se, BIRTH, doses, at_age(BIRTH, "3 months") + ONE_DAY)
    (best,) = result.antigens["Rotavirus"].best
    assert best.series_name == "RotaTeq 3 doser"
    third = due(result, "Rotavirus")
    assert (third.dose_number, third.recommended) == (3, date(2026, 6, 15))
    assert third.latest == BIRTH + timedelta(weeks=32) - ONE_DAY


def test_mmr_at_18_months_and_in_school_years_1_2(se: SupportingData) -> None:
    """MMR at 18 months (a dose before 12 months does not count) and again in school years 1-2.

    School year 1 starts in August of the year the child turns 7; school year 2 ends in June of the year it
    turns 9. Sources: https://www.vaccin.se/barn/barnvaccinationsprogrammet/,
    https://www.folkhalsomyndigheten.se/smittskydd-beredskap/vaccinationer/fragor-och-svar/massling-passjuka-och-roda-hund/?exp=57141,
    https://e-tjanster.timra.se/oversikt/overview/671 (skollagen 7 kap. 10 §),
    https://gyf.se/sv/Utbildningar/Lasarstider/ (läsåret börjar i augusti och slutar i juni).
    """
    first = due(run(se, BIRTH, [], BIRTH), "MMR")
    assert (first.earliest, first.recommended) == (date(2027, 1, 15), date(2027, 7, 15))

    early = at_age(BIRTH, "11 months")
    result = run(se, BIRTH, [(early, "03")], early + ONE_DAY)
    assert result.antigens["Measles"].best[0].evaluations[0].status is EvaluationStatus.NOT_VALID
    assert due(result, "MMR").dose_number == 1

    dose1 = at_age(BIRTH, "18 months")
    second = due(run(se, BIRTH, [(dose1, "03")], dose1 + ONE_DAY), "MMR")
    assert second.earliest == dose1 + timedelta(weeks=4)
    assert second.recommended == date(2033, 8, 1)  # autumn term of the year the child turns 7
    assert second.past_due == date(2035, 6, 30)  # end of school year 2


def test_school_year_follows_the_calendar_year_of_birth(se: SupportingData) -> None:
    """Children born on 31 December and 1 January start school a year apart.

    Sources: https://e-tjanster.timra.se/oversikt/overview/671 (skolplikten inträder höstterminen det
    kalenderår barnet fyller sex år), https://gyf.se/sv/Utbildningar/Lasarstider/
    """
    for birth, autumn in ((date(2019, 12, 31), date(2026, 8, 1)), (date(2020, 1, 1), date(2027, 8, 1))):
        dose1 = at_age(birth, "18 months")
        assert due(run(se, birth, [(dose1, "03")], dose1 + ONE_DAY), "MMR").recommended == autumn


def test_boosters_at_5_years_and_in_school_years_8_9(se: SupportingData) -> None:
    """DTaP-IPV at 5 years; dTap in school years 8-9, at least 5 years after the previous booster.

    Sources: https://www.vaccin.se/barn/barnvaccinationsprogrammet/,
    https://www.folkhalsomyndigheten.se/publicerat-material/publikationsarkiv/v/vaccination-av-barn-och-ungdomar--/?pub=63136
    """
    primary = [(at_age(BIRTH, age), HEXA) for age in ("3 months", "5 months", "12 months")]
    fourth = due(run(se, BIRTH, primary, at_age(BIRTH, "13 months")), "DTaP/Tdap/Td")
    assert (fourth.dose_number, fourth.recommended) == (4, date(2031, 1, 15))
    polio = due(run(se, BIRTH, primary, at_age(BIRTH, "13 months")), "Polio")
    assert (polio.dose_number, polio.recommended) == (4, date(2031, 1, 15))

    booster = date(2031, 2, 1)
    result = run(se, BIRTH, [*primary, (booster, "130")], date(2036, 1, 1))
    assert status(result, "Polio") is SeriesStatus.COMPLETE
    fifth = due(result, "DTaP/Tdap/Td")
    assert fifth.dose_number == 5
    assert fifth.earliest == date(2036, 2, 1)  # 5 years after the previous booster
    assert fifth.recommended == date(2040, 8, 1)  # school year 8: autumn of the year the child turns 14
    assert fifth.past_due == date(2042, 6, 30)  # end of school year 9
    assert {v.cvx for v in fifth.recommended_vaccines} == {"115", "YMPA-BOOSTRIX-POLIO"}


def test_hpv_in_school_year_5(se: SupportingData) -> None:
    """HPV in school year 5, two doses at least five months apart and within a year; catch-up until 18.

    Sources: https://elevhalsan.uppsala.se/hem/till-e-handboken/vaccinationer/vaccin/hpv/,
    https://www.folkhalsomyndigheten.se/smittskydd-beredskap/vaccinationer/fragor-och-svar/allmanna-vaccinations-programmet/kompletterande-vaccinationer/ska-alla-barn-erbjudas-kompletterande-vaccinationer-inom-det-allmanna-vaccinationsprogrammet/
    """
    first = due(run(se, BIRTH, [], date(2036, 1, 1)), "HPV")
    assert first.recommended == date(2037, 8, 1)  # autumn of the year the child turns 11
    assert first.past_due == date(2038, 6, 30)

    dose1 = date(2037, 9, 1)
    second = due(run(se, BIRTH, [(dose1, "165")], dose1 + ONE_DAY), "HPV")
    assert (second.dose_number, second.earliest, second.past_due) == (2, date(2038, 2, 1), date(2038, 8, 31))

    assert due(run(se, BIRTH, [], at_age(BIRTH, "15 years")), "HPV").dose_number == 1  # catch-up goes on
    assert status(run(se, BIRTH, [], at_age(BIRTH, "18 years")), "HPV") is SeriesStatus.AGED_OUT


def hpv_series(result: ForecastResult) -> SeriesResult:
    (best,) = result.antigens["HPV"].best
    return best


def test_hpv_three_doses_when_starting_from_15(se: SupportingData) -> None:
    """A 16-year-old starting HPV: dose 2 about 2 months after dose 1 (from 1 month), dose 3 at 6 months.

    Sources: https://elevhalsan.uppsala.se/hem/till-e-handboken/vaccinationer/vaccin/hpv/
    (pupils who have turned 15 get 3 doses),
    https://www.folkhalsomyndigheten.se/smittskydd-beredskap/vaccinationer/fragor-och-svar/humant-papillomvirus/vaccination-mot-hpv/hur-ges-manga-doser-behovs-for-ett-gott-skydd/,
    https://rxreasoner.com/monographs/gardasil-9/usage (EU product information, section 4.2),
    https://www.gardasil9.ca/how-does-gardasil9-work/
    """
    teen = date(2010, 3, 10)
    dose1 = date(2026, 4, 1)  # 16 years old
    assert due(run(se, teen, [], dose1), "HPV").dose_number == 1

    after_one = run(se, teen, [(dose1, "165")], dose1 + ONE_DAY)
    assert hpv_series(after_one).series_name == "Kompletterande HPV, 3 doser från 15 år"
    second = due(after_one, "HPV")
    assert (second.dose_number, second.earliest, second.recommended) == (
        2,
        date(2026, 5, 1),
        date(2026, 6, 1),
    )

    dose2 = date(2026, 6, 1)
    third = due(run(se, teen, [(dose1, "165"), (dose2, "165")], dose2 + ONE_DAY), "HPV")
    # At least 3 months after dose 2; six months after dose 1; all three doses within a year.
    assert (third.dose_number, third.earliest, third.recommended, third.past_due) == (
        3,
        date(2026, 9, 1),
        date(2026, 10, 1),
        date(2027, 3, 31),
    )
    assert third.latest == date(2028, 3, 9)  # the catch-up ends at 18

    too_soon = run(se, teen, [(dose1, "165"), (dose2, "165"), (date(2026, 8, 1), "165")], date(2026, 8, 2))
    assert hpv_series(too_soon).evaluations[2].status is EvaluationStatus.NOT_VALID
    assert due(too_soon, "HPV").dose_number == 3

    doses = [(dose1, "165"), (dose2, "165"), (date(2026, 10, 1), "165")]
    assert status(run(se, teen, doses, date(2026, 10, 2)), "HPV") is SeriesStatus.COMPLETE

    # Two doses six months apart complete the 2-dose series only when vaccination started before 15.
    two = run(se, teen, [(dose1, "165"), (date(2026, 10, 1), "165")], date(2026, 10, 2))
    assert due(two, "HPV").dose_number == 3


def test_hpv_three_dose_intervals_from_product_information_with_grace_period(se: SupportingData) -> None:
    """Minimum intervals of the 3-dose schedule: 1 month, then 3 months, each less a grace period of 4 days.

    Sources: https://rxreasoner.com/monographs/gardasil-9/usage, https://www.gardasil9.ca/how-does-gardasil9-work/
    """
    teen = date(2010, 3, 10)
    dose1, dose2 = date(2026, 4, 1), date(2026, 6, 1)
    early_second = run(se, teen, [(dose1, "165"), (date(2026, 4, 26), "165")], date(2026, 4, 27))
    assert hpv_series(early_second).evaluations[1].status is EvaluationStatus.NOT_VALID
    grace_second = run(se, teen, [(dose1, "165"), (date(2026, 4, 27), "165")], date(2026, 4, 28))
    assert hpv_series(grace_second).evaluations[1].status is EvaluationStatus.VALID
    for day, expected in (
        (date(2026, 8, 27), EvaluationStatus.NOT_VALID),
        (date(2026, 8, 28), EvaluationStatus.VALID),
    ):
        result = run(se, teen, [(dose1, "165"), (dose2, "165"), (day, "165")], day + ONE_DAY)
        assert hpv_series(result).evaluations[2].status is expected, day


def test_hpv_two_doses_when_starting_before_15(se: SupportingData) -> None:
    """A 13-year-old starting HPV keeps the 2-dose series: dose 2 at least five months after dose 1.

    Sources: https://elevhalsan.uppsala.se/hem/till-e-handboken/vaccinationer/vaccin/hpv/,
    https://www.folkhalsomyndigheten.se/smittskydd-beredskap/vaccinationer/fragor-och-svar/humant-papillomvirus/vaccination-mot-hpv/hur-ges-manga-doser-behovs-for-ett-gott-skydd/
    """
    child = date(2013, 3, 10)
    dose1 = date(2026, 4, 1)  # 13 years old
    result = run(se, child, [(dose1, "165")], dose1 + ONE_DAY)
    assert hpv_series(result).series_name == "Barnprogrammet HPV, 2 doser i årskurs 5"
    second = due(result, "HPV")
    assert (second.dose_number, second.earliest, second.past_due) == (2, date(2026, 9, 1), date(2027, 3, 31))
    doses = [(dose1, "165"), (date(2026, 9, 1), "165")]
    assert status(run(se, child, doses, date(2026, 9, 2)), "HPV") is SeriesStatus.COMPLETE


def test_hib_catch_up_one_dose_after_one_year_and_only_before_6(se: SupportingData) -> None:
    """An unvaccinated child over one year needs one Hib dose; catch-up only up to 6 years.

    Sources: https://www.folkhalsomyndigheten.se/smittskydd-beredskap/vaccinationer/fragor-och-svar/haemophilus-influenzae-typ-b2/?exp=57433,
    https://www.folkhalsomyndigheten.se/smittskydd-beredskap/vaccinationer/fragor-och-svar/allmanna-vaccinations-programmet/kompletterande-vaccinationer/ska-alla-barn-erbjudas-kompletterande-vaccinationer-inom-det-allmanna-vaccinationsprogrammet/
    """
    two_years = at_age(BIRTH, "2 years")
    assert due(run(se, BIRTH, [], two_years), "Hib").dose_number == 1
    assert status(run(se, BIRTH, [(two_years, "48")], two_years + ONE_DAY), "Hib") is SeriesStatus.COMPLETE
    assert status(run(se, BIRTH, [], at_age(BIRTH, "6 years")), "Hib") is SeriesStatus.AGED_OUT
    assert (
        status(run(se, BIRTH, [], at_age(BIRTH, "6 years")), "Pneumococcal") is not SeriesStatus.NOT_COMPLETE
    )


def test_catch_up_after_three_primary_doses_abroad(se: SupportingData) -> None:
    """Three primary doses a month apart (another country's schedule) count; the booster follows 6 months on.

    Source: https://www.folkhalsomyndigheten.se/publicerat-material/publikationsarkiv/v/vaccination-av-barn-och-ungdomar--/?pub=63136
    """
    doses = [(at_age(BIRTH, age), "110") for age in ("2 months", "3 months", "4 months")]
    result = run(se, BIRTH, doses, at_age(BIRTH, "5 months"))
    (best,) = result.antigens["Diphtheria"].best
    assert best.series_name.startswith("Tre primärdoser")
    booster = due(result, "DTaP/Tdap/Td")
    assert (booster.dose_number, booster.earliest) == (4, date(2026, 11, 15))


def test_children_are_not_offered_the_adult_programmes(se: SupportingData) -> None:
    """The 75-year pneumococcal dose and the 65+ influenza dose are not started for children.

    Sources: https://www.vgregion.se/halsa-och-vard/vardgivarwebben/vardadministration/patientavgiftshandboken/halsovard/vaccination-pneumokocker/,
    http://www.famlak.se/nyhet/snart-dags-for-arets-influensavaccin-har-ar-tiderna-for-drop-in/
    """
    result = run(se, BIRTH, [], BIRTH)
    assert status(result, "Influenza") is SeriesStatus.NOT_RECOMMENDED
    assert status(result, "COVID-19") is SeriesStatus.NOT_RECOMMENDED
    assert [s.series_name for s in result.antigens["Pneumococcal"].best] == ["Barnprogrammet pneumokocker"]


def test_hexavalent_dose_2_needs_1_month_for_hib_and_hepatitis_b(se: SupportingData) -> None:
    """Hib and hepatitis B dose 2 at least 1 month after dose 1 (4 days' grace), Vaxelis' shortest interval.

    Sources (the hexavalent vaccines' primary doses: Vaxelis two or three doses at least 1 month apart,
    Infanrix hexa two or three doses at least 1 month apart; the shortest interval a product allows is used):
    https://www.fass.se/LIF/product?docType=6&nplId=20150220000015&userType=0
    https://ec.europa.eu/health/documents/community-register/2018/20180315140455/anx_140455_en.pdf
    http://www.ema.europa.eu/ema/index.jsp?curl=pages/medicines/human/medicines/000296/human_med_000833.jsp&mid=WC0b01ac058001d124
    """
    first = at_age(BIRTH, "3 months")
    after_first = run(se, BIRTH, [(first, HEXA)], first + ONE_DAY)
    for group in ("Hib", "HepB"):
        second = due(after_first, group)
        assert (second.dose_number, second.earliest, second.recommended) == (
            2,
            date(2026, 5, 15),  # one month after dose 1 (15 April)
            date(2026, 6, 15),
        ), group

    too_soon = date(2026, 5, 10)  # one month less five days
    early = run(se, BIRTH, [(first, HEXA), (too_soon, HEXA)], too_soon + ONE_DAY)
    for antigen in ("Hib", "HepB"):
        (best,) = early.antigens[antigen].best
        assert best.evaluations[1].status is EvaluationStatus.NOT_VALID, antigen
        assert due(early, antigen).dose_number == 2

    grace = date(2026, 5, 11)  # one month less four days
    on_time = run(se, BIRTH, [(first, HEXA), (grace, HEXA)], grace + ONE_DAY)
    for antigen in ("Hib", "HepB"):
        assert on_time.antigens[antigen].best[0].evaluations[1].status is EvaluationStatus.VALID, antigen


def test_hepatitis_b_infant_booster_at_least_6_months_after_dose_2(se: SupportingData) -> None:
    """Hepatitis B dose 3 (the hexavalent booster) at 12 months, at least 6 months after dose 2.

    Sources (booster at least 6 months after the last primary dose; doses at 3, 5 and 12 months):
    https://www.fass.se/LIF/product?docType=6&nplId=20150220000015&userType=0 (Vaxelis)
    http://www.ema.europa.eu/ema/index.jsp?curl=pages/medicines/human/medicines/000296/human_med_000833.jsp&mid=WC0b01ac058001d124
    https://www.rvn.se/sv/v1/Arkiv/Nyhetsarkiv/Gratis-vaccin-mot-Hepatit-B-for-barn-fodda-efter-1-februari-2012/
    """
    doses = [(at_age(BIRTH, "3 months"), HEXA), (at_age(BIRTH, "5 months"), HEXA)]
    third = due(run(se, BIRTH, doses, date(2026, 6, 16)), "HepB")
    assert (third.dose_number, third.earliest, third.recommended) == (
        3,
        date(2026, 12, 15),
        date(2027, 1, 15),
    )


def test_pneumococcal_conjugate_minimum_intervals(se: SupportingData) -> None:
    """PCV dose 2 at least 2 months after dose 1, the booster at least 6 months after dose 2 (4 days' grace).

    Sources (Synflorix posology: two primary doses 2 months apart, booster at least 6 months after the last
    primary dose; PCV10 and PCV13 product information: at least 2 months between two primary doses):
    https://ema.europa.eu/en/medicines/human/EPAR/synflorix
    https://pmc.ncbi.nlm.nih.gov/articles/PMC10675499/table/vaccines-11-01654-t002
    """
    first = at_age(BIRTH, "3 months")
    second = due(run(se, BIRTH, [(first, "133")], first + ONE_DAY), "Pneumococcal")
    assert (second.dose_number, second.earliest) == (2, date(2026, 6, 15))

    six_weeks = first + timedelta(weeks=6)
    early = run(se, BIRTH, [(first, "133"), (six_weeks, "133")], six_weeks + ONE_DAY)
    assert child_pneumococcal(early).evaluations[1].status is EvaluationStatus.NOT_VALID

    grace = date(2026, 6, 11)  # two months less four days
    result = run(se, BIRTH, [(first, "133"), (grace, "133")], grace + ONE_DAY)
    assert child_pneumococcal(result).evaluations[1].status is EvaluationStatus.VALID
    booster = due(result, "Pneumococcal")
    assert (booster.dose_number, booster.earliest, booster.recommended) == (
        3,
        date(2026, 12, 11),
        date(2027, 1, 15),
    )


def child_pneumococcal(result: ForecastResult) -> SeriesResult:
    (child,) = [
        s for s in result.antigens["Pneumococcal"].best if s.series_name == "Barnprogrammet pneumokocker"
    ]
    return child


def test_polio_second_booster_has_no_minimum_interval(se: SupportingData) -> None:
    """Polio dose 4 (second booster) at 5 years: preferably 3 years after dose 3, but no minimum is set.

    Source: https://www.folkhalsomyndigheten.se/smittskydd-beredskap/vaccinationer/rekommendationer-for-vaccination/rekommendationer-om-vaccination-mot-polio/?nav-open=true
    (at least four doses, two of them boosters; preferably at least 3 years between the boosters)
    """
    doses = [
        (at_age(BIRTH, "3 months"), HEXA),
        (at_age(BIRTH, "5 months"), HEXA),
        (at_age(BIRTH, "12 months"), HEXA),
    ]
    fourth = due(run(se, BIRTH, doses, at_age(BIRTH, "12 months") + ONE_DAY), "Polio")
    assert (fourth.dose_number, fourth.recommended) == (4, at_age(BIRTH, "5 years"))

    two_years_later = at_age(BIRTH, "3 years")
    result = run(se, BIRTH, [*doses, (two_years_later, "130")], two_years_later + ONE_DAY)
    (best,) = result.antigens["Polio"].best
    assert [e.status for e in best.evaluations] == [EvaluationStatus.VALID] * 4
    assert status(result, "Polio") is SeriesStatus.COMPLETE
