"""Decision support for the record: the journal's history in, the CDSi engine's evaluation and forecast out.

The engine (`ympa.forecast`) is plain Python; this module turns signed vaccinations into its inputs, picks the
care provider's schedule set, and labels its answers for people.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from uuid import UUID

from django.db import connection
from django.db.models import F, QuerySet
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from ympa.catalog.models import Product
from ympa.core import rows
from ympa.forecast import (
    DEFAULT_SCHEDULE_SET,
    EvaluationReason,
    EvaluationStatus,
    ForecastResult,
    Observation,
    SeriesStatus,
    SupportingData,
    load_schedule_set,
    normalize_code,
)
from ympa.journal.decision import GivenDose, antigens_changed_by, run_for
from ympa.journal.models import Condition, EntryStatus, Vaccination, VaccinationVersion
from ympa.orgs.models import CareProvider
from ympa.patients.models import Patient

REASON_LABELS: dict[str, Promise] = {
    EvaluationReason.TOO_YOUNG: _("the patient is too young for this dose"),
    EvaluationReason.TOO_OLD: _("the patient is too old for this dose"),
    EvaluationReason.GRACE_PERIOD: _("given within the grace period"),
    EvaluationReason.TOO_SOON: _("the interval since the previous dose is too short"),
    EvaluationReason.LIVE_VIRUS_CONFLICT: _("too close to another live vaccine"),
    EvaluationReason.NOT_ALLOWABLE: _("this vaccine is not allowed for this dose"),
    EvaluationReason.ALLOWABLE: _("an allowed but not preferred vaccine"),
    EvaluationReason.LOW_VOLUME: _("less than the recommended volume"),
    EvaluationReason.INADVERTENT: _("a vaccine given by mistake"),
    EvaluationReason.SUB_STANDARD: _("a sub-standard dose"),
    EvaluationReason.SERIES_COMPLETE: _("the series is already complete"),
}
STATUS_LABELS: dict[str, Promise] = {
    SeriesStatus.NOT_COMPLETE: _("Not complete"),
    SeriesStatus.COMPLETE: _("Complete"),
    SeriesStatus.AGED_OUT: _("Age limit passed"),
    SeriesStatus.IMMUNE: _("Immune"),
    SeriesStatus.CONTRAINDICATED: _("Contraindicated"),
    SeriesStatus.NOT_RECOMMENDED: _("Not recommended"),
}
GROUP_LABELS: dict[str, Promise] = {
    "DTaP/Tdap/Td": _("Diphtheria, tetanus, pertussis"),
    "Polio": _("Polio"),
    "Hib": _("Hib"),
    "HepB": _("Hepatitis B"),
    "HepA": _("Hepatitis A"),
    "Pneumococcal": _("Pneumococcal"),
    "Rotavirus": _("Rotavirus"),
    "MMR": _("Measles, mumps, rubella"),
    "HPV": _("HPV"),
    "TBE": _("Tick-borne encephalitis (TBE)"),
    "Influenza": _("Influenza"),
    "COVID-19": _("Covid-19"),
}
# Statuses that mean "nothing to do now and nothing was given": hidden from the overview unless doses exist.
QUIET = {SeriesStatus.AGED_OUT, SeriesStatus.NOT_RECOMMENDED}


def group_label(name: str) -> str:
    label = GROUP_LABELS.get(name)
    return str(label) if label is not None else name


def reason_label(reason: str) -> str:
    label = REASON_LABELS.get(reason)
    return str(label) if label is not None else reason


def schedule_key(provider: CareProvider) -> str:
    """Identifies a schedule set with its regional choices; stored forecasts are kept per key."""
    return _key(provider.schedule_set, provider.schedule_options)


def _key(schedule_set: str, options: dict[str, str] | None) -> str:
    text = json.dumps(options or {}, sort_keys=True, separators=(",", ":"))
    return f"{schedule_set or DEFAULT_SCHEDULE_SET}:{text}"


def schedule_data(provider: CareProvider) -> SupportingData:
    return load_schedule_set(
        provider.schedule_set or DEFAULT_SCHEDULE_SET, options=provider.schedule_options or None
    )


def product_code(product: Product) -> str:
    """The code the schedules know a product by: its CVX code, or the catalogue's documented local code."""
    return code_of(product.cvx_code, product.local_code)


def code_of(cvx_code: str, local_code: str) -> str:
    """`product_code` from a product's two code columns, for reads that load no Product."""
    return normalize_code(cvx_code) if cvx_code else local_code


