"""Merge antigen forecasts into vaccine-group forecasts (Logic Specification v4.6, chapter 9)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date

from ympa.forecast.model import SupportingData, VaccineGroup
from ympa.forecast.types import (
    AdministeredDose,
    AntigenResult,
    EvaluationStatus,
    ForecastDates,
    RecommendedVaccine,
    SeriesResult,
    SeriesStatus,
    VaccineGroupForecast,
)

__all__ = ["merge_vaccine_groups"]

# When one antigen has several best series of the same type (e.g. a childhood and an adult
# series group), the one still asking for a dose speaks for the antigen; a finished series
# outranks one that merely aged out or was never started.
_SINGLE_ANTIGEN_ORDER = (
    SeriesStatus.NOT_COMPLETE,
    SeriesStatus.COMPLETE,
    SeriesStatus.IMMUNE,
    SeriesStatus.NOT_RECOMMENDED,
    SeriesStatus.AGED_OUT,
    SeriesStatus.CONTRAINDICATED,
)

# A dose extra for one antigen of a combination vaccine still counts for the others.
_DOSE_STATUS_ORDER = (EvaluationStatus.NOT_VALID, EvaluationStatus.VALID, EvaluationStatus.EXTRANEOUS)


def _antigen_status(series: Sequence[SeriesResult]) -> tuple[SeriesStatus, list[SeriesResult]]:
    for status in _SINGLE_ANTIGEN_ORDER:
        chosen = [s for s in series if s.status is status]
        if chosen:
            return status, chosen
    return SeriesStatus.NOT_COMPLETE, list(series)


def _multi_antigen_status(statuses: Sequence[SeriesStatus]) -> SeriesStatus:
    """Table 9-4."""
    for status in (SeriesStatus.CONTRAINDICATED, SeriesStatus.AGED_OUT, SeriesStatus.NOT_RECOMMENDED):
        if status in statuses:
            return status
    if SeriesStatus.NOT_COMPLETE in statuses:
        return SeriesStatus.NOT_COMPLETE
    if statuses and all(s is SeriesStatus.IMMUNE for s in statuses):
        return SeriesStatus.IMMUNE
    return SeriesStatus.COMPLETE


def _min(values: Sequence[date | None]) -> date | None:
    present = [v for v in values if v is not None]
    return min(present) if present else None


def _max(values: Sequence[date | None]) -> date | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def _blend(
    data: SupportingData,
    group: VaccineGroup,
    per_antigen: dict[str, list[SeriesResult]],
    history: Sequence[tuple[int, AdministeredDose, str]],
    assessment: date,
) -> tuple[SeriesStatus, ForecastDates | None, list[SeriesResult]]:
    statuses: list[SeriesStatus] = []
    reporting: list[SeriesResult] = []
    for series in per_antigen.values():
        status, chosen = _antigen_status(series)
        statuses.append(status)
        reporting.extend(chosen)
    multi = len(group.antigens) > 1
    status = _multi_antigen_status(statuses) if multi else statuses[0]
    if status is not SeriesStatus.NOT_COMPLETE:
        return status, None, reporting
    forecasts = [
        s.forecast for s in reporting if s.forecast is not None and s.status is SeriesStatus.NOT_COMPLETE
    ]
    if not forecasts:
        return status, None, reporting
    earliest_values = [f.earliest for f in forecasts]
    if not multi:
        earliest = _min(earliest_values)
    elif any(s.priority_forecast for s in reporting if s.forecast is not None):
        # MULTIANTVG-1: a priority forecast may not come before the latest dose of this vaccine group.
        group_cvx = data.cvx_of_group.get(group.name, frozenset())
        last_given = _max(
            [
                d.date_administered
                for _, d, cvx in history
                if cvx in group_cvx and d.date_administered <= assessment
            ]
        )
        earliest = _max([_min(earliest_values), last_given])
    else:
        earliest = _max(earliest_values)
    recommended = _max([_min([f.recommended for f in forecasts]), earliest])
    due = _min([f.past_due for f in forecasts])
    past_due = _max([due, earliest]) if due is not None else None
    numbers = [f.dose_number for f in forecasts if f.dose_number is not None]
    if numbers:
        number: int | None = min(numbers) if group.administer_full_group else max(numbers)
    else:
        number = None
    vaccines: list[RecommendedVaccine] = []
    for f in forecasts:
        vaccines.extend(v for v in f.recommended_vaccines if v not in vaccines)
    dates = ForecastDates(
        dose_number=number,
        earliest=earliest,
        recommended=recommended,
        past_due=past_due,
        latest=_min([f.latest for f in forecasts]),
        unadjusted_recommended=_min([f.unadjusted_recommended for f in forecasts]),
        unadjusted_past_due=_min([f.unadjusted_past_due for f in forecasts]),
        recommended_vaccines=tuple(vaccines),
    )
    return status, dates, reporting


def _dose_statuses(reporting: Sequence[SeriesResult]) -> tuple[tuple[int, EvaluationStatus], ...]:
    by_dose: dict[int, set[EvaluationStatus]] = {}
    for series in reporting:
        for evaluation in series.evaluations:
            by_dose.setdefault(evaluation.dose_index, set()).add(evaluation.status)
    result = []
    for index in sorted(by_dose):
        found = by_dose[index]
        result.append((index, next(s for s in _DOSE_STATUS_ORDER if s in found)))
    return tuple(result)


def _earliest_of(forecast: VaccineGroupForecast) -> date:
    return forecast.forecast.earliest if forecast.forecast and forecast.forecast.earliest else date.max


def merge_vaccine_groups(
    data: SupportingData,
    antigens: dict[str, AntigenResult],
    history: Sequence[tuple[int, AdministeredDose, str]],
    assessment: date,
) -> dict[str, VaccineGroupForecast]:
    """Build one forecast per vaccine group from the best series of its antigens."""
    result: dict[str, VaccineGroupForecast] = {}
    for group in data.vaccine_groups.values():
        members = [antigens[a] for a in group.antigens if a in antigens]
        if not members:
            continue
        # Section 4.6: blend only best series of the same type (standard with standard, risk with risk).
        blends: dict[str, dict[str, list[SeriesResult]]] = {}
        for member in members:
            for series in member.best:
                blends.setdefault(series.series_type, {}).setdefault(member.antigen, []).append(series)
        forecasts = []
        for series_type, per_antigen in blends.items():
            status, dates, reporting = _blend(data, group, per_antigen, history, assessment)
            forecasts.append(
                VaccineGroupForecast(
                    vaccine_group=group.name,
                    status=status,
                    forecast=dates,
                    antigens=group.antigens,
                    series=tuple(reporting),
                    reasons=tuple(dict.fromkeys(r for s in reporting for r in s.reasons)),
                    dose_statuses=_dose_statuses(reporting),
                    series_type=series_type,
                )
            )
        if not forecasts:
            result[group.name] = VaccineGroupForecast(
                vaccine_group=group.name,
                status=SeriesStatus.NOT_RECOMMENDED,
                forecast=None,
                antigens=group.antigens,
                series=(),
                reasons=("No relevant patient series",),
                dose_statuses=(),
            )
            continue
        # A recommendation that still needs a dose (often a risk-based one) takes precedence; the
        # blends of the other series types stay available as alternatives.
        due = [f for f in forecasts if f.status is SeriesStatus.NOT_COMPLETE and f.forecast is not None]
        chosen = min(due, key=_earliest_of) if due else forecasts[0]
        others = tuple(f for f in forecasts if f is not chosen)
        result[group.name] = replace(chosen, alternatives=others) if others else chosen
    return result
