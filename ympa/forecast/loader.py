"""Parse the CDC supporting-data XML into :mod:`ympa.forecast.model` objects.

Parsing the ~3 MB of XML takes a noticeable fraction of a second, so the result is cached
per directory (and choice of schedule parameters) for the life of the process; the objects are
immutable and safe to share.

Two schedule sets are packaged: ``"se"`` (Swedish programmes, the default for Swedish care
providers) and ``"cdc"`` (CDC/ACIP, the unmodified CDSi release). A schedule set may declare
parameters in ``ScheduleParameters.xml`` (a Ympa extension, see ``data/se-*/EXTENSIONS.md``):
choices a care provider makes, such as a region's age limit. Their values replace
``${name}`` placeholders in the supporting-data text before it is parsed, so the engine sees
ordinary supporting data and needs no rule of its own for them.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from functools import cache
from pathlib import Path

from ympa.forecast.dates import parse_cdc_date, parse_duration
from ympa.forecast.model import (
    AgeRule,
    AllowableInterval,
    Antigen,
    AntigenContraindication,
    ConditionalSkip,
    CvxAssociation,
    CvxEntry,
    Effective,
    Immunity,
    ImmunityBirthDate,
    Indication,
    Interval,
    LiveVirusConflict,
    ObservationDefinition,
    ScheduleParameter,
    Series,
    SeriesDose,
    SeriesType,
    SeriesVaccine,
    SkipCondition,
    SkipConditionType,
    SkipContext,
    SkipSet,
    SupportingData,
    VaccineContraindication,
    VaccineGroup,
)

__all__ = [
    "DEFAULT_DATA_DIR",
    "DEFAULT_SCHEDULE_SET",
    "load_schedule_set",
    "load_supporting_data",
    "schedule_parameters",
    "schedule_sets",
]

_DATA_ROOT = Path(__file__).resolve().parent / "data"
DEFAULT_DATA_DIR = _DATA_ROOT / "cdsi-4.64"
# Schedule-set name -> packaged data directory, listed with the default (Swedish) set first.
_SCHEDULE_SETS = {"se": _DATA_ROOT / "se-2026.1", "cdc": DEFAULT_DATA_DIR}
DEFAULT_SCHEDULE_SET = "se"
_PARAMETERS_FILE = "ScheduleParameters.xml"
_PLACEHOLDER_RE = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


def _text(element: ET.Element | None, tag: str) -> str:
    if element is None:
        return ""
    found = element.find(tag)
    if found is None or found.text is None:
        return ""
    return " ".join(found.text.split())


def _yes(value: str) -> bool:
    return value.strip().lower() in {"y", "yes", "true"}


def _cvx_list(value: str) -> frozenset[str]:
    return frozenset(normalize_code(part) for part in value.split(";") if part.strip())


def normalize_code(value: str) -> str:
    """CVX codes appear both zero-padded ("03") and bare ("3"); compare them as integers-as-text."""
    stripped = value.strip()
    return stripped.lstrip("0") or "0" if stripped.isdigit() else stripped


def _window(element: ET.Element) -> Effective:
    return Effective(
        parse_cdc_date(_text(element, "effectiveDate")), parse_cdc_date(_text(element, "cessationDate"))
    )


def _has_content(element: ET.Element) -> bool:
    return any((child.text or "").strip() or len(child) for child in element)


def _vaccine(element: ET.Element, *, preferable: bool) -> SeriesVaccine:
    volume_text = _text(element, "volume")
    return SeriesVaccine(
        vaccine_type=_text(element, "vaccineType"),
        cvx=normalize_code(_text(element, "cvx")),
        begin_age=parse_duration(_text(element, "beginAge")),
        end_age=parse_duration(_text(element, "endAge")),
        trade_name=(_text(element, "tradeName") or None) if preferable else None,
        mvx=(_text(element, "mvx") or None) if preferable else None,
        volume=float(volume_text) if preferable and volume_text else None,
        forecast=preferable and _yes(_text(element, "forecastVaccineType")),
    )


def _condition_type(value: str) -> SkipConditionType:
    lowered = value.lower()
    if lowered == "age":
        return SkipConditionType.AGE
    if lowered == "completed series":
        return SkipConditionType.COMPLETED_SERIES
    if lowered == "interval":
        return SkipConditionType.INTERVAL
    if "date" in lowered:
        # "Vaccine Count by Date" and "... by Date and Age": both limit by dates, the latter by ages too.
        return SkipConditionType.VACCINE_COUNT_BY_DATE
    if "count" in lowered:
        return SkipConditionType.VACCINE_COUNT_BY_AGE
    raise ValueError(f"unknown conditional skip condition type {value!r}")


def _skip(element: ET.Element) -> ConditionalSkip | None:
    context = _text(element, "context")
    if not context or context.lower() == "n/a":
        return None
    sets = []
    for set_el in element.findall("set"):
        conditions = []
        for cond in set_el.findall("condition"):
            count = _text(cond, "doseCount")
            conditions.append(
                SkipCondition(
                    kind=_condition_type(_text(cond, "conditionType")),
                    start_date=parse_cdc_date(_text(cond, "startDate")),
                    end_date=parse_cdc_date(_text(cond, "endDate")),
                    begin_age=parse_duration(_text(cond, "beginAge")),
                    end_age=parse_duration(_text(cond, "endAge")),
                    interval=parse_duration(_text(cond, "interval")),
                    dose_count=int(count) if count else None,
                    dose_type_valid=_text(cond, "doseType").lower() == "valid",
                    count_logic=_text(cond, "doseCountLogic").lower(),
                    vaccine_types=_cvx_list(_text(cond, "vaccineTypes")),
                    series_groups=tuple(
                        part.strip() for part in _text(cond, "seriesGroups").split(";") if part.strip()
                    ),
                )
            )
        sets.append(
            SkipSet(
                set_id=_text(set_el, "setID"),
                description=_text(set_el, "setDescription"),
                window=_window(set_el),
                condition_logic_and=_text(set_el, "conditionLogic").upper() == "AND",
                conditions=tuple(conditions),
            )
        )
    return ConditionalSkip(
        context=SkipContext(context.capitalize()),
        set_logic_and=_text(element, "setLogic").upper() == "AND",
        sets=tuple(sets),
    )


def _interval(element: ET.Element) -> Interval:
    target = _text(element, "fromTargetDose")
    obs = element.find("fromRelevantObs")
    return Interval(
        from_previous=_yes(_text(element, "fromPrevious")),
        from_target_dose=int(target) if target else None,
        from_most_recent=_cvx_list(_text(element, "fromMostRecent")),
        from_observation=(_text(obs, "code") or None) if obs is not None else None,
        abs_min=parse_duration(_text(element, "absMinInt")),
        min=parse_duration(_text(element, "minInt")),
        earliest_rec=parse_duration(_text(element, "earliestRecInt")),
        latest_rec=parse_duration(_text(element, "latestRecInt")),
        priority=_text(element, "intervalPriority"),
        window=_window(element),
    )


def _series_dose(element: ET.Element) -> SeriesDose:
    ages = tuple(
        AgeRule(
            abs_min=parse_duration(_text(age, "absMinAge")),
            min=parse_duration(_text(age, "minAge")),
            earliest_rec=parse_duration(_text(age, "earliestRecAge")),
            latest_rec=parse_duration(_text(age, "latestRecAge")),
            max=parse_duration(_text(age, "maxAge")),
            window=_window(age),
        )
        for age in element.findall("age")
        if _has_content(age)
    )
    intervals = tuple(_interval(i) for i in element.findall("interval") if _has_content(i))
    allowable_intervals = tuple(
        AllowableInterval(
            from_previous=_yes(_text(i, "fromPrevious")),
            from_target_dose=int(_text(i, "fromTargetDose")) if _text(i, "fromTargetDose") else None,
            abs_min=parse_duration(_text(i, "absMinInt")),
            window=_window(i),
        )
        for i in element.findall("allowableInterval")
        if _has_content(i)
    )
    season = element.find("seasonalRecommendation")
    skips = tuple(s for s in (_skip(e) for e in element.findall("conditionalSkip")) if s is not None)
    return SeriesDose(
        number=int(_text(element, "doseNumber").split()[-1]),
        ages=ages,
        intervals=intervals,
        allowable_intervals=allowable_intervals,
        preferable_vaccines=tuple(
            _vaccine(v, preferable=True) for v in element.findall("preferableVaccine") if _has_content(v)
        ),
        allowable_vaccines=tuple(
            _vaccine(v, preferable=False) for v in element.findall("allowableVaccine") if _has_content(v)
        ),
        inadvertent_cvx=frozenset(
            normalize_code(_text(v, "cvx")) for v in element.findall("inadvertentVaccine") if _text(v, "cvx")
        ),
        skips=skips,
        recurring=_yes(_text(element, "recurringDose")),
        season_start=parse_cdc_date(_text(season, "startDate")) if season is not None else None,
        season_end=parse_cdc_date(_text(season, "endDate")) if season is not None else None,
    )


def _series(element: ET.Element) -> Series:
    select = element.find("selectSeries")
    preference = _text(select, "seriesPreference")
    genders = frozenset(
        g.text.strip().lower() for g in element.findall("requiredGender") if g.text and g.text.strip()
    )
    indications = []
    for ind in element.findall("indication"):
        code = _text(ind.find("observationCode"), "code") if ind.find("observationCode") is not None else ""
        if code:
            indications.append(
                Indication(
                    observation_code=code,
                    description=_text(ind, "description"),
                    begin_age=parse_duration(_text(ind, "beginAge")),
                    end_age=parse_duration(_text(ind, "endAge")),
                )
            )
    return Series(
        name=_text(element, "seriesName"),
        antigen=_text(element, "targetDisease"),
        vaccine_group=_text(element, "vaccineGroup"),
        series_type=SeriesType(_text(element, "seriesType")),
        equivalent_groups=frozenset(
            part.strip() for part in _text(element, "equivalentSeriesGroups").split(";") if part.strip()
        ),
        required_genders=genders,
        default=_yes(_text(select, "defaultSeries")),
        product_path=_yes(_text(select, "productPath")),
        group=_text(select, "seriesGroup"),
        group_name=_text(select, "seriesGroupName"),
        priority=_text(select, "seriesPriority") or "A",
        # A missing preference ranks after every explicit one.
        preference=int(preference) if preference.isdigit() else 999,
        min_age_to_start=parse_duration(_text(select, "minAgeToStart")),
        max_age_to_start=parse_duration(_text(select, "maxAgeToStart")),
        indications=tuple(indications),
        doses=tuple(_series_dose(d) for d in element.findall("seriesDose")),
        admin_guidance=tuple(
            " ".join(g.text.split())
            for g in element.findall("seriesAdminGuidance")
            if g.text and g.text.strip()
        ),
    )


def _antigen(root: ET.Element) -> Antigen:
    series = tuple(_series(s) for s in root.findall("series"))
    immunity_el = root.find("immunity")
    guideline_codes: set[str] = set()
    birth_dates = []
    if immunity_el is not None:
        guideline_codes = {
            _text(c, "guidelineCode")
            for c in immunity_el.findall("clinicalHistory")
            if _text(c, "guidelineCode")
        }
        for dob in immunity_el.findall("dateOfBirth"):
            before = parse_cdc_date(_text(dob, "immunityBirthDate"))
            if before is not None:
                birth_dates.append(
                    ImmunityBirthDate(
                        before=before,
                        birth_country=_text(dob, "birthCountry") or None,
                        exclusion_codes=frozenset(
                            _text(e, "exclusionCode")
                            for e in dob.findall("exclusion")
                            if _text(e, "exclusionCode")
                        ),
                    )
                )
    antigen_ci = []
    vaccine_ci = []
    contra = root.find("contraindications")
    if contra is not None:
        for ci in contra.findall("vaccineGroup/contraindication"):
            antigen_ci.append(
                AntigenContraindication(
                    observation_code=_text(ci, "observationCode"),
                    text=_text(ci, "contraindicationText"),
                    begin_age=parse_duration(_text(ci, "beginAge")),
                    end_age=parse_duration(_text(ci, "endAge")),
                )
            )
        for ci in contra.findall("vaccine/contraindication"):
            vaccine_ci.append(
                VaccineContraindication(
                    observation_code=_text(ci, "observationCode"),
                    text=_text(ci, "contraindicationText"),
                    vaccines=tuple(
                        _vaccine(v, preferable=False)
                        for v in ci.findall("contraindicatedVaccine")
                        if _text(v, "cvx")
                    ),
                )
            )
    name = series[0].antigen if series else ""
    return Antigen(
        name=name,
        series=series,
        immunity=Immunity(frozenset(guideline_codes), tuple(birth_dates)),
        antigen_contraindications=tuple(antigen_ci),
        vaccine_contraindications=tuple(vaccine_ci),
    )


def _schedule(
    root: ET.Element,
) -> tuple[
    dict[str, tuple[LiveVirusConflict, ...]],
    dict[str, VaccineGroup],
    dict[str, CvxEntry],
    dict[str, ObservationDefinition],
]:
    conflicts: dict[str, list[LiveVirusConflict]] = {}
    for c in root.findall("liveVirusConflicts/liveVirusConflict"):
        begin = parse_duration(_text(c, "conflictBeginInterval"))
        min_end = parse_duration(_text(c, "minConflictEndInterval"))
        end = parse_duration(_text(c, "conflictEndInterval"))
        if begin is None or min_end is None or end is None:
            continue
        conflict = LiveVirusConflict(
            previous_cvx=normalize_code(_text(c.find("previous"), "cvx")),
            current_cvx=normalize_code(_text(c.find("current"), "cvx")),
            begin=begin,
            min_end=min_end,
            end=end,
        )
        conflicts.setdefault(conflict.current_cvx, []).append(conflict)
    flags = {
        _text(g, "name"): _yes(_text(g, "administerFullVaccineGroup"))
        for g in root.findall("vaccineGroups/vaccineGroup")
    }
    groups = {}
    for m in root.findall("vaccineGroupToAntigenMap/vaccineGroupMap"):
        name = _text(m, "name")
        groups[name] = VaccineGroup(
            name=name,
            administer_full_group=flags.get(name, False),
            antigens=tuple(" ".join((a.text or "").split()) for a in m.findall("antigen")),
        )
    cvx = {}
    for entry in root.findall("cvxToAntigenMap/cvxMap"):
        code = normalize_code(_text(entry, "cvx"))
        cvx[code] = CvxEntry(
            cvx=code,
            description=_text(entry, "shortDescription"),
            associations=tuple(
                CvxAssociation(
                    antigen=_text(a, "antigen"),
                    begin_age=parse_duration(_text(a, "associationBeginAge")),
                    end_age=parse_duration(_text(a, "associationEndAge")),
                )
                for a in entry.findall("association")
            ),
        )
    observations = {}
    for obs in root.findall("observations/observation"):
        code = _text(obs, "observationCode")
        observations[code] = ObservationDefinition(
            code=code,
            title=_text(obs, "observationTitle"),
            indication_text=_text(obs, "indicationText"),
            contraindication_text=_text(obs, "contraindicationText"),
            coded_values=tuple(
                (_text(v, "codeSystem"), _text(v, "code")) for v in obs.findall("codedValues/codedValue")
            ),
        )
    return {k: tuple(v) for k, v in conflicts.items()}, groups, cvx, observations


@cache
def _parameters(directory: Path) -> dict[str, ScheduleParameter]:
    path = directory / _PARAMETERS_FILE
    if not path.exists():
        return {}
    root = ET.parse(path).getroot()  # noqa: S314 - packaged data
    result = {}
    for element in root.findall("parameter"):
        name = _text(element, "name")
        result[name] = ScheduleParameter(
            name=name,
            default=_text(element, "defaultValue"),
            allowed=tuple(" ".join((v.text or "").split()) for v in element.findall("allowedValue")),
            description=_text(element, "description"),
        )
    return result


def _resolved_options(directory: Path, options: Mapping[str, str] | None) -> tuple[tuple[str, str], ...]:
    """Defaults overlaid with the caller's choices, rejecting unknown parameters and values."""
    declared = _parameters(directory)
    values = {name: parameter.default for name, parameter in declared.items()}
    for name, value in (options or {}).items():
        parameter = declared.get(name)
        if parameter is None:
            raise ValueError(f"unknown schedule parameter {name!r} for {directory.name}")
        if parameter.allowed and value not in parameter.allowed:
            raise ValueError(f"{name!r} must be one of {', '.join(parameter.allowed)}, not {value!r}")
        values[name] = value
    return tuple(sorted(values.items()))


