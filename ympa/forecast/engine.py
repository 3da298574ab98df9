"""The CDSi processing model (Logic Specification v4.6, chapters 4-7).

For every antigen the engine builds the relevant patient series (chapter 5), evaluates the
antigen administered records against the series' target doses (chapter 6), forecasts the
next target dose (chapter 7) and hands the series to :mod:`ympa.forecast.selection` to
choose the best one (chapter 8). :mod:`ympa.forecast.groups` merges the antigens into
vaccine groups (chapter 9). Nothing here knows any antigen by name: all behaviour comes
from the supporting data.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import replace
from datetime import date, timedelta
from enum import Enum

from ympa.forecast.dates import MAX_DATE, MIN_DATE, Duration
from ympa.forecast.groups import merge_vaccine_groups
from ympa.forecast.loader import load_supporting_data, normalize_code
from ympa.forecast.model import (
    AgeRule,
    Antigen,
    ConditionalSkip,
    Interval,
    Series,
    SeriesDose,
    SeriesType,
    SkipCondition,
    SkipConditionType,
    SupportingData,
)
from ympa.forecast.selection import select_best
from ympa.forecast.state import Record, SeriesRun, Target, TargetStatus
from ympa.forecast.types import (
    AdministeredDose,
    AntigenResult,
    DoseEvaluation,
    EvaluationReason,
    EvaluationStatus,
    ForecastDates,
    ForecastResult,
    Patient,
    RecommendedVaccine,
    SeriesResult,
    SeriesStatus,
)

__all__ = ["forecast"]

_ONE_DAY = timedelta(days=1)
# Reasons that make a dose not valid; they are listed before merely informative ones.
_FAILING = frozenset(
    {
        EvaluationReason.TOO_OLD,
        EvaluationReason.TOO_YOUNG,
        EvaluationReason.TOO_SOON,
        EvaluationReason.LIVE_VIRUS_CONFLICT,
        EvaluationReason.NOT_ALLOWABLE,
    }
)


class _Assessment:
    """Everything about one patient at one assessment date, shared by all antigens."""

    def __init__(
        self, patient: Patient, doses: Sequence[AdministeredDose], assessment_date: date, data: SupportingData
    ) -> None:
        self.patient = patient
        self.doses = tuple(doses)
        self.assessment = assessment_date
        self.data = data
        self.birth = patient.birth_date
        # Keyed by object identity: supporting-data durations are shared, immutable and outlive
        # this assessment, and identity lookups avoid hashing the dataclass on a hot path.
        self._age_cache: dict[int, date] = {}
        self._conflict_end: dict[str, date | None] = {}
        self._rule_cache: dict[int, tuple[date, date, date | None, date | None, date]] = {}
        self.unknown_cvx: list[str] = []
        ordered = sorted(range(len(self.doses)), key=lambda i: (self.doses[i].date_administered, i))
        # Every administered dose, in date order, for rules that look across antigens
        # (live virus conflicts, intervals from the most recent dose of a vaccine type).
        self.history: list[tuple[int, AdministeredDose, str]] = [
            (i, self.doses[i], normalize_code(self.doses[i].cvx)) for i in ordered
        ]
        self.records: dict[str, list[Record]] = {}
        for index, dose, cvx in self.history:
            entry = data.cvx.get(cvx)
            if entry is None:
                self.unknown_cvx.append(dose.cvx)
                continue
            for assoc in entry.associations:
                if assoc.begin_age is not None and dose.date_administered < self.age_date(assoc.begin_age):
                    continue
                if assoc.end_age is not None and dose.date_administered >= self.age_date(assoc.end_age):
                    continue
                bucket = self.records.setdefault(assoc.antigen, [])
                bucket.append(Record(len(bucket), index, dose, cvx, dose.date_administered))
        self.active_codes = patient.active_codes(assessment_date)
        # Evaluation status of each dose (over the antigens evaluated so far), for live-virus
        # conflict end dates; conflicts judged before a dose's status was known are noted so the
        # antigen can be evaluated again once it is.
        self.dose_status: dict[int, EvaluationStatus] = {}
        self.assumed_valid: set[tuple[str, int]] = set()

    def age_date(self, age: Duration) -> date:
        cached = self._age_cache.get(id(age))
        if cached is None:
            cached = age.add_to(self.birth)
            self._age_cache[id(age)] = cached
        return cached

    def age_or(self, age: Duration | None, default: date) -> date:
        if age is None:
            return default
        cached = self._age_cache.get(id(age))
        return cached if cached is not None else self.age_date(age)

    def age_dates(self, rule: AgeRule) -> tuple[date, date, date | None, date | None, date]:
        """Absolute minimum, minimum, earliest/latest recommended and maximum age dates of a rule."""
        cached = self._rule_cache.get(id(rule))
        if cached is None:
            cached = (
                self.age_or(rule.abs_min, MIN_DATE),
                self.age_or(rule.min, MIN_DATE),
                None if rule.earliest_rec is None else self.age_date(rule.earliest_rec),
                None if rule.latest_rec is None else self.age_date(rule.latest_rec),
                self.age_or(rule.max, MAX_DATE),
            )
            self._rule_cache[id(rule)] = cached
        return cached

    def conflict_end(self, impacted_cvx: str) -> date | None:
        """CALCDTCONFLICT-3 for one impacted vaccine type: the latest conflict end over the history."""
        if impacted_cvx in self._conflict_end:
            return self._conflict_end[impacted_cvx]
        latest: date | None = None
        for conflict in self.data.conflicts_by_current.get(impacted_cvx, ()):
            for _, given, cvx in self.history:
                if given.date_administered > self.assessment:
                    break
                if cvx == conflict.previous_cvx:
                    end = conflict.end.add_to(given.date_administered)
                    if latest is None or end > latest:
                        latest = end
        self._conflict_end[impacted_cvx] = latest
        return latest


# ---- relevance (5.1)


def _series_relevant(series: Series, ctx: _Assessment) -> bool:
    if series.required_genders and ctx.patient.gender_name not in series.required_genders:
        return False
    if series.series_type in (SeriesType.STANDARD, SeriesType.EVALUATION_ONLY):
        return True
    return any(
        _observation_applies(i.observation_code, i.begin_age, i.end_age, ctx) for i in series.indications
    )


def _observation_applies(
    code: str, begin_age: Duration | None, end_age: Duration | None, ctx: _Assessment
) -> bool:
    """The patient has the observation and is within its age window on the assessment date."""
    if code not in ctx.active_codes:
        return False
    return ctx.age_or(begin_age, MIN_DATE) <= ctx.assessment < ctx.age_or(end_age, MAX_DATE)


# ---- conditional skip (6.2 / 7.1 / 7.6)


class _SkipMode(Enum):
    EVALUATE = "evaluate"
    FORECAST = "forecast"


def _condition_met(
    cond: SkipCondition,
    ctx: _Assessment,
    run: SeriesRun,
    records: list[Record],
    reference: date,
    before_position: int | None,
    runs_by_group: dict[str, list[SeriesRun]],
) -> bool:
    if cond.kind is SkipConditionType.AGE:
        begin = ctx.age_or(cond.begin_age, MIN_DATE)
        end = ctx.age_or(cond.end_age, MAX_DATE)
        return begin <= reference < end
    if cond.kind is SkipConditionType.COMPLETED_SERIES:
        return any(
            other.status is SeriesStatus.COMPLETE and other.done
            for group in cond.series_groups
            for other in runs_by_group.get(group, ())
        )
    if cond.kind is SkipConditionType.INTERVAL:
        previous = _previous_dose_day(ctx, reference, before_position, records)
        if previous is None or cond.interval is None:
            return False
        return reference >= cond.interval.add_to(previous)
    count = _count_conditional_doses(cond, ctx, run, records, before_position)
    if cond.dose_count is None:
        return False
    if cond.count_logic.startswith("greater"):
        return count > cond.dose_count
    if cond.count_logic.startswith("less"):
        return count < cond.dose_count
    return count == cond.dose_count


def _previous_dose_day(
    ctx: _Assessment, reference: date, before_position: int | None, records: list[Record]
) -> date | None:
    """CALCDTSKIP-5's "immediate previous vaccine dose administered" for this antigen."""
    if before_position is not None:
        return records[before_position - 1].day if before_position > 0 else None
    prior = [r.day for r in records if r.day <= reference]
    return prior[-1] if prior else None


