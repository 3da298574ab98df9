"""Working state of the engine while one patient series is evaluated and forecast."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import Enum

from ympa.forecast.model import Series, SeriesDose
from ympa.forecast.types import AdministeredDose, DoseEvaluation, ForecastDates, SeriesStatus

__all__ = ["Record", "SeriesRun", "Target", "TargetStatus"]


class TargetStatus(Enum):
    NOT_SATISFIED = "Not Satisfied"
    SATISFIED = "Satisfied"
    SKIPPED = "Skipped"


@dataclass(slots=True)
class Record:
    """An antigen administered record: one antigen of one administered dose (section 4.2)."""

    position: int
    dose_index: int
    dose: AdministeredDose
    cvx: str
    day: date


@dataclass(slots=True)
class Target:
    dose: SeriesDose
    status: TargetStatus = TargetStatus.NOT_SATISFIED
    satisfied_by: Record | None = None


@dataclass(slots=True)
class SeriesRun:
    """Mutable working state of one relevant patient series while it is evaluated and forecast."""

    series: Series
    targets: list[Target]
    evaluations: list[DoseEvaluation | None]
    next_target: int = 0
    status: SeriesStatus = SeriesStatus.NOT_COMPLETE
    reasons: list[str] = field(default_factory=list)
    forecast: ForecastDates | None = None
    priority_forecast: bool = False
    done: bool = False
    valid_doses: int = 0

    def forecast_target(self) -> Target | None:
        return self.targets[self.next_target] if self.next_target < len(self.targets) else None
