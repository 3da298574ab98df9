"""Which antigens one more dose can change: the part of a forecast worth recomputing when a dose is recorded.

The engine evaluates each antigen from its own doses, and looks across antigens in only a few places, all
driven by the supporting data:

- a vaccine group is forecast from all its antigens, and from the dates of every dose of the group's vaccines
  (chapter 9);
- a live-virus conflict makes a dose of one live vaccine not valid when it follows another live vaccine too
  closely; whether the earlier dose was itself valid (as judged by its own antigens) sets how long the
  conflict lasts (CALCDTCONFLICT-1 to -3), and a forecast waits for the conflict to end;
- an interval may be counted from the most recent dose of a listed vaccine type, of any antigen;
- observations (indications, immunity, contraindications, intervals from an observation) apply to every
  antigen that names them, and the journal derives some observations from the doses themselves.

`affected_antigens` follows those links from the new dose's vaccine and returns a set that is closed under
them for the patient's history, so that running the engine on that set gives exactly the full run's answer
for those vaccine groups, and the other groups' answers are the same with or without the dose.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from ympa.forecast.loader import normalize_code
from ympa.forecast.model import SupportingData


@dataclass
class _Links:
    antigens_of_code: dict[str, frozenset[str]] = field(default_factory=dict)
    groups_of_antigen: dict[str, set[str]] = field(default_factory=dict)
    groups_of_code: dict[str, set[str]] = field(default_factory=dict)
    # Live-virus conflicts: the vaccine types a dose of the key conflicts with later / earlier.
    later_of: dict[str, set[str]] = field(default_factory=dict)
    earlier_of: dict[str, set[str]] = field(default_factory=dict)
    # Antigens with an interval from the most recent dose of the key vaccine type.
    counted_from: dict[str, set[str]] = field(default_factory=dict)
    # Antigens naming the key observation (indication, immunity, contraindication, interval).
    observed_by: dict[str, set[str]] = field(default_factory=dict)


# Supporting data are loaded once per process and never freed; the data object is kept with its links so
# that its id cannot be reused by another object.
_LINKS: dict[int, tuple[SupportingData, _Links]] = {}


def _links(data: SupportingData) -> _Links:
    cached = _LINKS.get(id(data))
    if cached is not None and cached[0] is data:
        return cached[1]
    links = _Links()
    for code, entry in data.cvx.items():
        links.antigens_of_code[code] = frozenset(a.antigen for a in entry.associations)
    for group in data.vaccine_groups.values():
        for member in group.antigens:
            links.groups_of_antigen.setdefault(member, set()).add(group.name)
    for group_name, group_codes in data.cvx_of_group.items():
        for code in group_codes:
            links.groups_of_code.setdefault(code, set()).add(group_name)
    for current, conflicts in data.conflicts_by_current.items():
        for conflict in conflicts:
            links.later_of.setdefault(conflict.previous_cvx, set()).add(current)
            links.earlier_of.setdefault(current, set()).add(conflict.previous_cvx)
    for name, antigen in data.antigens.items():
        observed: set[str] = set(antigen.immunity.guideline_codes)
        observed.update(c for rule in antigen.immunity.birth_dates for c in rule.exclusion_codes)
        observed.update(c.observation_code for c in antigen.antigen_contraindications)
        observed.update(c.observation_code for c in antigen.vaccine_contraindications)
        for series in antigen.series:
            observed.update(i.observation_code for i in series.indications)
            for dose in series.doses:
                for interval in dose.intervals:
                    if interval.from_observation is not None:
                        observed.add(interval.from_observation)
                    for vaccine_type in interval.from_most_recent:
                        links.counted_from.setdefault(vaccine_type, set()).add(name)
        for observation in observed:
            links.observed_by.setdefault(observation, set()).add(name)
    _LINKS[id(data)] = (data, links)
    return links


def affected_antigens(
    data: SupportingData, code: str, *, present: Collection[str], observations: Collection[str] = ()
) -> frozenset[str]:
    """The antigens whose evaluation or forecast a dose of vaccine `code` can change.

    `present`: the codes of the patient's other doses; `observations`: the observation codes the dose makes
    active, or active from an earlier date. The set holds whole vaccine groups, and with every antigen in it
    whose doses may conflict with an earlier live vaccine in the history, that vaccine's antigens (the
    conflict depends on whether the earlier dose was valid).
    """
    links = _links(data)
    code = normalize_code(code)
    found: set[str] = set(links.antigens_of_code.get(code, ()))
    found.update(links.counted_from.get(code, ()))
    for later in links.later_of.get(code, ()):
        found.update(links.antigens_of_code.get(later, ()))
    for observation in observations:
        found.update(links.observed_by.get(observation, ()))
    groups = set(links.groups_of_code.get(code, ()))
    codes = {*(normalize_code(given) for given in present), code}
    while True:
        grown = set(found)
        for antigen in found:
            groups.update(links.groups_of_antigen.get(antigen, ()))
        for group in groups:
            grown.update(data.vaccine_groups[group].antigens)
        for given in codes:
            if links.antigens_of_code.get(given, frozenset()).isdisjoint(grown):
                continue
            for earlier in links.earlier_of.get(given, ()):
                if earlier in codes:
                    grown.update(links.antigens_of_code.get(earlier, ()))
        if grown == found:
            return frozenset(found)
        found = grown