def _count_conditional_doses(
    cond: SkipCondition, ctx: _Assessment, run: SeriesRun, records: list[Record], before_position: int | None
) -> int:
    """CONDSKIP-1: doses of the listed vaccine types inside the age and date windows."""
    begin = ctx.age_or(cond.begin_age, MIN_DATE)
    end = ctx.age_or(cond.end_age, MAX_DATE)
    start = cond.start_date or MIN_DATE
    stop = cond.end_date or MAX_DATE
    limit = len(records) if before_position is None else before_position
    count = 0
    for record in records[:limit]:
        if cond.vaccine_types and record.cvx not in cond.vaccine_types:
            continue
        if not (begin <= record.day < end and start <= record.day < stop):
            continue
        if cond.dose_type_valid:
            evaluation = run.evaluations[record.position]
            if evaluation is None or evaluation.status is not EvaluationStatus.VALID:
                continue
        count += 1
    return count


def _can_skip(
    dose: SeriesDose,
    mode: _SkipMode,
    ctx: _Assessment,
    run: SeriesRun,
    records: list[Record],
    reference: date,
    before_position: int | None,
    runs_by_group: dict[str, list[SeriesRun]],
) -> bool:
    for skip in dose.skips:
        if mode is _SkipMode.EVALUATE and not skip.used_for_evaluation():
            continue
        if mode is _SkipMode.FORECAST and not skip.used_for_forecast():
            continue
        if _skip_applies(skip, ctx, run, records, reference, before_position, runs_by_group):
            return True
    return False


