"""Select the best patient series of an antigen (Logic Specification v4.6, chapter 8)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date

from ympa.forecast.dates import MAX_DATE, Duration
from ympa.forecast.model import SeriesType
from ympa.forecast.state import SeriesRun, TargetStatus
from ympa.forecast.types import EvaluationStatus, SeriesStatus

__all__ = ["AgeDate", "select_best"]

# The patient's date at a given age (date of birth plus the duration), memoised by the caller.
AgeDate = Callable[[Duration], date]


def _earliest_valid_day(run: SeriesRun) -> date | None:
    days = [t.satisfied_by.day for t in run.targets if t.satisfied_by is not None]
    return min(days) if days else None


def _starts_in_time(run: SeriesRun, age_date: AgeDate) -> bool:
    """SELECTSCORE-2: the first valid dose was given before the series' maximum age to start."""
    limit = run.series.max_age_to_start
    first = _earliest_valid_day(run)
    return limit is None or (first is not None and first < age_date(limit))


def _old_enough_to_start(run: SeriesRun, age_date: AgeDate, assessment: date) -> bool:
    """A series with no valid dose is not started before its minimum age to start."""
    limit = run.series.min_age_to_start
    return run.valid_doses > 0 or limit is None or assessment >= age_date(limit)


def _is_complete(run: SeriesRun) -> bool:
    return run.status is SeriesStatus.COMPLETE


def _is_in_process(run: SeriesRun) -> bool:
    return run.valid_doses > 0 and run.status is SeriesStatus.NOT_COMPLETE


def _finish_date(run: SeriesRun) -> date | None:
    """SELECTB-12: the forecast earliest date plus the minimum intervals of the doses still to come."""
    if run.forecast is None or run.forecast.earliest is None:
        return None
    finish = run.forecast.earliest
    for target in run.targets[run.next_target + 1 :]:
        spans = [i.min for i in target.dose.intervals if i.min is not None]
        if spans:
            finish = max(span.add_to(finish) for span in spans)
    return finish


def _completable(run: SeriesRun, age_date: AgeDate) -> bool:
    """SELECTB-3: the series can be finished before the maximum age of its last target dose."""
    finish = _finish_date(run)
    if finish is None:
        return False
    last = run.targets[-1].dose if run.targets else None
    maximum = MAX_DATE
    if last is not None:
        for age in last.ages:
            if age.max is not None:
                maximum = age_date(age.max)
                break
    return finish < maximum


def _all_valid(run: SeriesRun) -> bool:
    return all(
        e is None or e.target_dose is None or e.status is EvaluationStatus.VALID for e in run.evaluations
    )


def _remaining(run: SeriesRun) -> int:
    return sum(1 for t in run.targets if t.status is TargetStatus.NOT_SATISFIED)


def _award(
    runs: Sequence[SeriesRun],
    scores: dict[int, int],
    holds: Callable[[SeriesRun], bool],
    alone: int,
    tie: int | None,
    not_true: int,
) -> None:
    """Apply one scoring row: points when it holds for one series, for several (tie), or not at all."""
    holding = [r for r in runs if holds(r)]
    for run in runs:
        if run not in holding:
            scores[id(run)] += not_true
        elif len(holding) > 1 and tie is not None:
            scores[id(run)] += tie
        else:
            scores[id(run)] += alone


def _extreme(
    runs: Sequence[SeriesRun], key: Callable[[SeriesRun], date | int | None], *, lowest: bool
) -> set[int]:
    values = [(key(r), r) for r in runs]
    present = [(v, r) for v, r in values if v is not None]
    if not present:
        return set()
    target = min(v for v, _ in present) if lowest else max(v for v, _ in present)
    return {id(r) for v, r in present if v == target}


