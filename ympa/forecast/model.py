"""Typed, immutable view of the CDC CDSi supporting data (antigen and schedule XML).

Every class mirrors one logical component of the supporting data; names follow the XML
elements so a reader can check them against the XSD. Empty XML values become ``None``
(or an empty collection) so the engine can apply the specification's "assumed value if
empty" rules itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from ympa.forecast.dates import Duration

__all__ = [
    "AgeRule",
    "AllowableInterval",
    "Antigen",
    "AntigenContraindication",
    "CvxAssociation",
    "CvxEntry",
    "Immunity",
    "ImmunityBirthDate",
    "Indication",
    "Interval",
    "LiveVirusConflict",
    "ObservationDefinition",
    "ScheduleParameter",
    "Series",
    "SeriesDose",
    "SeriesType",
    "SeriesVaccine",
    "SkipCondition",
    "SkipConditionType",
    "SkipContext",
    "SkipSet",
    "SupportingData",
    "VaccineContraindication",
    "VaccineGroup",
]


class SeriesType(StrEnum):
    STANDARD = "Standard"
    RISK = "Risk"
    EVALUATION_ONLY = "Evaluation Only"


class SkipContext(StrEnum):
    EVALUATION = "Evaluation"
    FORECAST = "Forecast"
    BOTH = "Both"


class SkipConditionType(StrEnum):
    AGE = "Age"
    COMPLETED_SERIES = "Completed Series"
    INTERVAL = "Interval"
    VACCINE_COUNT_BY_AGE = "Vaccine Count by Age"
    VACCINE_COUNT_BY_DATE = "Vaccine Count by Date"


@dataclass(frozen=True, slots=True)
class Effective:
    """Mixin-like pair of effective/cessation dates (RELEVANT-1/2)."""

    effective: date | None
    cessation: date | None

    def applies_on(self, anchor: date) -> bool:
        if self.effective is not None and anchor < self.effective:
            return False
        return not (self.cessation is not None and anchor > self.cessation)


@dataclass(frozen=True, slots=True)
class AgeRule:
    abs_min: Duration | None
    min: Duration | None
    earliest_rec: Duration | None
    latest_rec: Duration | None
    max: Duration | None
    window: Effective


@dataclass(frozen=True, slots=True)
class Interval:
    """A preferable interval. Exactly one reference kind is normally set."""

    from_previous: bool
    from_target_dose: int | None
    from_most_recent: frozenset[str]
    from_observation: str | None
    abs_min: Duration | None
    min: Duration | None
    earliest_rec: Duration | None
    latest_rec: Duration | None
    priority: str
    window: Effective


@dataclass(frozen=True, slots=True)
class AllowableInterval:
    from_previous: bool
    from_target_dose: int | None
    abs_min: Duration | None
    window: Effective


@dataclass(frozen=True, slots=True)
class SeriesVaccine:
    """A preferable or allowable vaccine of a series dose (allowable ones carry no trade name/volume)."""

    vaccine_type: str
    cvx: str
    begin_age: Duration | None
    end_age: Duration | None
    trade_name: str | None = None
    mvx: str | None = None
    volume: float | None = None
    forecast: bool = False


@dataclass(frozen=True, slots=True)
class SkipCondition:
    kind: SkipConditionType
    start_date: date | None
    end_date: date | None
    begin_age: Duration | None
    end_age: Duration | None
    interval: Duration | None
    dose_count: int | None
    dose_type_valid: bool
    count_logic: str
    vaccine_types: frozenset[str]
    series_groups: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SkipSet:
    set_id: str
    description: str
    window: Effective
    condition_logic_and: bool
    conditions: tuple[SkipCondition, ...]


@dataclass(frozen=True, slots=True)
class ConditionalSkip:
    context: SkipContext
    set_logic_and: bool
    sets: tuple[SkipSet, ...]

    def used_for_evaluation(self) -> bool:
        return self.context in (SkipContext.EVALUATION, SkipContext.BOTH)

    def used_for_forecast(self) -> bool:
        return self.context in (SkipContext.FORECAST, SkipContext.BOTH)


@dataclass(frozen=True, slots=True)
class SeriesDose:
    number: int
    ages: tuple[AgeRule, ...]
    intervals: tuple[Interval, ...]
    allowable_intervals: tuple[AllowableInterval, ...]
    preferable_vaccines: tuple[SeriesVaccine, ...]
    allowable_vaccines: tuple[SeriesVaccine, ...]
    inadvertent_cvx: frozenset[str]
    skips: tuple[ConditionalSkip, ...]
    recurring: bool
    season_start: date | None
    season_end: date | None


@dataclass(frozen=True, slots=True)
class Indication:
    observation_code: str
    description: str
    begin_age: Duration | None
    end_age: Duration | None


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    antigen: str
    vaccine_group: str
    series_type: SeriesType
    equivalent_groups: frozenset[str]
    required_genders: frozenset[str]
    default: bool
    product_path: bool
    group: str
    group_name: str
    priority: str
    preference: int
    min_age_to_start: Duration | None
    max_age_to_start: Duration | None
    indications: tuple[Indication, ...]
    doses: tuple[SeriesDose, ...]
    admin_guidance: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ImmunityBirthDate:
    before: date
    birth_country: str | None
    exclusion_codes: frozenset[str]


@dataclass(frozen=True, slots=True)
class Immunity:
    guideline_codes: frozenset[str]
    birth_dates: tuple[ImmunityBirthDate, ...]


@dataclass(frozen=True, slots=True)
class AntigenContraindication:
    observation_code: str
    text: str
    begin_age: Duration | None
    end_age: Duration | None


@dataclass(frozen=True, slots=True)
class VaccineContraindication:
    observation_code: str
    text: str
    vaccines: tuple[SeriesVaccine, ...]


@dataclass(frozen=True, slots=True)
class Antigen:
    name: str
    series: tuple[Series, ...]
    immunity: Immunity
    antigen_contraindications: tuple[AntigenContraindication, ...]
    vaccine_contraindications: tuple[VaccineContraindication, ...]


@dataclass(frozen=True, slots=True)
class LiveVirusConflict:
    previous_cvx: str
    current_cvx: str
    begin: Duration
    min_end: Duration
    end: Duration


@dataclass(frozen=True, slots=True)
class VaccineGroup:
    name: str
    administer_full_group: bool
    antigens: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CvxAssociation:
    antigen: str
    begin_age: Duration | None
    end_age: Duration | None


@dataclass(frozen=True, slots=True)
class CvxEntry:
    cvx: str
    description: str
    associations: tuple[CvxAssociation, ...]


@dataclass(frozen=True, slots=True)
class ObservationDefinition:
    code: str
    title: str
    indication_text: str
    contraindication_text: str
    coded_values: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class ScheduleParameter:
    """A choice a schedule set leaves to the care provider (Ympa extension, ``ScheduleParameters.xml``)."""

    name: str
    default: str
    allowed: tuple[str, ...]
    description: str


@dataclass(frozen=True, slots=True)
class SupportingData:
    """All supporting data of one CDSi release (or schedule set), indexed for the engine.

    ``options`` records the schedule-parameter values the data were loaded with.
    """

    version: str
    antigens: dict[str, Antigen]
    vaccine_groups: dict[str, VaccineGroup]
    cvx: dict[str, CvxEntry]
    conflicts_by_current: dict[str, tuple[LiveVirusConflict, ...]]
    observations: dict[str, ObservationDefinition]
    cvx_of_group: dict[str, frozenset[str]] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)