def _skip_applies(
    skip: ConditionalSkip,
    ctx: _Assessment,
    run: SeriesRun,
    records: list[Record],
    reference: date,
    before_position: int | None,
    runs_by_group: dict[str, list[SeriesRun]],
) -> bool:
    # RELEVANT-1/2: a set only applies while its effective window covers the reference date.
    sets = [s for s in skip.sets if s.window.applies_on(reference)]
    if not sets:
        return False
    met = []
    for skip_set in sets:
        results = [
            _condition_met(c, ctx, run, records, reference, before_position, runs_by_group)
            for c in skip_set.conditions
        ]
        met.append(all(results) if skip_set.condition_logic_and else any(results))
    return all(met) if skip.set_logic_and else any(met)


# ---- evaluation (chapter 6)


def _relevant_age(dose: SeriesDose, anchor: date) -> AgeRule | None:
    for age in dose.ages:
        if age.window.applies_on(anchor):
            return age
    return None


def _reference_date(
    interval: Interval | None,
    *,
    from_previous: bool,
    from_target: int | None,
    ctx: _Assessment,
    run: SeriesRun,
    records: list[Record],
    before_position: int,
    anchor: date,
) -> date | None:
    """CALCDTINT-1/2/8/9: the date an interval is measured from (None when there is none)."""
    if from_previous:
        for position in range(before_position - 1, -1, -1):
            evaluation = run.evaluations[position]
            if evaluation is None or evaluation.inadvertent:
                continue
            if evaluation.status in (EvaluationStatus.VALID, EvaluationStatus.NOT_VALID):
                return records[position].day
        return None
    if from_target is not None:
        for target in run.targets:
            if target.dose.number == from_target and target.satisfied_by is not None:
                return target.satisfied_by.day
        return None
    if interval is not None and interval.from_most_recent:
        latest = None
        for _, dose, cvx in ctx.history:
            if dose.date_administered >= anchor:
                break
            if cvx in interval.from_most_recent:
                latest = dose.date_administered
        return latest
    if interval is not None and interval.from_observation is not None:
        days = [
            o.start
            for o in ctx.patient.observations
            if o.code == interval.from_observation and o.start is not None and o.start <= anchor
        ]
        return max(days) if days else None
    return None


def _interval_reference(
    interval: Interval,
    ctx: _Assessment,
    run: SeriesRun,
    records: list[Record],
    before_position: int,
    anchor: date,
) -> date | None:
    return _reference_date(
        interval,
        from_previous=interval.from_previous,
        from_target=interval.from_target_dose,
        ctx=ctx,
        run=run,
        records=records,
        before_position=before_position,
        anchor=anchor,
    )


