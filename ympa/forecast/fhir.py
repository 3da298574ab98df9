"""Render a :class:`~ympa.forecast.types.ForecastResult` as a FHIR R4 ``ImmunizationRecommendation``.

Plain dicts only (ready for ``json.dumps``); no FHIR library is needed. One recommendation entry
is produced per vaccine group.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from ympa.forecast.types import EvaluationStatus, ForecastResult, SeriesStatus, VaccineGroupForecast

__all__ = ["CVX_SYSTEM", "LOINC_SYSTEM", "to_fhir_immunization_recommendation"]

CVX_SYSTEM = "http://hl7.org/fhir/sid/cvx"
LOINC_SYSTEM = "http://loinc.org"
STATUS_SYSTEM = "http://terminology.hl7.org/CodeSystem/immunization-recommendation-status"

# LOINC codes of the FHIR value set "immunization-recommendation-date-criterion".
EARLIEST = ("30981-5", "Earliest date to give")
DUE = ("30980-7", "Date vaccine due")
OVERDUE = ("59778-1", "Date when overdue for immunization")
LATEST = ("59777-3", "Latest date to give immunization")

# FHIR's example status codes cover five outcomes; "aged out" and "not recommended" have no
# code there and are conveyed as text only.
_STATUS_CODES = {
    SeriesStatus.COMPLETE: ("complete", "Complete"),
    SeriesStatus.IMMUNE: ("immune", "Immune"),
    SeriesStatus.CONTRAINDICATED: ("contraindicated", "Contraindicated"),
}


def _forecast_status(group: VaccineGroupForecast, assessment: date) -> dict[str, Any]:
    text = group.status.value
    if group.status is SeriesStatus.NOT_COMPLETE:
        dates = group.forecast
        overdue = dates is not None and dates.past_due is not None and assessment >= dates.past_due
        code, display = ("overdue", "Overdue") if overdue else ("due", "Due")
        return {"coding": [{"system": STATUS_SYSTEM, "code": code, "display": display}], "text": text}
    mapped = _STATUS_CODES.get(group.status)
    if mapped is None:
        return {"text": text}
    return {"coding": [{"system": STATUS_SYSTEM, "code": mapped[0], "display": mapped[1]}], "text": text}


def _criterion(code: tuple[str, str], value: date) -> dict[str, Any]:
    return {
        "code": {"coding": [{"system": LOINC_SYSTEM, "code": code[0], "display": code[1]}]},
        "value": value.isoformat(),
    }


def _recommendation(
    group: VaccineGroupForecast, result: ForecastResult, references: Sequence[str] | None
) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    dates = group.forecast
    if dates is not None and dates.recommended_vaccines:
        entry["vaccineCode"] = [
            {
                "coding": [{"system": CVX_SYSTEM, "code": v.cvx, "display": v.vaccine_type}],
                "text": v.vaccine_type,
            }
            for v in dates.recommended_vaccines
        ]
    else:
        entry["vaccineCode"] = [{"text": group.vaccine_group}]
    entry["targetDisease"] = {"text": ", ".join(group.antigens)}
    entry["forecastStatus"] = _forecast_status(group, result.assessment_date)
    if group.reasons:
        entry["forecastReason"] = [{"text": reason} for reason in group.reasons]
    if dates is not None:
        criteria = [
            _criterion(code, value)
            for code, value in (
                (EARLIEST, dates.earliest),
                (DUE, dates.recommended),
                (OVERDUE, dates.past_due),
                (LATEST, dates.latest),
            )
            if value is not None
        ]
        if criteria:
            entry["dateCriterion"] = criteria
        if dates.dose_number is not None:
            entry["doseNumberPositiveInt"] = dates.dose_number
    entry["series"] = "; ".join(dict.fromkeys(s.series_name for s in group.series)) or group.vaccine_group
    supporting = []
    for index, status in group.dose_statuses:
        if status is not EvaluationStatus.VALID:
            continue
        if references is not None and index < len(references):
            supporting.append({"reference": references[index]})
        else:
            dose = result.doses[index]
            supporting.append({"display": f"CVX {dose.cvx} given {dose.date_administered.isoformat()}"})
    if supporting:
        entry["supportingImmunization"] = supporting
    return entry


def to_fhir_immunization_recommendation(
    result: ForecastResult,
    patient_reference: str,
    *,
    immunization_references: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Build an ``ImmunizationRecommendation`` resource with one recommendation per vaccine group.

    ``immunization_references`` (same order as the doses given to :func:`~ympa.forecast.forecast`)
    turns each valid dose into a ``supportingImmunization`` reference such as ``"Immunization/42"``;
    without it the doses are described by display text.
    """
    return {
        "resourceType": "ImmunizationRecommendation",
        "patient": {"reference": patient_reference},
        "date": result.assessment_date.isoformat(),
        "recommendation": [
            _recommendation(group, result, immunization_references)
            for group in sorted(result.vaccine_groups.values(), key=lambda g: g.vaccine_group.lower())
        ],
    }
