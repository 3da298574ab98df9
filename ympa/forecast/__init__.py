"""CDSi immunization evaluation and forecasting (CDC Logic Specification v4.6), pure Python.

The engine evaluates a patient's vaccination history and forecasts the next doses following
the US CDC "Clinical Decision Support for Immunization" logic specification. All clinical
behaviour comes from supporting data in the CDSi format; the code contains no antigen-specific
rules. The package imports nothing from Django.

Two schedule sets are packaged, and a care provider chooses one:

* ``"se"`` (default for Swedish care providers): the Swedish programmes in ``data/se-2026.1``
  (child programme with catch-up, TBE, hepatitis A/B, pneumococcal, influenza, COVID-19), every
  rule with its public source; see that directory's ``SOURCE.md`` and ``EXTENSIONS.md``.
* ``"cdc"``: CDC/ACIP, the unmodified CDSi 4.64 release in ``data/cdsi-4.64``.

Public API::

    from datetime import date
    from ympa.forecast import AdministeredDose, Observation, Patient, forecast, load_schedule_set

    data = load_schedule_set("se", options={"tbe_shorter_interval_from_age": "50"})   # or "cdc"
    patient = Patient(date(2024, 1, 15), "F", observations=[Observation("SE-TBE")])   # TBE risk area
    given = date(2024, 4, 15)
    doses = [AdministeredDose(given, "YMPA-INFANRIX-HEXA"), AdministeredDose(given, "133")]  # local code, CVX
    result = forecast(patient, doses, assessment_date=date(2025, 1, 1), data=data)

    result.vaccine_groups["DTaP/Tdap/Td"].status       # SeriesStatus.NOT_COMPLETE
    result.vaccine_groups["DTaP/Tdap/Td"].forecast     # ForecastDates(dose_number, earliest, recommended,
                                                       #               past_due, latest, ...)
    result.antigens["Pertussis"].best                  # best SeriesResult(s): evaluations, forecast, status
    result.antigens["Pertussis"].primary.evaluations   # DoseEvaluation(status, reasons, target_dose, ...)

    to_fhir_immunization_recommendation(result, "Patient/123")   # FHIR R4 ImmunizationRecommendation dict

* ``schedule_sets() -> list[str]``: ``["se", "cdc"]``, the default (``DEFAULT_SCHEDULE_SET``) first.
* ``load_schedule_set(name="se", *, options=None) -> SupportingData``: parse (once per process and
  choice of options) a packaged schedule set. ``options`` carries the provider's regional choices,
  e.g. ``{"tbe_shorter_interval_from_age": "60"}``; unknown names or values raise ``ValueError``.
* ``schedule_parameters(name="se") -> list[ScheduleParameter]``: the choices a set offers
  (``name``, ``default``, ``allowed``, ``description``).
* ``load_supporting_data(path=None, *, options=None) -> SupportingData``: parse (and cache) any
  supporting-data directory; ``None`` means the packaged CDSi 4.64 release.
* ``Patient(birth_date, gender="U", observations=(), birth_country=None)``: gender ``"M"``/``"F"``,
  anything else is unknown. ``Observation(code, start=None, end=None)`` carries CDSi observation
  codes (underlying conditions, indications, contraindications, evidence of immunity).
* ``AdministeredDose(date_administered, cvx, mvx=None, volume=None, trade_name=None,
  lot_expiration=None, condition=None)``.
* ``normalize_code(code) -> str``: CVX codes compare without leading zeros ("03" is "3").
* ``forecast(patient, doses, assessment_date, data=None) -> ForecastResult`` (``data=None``: CDSi
  4.64; pass the provider's schedule set) with
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
from ympa.forecast.loader import (
    DEFAULT_SCHEDULE_SET,
    load_schedule_set,
    load_supporting_data,
    normalize_code,
    schedule_parameters,
    schedule_sets,
)
from ympa.forecast.model import ScheduleParameter, SupportingData
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
    "DEFAULT_SCHEDULE_SET",
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
    "ScheduleParameter",
    "SeriesResult",
    "SeriesStatus",
    "SupportingData",
    "VaccineGroupForecast",
    "forecast",
    "load_schedule_set",
    "load_supporting_data",
    "normalize_code",
    "parse_duration",
    "schedule_parameters",
    "schedule_sets",
    "to_fhir_immunization_recommendation",
]