def _intervals_ok(
    dose: SeriesDose, ctx: _Assessment, run: SeriesRun, records: list[Record], record: Record
) -> tuple[bool, bool]:
    """Return (satisfied, used grace period) for the preferable, then allowable, intervals."""
    failed = False
    grace = False
    for interval in dose.intervals:
        if not interval.window.applies_on(record.day):
            continue
        reference = _interval_reference(interval, ctx, run, records, record.position, record.day)
        if reference is None:
            continue
        abs_min = interval.abs_min.add_to(reference) if interval.abs_min else MIN_DATE
        minimum = interval.min.add_to(reference) if interval.min else MIN_DATE
        if record.day < abs_min:
            failed = True
            break
        if record.day < minimum:
            grace = True
    if not failed:
        return True, grace
    allowables = [a for a in dose.allowable_intervals if a.window.applies_on(record.day)]
    if not allowables:
        return False, False
    for allowable in allowables:
        reference = _reference_date(
            None,
            from_previous=allowable.from_previous,
            from_target=allowable.from_target_dose,
            ctx=ctx,
            run=run,
            records=records,
            before_position=record.position,
            anchor=record.day,
        )
        if reference is None or allowable.abs_min is None:
            continue
        if record.day < allowable.abs_min.add_to(reference):
            return False, False
    return True, False


def _live_virus_conflict(ctx: _Assessment, run: SeriesRun, records: list[Record], record: Record) -> bool:
    conflicts = ctx.data.conflicts_by_current.get(record.cvx)
    if not conflicts:
        return False
    own_status = {r.dose_index: run.evaluations[r.position] for r in records[: record.position]}
    for index, dose, cvx in ctx.history:
        if dose.date_administered >= record.day:
            break
        for conflict in conflicts:
            if conflict.previous_cvx != cvx:
                continue
            begin = conflict.begin.add_to(dose.date_administered)
            evaluation = own_status.get(index)
            status = evaluation.status if evaluation is not None else ctx.dose_status.get(index)
            if status is None:
                ctx.assumed_valid.add((run.series.antigen, index))
            # CALCDTCONFLICT-2: the shorter end applies unless the earlier dose was itself not valid.
            end_span = conflict.min_end if status in (None, EvaluationStatus.VALID) else conflict.end
            end = end_span.add_to(dose.date_administered)
            if begin <= record.day < end:
                return True
    return False


def _vaccine_ok(dose: SeriesDose, ctx: _Assessment, record: Record) -> tuple[bool, list[EvaluationReason]]:
    for vaccine in dose.preferable_vaccines:
        if vaccine.cvx != record.cvx:
            continue
        if not (
            ctx.age_or(vaccine.begin_age, MIN_DATE) <= record.day < ctx.age_or(vaccine.end_age, MAX_DATE)
        ):
            continue
        given_name = (record.dose.trade_name or "").strip().lower()
        if vaccine.trade_name and given_name and given_name != vaccine.trade_name.lower():
            continue
        if (
            vaccine.volume is not None
            and record.dose.volume is not None
            and record.dose.volume < vaccine.volume
        ):
            return True, [EvaluationReason.LOW_VOLUME]
        return True, []
    for vaccine in dose.allowable_vaccines:
        if vaccine.cvx != record.cvx:
            continue
        if ctx.age_or(vaccine.begin_age, MIN_DATE) <= record.day < ctx.age_or(vaccine.end_age, MAX_DATE):
            return True, [EvaluationReason.ALLOWABLE]
    return False, [EvaluationReason.NOT_ALLOWABLE]


def _evaluation(
    run: SeriesRun,
    record: Record,
    status: EvaluationStatus,
    reasons: tuple[EvaluationReason, ...],
    target: int | None,
    *,
    inadvertent: bool = False,
) -> DoseEvaluation:
    return DoseEvaluation(
        record.dose_index, record.dose, run.series.antigen, status, reasons, target, inadvertent
    )