def _signed_doses(**filters: object) -> QuerySet[VaccinationVersion]:
    """Current versions of signed, not nullified vaccinations, oldest first."""
    return VaccinationVersion.objects.filter(
        vaccination__status=EntryStatus.SIGNED, vaccination__current_version=F("pk"), **filters
    ).order_by("administered_at")


_VERSION = rows.Columns(VaccinationVersion, "v", only=("administered_at", "dose_volume_ml"))
_PRODUCT = rows.Columns(Product, "p", only=("cvx_code", "local_code"))
# Where history() finds administered_at, dose_volume_ml, cvx_code and local_code in a row.
_HISTORY_POSITIONS = (
    _VERSION.position("administered_at"),
    _VERSION.position("dose_volume_ml"),
    len(_VERSION) + _PRODUCT.position("cvx_code"),
    len(_VERSION) + _PRODUCT.position("local_code"),
)


@functools.cache
def _history_query() -> str:
    return (
        f"SELECT {_VERSION.select()}, {_PRODUCT.select()} "  # noqa: S608 (names come from the models)
        f"FROM {VaccinationVersion._meta.db_table} v "
        f"JOIN {Vaccination._meta.db_table} e ON e.id = v.vaccination_id AND e.current_version_id = v.id "
        f"JOIN {Product._meta.db_table} p ON p.id = v.product_id "
        "WHERE e.patient_id = %s AND e.status = %s AND e.id <> %s ORDER BY v.administered_at, v.id"
    )


def history(patient: Patient, *, exclude_vaccination: UUID | None = None) -> list[GivenDose]:
    """The patient's signed, not nullified doses at every care provider (clinically, all doses count).

    Written out (`_signed_doses` for one patient): decision support asks it for every dose recorded."""
    pk = Vaccination._meta.pk
    assert pk is not None
    params = [
        pk.get_db_prep_value(patient.pk, connection),
        EntryStatus.SIGNED.value,
        # A nil id matches no vaccination: one statement text with or without an exclusion.
        pk.get_db_prep_value(exclude_vaccination or UUID(int=0), connection),
    ]
    given, volume, cvx, local = _HISTORY_POSITIONS
    # Values, not instances: a patient's whole history is read for every dose recorded.
    return [
        GivenDose(timezone.localdate(row[given]), code_of(row[cvx], row[local]), row[volume])
        for row in rows.fetch_values(_history_query(), params, (_VERSION, _PRODUCT))
    ]


def history_of(entries: Sequence[Vaccination]) -> list[GivenDose]:
    """The signed, not nullified doses among `entries` (read with their current version and product),
    oldest first: the history as one reader may see it."""
    versions = sorted(
        (
            v.current_version
            for v in entries
            if v.status == EntryStatus.SIGNED and v.current_version is not None
        ),
        key=lambda version: version.administered_at,
    )
    return [
        GivenDose(
            timezone.localdate(version.administered_at),
            product_code(version.product),
            version.dose_volume_ml,
        )
        for version in versions
    ]


def histories(patient_ids: list[UUID]) -> dict[UUID, list[GivenDose]]:
    """The histories of many patients in one query."""
    result: dict[UUID, list[GivenDose]] = {}
    rows = _signed_doses(vaccination__patient_id__in=patient_ids).values_list(
        "vaccination__patient_id",
        "administered_at",
        "product__cvx_code",
        "product__local_code",
        "dose_volume_ml",
    )
    for patient_id, given_at, cvx, local, volume in rows:
        result.setdefault(patient_id, []).append(
            GivenDose(timezone.localdate(given_at), code_of(cvx, local), volume)
        )
    return result


_CONDITION = rows.Columns(Condition, "c", only=("code", "start_date", "end_date"))


def conditions(patient: Patient) -> list[Observation]:
    """The patient's recorded conditions (not nullified), as engine observations (written out: decision
    support asks it for every dose recorded)."""
    sql = (
        f"SELECT {_CONDITION.select()} FROM {Condition._meta.db_table} c "  # noqa: S608 (from the model)
        "WHERE c.patient_id = %s AND c.nullified_at IS NULL"
    )
    pk = Patient._meta.pk
    assert pk is not None
    found: list[Observation] = []
    for (condition,) in rows.fetch_all(sql, [pk.get_db_prep_value(patient.pk, connection)], (_CONDITION,)):
        assert isinstance(condition, Condition)
        found.append(Observation(condition.code, condition.start_date, condition.end_date))
    return found


def conditions_of_many(patient_ids: list[UUID]) -> dict[UUID, list[Observation]]:
    result: dict[UUID, list[Observation]] = {}
    rows = Condition.objects.filter(patient_id__in=patient_ids, nullified_at__isnull=True).values_list(
        "patient_id", "code", "start_date", "end_date"
    )
    for patient_id, code, start, end in rows:
        result.setdefault(patient_id, []).append(Observation(code, start, end))
    return result


