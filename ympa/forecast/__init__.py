"""CDSi immunization evaluation and forecasting (CDC Logic Specification v4.6), pure Python.

The engine evaluates a patient's vaccination history and forecasts the next doses following
the US CDC "Clinical Decision Support for Immunization" logic specification. All clinical
behaviour comes from CDC's supporting data (``data/cdsi-4.64``); the code contains no
antigen-specific rules. The package imports nothing from Django.

Public API::

    from datetime import date
    from ympa.forecast import AdministeredDose, Observation, Patient, forecast

    data = load_supporting_data()            # packaged CDSi 4.64, parsed once per process
    patient = Patient(date(2024, 1, 15), "F", observations=[Observation("055")])
    doses = [AdministeredDose(date(2024, 3, 15), cvx="110"), AdministeredDose(date(2024, 3, 15), cvx="133")]
    result = forecast(patient, doses, assessment_date=date(2025, 1, 1), data=data)

    result.vaccine_groups["DTaP/Tdap/Td"].status       # SeriesStatus.NOT_COMPLETE
    result.vaccine_groups["DTaP/Tdap/Td"].forecast     # ForecastDates(dose_number, earliest, recommended,
                                                       #               past_due, latest, ...)
    result.antigens["Pertussis"].best                  # best SeriesResult(s): evaluations, forecast, status
    result.antigens["Pertussis"].primary.evaluations   # DoseEvaluation(status, reasons, target_dose, ...)

    to_fhir_immunization_recommendation(result, "Patient/123")   # FHIR R4 ImmunizationRecommendation dict

* ``load_supporting_data(path=None) -> SupportingData``: parse (and cache per directory) a CDSi
  supporting-data directory; ``None`` means the packaged CDSi 4.64 release.
* ``Patient(birth_date, gender="U", observations=(), birth_country=None)``: gender ``"M"``/``"F"``,
  anything else is unknown. ``Observation(code, start=None, end=None)`` carries CDSi observation
  codes (underlying conditions, indications, contraindications, evidence of immunity).
* ``AdministeredDose(date_administered, cvx, mvx=None, volume=None, trade_name=None,
  lot_expiration=None, condition=None)``.
* ``forecast(patient, doses, assessment_date, data=None) -> ForecastResult`` with
  ``antigens: dict[str, AntigenResult]`` (every relevant series, its dose evaluations and
  forecast, and the best series) and ``vaccine_groups: dict[str, VaccineGroupForecast]``
  (merged status, dose number and earliest/recommended/past-due/latest dates).
* ``to_fhir_immunization_recommendation(result, patient_reference) -> dict``.
* ``ympa.forecast.cases.main(argv)`` runs CDC test-case CSVs; ``ympa.forecast.bench.bench(seconds)``
  measures throughput.

All inputs and results are frozen dataclasses.
"""

from ympa.forecast.dates import Duration, parse_duration
from ympa.forecast.engine import forecast
from ympa.forecast.fhir import to_fhir_immunization_recommendation
from ympa.forecast.loader import load_supporting_data
from ympa.forecast.model import SupportingData
from ympa.forecast.types import (
    AdministeredDose,
    AntigenResult,
    DoseEvaluation,
    EvaluationReason,
    EvaluationStatus,
    ForecastDates,
    ForecastResult,
    Observation,
    Patient,
    RecommendedVaccine,
    SeriesResult,
    SeriesStatus,
    VaccineGroupForecast,
)

__all__ = [
    "AdministeredDose",
    "AntigenResult",
    "DoseEvaluation",
    "Duration",
    "EvaluationReason",
    "EvaluationStatus",
    "ForecastDates",
    "ForecastResult",
    "Observation",
    "Patient",
    "RecommendedVaccine",
    "SeriesResult",
    "SeriesStatus",
    "SupportingData",
    "VaccineGroupForecast",
    "forecast",
    "load_supporting_data",
    "parse_duration",
    "to_fhir_immunization_recommendation",
]