def _parse(path: Path, values: dict[str, str]) -> ET.Element:
    text = path.read_text(encoding="utf-8")
    if "${" in text:

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in values:
                raise ValueError(f"{path.name}: undeclared schedule parameter {name!r}")
            return values[name]

        text = _PLACEHOLDER_RE.sub(substitute, text)
    return ET.fromstring(text)  # noqa: S314 - packaged data


@cache
def _load(directory: Path, options: tuple[tuple[str, str], ...] = ()) -> SupportingData:
    values = dict(options)
    schedule_root = _parse(directory / "ScheduleSupportingData.xml", values)
    conflicts, groups, cvx, observations = _schedule(schedule_root)
    antigens = {}
    for path in sorted(directory.glob("AntigenSupportingData-*.xml")):
        antigen = _antigen(_parse(path, values))
        if antigen.name:
            antigens[antigen.name] = antigen
    cvx_of_group = {
        group.name: frozenset(
            code
            for code, entry in cvx.items()
            if any(a.antigen in group.antigens for a in entry.associations)
        )
        for group in groups.values()
    }
    return SupportingData(
        version=directory.name,
        antigens=antigens,
        vaccine_groups=groups,
        cvx=cvx,
        conflicts_by_current=conflicts,
        observations=observations,
        cvx_of_group=cvx_of_group,
        options=values,
    )