def _evaluate_against(
    target_index: int, target: Target, ctx: _Assessment, run: SeriesRun, records: list[Record], record: Record
) -> DoseEvaluation:
    dose = target.dose
    number = target_index + 1
    if record.dose.condition or (
        record.dose.lot_expiration is not None and record.dose.lot_expiration < record.day
    ):
        return _evaluation(run, record, EvaluationStatus.NOT_VALID, (EvaluationReason.SUB_STANDARD,), number)
    if record.cvx in dose.inadvertent_cvx:
        return _evaluation(
            run, record, EvaluationStatus.NOT_VALID, (EvaluationReason.INADVERTENT,), number, inadvertent=True
        )
    reasons: list[EvaluationReason] = []
    age = _relevant_age(dose, record.day)
    too_old = too_young = False
    if age is not None:
        abs_min_date, min_date, _, _, max_date = ctx.age_dates(age)
        if record.day < abs_min_date:
            too_young = True
            reasons.append(EvaluationReason.TOO_YOUNG)
        elif record.day >= max_date:
            too_old = True
            reasons.append(EvaluationReason.TOO_OLD)
        elif record.day < min_date:
            reasons.append(EvaluationReason.GRACE_PERIOD)
    interval_ok, interval_grace = _intervals_ok(dose, ctx, run, records, record)
    if not interval_ok:
        reasons.append(EvaluationReason.TOO_SOON)
    elif interval_grace and EvaluationReason.GRACE_PERIOD not in reasons:
        reasons.append(EvaluationReason.GRACE_PERIOD)
    conflict = _live_virus_conflict(ctx, run, records, record)
    if conflict:
        reasons.append(EvaluationReason.LIVE_VIRUS_CONFLICT)
    vaccine_ok, vaccine_reasons = _vaccine_ok(dose, ctx, record)
    reasons.extend(vaccine_reasons)
    # Table 6-31: the first failing condition decides the status; the reasons keep every finding.
    if too_old:
        status = EvaluationStatus.EXTRANEOUS
    elif too_young or not interval_ok or conflict or not vaccine_ok:
        status = EvaluationStatus.NOT_VALID
    else:
        status = EvaluationStatus.VALID
    if status is not EvaluationStatus.VALID:
        reasons = [r for r in reasons if r in _FAILING] + [r for r in reasons if r not in _FAILING]
    return _evaluation(run, record, status, tuple(reasons), number)


def _evaluate_series(
    run: SeriesRun, ctx: _Assessment, records: list[Record], runs_by_group: dict[str, list[SeriesRun]]
) -> None:
    """Figure 4-6: walk target doses and antigen administered records together."""
    targets = run.targets
    position = 0
    current = 0
    while position < len(records):
        record = records[position]
        if current >= len(targets):
            run.evaluations[position] = _evaluation(
                run, record, EvaluationStatus.EXTRANEOUS, (EvaluationReason.SERIES_COMPLETE,), None
            )
            position += 1
            continue
        target = targets[current]
        if target.dose.skips and _can_skip(
            target.dose, _SkipMode.EVALUATE, ctx, run, records, record.day, position, runs_by_group
        ):
            target.status = TargetStatus.SKIPPED
            current += 1
            continue
        evaluation = _evaluate_against(current, target, ctx, run, records, record)
        run.evaluations[position] = evaluation
        if evaluation.status is EvaluationStatus.VALID:
            target.status = TargetStatus.SATISFIED
            target.satisfied_by = record
            run.valid_doses += 1
            if target.dose.recurring:
                targets.insert(current + 1, Target(target.dose))
            current += 1
        position += 1
    run.next_target = current


# ---- forecast (chapter 7)


def _immune(antigen: Antigen, ctx: _Assessment) -> bool:
    immunity = antigen.immunity
    if immunity.guideline_codes & ctx.active_codes:
        return True
    for rule in immunity.birth_dates:
        if ctx.birth >= rule.before:
            continue
        if rule.exclusion_codes & ctx.active_codes:
            continue
        if (
            rule.birth_country
            and ctx.patient.birth_country
            and rule.birth_country != ctx.patient.birth_country
        ):
            continue
        return True
    return False