def run(
    patient: Patient,
    doses: Sequence[GivenDose],
    data: SupportingData,
    on: date,
    antigens: Collection[str] | None = None,
) -> ForecastResult:
    if patient.birth_date is None:
        raise ValueError("decision support needs a birth date")
    return run_for(patient.birth_date, patient.legal_sex, doses, data, on, conditions(patient), antigens)


@dataclass(frozen=True)
class DoseProblem:
    vaccine_group: str
    reasons: tuple[str, ...]

    def describe(self) -> str:
        reasons = ", ".join(reason_label(r) for r in self.reasons) or str(_("not valid"))
        return f"{group_label(self.vaccine_group)}: {reasons}"


@dataclass(frozen=True)
class Assessment:
    """The evaluation of a dose added to the history: its problems, and the forecast on the dose's date of
    the vaccine groups the dose can change (`antigens_changed_by`; the others are the same with or without
    it)."""

    problems: list[DoseProblem]
    result: ForecastResult | None
    day: date
    schedule_key: str


def assess_dose(
    patient: Patient,
    provider: CareProvider,
    *,
    day: date,
    product: Product,
    volume: Decimal | None,
    exclude_vaccination: UUID | None = None,
) -> Assessment:
    """Would this dose, added to the history, count? The problems in each vaccine group where it does not."""
    key = schedule_key(provider)
    if patient.birth_date is None:
        return Assessment([], None, day, key)
    data = schedule_data(provider)
    doses = [d for d in history(patient, exclude_vaccination=exclude_vaccination) if d.day <= day]
    dose = GivenDose(day, product_code(product), volume)
    # Only what the dose can change is evaluated: a dose has problems only in its own groups, and the
    # forecast kept after signing changes only there.
    antigens = antigens_changed_by(patient.birth_date, doses, dose, data)
    doses.append(dose)
    result = run(patient, doses, data, day, antigens)
    index = len(doses) - 1
    not_valid: list[DoseProblem] = []
    extraneous: list[DoseProblem] = []
    counts_somewhere = False
    for name, group in result.vaccine_groups.items():
        evaluations = [e for series in group.series for e in series.evaluations if e.dose_index == index]
        statuses = {e.status for e in evaluations}
        if not evaluations or EvaluationStatus.VALID in statuses:
            counts_somewhere = counts_somewhere or bool(evaluations)
            continue
        reasons = tuple(
            dict.fromkeys(r for e in evaluations for r in e.reasons if r != EvaluationReason.ALLOWABLE)
        )
        problem = DoseProblem(name, reasons)
        (not_valid if EvaluationStatus.NOT_VALID in statuses else extraneous).append(problem)
    # A combination vaccine that counts for one group is not flagged because another group needs no dose; a
    # dose that counts for nothing, or does not count where it was meant to, is.
    problems = not_valid if counts_somewhere else not_valid + extraneous
    return Assessment(problems, result, day, key)


def groups_of(product: Product, data: SupportingData) -> list[str]:
    code = product_code(product)
    return sorted(name for name, codes in data.cvx_of_group.items() if code in codes)


def next_dose_number(patient: Patient, provider: CareProvider, product: Product) -> int | None:
    """The dose number decision support expects next for the product's vaccine group, if it knows one."""
    if patient.birth_date is None:
        return None
    data = schedule_data(provider)
    groups = groups_of(product, data)
    if not groups:
        return None
    result = run(patient, history(patient), data, timezone.localdate())
    for name in groups:
        group = result.vaccine_groups.get(name)
        if group is not None and group.forecast is not None and group.forecast.dose_number:
            return group.forecast.dose_number
    return None


def keys_in_use(providers: Iterable[CareProvider]) -> list[str]:
    return sorted({schedule_key(p) for p in providers})


_SCHEDULES = rows.Columns(CareProvider, "cp", only=("schedule_set", "schedule_options"))


def schedule_keys_in_use() -> list[str]:
    """`keys_in_use` of every care provider, in one written-out statement (every signed dose asks)."""
    sql = f"SELECT {_SCHEDULES.select()} FROM {CareProvider._meta.db_table} cp"  # noqa: S608 (from the model)
    chosen, options = _SCHEDULES.position("schedule_set"), _SCHEDULES.position("schedule_options")
    return sorted({_key(row[chosen], row[options]) for row in rows.fetch_values(sql, [], (_SCHEDULES,))})
