"""Helpers shared by the Swedish schedule tests."""

from collections.abc import Iterable
from datetime import date

from ympa.forecast import (
    AdministeredDose,
    ForecastDates,
    ForecastResult,
    Observation,
    Patient,
    SeriesStatus,
    SupportingData,
    forecast,
)
from ympa.forecast.dates import parse_duration


def at_age(birth: date, text: str) -> date:
    """The patient's date at a supporting-data age such as ``"3 months"``."""
    duration = parse_duration(text)
    assert duration is not None
    return duration.add_to(birth)


def run(
    data: SupportingData,
    birth: date,
    doses: Iterable[tuple[date, str] | tuple[date, str, str]],
    assessment: date,
    observations: Iterable[str] = (),
) -> ForecastResult:
    """Forecast for a patient given (date, code[, trade name]) doses."""
    given = [AdministeredDose(d[0], d[1], trade_name=d[2] if len(d) > 2 else None) for d in doses]
    patient = Patient(birth, "F", [Observation(code) for code in observations])
    return forecast(patient, given, assessment, data)


def due(result: ForecastResult, group: str) -> ForecastDates:
    """The forecast of a vaccine group that still needs a dose."""
    forecast_group = result.vaccine_groups[group]
    assert forecast_group.status is SeriesStatus.NOT_COMPLETE, forecast_group
    assert forecast_group.forecast is not None
    return forecast_group.forecast


def status(result: ForecastResult, group: str) -> SeriesStatus:
    return result.vaccine_groups[group].status