def _antigen_contraindicated(antigen: Antigen, ctx: _Assessment) -> bool:
    return any(
        _observation_applies(c.observation_code, c.begin_age, c.end_age, ctx)
        for c in antigen.antigen_contraindications
    )


def _contraindicated_cvx(antigen: Antigen, ctx: _Assessment) -> frozenset[str]:
    blocked: set[str] = set()
    for contraindication in antigen.vaccine_contraindications:
        if contraindication.observation_code not in ctx.active_codes:
            continue
        for vaccine in contraindication.vaccines:
            begin = ctx.age_or(vaccine.begin_age, MIN_DATE)
            end = ctx.age_or(vaccine.end_age, MAX_DATE)
            if begin <= ctx.assessment < end:
                blocked.add(vaccine.cvx)
    return frozenset(blocked)


def _last_day(candidates: Iterable[date | None]) -> date | None:
    present = [c for c in candidates if c is not None]
    return max(present) if present else None


def _forecast_conflict_end(dose: SeriesDose, ctx: _Assessment) -> date | None:
    """CALCDTCONFLICT-3: the latest end of a conflict impacting the next dose's preferable vaccines."""
    return _last_day(ctx.conflict_end(vaccine.cvx) for vaccine in dose.preferable_vaccines)


def _forecast_series(
    run: SeriesRun,
    antigen: Antigen,
    ctx: _Assessment,
    records: list[Record],
    runs_by_group: dict[str, list[SeriesRun]],
    immune: bool,
    contraindicated: bool,
    blocked_cvx: frozenset[str],
) -> None:
    targets = run.targets
    while True:
        while (
            run.next_target < len(targets)
            and targets[run.next_target].dose.skips
            and _can_skip(
                targets[run.next_target].dose,
                _SkipMode.FORECAST,
                ctx,
                run,
                records,
                ctx.assessment,
                None,
                runs_by_group,
            )
        ):
            targets[run.next_target].status = TargetStatus.SKIPPED
            run.next_target += 1
        target = run.forecast_target()
        if immune:
            _finish(run, SeriesStatus.IMMUNE, "Patient has evidence of immunity")
            return
        if contraindicated or (
            target is not None
            and target.dose.preferable_vaccines
            and all(v.cvx in blocked_cvx for v in target.dose.preferable_vaccines)
        ):
            _finish(run, SeriesStatus.CONTRAINDICATED, "Patient has a contraindication")
            return
        if target is None:
            if run.valid_doses:
                _finish(run, SeriesStatus.COMPLETE, "Patient series is complete")
            else:
                _finish(
                    run,
                    SeriesStatus.NOT_RECOMMENDED,
                    "Not recommended at this time due to past immunization history",
                )
            return
        if target.dose.season_end is not None and ctx.assessment > target.dose.season_end:
            _finish(run, SeriesStatus.NOT_RECOMMENDED, "Past seasonal recommendation end date")
            return
        age = _relevant_age(target.dose, ctx.assessment)
        max_age_date = ctx.age_dates(age)[4] if age is not None else MAX_DATE
        if ctx.assessment >= max_age_date:
            _finish(run, SeriesStatus.AGED_OUT, "Patient has exceeded the maximum age")
            return
        dates = _forecast_dates(run, target, age, ctx, records)
        if dates.earliest is not None and dates.earliest >= max_age_date:
            _finish(
                run, SeriesStatus.AGED_OUT, "Patient is unable to finish the series prior to the maximum age"
            )
            return
        # 7.6 Validate recommendation: a dose that would be skipped at its own earliest date is re-forecast.
        if (
            dates.earliest is not None
            and target.dose.skips
            and _can_skip(
                target.dose, _SkipMode.FORECAST, ctx, run, records, dates.earliest, None, runs_by_group
            )
        ):
            target.status = TargetStatus.SKIPPED
            run.next_target += 1
            continue
        run.forecast = dates
        run.priority_forecast = bool(target.dose.intervals) and all(
            i.priority.lower() in {"y", "yes", "override"} for i in target.dose.intervals
        )
        _finish(run, SeriesStatus.NOT_COMPLETE, "")
        return