def load_supporting_data(
    path: Path | str | None = None, *, options: Mapping[str, str] | None = None
) -> SupportingData:
    """Load (once per process, directory and options) supporting data; default is the packaged CDSi 4.64.

    ``options`` sets the directory's schedule parameters; undeclared names or values raise ``ValueError``.
    """
    directory = _resolved(DEFAULT_DATA_DIR if path is None else Path(path))
    return _load(directory, _resolved_options(directory, options))


@cache
def _resolved(path: Path) -> Path:
    # Once per process: every recorded dose's decision support asks for its schedule set, and resolving
    # walks the path's directories with a system call each.
    return path.resolve()


def schedule_sets() -> list[str]:
    """Names of the packaged schedule sets, the default (Swedish) first."""
    return list(_SCHEDULE_SETS)


def _schedule_dir(name: str) -> Path:
    directory = _SCHEDULE_SETS.get(name)
    if directory is None:
        raise ValueError(f"unknown schedule set {name!r}; choose one of {', '.join(_SCHEDULE_SETS)}")
    return directory


def schedule_parameters(name: str = DEFAULT_SCHEDULE_SET) -> list[ScheduleParameter]:
    """The choices a care provider can make for a schedule set (name, default, allowed values)."""
    return list(_parameters(_schedule_dir(name)).values())


def load_schedule_set(
    name: str = DEFAULT_SCHEDULE_SET, *, options: Mapping[str, str] | None = None
) -> SupportingData:
    """Load a packaged schedule set by name (``"se"`` or ``"cdc"``) with the provider's parameter choices."""
    return load_supporting_data(_schedule_dir(name), options=options)