def _score(runs: list[SeriesRun], age_date: AgeDate, kind: str) -> dict[int, int]:
    scores = {id(r): 0 for r in runs}
    if kind == "complete":
        most = _extreme(runs, lambda r: r.valid_doses, lowest=False)
        _award(runs, scores, lambda r: id(r) in most, 1, 0, -1)
        return scores
    if kind == "in-process":
        _award(runs, scores, lambda r: r.series.product_path and _all_valid(r), 2, None, -2)
        _award(runs, scores, lambda r: _completable(r, age_date), 3, None, -3)
        most = _extreme(runs, lambda r: r.valid_doses, lowest=False)
        _award(runs, scores, lambda r: id(r) in most, 2, 0, -2)
        closest = _extreme(runs, _remaining, lowest=True)
        _award(runs, scores, lambda r: id(r) in closest, 2, 0, -2)
        completable = [r for r in runs if _completable(r, age_date)]
        earliest = _extreme(completable, _finish_date, lowest=True)
        _award(runs, scores, lambda r: id(r) in earliest, 1, 0, -1)
        return scores
    starts = _extreme(runs, lambda r: r.forecast.earliest if r.forecast else None, lowest=True)
    _award(runs, scores, lambda r: id(r) in starts, 1, 0, -1)
    _award(runs, scores, lambda r: _completable(r, age_date), 1, None, -1)
    _award(runs, scores, lambda r: r.series.product_path, -1, None, 1)
    return scores


def _pick(runs: list[SeriesRun], scores: dict[int, int]) -> SeriesRun:
    # SELECTBEST-2: highest score, then the best (lowest) series preference, then data order.
    return max(runs, key=lambda r: (scores[id(r)], -r.series.preference, -runs.index(r)))


def _prioritized(group_runs: list[SeriesRun], age_date: AgeDate, assessment: date) -> SeriesRun | None:
    candidates = [r for r in group_runs if r.status is not SeriesStatus.CONTRAINDICATED] or list(group_runs)
    best_priority = min((r.series.priority for r in group_runs), default="A")
    no_valid_anywhere = all(r.valid_doses == 0 for r in group_runs)
    defaults = [r for r in group_runs if r.series.default and _old_enough_to_start(r, age_date, assessment)]
    scorable = []
    for run in candidates:
        kind = run.series.series_type
        if (
            (kind is SeriesType.RISK and run.series.priority <= best_priority)
            or (kind is SeriesType.STANDARD and run.valid_doses > 0 and _starts_in_time(run, age_date))
            or (
                kind is SeriesType.STANDARD
                and no_valid_anywhere
                and not defaults
                and _old_enough_to_start(run, age_date, assessment)
            )
            or (kind is SeriesType.EVALUATION_ONLY and _is_complete(run))
        ):
            scorable.append(run)
    # Table 8-3: shortcuts when one series is obviously the prioritized one.
    if not scorable:
        return defaults[0] if len(defaults) == 1 else None
    if len(scorable) == 1:
        return scorable[0]
    complete = [r for r in scorable if _is_complete(r)]
    in_process = [r for r in scorable if _is_in_process(r)]
    if len(complete) == 1:
        return complete[0]
    if not complete and len(in_process) == 1:
        return in_process[0]
    if not complete and not in_process:
        scorable_defaults = [r for r in scorable if r.series.default] or defaults
        if len(scorable_defaults) == 1:
            return scorable_defaults[0]
    # Table 8-5: which series compete, and by which scoring table.
    if len(complete) > 1:
        pool, kind_name = complete, "complete"
    elif len(in_process) > 1:
        pool, kind_name = in_process, "in-process"
    elif all(r.valid_doses == 0 for r in scorable):
        pool, kind_name = scorable, "no-valid"
    else:
        pool, kind_name = scorable, "in-process"
    return _pick(pool, _score(pool, age_date, kind_name))


def select_best(runs: list[SeriesRun], age_date: AgeDate, assessment: date) -> list[SeriesRun]:
    """Return the best patient series of one antigen (Table 8-14), standard ones first."""
    groups: dict[str, list[SeriesRun]] = {}
    for run in runs:
        groups.setdefault(run.series.group, []).append(run)
    prioritized = {
        group: p for group, members in groups.items() if (p := _prioritized(members, age_date, assessment))
    }
    best = []
    for group, run in prioritized.items():
        equivalents = [
            prioritized[g] for g in run.series.equivalent_groups if g in prioritized and g != group
        ]
        if _is_complete(run):
            best.append(run)
            continue
        if any(_is_complete(other) for other in equivalents):
            continue
        if run.series.series_type is SeriesType.EVALUATION_ONLY:
            continue
        if run.series.series_type is SeriesType.RISK:
            best.append(run)
            continue
        if any(other.series.series_type is SeriesType.RISK for other in equivalents):
            continue
        best.append(run)
    return sorted(
        best, key=lambda r: (r.series.series_type is not SeriesType.STANDARD, int(r.series.group or 0))
    )