def _with_recommended_vaccines(run: SeriesRun, ctx: _Assessment, blocked_cvx: frozenset[str]) -> None:
    """FORECASTRECVAC-1, done only for best series since only their forecasts are reported."""
    target = run.forecast_target()
    dates = run.forecast
    if target is None or dates is None:
        return
    vaccines = tuple(
        RecommendedVaccine(v.cvx, v.vaccine_type)
        for v in target.dose.preferable_vaccines
        if v.forecast
        and v.cvx not in blocked_cvx
        and _vaccine_window_fits(v.begin_age, v.end_age, dates, ctx)
    )
    if vaccines:
        run.forecast = replace(dates, recommended_vaccines=vaccines)


def _vaccine_window_fits(
    begin: Duration | None, end: Duration | None, dates: ForecastDates, ctx: _Assessment
) -> bool:
    low = ctx.age_or(begin, MIN_DATE)
    high = ctx.age_or(end, MAX_DATE)
    return any(d is not None and low <= d < high for d in (dates.earliest, dates.recommended))


def _finish(run: SeriesRun, status: SeriesStatus, reason: str) -> None:
    run.status = status
    if reason:
        run.reasons.append(reason)
    run.done = True


def _forecast_dates(
    run: SeriesRun, target: Target, age: AgeRule | None, ctx: _Assessment, records: list[Record]
) -> ForecastDates:
    dose = target.dose
    anchor = ctx.assessment
    if age is not None:
        _, minimum_age, earliest_rec_age, latest_rec_age, max_age = ctx.age_dates(age)
        has_min = age.min is not None
    else:
        minimum_age, earliest_rec_age, latest_rec_age, max_age, has_min = (
            ctx.birth,
            None,
            None,
            MAX_DATE,
            False,
        )
    min_intervals: list[date] = []
    rec_intervals: list[date] = []
    due_intervals: list[date] = []
    count = len(records)
    for interval in dose.intervals:
        if not interval.window.applies_on(anchor):
            continue
        reference = _interval_reference(interval, ctx, run, records, count, anchor + _ONE_DAY)
        if reference is None:
            continue
        if interval.min is not None:
            min_intervals.append(interval.min.add_to(reference))
        if interval.earliest_rec is not None:
            rec_intervals.append(interval.earliest_rec.add_to(reference))
        if interval.latest_rec is not None:
            due_intervals.append(interval.latest_rec.add_to(reference))
    # FORECASTDTCAN-1: the latest of the age, interval, conflict and season dates, and never
    # before a dose already evaluated (or inadvertently given) in this series.
    earliest = minimum_age if has_min else ctx.birth
    for candidate in (*min_intervals, _forecast_conflict_end(dose, ctx), dose.season_start):
        if candidate is not None and candidate > earliest:
            earliest = candidate
    for i, evaluation in enumerate(run.evaluations):
        if evaluation is not None and (evaluation.target_dose is not None or evaluation.inadvertent):
            earliest = max(earliest, records[i].day)
    if earliest_rec_age is not None:
        unadjusted_rec: date | None = earliest_rec_age
    elif rec_intervals:
        unadjusted_rec = max(rec_intervals)
    else:
        unadjusted_rec = earliest
    if latest_rec_age is not None:
        unadjusted_due: date | None = latest_rec_age - _ONE_DAY
    elif due_intervals:
        unadjusted_due = max(due_intervals) - _ONE_DAY
    else:
        unadjusted_due = None
    latest = max_age - _ONE_DAY if max_age != MAX_DATE else None
    recommended = max(earliest, unadjusted_rec) if earliest and unadjusted_rec else earliest or unadjusted_rec
    past_due = max(earliest, unadjusted_due) if earliest and unadjusted_due else unadjusted_due
    satisfied = 0
    for t in run.targets:
        if t.status is not TargetStatus.SATISFIED:
            continue
        start = t.dose.season_start
        if start is None or (t.satisfied_by is not None and t.satisfied_by.day >= start):
            satisfied += 1
    return ForecastDates(
        dose_number=satisfied + 1,
        earliest=earliest,
        recommended=recommended,
        past_due=past_due,
        latest=latest,
        unadjusted_recommended=unadjusted_rec,
        unadjusted_past_due=unadjusted_due,
    )


# ---- driver


