"""Inputs (patient, observations, administered doses) and outputs (evaluations, forecasts) of the engine."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

__all__ = [
    "AdministeredDose",
    "AntigenResult",
    "DoseEvaluation",
    "EvaluationReason",
    "EvaluationStatus",
    "ForecastDates",
    "ForecastResult",
    "Observation",
    "Patient",
    "RecommendedVaccine",
    "SeriesResult",
    "SeriesStatus",
    "VaccineGroupForecast",
]


@dataclass(frozen=True, slots=True)
class Observation:
    """A patient observation (CDSi "underlying condition"), e.g. code ``"055"`` health care personnel.

    ``start`` is the observation date (used by intervals measured from a relevant observation);
    ``end`` makes the observation inactive after that date.
    """

    code: str
    start: date | None = None
    end: date | None = None

    def active_on(self, day: date) -> bool:
        if self.start is not None and self.start > day:
            return False
        return not (self.end is not None and self.end < day)


@dataclass(frozen=True, slots=True)
class Patient:
    """The patient being assessed. ``gender`` is ``"M"``, ``"F"`` or anything else for unknown."""

    birth_date: date
    gender: str = "U"
    observations: tuple[Observation, ...] = field(default=())
    birth_country: str | None = None

    def __init__(
        self,
        birth_date: date,
        gender: str = "U",
        observations: Iterable[Observation] = (),
        birth_country: str | None = None,
    ) -> None:
        # Accept any iterable (callers often have a list) but store an immutable tuple.
        object.__setattr__(self, "birth_date", birth_date)
        object.__setattr__(self, "gender", gender)
        object.__setattr__(self, "observations", tuple(observations))
        object.__setattr__(self, "birth_country", birth_country)

    @property
    def gender_name(self) -> str:
        """The supporting data's spelling of the gender (``Male``/``Female``/``Unknown``)."""
        value = self.gender.strip().lower()
        if value in {"m", "male"}:
            return "male"
        if value in {"f", "female"}:
            return "female"
        return "unknown"

    def active_codes(self, day: date) -> frozenset[str]:
        return frozenset(o.code for o in self.observations if o.active_on(day))


@dataclass(frozen=True, slots=True)
class AdministeredDose:
    """One vaccine dose given to the patient.

    ``condition`` marks a dose that cannot count whatever its timing (e.g. ``"sub-potent"``,
    ``"recalled"``); ``lot_expiration`` before the administration date has the same effect.
    """

    date_administered: date
    cvx: str
    mvx: str | None = None
    volume: float | None = None
    trade_name: str | None = None
    lot_expiration: date | None = None
    condition: str | None = None


class EvaluationStatus(StrEnum):
    VALID = "Valid"
    NOT_VALID = "Not Valid"
    EXTRANEOUS = "Extraneous"


class EvaluationReason(StrEnum):
    TOO_YOUNG = "Age: Too Young"
    TOO_OLD = "Age: Too Old"
    GRACE_PERIOD = "Grace Period"
    TOO_SOON = "Interval: Too Soon"
    LIVE_VIRUS_CONFLICT = "Live Virus Conflict"
    NOT_ALLOWABLE = "Not a preferable or allowable vaccine"
    ALLOWABLE = "Allowable vaccine"
    LOW_VOLUME = "Less than recommended volume"
    INADVERTENT = "Inadvertent Vaccine"
    SUB_STANDARD = "Sub-standard dose"
    SERIES_COMPLETE = "Series Already Complete"


class SeriesStatus(StrEnum):
    NOT_COMPLETE = "Not Complete"
    COMPLETE = "Complete"
    AGED_OUT = "Aged Out"
    IMMUNE = "Immune"
    CONTRAINDICATED = "Contraindicated"
    NOT_RECOMMENDED = "Not Recommended"


@dataclass(frozen=True, slots=True)
class DoseEvaluation:
    """How one administered dose was evaluated for one antigen in one patient series."""

    dose_index: int
    dose: AdministeredDose
    antigen: str
    status: EvaluationStatus
    reasons: tuple[EvaluationReason, ...]
    target_dose: int | None
    inadvertent: bool = False

    @property
    def reason(self) -> str:
        """The main reason a dose is not valid (empty for a plain valid dose)."""
        return self.reasons[0].value if self.reasons else ""


@dataclass(frozen=True, slots=True)
class RecommendedVaccine:
    """A vaccine the supporting data flags for forecasting (FORECASTRECVAC-1)."""

    cvx: str
    vaccine_type: str


@dataclass(frozen=True, slots=True)
class ForecastDates:
    """The next dose: its number in the series and the four forecast dates (any may be absent)."""

    dose_number: int | None
    earliest: date | None
    recommended: date | None
    past_due: date | None
    latest: date | None
    unadjusted_recommended: date | None = None
    unadjusted_past_due: date | None = None
    recommended_vaccines: tuple[RecommendedVaccine, ...] = ()


@dataclass(frozen=True, slots=True)
class SeriesResult:
    """Evaluation and forecast of one relevant patient series."""

    antigen: str
    series_name: str
    series_group: str
    series_type: str
    status: SeriesStatus
    reasons: tuple[str, ...]
    evaluations: tuple[DoseEvaluation, ...]
    forecast: ForecastDates | None
    valid_doses: int
    priority_forecast: bool = False


@dataclass(frozen=True, slots=True)
class AntigenResult:
    """All relevant series of an antigen and the best one(s) chosen among them."""

    antigen: str
    series: tuple[SeriesResult, ...]
    best: tuple[SeriesResult, ...]

    @property
    def primary(self) -> SeriesResult | None:
        """The best series whose evaluation is reported (the first best series)."""
        return self.best[0] if self.best else None


@dataclass(frozen=True, slots=True)
class VaccineGroupForecast:
    """Antigen forecasts merged into one forecast for a vaccine group (CDSi chapter 9)."""

    vaccine_group: str
    status: SeriesStatus
    forecast: ForecastDates | None
    antigens: tuple[str, ...]
    series: tuple[SeriesResult, ...]
    reasons: tuple[str, ...]
    dose_statuses: tuple[tuple[int, EvaluationStatus], ...]
    series_type: str = ""
    alternatives: tuple[VaccineGroupForecast, ...] = ()


@dataclass(frozen=True, slots=True)
class ForecastResult:
    assessment_date: date
    patient: Patient
    doses: tuple[AdministeredDose, ...]
    antigens: dict[str, AntigenResult]
    vaccine_groups: dict[str, VaccineGroupForecast]
    unknown_cvx: tuple[str, ...] = ()

    def dose_status(self, dose_index: int) -> EvaluationStatus | None:
        """The dose's status over every antigen it contains (Not Valid, then Valid, then Extraneous)."""
        found = {
            e.status
            for antigen in self.antigens.values()
            if antigen.primary is not None
            for e in antigen.primary.evaluations
            if e.dose_index == dose_index
        }
        for status in (EvaluationStatus.NOT_VALID, EvaluationStatus.VALID, EvaluationStatus.EXTRANEOUS):
            if status in found:
                return status
        return None
