"""The bridge from record data to the CDSi engine, in plain Python (no Django), so that bulk refreshes can run
the engine in worker processes."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from ympa.forecast import (
    AdministeredDose,
    ForecastResult,
    Observation,
    SupportingData,
    forecast,
    load_schedule_set,
)
from ympa.forecast import Patient as EnginePatient
from ympa.forecast.affected import affected_antigens
from ympa.forecast.model import Antigen, SeriesType

GENDERS = {"female": "F", "male": "M"}


@dataclass(frozen=True)
class GivenDose:
    day: date
    code: str
    volume: Decimal | None


def _standard_series_open(antigen: Antigen, birth_date: date, day: date) -> bool:
    """Whether a standard (not risk-based) series of the antigen can be started at this age."""
    for series in antigen.series:
        if series.series_type != SeriesType.STANDARD:
            continue
        if series.min_age_to_start is not None and day < series.min_age_to_start.add_to(birth_date):
            continue
        if series.max_age_to_start is not None and day >= series.max_age_to_start.add_to(birth_date):
            continue
        return True
    return False


def implied_observations(
    birth_date: date, doses: Sequence[GivenDose], data: SupportingData
) -> list[Observation]:
    """Indications implied by the history.

    A vaccine was given because it was indicated: when no standard series of its antigen was open at that age
    (TBE, travel hepatitis, influenza before 65, ...), the patient had the indication of the risk series from
    that dose on. An infant's dose in the standard programme implies nothing.
    """
    first_by_code: dict[str, date] = {}
    for dose in doses:
        for group, codes in data.cvx_of_group.items():
            if dose.code not in codes:
                continue
            for name in data.vaccine_groups[group].antigens:
                antigen = data.antigens[name]
                if _standard_series_open(antigen, birth_date, dose.day):
                    continue
                for series in antigen.series:
                    for indication in series.indications:
                        code = indication.observation_code
                        first_by_code[code] = min(first_by_code.get(code, dose.day), dose.day)
    return [Observation(code, start) for code, start in sorted(first_by_code.items())]


@dataclass(frozen=True)
class PatientFacts:
    """What the engine needs to know about one patient, as plain picklable values."""

    patient_id: str
    birth_date: date
    legal_sex: str
    doses: tuple[GivenDose, ...]
    conditions: tuple[Observation, ...] = ()


def run_for(
    birth_date: date,
    legal_sex: str,
    doses: Sequence[GivenDose],
    data: SupportingData,
    on: date,
    conditions: Sequence[Observation] = (),
    antigens: Collection[str] | None = None,
) -> ForecastResult:
    """Run the engine with the recorded conditions and the indications the history implies (only for
    `antigens` when given: see `antigens_changed_by`)."""
    gender = GENDERS.get(legal_sex, "U")
    observations = [*conditions, *implied_observations(birth_date, doses, data)]
    patient = EnginePatient(birth_date, gender, observations=observations)
    given = [
        AdministeredDose(d.day, d.code, volume=float(d.volume) if d.volume is not None else None)
        for d in doses
    ]
    return forecast(patient, given, assessment_date=on, data=data, antigens=antigens)


def antigens_changed_by(
    birth_date: date, before: Sequence[GivenDose], dose: GivenDose, data: SupportingData
) -> frozenset[str]:
    """The antigens whose evaluation or forecast adding `dose` to the history `before` can change.

    The engine's links between antigens (`ympa.forecast.affected`), plus the indications the dose implies
    here (`implied_observations`) that the history did not already imply from that date or earlier.
    """
    was = {o.code: o.start for o in implied_observations(birth_date, before, data)}
    now = {o.code: o.start for o in implied_observations(birth_date, [*before, dose], data)}
    changed = [code for code, start in now.items() if was.get(code) != start]
    return affected_antigens(data, dose.code, present={d.code for d in before}, observations=changed)


ForecastRow = tuple[str, str, str, int | None, date | None, date | None, date | None, date | None]


def rows_from_result(patient_id: str, result: ForecastResult) -> list[ForecastRow]:
    """(patient id, vaccine group, status, dose number, earliest, recommended, past due, latest) per group."""
    rows: list[ForecastRow] = []
    for name, group in result.vaccine_groups.items():
        dates = group.forecast
        rows.append(
            (
                patient_id,
                name,
                str(group.status),
                dates.dose_number if dates else None,
                dates.earliest if dates else None,
                dates.recommended if dates else None,
                dates.past_due if dates else None,
                dates.latest if dates else None,
            )
        )
    return rows


def forecast_rows_for(
    key_data: SupportingData, patients: Sequence[PatientFacts], on: date
) -> list[ForecastRow]:
    return [
        row
        for p in patients
        for row in rows_from_result(
            p.patient_id, run_for(p.birth_date, p.legal_sex, p.doses, key_data, on, p.conditions)
        )
    ]


def data_for_key(key: str) -> SupportingData:
    """The supporting data behind a schedule key ("<set>:<options as JSON>"), loaded once per process."""
    name, _sep, options = key.partition(":")
    return load_schedule_set(name, options=json.loads(options) or None)


def compute_rows(key: str, patients: Sequence[PatientFacts], on: date) -> list[ForecastRow]:
    """Entry point for worker processes: plain, picklable arguments in, rows out."""
    return forecast_rows_for(data_for_key(key), patients, on)
