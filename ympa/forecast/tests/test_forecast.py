"""Forecast dates, series selection, vaccine groups and the FHIR rendering."""

import json
from datetime import date

from ympa.forecast import (
    AdministeredDose,
    Observation,
    Patient,
    SeriesStatus,
    SupportingData,
    forecast,
    to_fhir_immunization_recommendation,
)


def test_newborn_dtap_forecast(data: SupportingData) -> None:
    result = forecast(Patient(date(2025, 11, 10), "F"), [], date(2025, 11, 10), data)
    group = result.vaccine_groups["DTaP/Tdap/Td"]
    assert group.status is SeriesStatus.NOT_COMPLETE
    assert group.forecast is not None
    assert group.forecast.dose_number == 1
    assert group.forecast.earliest == date(2025, 12, 22)  # 6 weeks
    assert group.forecast.recommended == date(2026, 1, 10)  # 2 months
    assert group.forecast.past_due == date(2026, 3, 9)  # 3 months + 4 weeks - 1 day


def test_series_selection_prefers_the_series_the_doses_fit(data: SupportingData) -> None:
    # HPV started at 26: the 2-dose series cannot start after 15, so the 3-dose series is chosen.
    result = forecast(
        Patient(date(1999, 11, 9), "F"),
        [AdministeredDose(date(2025, 11, 10), "165")],
        date(2025, 11, 10),
        data,
    )
    (best,) = result.antigens["HPV"].best
    assert best.series_name == "HPV 3-dose series"
    assert best.forecast is not None
    assert best.forecast.dose_number == 2
    assert best.forecast.earliest == date(2025, 12, 8)


def test_default_series_without_doses(data: SupportingData) -> None:
    result = forecast(Patient(date(2011, 11, 10), "F"), [], date(2025, 11, 10), data)
    (best,) = result.antigens["HPV"].best
    assert best.series_name == "HPV 2-dose series"


def test_adult_series_group_not_started_for_children(data: SupportingData) -> None:
    doses = [AdministeredDose(date(2025, 11, 10), "216")]  # PCV20 at 24 months completes the series
    result = forecast(Patient(date(2023, 11, 10), "F"), doses, date(2025, 11, 10), data)
    assert result.vaccine_groups["Pneumococcal"].status is SeriesStatus.COMPLETE


def test_complete_and_extraneous_dose_statuses(data: SupportingData) -> None:
    days = [date(2019, 2, 10), date(2019, 5, 10), date(2019, 8, 10)]
    result = forecast(
        Patient(date(2018, 11, 10), "F"), [AdministeredDose(d, "08") for d in days], date(2025, 11, 10), data
    )
    group = result.vaccine_groups["HepB"]
    assert group.status is SeriesStatus.COMPLETE
    assert group.forecast is None


def test_evidence_of_immunity_from_observation(data: SupportingData) -> None:
    patient = Patient(date(2015, 1, 1), "F", observations=[Observation("023")])  # lab evidence of varicella
    result = forecast(patient, [], date(2025, 11, 10), data)
    assert result.vaccine_groups["Varicella"].status is SeriesStatus.IMMUNE


def test_immunity_by_birth_date(data: SupportingData) -> None:
    result = forecast(Patient(date(1950, 1, 1), "M"), [], date(2025, 11, 10), data)
    assert result.antigens["Measles"].best[0].status is SeriesStatus.IMMUNE


def test_fhir_immunization_recommendation(data: SupportingData) -> None:
    birth = date(2025, 9, 6)
    result = forecast(
        Patient(birth, "F"), [AdministeredDose(date(2025, 10, 20), "110")], date(2025, 11, 10), data
    )
    resource = to_fhir_immunization_recommendation(result, "Patient/1")
    json.dumps(resource)
    assert resource["resourceType"] == "ImmunizationRecommendation"
    assert resource["patient"] == {"reference": "Patient/1"}
    by_group = {r["series"]: r for r in resource["recommendation"]}
    dtap = next(r for r in resource["recommendation"] if "Pertussis" in r["targetDisease"]["text"])
    codes = {c["code"]["coding"][0]["code"]: c["value"] for c in dtap["dateCriterion"]}
    assert set(codes) >= {"30981-5", "30980-7", "59778-1"}
    assert dtap["doseNumberPositiveInt"] == 2
    assert dtap["forecastStatus"]["coding"][0]["code"] == "due"
    assert dtap["supportingImmunization"] == [{"display": "CVX 110 given 2025-10-20"}]
    assert by_group
    with_refs = to_fhir_immunization_recommendation(
        result, "Patient/1", immunization_references=["Immunization/9"]
    )
    hepb = next(r for r in with_refs["recommendation"] if r["targetDisease"]["text"] == "HepB")
    assert hepb["supportingImmunization"] == [{"reference": "Immunization/9"}]
    assert all(
        c["system"] == "http://hl7.org/fhir/sid/cvx"
        for r in resource["recommendation"]
        for v in r["vaccineCode"]
        for c in v.get("coding", [])
    )