def _run_antigen(antigen: Antigen, ctx: _Assessment) -> list[SeriesRun]:
    records = ctx.records.get(antigen.name, [])
    runs = [
        SeriesRun(s, [Target(d) for d in s.doses], [None] * len(records))
        for s in antigen.series
        if _series_relevant(s, ctx)
    ]
    runs_by_group: dict[str, list[SeriesRun]] = {}
    for run in runs:
        runs_by_group.setdefault(run.series.group, []).append(run)
    immune = _immune(antigen, ctx)
    contraindicated = _antigen_contraindicated(antigen, ctx)
    blocked = _contraindicated_cvx(antigen, ctx)
    # Series referenced by "Completed Series" skip conditions are finished first.
    for run in sorted(runs, key=lambda r: _group_rank(r.series.group)):
        _evaluate_series(run, ctx, records, runs_by_group)
        _forecast_series(run, antigen, ctx, records, runs_by_group, immune, contraindicated, blocked)
    return runs


def _group_rank(group: str) -> tuple[int, str]:
    return (int(group), group) if group.isdigit() else (10_000, group)


def _series_result(run: SeriesRun, antigen: str, records: list[Record]) -> SeriesResult:
    evaluations = tuple(e for e in run.evaluations if e is not None)
    return SeriesResult(
        antigen=antigen,
        series_name=run.series.name,
        series_group=run.series.group,
        series_type=run.series.series_type.value,
        status=run.status,
        reasons=tuple(run.reasons),
        evaluations=evaluations,
        forecast=run.forecast,
        valid_doses=run.valid_doses,
        priority_forecast=run.priority_forecast,
    )


def _antigen_result(antigen: Antigen, ctx: _Assessment) -> AntigenResult:
    name = antigen.name
    runs = _run_antigen(antigen, ctx)
    records = ctx.records.get(name, [])
    best_runs = select_best(runs, ctx.age_date, ctx.assessment)
    blocked = _contraindicated_cvx(antigen, ctx)
    for run in best_runs:
        _with_recommended_vaccines(run, ctx, blocked)
    if best_runs:
        for position, evaluation in enumerate(best_runs[0].evaluations):
            if evaluation is None:
                continue
            index = records[position].dose_index
            # A dose not valid for any antigen of a combination vaccine counts as not valid.
            if ctx.dose_status.get(index) is not EvaluationStatus.NOT_VALID:
                ctx.dose_status[index] = evaluation.status
    results = {id(run): _series_result(run, name, records) for run in runs}
    return AntigenResult(
        antigen=name,
        series=tuple(results[id(r)] for r in runs),
        best=tuple(results[id(r)] for r in best_runs),
    )


def forecast(
    patient: Patient,
    doses: Sequence[AdministeredDose],
    assessment_date: date,
    data: SupportingData | None = None,
    antigens: Collection[str] | None = None,
) -> ForecastResult:
    """Evaluate ``doses`` and forecast every antigen and vaccine group at ``assessment_date``.

    With ``antigens``, only those antigens and the vaccine groups they make up. The caller makes the set
    complete (``ympa.forecast.affected``): whole vaccine groups, and every antigen of an earlier live vaccine
    whose evaluation a live-virus conflict reads; an incomplete set gives answers the full run would not.
    """
    supporting = data if data is not None else load_supporting_data()
    ctx = _Assessment(patient, doses, assessment_date, supporting)
    evaluated = [
        (name, antigen)
        for name, antigen in supporting.antigens.items()
        if antigens is None or name in antigens
    ]
    antigen_results = {name: _antigen_result(antigen, ctx) for name, antigen in evaluated}
    revisit = {
        name for name, index in ctx.assumed_valid if ctx.dose_status.get(index) is EvaluationStatus.NOT_VALID
    }
    for name, antigen in evaluated:
        if name in revisit:
            antigen_results[name] = _antigen_result(antigen, ctx)
    groups = merge_vaccine_groups(supporting, antigen_results, ctx.history, assessment_date)
    return ForecastResult(
        assessment_date=assessment_date,
        patient=patient,
        doses=ctx.doses,
        antigens=antigen_results,
        vaccine_groups=groups,
        unknown_cvx=tuple(ctx.unknown_cvx),
    )
