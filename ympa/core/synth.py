"""Volume data for benchmarks: synthetic patients and signed vaccinations, bulk-inserted (`ympa synth`).

`synth_fill` writes rows in their final state, as the services leave them: a signed vaccination has its
standing-based `Order`, its `Visit` (one per patient, care unit and day), the header with `current_version`
already set, version 1 signed by a synth nurse of the unit, and the audit rows CREATE and SIGN (each patient
also gets the CREATE that registration logs). The actor in the audit log is the system ("ympa synth", channel
cli); the care unit and care provider of the entry are on each row, so the log stays searchable per provider.
The care provider, its six units, their staff and standing orders are created if missing, else reused.

Doses are catalogue products allowed at the patient's age (the catalogue's age limits), with its route and
first dose volume; they are not run through decision support, so they need not follow a schedule.

Rows are generated from the seed and the rows already present, in a thread of its own, and inserted in one
transaction: PostgreSQL through COPY, SQLite through executemany in large batches. Nothing goes through the
ORM per row, and rows are only inserted, so the triggers that refuse UPDATE of signed versions and audit rows
never fire. Ids are UUIDv7 (time-ordered), so the inserts append to the indexes. Foreign keys (Django
declares them DEFERRABLE INITIALLY DEFERRED) are checked by the database: on SQLite as rows go in; on
PostgreSQL either per constraint after the copy (a role that may skip the per-row triggers) or by the
deferred triggers after each chunk (see `_PostgresWriter`). Patients are marked `is_test_data`; personnummer
are valid and unique: patient number k of an enumeration maps to one (birth date, birth number) pair, and
numbers already in the database are skipped.
"""

from __future__ import annotations

import contextlib
import json
import math
import queue
import random
import re
import sys
import threading
import time
import uuid as uuid_module
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from dataclasses import fields as dataclass_fields
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol, TextIO
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import Model
from django.db.models.fields import AutoFieldMixin
from django.utils import timezone

from ympa.access.chain import chain_for, detail_text, header_text, row_mac
from ympa.access.models import Action, AuditChainHead, AuditEvent
from ympa.access.services import (
    audit_anchor_create,
    audit_chain_heads_lock,
    audit_chain_heads_save,
    audit_log_keys,
)
from ympa.authn.models import User
from ympa.catalog.models import Product
from ympa.core.actor import ActorKind, Channel
from ympa.core.synthetic import (
    FAMILY,
    GIVEN_FEMALE,
    GIVEN_MALE,
    organisation_number,
    personnummer,
    street_address,
)
from ympa.journal.models import (
    EntryStatus,
    Order,
    OrderBasis,
    OrderStatus,
    StandingOrder,
    Vaccination,
    VaccinationVersion,
    Visit,
)
from ympa.orgs.models import Assignment, CareProvider, CareUnit, Municipality, Purpose, Region
from ympa.orgs.rights import Role
from ympa.patients.models import IdentifierKind, LegalSex, Patient

SYNTH_ACTOR = "ympa synth"
PROVIDER_NAME = "Ympa Syntetisk Vård AB (synth)"
PROVIDER_ORG_PREFIX = "559900003"
PROVIDER_REGION = "01"
NURSES_PER_UNIT = 3


@dataclass(frozen=True)
class UnitSpec:
    code: str
    name: str
    municipality: str
    city: str


UNITS = (
    UnitSpec("SYN01", "Syntetiska vaccinationsmottagningen Stockholm (synth)", "0180", "Stockholm"),
    UnitSpec("SYN02", "Syntetiska vaccinationsmottagningen Göteborg (synth)", "1480", "Göteborg"),
    UnitSpec("SYN03", "Syntetiska vaccinationsmottagningen Malmö (synth)", "1280", "Malmö"),
    UnitSpec("SYN04", "Syntetiska vaccinationsmottagningen Uppsala (synth)", "0380", "Uppsala"),
    UnitSpec("SYN05", "Syntetiska vaccinationsmottagningen Linköping (synth)", "0580", "Linköping"),
    UnitSpec("SYN06", "Syntetiska vaccinationsmottagningen Umeå (synth)", "2480", "Umeå"),
)

# Birth dates span this many years back from today; every patient is at least MIN_AGE_DAYS old, and doses
# are recorded from six weeks of age, at most HISTORY_YEARS back.
BIRTH_SPAN_YEARS = 100
MIN_AGE_DAYS = 60
FIRST_DOSE_AGE_DAYS = 42
HISTORY_YEARS = 20
BIRTH_NUMBERS = 998  # 001-998: 499 of each sex
MAX_DOSE_NUMBER = 20
# Vaccine groups most doses belong to; the rest (travel, rabies, ...) are drawn less often.
COMMON_GROUPS = frozenset(
    {"influenza", "tbe", "covid19", "pcv", "dtap-ipv-hib-hepb", "mmr", "rotavirus", "hpv", "dtap-ipv", "dtap"}
)


def provider_hsa_id() -> str:
    return f"SE{organisation_number(PROVIDER_ORG_PREFIX).replace('-', '')}-SYNT"


def unit_hsa_id(spec: UnitSpec) -> str:
    return f"SE{organisation_number(PROVIDER_ORG_PREFIX).replace('-', '')}-{spec.code}"


def nurse_username(unit_number: int, nurse_number: int) -> str:
    """The synth nurse `nurse_number` (1-based) at unit `unit_number` (1-based); has sign rights."""
    return f"synth.ssk.{unit_number:02d}.{nurse_number}"


def physician_username(unit_number: int) -> str:
    return f"synth.lakare.{unit_number:02d}"


# --- organisation -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SynthUnit:
    unit: CareUnit
    standing_order_id: int
    # (user id, assignment id) of each nurse
    nurses: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class SynthOrg:
    provider: CareProvider
    units: tuple[SynthUnit, ...]


def _staff(username: str, first: str, last: str, hsa_id: str) -> User:
    user = User.objects.filter(username=username).first()
    if user is None:
        user = User(username=username, first_name=first, last_name=last, hsa_id=hsa_id, is_test_data=True)
        user.set_unusable_password()
        user.save()
    return user


@transaction.atomic
def synth_org() -> SynthOrg:
    """The synthetic care provider, its units, staff and standing orders; created if missing, else reused."""
    org = organisation_number(PROVIDER_ORG_PREFIX)
    provider, _ = CareProvider.objects.get_or_create(
        hsa_id=provider_hsa_id(),
        defaults={
            "name": PROVIDER_NAME,
            "organisation_number": org,
            "region": Region.objects.get(code=PROVIDER_REGION),
            "modules": ["journal"],
            "is_test_data": True,
        },
    )
    products = list(Product.objects.filter(active=True))
    rng = random.Random(PROVIDER_ORG_PREFIX)
    units: list[SynthUnit] = []
    for number, spec in enumerate(UNITS, start=1):
        unit, _ = CareUnit.objects.get_or_create(
            hsa_id=unit_hsa_id(spec),
            defaults={
                "name": spec.name,
                "care_provider": provider,
                "municipality": Municipality.objects.get(code=spec.municipality),
                "street_address": street_address(rng),
                "postal_code": f"{rng.randint(11100, 98999)}",
                "city": spec.city,
                "is_test_data": True,
            },
        )
        prefix = unit.hsa_id.split("-")[0]
        physician = _staff(
            physician_username(number), rng.choice(GIVEN_FEMALE), "Läkare", f"{prefix}-L{number:02d}"
        )
        Assignment.objects.get_or_create(
            user=physician, care_unit=unit, role=Role.PHYSICIAN, defaults={"purpose": Purpose.CARE}
        )
        nurses: list[tuple[int, int]] = []
        for nurse_number in range(1, NURSES_PER_UNIT + 1):
            nurse = _staff(
                nurse_username(number, nurse_number),
                rng.choice(GIVEN_FEMALE + GIVEN_MALE),
                "Sjuksköterska",
                f"{prefix}-S{number:02d}{nurse_number}",
            )
            assignment, _ = Assignment.objects.get_or_create(
                user=nurse, care_unit=unit, role=Role.NURSE, defaults={"purpose": Purpose.CARE}
            )
            nurses.append((nurse.pk, assignment.pk))
        standing = (
            StandingOrder.objects.filter(care_unit=unit, valid_until__isnull=True).order_by("pk").first()
        )
        if standing is None:
            standing = StandingOrder.objects.create(
                care_unit=unit,
                title=f"Generellt direktiv vaccinationer, {unit.name}",
                issued_by=physician,
                valid_from=date(2000, 1, 1),
                text="Syntetiska data: vaccinationer enligt gällande program och produktresuméer.",
            )
        standing.products.add(*products)
        units.append(SynthUnit(unit=unit, standing_order_id=standing.pk, nurses=tuple(nurses)))
    return SynthOrg(provider=provider, units=tuple(units))


# --- the catalogue ----------------------------------------------------------------------------------------

_DURATION = re.compile(r"P(\d+)([YMWD])")


def _duration_days(value: str, *, upper: bool) -> int | None:
    """An ISO 8601 age bound (P6W, P9M, P16Y) in days: a lower bound rounded up, an upper one down."""
    match = _DURATION.fullmatch(value or "")
    if match is None:
        return None
    amount, unit = int(match.group(1)), match.group(2)
    days = {"Y": 365.25, "M": 30.44, "W": 7.0, "D": 1.0}[unit] * amount
    return math.floor(days) - 1 if upper else math.ceil(days) + 1


@dataclass(frozen=True)
class _Product:
    pk: int
    code: str
    group: str
    route: str
    volume: str | None
    batch_prefix: str
    min_days: int
    max_days: int | None
    weight: int

    @property
    def pk_text(self) -> str:
        return str(self.pk)


class _Catalogue:
    """The active products and, for any age, the ones that may be given then (weighted)."""

    def __init__(self, products: Sequence[Product]) -> None:
        items: list[_Product] = []
        for p in products:
            routes = [r for r in (p.routes or []) if isinstance(r, str)]
            volumes = [v for v in (p.dose_volumes_ml or []) if isinstance(v, int | float)]
            route = routes[0] if routes else "IM"
            # verorab lists 0.5 ml (IM) then 0.1 ml (ID): the first volume goes with the first route.
            volume = str(Decimal(str(volumes[0]))) if volumes else None
            items.append(
                _Product(
                    pk=p.pk,
                    code=p.code,
                    group=p.vaccine_group,
                    route=route,
                    volume=volume,
                    batch_prefix=re.sub(r"[^A-Z0-9]", "", p.code.upper())[:3] or "BAT",
                    min_days=_duration_days(p.min_age, upper=False) or 0,
                    max_days=_duration_days(p.max_age, upper=True),
                    weight=5 if p.vaccine_group in COMMON_GROUPS else 1,
                )
            )
        if not items:
            raise RuntimeError("the product catalogue is empty: run `ympa migrate` first")
        self.products = items
        bounds = sorted({p.min_days for p in items} | {p.max_days for p in items if p.max_days is not None})
        self.bounds = bounds
        # Eligibility is constant between two consecutive bounds: one weighted list per interval.
        self.eligible: list[list[_Product]] = []
        for index in range(len(bounds) + 1):
            age = bounds[index - 1] if index > 0 else -1
            fits = [p for p in items if p.min_days <= age and (p.max_days is None or age < p.max_days)]
            if not fits:
                fits = [min(items, key=lambda p: p.min_days)]
            self.eligible.append([p for p in fits for _ in range(p.weight)])

    def at_age(self, age_days: int) -> list[_Product]:
        return self.eligible[bisect_right(self.bounds, age_days)]


def _site(route: str, age_days: int, rng: random.Random) -> str:
    if route == "PO":
        return "oral"
    if route == "IN":
        return "nasal"
    side = "left" if rng.random() < 0.6 else "right"
    return f"{side}_thigh" if age_days < 548 and route != "ID" else f"{side}_deltoid"


# --- writing rows -----------------------------------------------------------------------------------------

Row = tuple[str | None, ...]

PATIENT_COLUMNS = (
    "id",
    "identifier_kind",
    "identifier",
    "reserve_scheme",
    "given_name",
    "family_name",
    "birth_date",
    "legal_sex",
    "street_address",
    "postal_code",
    "city",
    "phone",
    "email",
    "protected_identity",
    "deceased_on",
    "is_test_data",
    "created_at",
    "updated_at",
)
VISIT_COLUMNS = ("id", "patient_id", "care_unit_id", "visit_date", "started_at", "created_by_id")
ORDER_COLUMNS = (
    "id",
    "patient_id",
    "care_unit_id",
    "product_id",
    "basis",
    "standing_order_id",
    "prescriber_id",
    "prescriber_assignment_id",
    "dose_number",
    "note",
    "status",
    "ordered_at",
    "created_by_id",
)
VACCINATION_COLUMNS = (
    "id",
    "patient_id",
    "care_unit_id",
    "visit_id",
    "order_id",
    "status",
    "current_version_id",
    "created_at",
    "created_by_id",
    "created_assignment_id",
    "idempotency_key",
    "nullified_at",
    "nullified_by_id",
    "nullification_reason",
)
VERSION_COLUMNS = (
    "id",
    "vaccination_id",
    "number",
    "administered_at",
    "product_id",
    "batch_number",
    "batch_expiry",
    "expired_batch_confirmed",
    "dose_volume_ml",
    "dose_number",
    "site",
    "route",
    "performer_id",
    "note",
    "correction_reason",
    "created_at",
    "created_by_id",
    "signed_at",
    "signed_by_id",
)
AUDIT_COLUMNS = (
    "id",
    "occurred_at",
    "actor_kind",
    "actor_identity",
    "actor_name",
    "user_id",
    "assignment_id",
    "care_unit_id",
    "care_provider_id",
    "patient_id",
    "action",
    "object_type",
    "object_id",
    "channel",
    "purpose",
    "detail",
    "chain",
    "seq",
    "prev_hash",
    "row_hash",
)
TABLES: tuple[tuple[type[Model], tuple[str, ...]], ...] = (
    (Patient, PATIENT_COLUMNS),
    (Visit, VISIT_COLUMNS),
    (Order, ORDER_COLUMNS),
    (Vaccination, VACCINATION_COLUMNS),
    (VaccinationVersion, VERSION_COLUMNS),
    (AuditEvent, AUDIT_COLUMNS),
)


def _defaults(
    writer: _Writer, tables: Sequence[tuple[type[Model], tuple[str, ...]]] = TABLES
) -> dict[type[Model], tuple[tuple[str, ...], Row]]:
    """Columns a model has beyond the ones written here, with the value each row gets: the field's default.

    A column added later with a plain default (text, number, boolean, an empty JSON list or object) or
    nullable gets that value, as a service that does not know the field would leave it. Anything else
    means this module has to learn the field: refuse to run rather than write incomplete rows.
    """
    extras: dict[type[Model], tuple[tuple[str, ...], Row]] = {}
    for model, columns in tables:
        names: list[str] = []
        values: list[str | None] = []
        unknown = set(columns) - {f.column for f in model._meta.concrete_fields if f.column}
        missing: list[str] = []
        for f in model._meta.concrete_fields:
            # An id the database assigns (a serial) may be left out; the database fills it.
            if not f.column or f.column in columns or isinstance(f, AutoFieldMixin):
                continue
            default = f.get_default()  # "" for a text field without a default, None for others
            if isinstance(default, bool):
                value: str | None = writer.true if default else writer.false
            elif isinstance(default, int | str):
                value = str(default)
            elif isinstance(default, dict | list) and not default:
                value = json.dumps(default)
            elif default is None and f.null:
                value = writer.null
            else:
                missing.append(f.column)
                continue
            names.append(f.column)
            values.append(value)
        if missing or unknown:
            raise RuntimeError(
                f"ympa synth is out of date with {model._meta.label}: "
                f"cannot fill {sorted(missing)}, unknown {sorted(unknown)}"
            )
        if names:
            extras[model] = (tuple(names), tuple(values))
    return extras


class _Writer(Protocol):
    @property
    def null(self) -> str | None: ...  # how NULL is written

    @property
    def true(self) -> str: ...

    @property
    def false(self) -> str: ...

    @property
    def ts_suffix(self) -> str: ...  # after a naive UTC timestamp

    def prepare(self) -> tuple[int, int]: ...

    def skip_row_triggers(self) -> None: ...

    def write(self, model: type[Model], columns: tuple[str, ...], rows: list[Row]) -> None: ...

    def chunk_done(self) -> None: ...

    def finish(self, first_ids: dict[type[Model], str | int], last_ids: dict[type[Model], int]) -> None: ...


def _serial_tables() -> tuple[type[Model], type[Model]]:
    return VaccinationVersion, AuditEvent


class _PostgresWriter:
    """COPY in text format; ids of versions and audit rows are reserved under a table lock.

    Foreign keys: a role that may set session_replication_role (a superuser) skips the per-row
    referential-integrity triggers while copying and then checks every foreign key of the new rows with one
    anti-join per constraint, failing the transaction if any points nowhere; the per-row triggers would
    cost more than half of the fill. Any other role keeps the triggers, and their deferred checks run after
    each chunk, while the next one is generated.
    """

    null = "\\N"
    true = "t"
    false = "f"
    ts_suffix = "+00"
    # Off: always keep the per-row triggers (the tests use it to cover both ways).
    allow_set_based_checks = True

    def __init__(self) -> None:
        self.cursor = connection.cursor()
        self.set_based_checks = False

    def prepare(self) -> tuple[int, int]:
        tables = ", ".join(connection.ops.quote_name(m._meta.db_table) for m in _serial_tables())
        # Concurrent inserts would take ids from the sequences we are about to skip: keep them out until
        # commit (readers are not blocked).
        self.cursor.execute(f"LOCK TABLE {tables} IN EXCLUSIVE MODE")
        self.skip_row_triggers()
        return tuple(self._next_id(m) for m in _serial_tables())  # type: ignore[return-value]

    def skip_row_triggers(self) -> None:
        """Skip the per-row triggers until the transaction ends, when the role may; `finish` then checks
        the foreign keys per constraint."""
        if self.allow_set_based_checks:
            try:
                with transaction.atomic():
                    self.cursor.execute("SET LOCAL session_replication_role = replica")
                self.set_based_checks = True
            except DatabaseError:  # not a superuser: keep the triggers
                self.set_based_checks = False

    def _next_id(self, model: type[Model]) -> int:
        table = model._meta.db_table
        self.cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
        sequence = self.cursor.fetchone()[0]
        self.cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {connection.ops.quote_name(table)}")  # noqa: S608
        highest = self.cursor.fetchone()[0]
        self.cursor.execute(f"SELECT last_value, is_called FROM {sequence}")  # noqa: S608
        last_value, is_called = self.cursor.fetchone()
        return max(highest, last_value if is_called else last_value - 1) + 1

    def write(self, model: type[Model], columns: tuple[str, ...], rows: list[Row]) -> None:
        if not rows:
            return
        table = connection.ops.quote_name(model._meta.db_table)
        names = ", ".join(connection.ops.quote_name(c) for c in columns)
        data = "\n".join(map("\t".join, rows)) + "\n"  # type: ignore[arg-type]
        with self.cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            copy.write(data.encode())

    def chunk_done(self) -> None:
        if self.set_based_checks:
            return
        # Run the deferred foreign-key checks of this chunk now, while the next chunk is being generated,
        # rather than all at commit (the chunk is complete, so the circular vaccination/version pair is too).
        self.cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        self.cursor.execute("SET CONSTRAINTS ALL DEFERRED")

    def finish(self, first_ids: dict[type[Model], str | int], last_ids: dict[type[Model], int]) -> None:
        if self.set_based_checks:
            self.cursor.execute("SET LOCAL session_replication_role = origin")
            self._check_foreign_keys(first_ids)
        for model, last in last_ids.items():
            table = model._meta.db_table
            highest = f"(SELECT COALESCE(MAX(id), 1) FROM {connection.ops.quote_name(table)})"  # noqa: S608
            self.cursor.execute(
                f"SELECT setval(pg_get_serial_sequence(%s, 'id'), GREATEST(%s, {highest}))", [table, last]
            )

    def _check_foreign_keys(self, first_ids: dict[type[Model], str | int]) -> None:
        """Every foreign key of every row from `first_ids[model]` on must point at an existing row."""
        q = connection.ops.quote_name
        for model, first in first_ids.items():
            for f in model._meta.concrete_fields:
                if not f.is_relation or f.related_model is None or not f.column:
                    continue
                target = f.target_field  # type: ignore[attr-defined]
                parent = q(target.model._meta.db_table)
                column = q(f.column)
                query = (
                    f"SELECT c.{column}::text FROM {q(model._meta.db_table)} c "  # noqa: S608
                    f"WHERE c.id >= %s AND c.{column} IS NOT NULL AND NOT EXISTS "
                    f"(SELECT 1 FROM {parent} p WHERE p.{q(target.column)} = c.{column}) LIMIT 1"
                )
                self.cursor.execute(query, [first])
                dangling = self.cursor.fetchone()
                if dangling is not None:
                    raise IntegrityError(
                        f"{model._meta.db_table}.{f.column} = {dangling[0]} refers to no row of {parent}"
                    )


class _SqliteWriter:
    """executemany in large batches; AUTOINCREMENT keeps sqlite_sequence above explicit ids by itself."""

    null = None
    true = "1"
    false = "0"
    ts_suffix = ""

    def __init__(self) -> None:
        self.cursor = connection.cursor()

    def prepare(self) -> tuple[int, int]:
        # A larger page cache for this connection: the UUID indexes are written in random order.
        self.cursor.execute("PRAGMA cache_size = -1048576")
        return tuple(self._next_id(m) for m in _serial_tables())  # type: ignore[return-value]

    def _next_id(self, model: type[Model]) -> int:
        table = model._meta.db_table
        self.cursor.execute(f'SELECT COALESCE(MAX(id), 0) FROM "{table}"')  # noqa: S608
        highest = self.cursor.fetchone()[0]
        self.cursor.execute("SELECT COALESCE(MAX(seq), 0) FROM sqlite_sequence WHERE name = %s", [table])
        return max(highest, self.cursor.fetchone()[0]) + 1

    def write(self, model: type[Model], columns: tuple[str, ...], rows: list[Row]) -> None:
        if not rows:
            return
        names = ", ".join(f'"{c}"' for c in columns)
        marks = ", ".join("?" * len(columns))
        # The raw sqlite3 cursor: Django's wrapper would rewrite %s placeholders row by row.
        self.cursor.cursor.executemany(
            f'INSERT INTO "{model._meta.db_table}" ({names}) VALUES ({marks})',  # noqa: S608
            rows,
        )

    def skip_row_triggers(self) -> None:
        # SQLite's foreign-key checks are cheap: it counts deferred violations as rows go in.
        return None

    def chunk_done(self) -> None:
        # SQLite counts deferred foreign-key violations as rows go in and refuses the commit if any remain.
        return None

    def finish(self, first_ids: dict[type[Model], str | int], last_ids: dict[type[Model], int]) -> None:
        return None


def _writer() -> _Writer:
    if connection.vendor == "postgresql":
        return _PostgresWriter()
    if connection.vendor == "sqlite":
        return _SqliteWriter()
    raise RuntimeError(f"ympa synth does not support the database vendor {connection.vendor!r}")


# --- generating ---------------------------------------------------------------------------------------------

_ASCII = str.maketrans({"å": "a", "ä": "a", "ö": "o", "Å": "A", "Ä": "A", "Ö": "O", "é": "e"})
CITIES = ("Stockholm", "Göteborg", "Malmö", "Uppsala", "Linköping", "Umeå", "Örebro", "Västerås")


@dataclass
class SynthStats:
    patients: int = 0
    vaccinations: int = 0
    visits: int = 0
    audit_events: int = 0
    rows: int = 0
    seconds: float = 0.0
    insert_seconds: float = 0.0
    check_seconds: float = 0.0
    analyze_seconds: float = 0.0
    first_patient_number: int = 0
    skipped_identifiers: int = 0
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


class _Generator:
    def __init__(
        self,
        *,
        org: SynthOrg,
        catalogue: _Catalogue,
        writer: _Writer,
        rng: random.Random,
        today: date,
        version_id: int,
        audit_id: int,
        chain_head: AuditChainHead,
    ) -> None:
        self.org = org
        self.catalogue = catalogue
        self.w = writer
        self.rng = rng
        self.today = today
        self.tz = ZoneInfo(settings.TIME_ZONE)
        self.version_id = version_id
        self.audit_id = audit_id
        self.first_birth = date(today.year - BIRTH_SPAN_YEARS, 1, 1)
        self.days = (today - timedelta(days=MIN_AGE_DAYS) - self.first_birth).days + 1
        # A stride coprime to the number of days spreads consecutive patients over all ages.
        stride = int(self.days * 0.6180339887)
        while math.gcd(stride, self.days) != 1:
            stride += 1
        self.stride = stride
        self.history_start = today - timedelta(days=int(HISTORY_YEARS * 365.25))
        self.provider_id = str(org.provider.pk)
        self.provider_pk = org.provider.pk
        self.snapshot_rest, self.sign_detail = _audit_details()
        # Every synth audit row names the synth care provider, so all of them join its chain.
        self.chain = chain_head.chain
        self.chain_seq = chain_head.last_seq
        self.chain_hash = chain_head.last_hash
        self.row_key, _anchor_key = audit_log_keys()
        self.register_detail = detail_text({"identifier_kind": "personnummer"})
        self.base_ms = time.time_ns() // 1_000_000
        self.sequence = 0
        # The smallest id this run can generate: every id of this run is at least this.
        self.first_uuid = str(uuid_module.UUID(int=(self.base_ms << 80) | (0x7 << 76) | (0b10 << 62)))

    # identities

    def identity(self, k: int) -> tuple[str, date, bool]:
        """Patient number k of the enumeration: (personnummer, birth date, female); unique per k."""
        if k >= self.days * BIRTH_NUMBERS:
            raise RuntimeError("all synthetic personnummer are taken")
        day_index = (k * self.stride) % self.days
        birth_number = (k // self.days * 337 + day_index) % BIRTH_NUMBERS + 1
        birth = self.first_birth + timedelta(days=day_index)
        female = birth_number % 2 == 0
        return personnummer(birth, (birth_number - 1) // 2, female=female), birth, female

    def identities(self, k: int, count: int) -> tuple[list[tuple[str, date, bool]], int, int]:
        """`count` identities from patient number k on, skipping numbers already registered."""
        found: list[tuple[str, date, bool]] = []
        skipped = 0
        while len(found) < count:
            batch = [self.identity(k + i) for i in range(count - len(found))]
            k += len(batch)
            taken: set[str] = set()
            numbers = [b[0] for b in batch]
            for start in range(0, len(numbers), 2000):
                taken.update(
                    Patient.objects.filter(
                        identifier_kind=IdentifierKind.PERSONNUMMER,
                        identifier__in=numbers[start : start + 2000],
                    ).values_list("identifier", flat=True)
                )
            skipped += len(taken)
            found.extend(b for b in batch if b[0] not in taken)
        return found, k, skipped

    # values

    def uuid(self) -> str:
        """A UUIDv7 (RFC 9562, counter in rand_a): ids increase, so the bulk insert appends to each index."""
        sequence = self.sequence
        self.sequence = sequence + 1
        value = (
            ((self.base_ms + (sequence >> 12)) << 80)
            | (0x7 << 76)
            | ((sequence & 0xFFF) << 64)
            | (0b10 << 62)
            | self.rng.getrandbits(62)
        )
        return f"{value:032x}"

    def ts(self, utc: datetime) -> str:
        """A naive UTC datetime as the database stores it (SQLite) or reads it unambiguously (PostgreSQL)."""
        return utc.isoformat(" ") + self.w.ts_suffix

    # rows

    def audit_row(
        self,
        occurred: str,
        occurred_utc: datetime,
        unit_id: str,
        patient_id: str,
        action: str,
        object_type: str,
        object_id: str,
        detail: str,
    ) -> Row:
        """An audit row of the system actor "ympa synth" at the synth care provider, next in its chain.

        `occurred_utc` is naive UTC (as `occurred`, the text written); `detail` is canonical
        (`chain.detail_text`), which is also what is stored, so verification hashes it as it comes back.
        """
        self.chain_seq += 1
        prev_hash = self.chain_hash
        header = header_text(
            [
                self.chain,
                self.chain_seq,
                occurred_utc.isoformat(timespec="microseconds") + "+00:00",
                ActorKind.SYSTEM.value,
                SYNTH_ACTOR,
                SYNTH_ACTOR,
                None,
                None,
                int(unit_id),
                self.provider_pk,
                patient_id,
                action,
                object_type,
                object_id,
                Channel.CLI.value,
                "",
                prev_hash,
            ]
        )
        self.chain_hash = row_mac(self.row_key, header, detail)
        null = self.w.null
        row = (
            str(self.audit_id),
            occurred,
            ActorKind.SYSTEM.value,
            SYNTH_ACTOR,
            SYNTH_ACTOR,
            null,
            null,
            unit_id,
            self.provider_id,
            patient_id,
            action,
            object_type,
            object_id,
            Channel.CLI.value,
            "",
            detail,
            str(self.chain),
            str(self.chain_seq),
            prev_hash,
            self.chain_hash,
        )
        self.audit_id += 1
        return row

    def chunk(
        self, identities: list[tuple[str, date, bool]], counts: list[int]
    ) -> tuple[dict[type[Model], list[Row]], int, int]:
        """The rows of these patients and of their vaccinations (counts[i] for patient i)."""
        rng = self.rng
        null, true, false, suffix = self.w.null, self.w.true, self.w.false, self.w.ts_suffix
        units = [
            (str(u.unit.pk), str(u.standing_order_id), [(str(a), str(b)) for a, b in u.nurses])
            for u in self.org.units
        ]
        catalogue = self.catalogue
        patients: list[Row] = []
        visits: list[Row] = []
        orders: list[Row] = []
        vaccinations: list[Row] = []
        versions: list[Row] = []
        audits: list[Row] = []
        create, sign = Action.CREATE.value, Action.SIGN.value
        standing, active = OrderBasis.STANDING.value, OrderStatus.ACTIVE.value
        signed = EntryStatus.SIGNED.value
        three_minutes = timedelta(minutes=3)
        snapshot_rest, sign_detail = self.snapshot_rest, self.sign_detail
        n_vaccinations = 0
        for (pnr, birth, female), count in zip(identities, counts, strict=True):
            patient_id = self.uuid()
            home = rng.choice(units)
            start = max(birth + timedelta(days=FIRST_DOSE_AGE_DAYS), self.history_start)
            window = (self.today - start).days  # the days start .. today - 1
            # Group the doses into visits of one to three doses, on different days.
            sizes: list[int] = []
            for _ in range(count):
                if sizes and sizes[-1] < 3 and rng.random() < 0.3:
                    sizes[-1] += 1
                else:
                    sizes.append(1)
            if len(sizes) > window:
                sizes = [count // window + (1 if i < count % window else 0) for i in range(window)]
            offsets = sorted(rng.sample(range(window), len(sizes))) if sizes else []
            doses_by_group: dict[str, int] = {}
            registered: datetime | None = None
            for size, offset in zip(sizes, offsets, strict=True):
                day = start + timedelta(days=offset)
                unit_id, standing_id, nurses = home if rng.random() < 0.85 else rng.choice(units)
                user_id, assignment_id = rng.choice(nurses)
                minute = rng.randrange(8 * 60, 16 * 60 + 30, 5)
                local = datetime(day.year, day.month, day.day, minute // 60, minute % 60, tzinfo=self.tz)
                utc = local.astimezone(UTC).replace(tzinfo=None)
                if registered is None:
                    registered = utc - timedelta(minutes=rng.randint(5, 60))
                visit_id = self.uuid()
                visits.append(
                    (
                        visit_id,
                        patient_id,
                        unit_id,
                        day.isoformat(),
                        (utc + three_minutes).isoformat(" ") + suffix,
                        user_id,
                    )
                )
                age = (day - birth).days
                eligible = catalogue.at_age(age)
                batch_suffix = f"{day.year % 100:02d}{(day.month - 1) // 3 + 1}{'ABC'[offset % 3]}"
                expiry = (day + timedelta(days=180 + (offset * 37) % 540)).isoformat()
                given: set[str] = set()
                for index in range(size):
                    product = rng.choice(eligible)
                    if product.code in given:
                        product = rng.choice(eligible)
                    given.add(product.code)
                    dose = min(doses_by_group.get(product.group, 0) + 1, MAX_DOSE_NUMBER)
                    doses_by_group[product.group] = dose
                    later = timedelta(minutes=2 * index)
                    administered = utc + later
                    at_utc = administered + three_minutes
                    signed_utc = at_utc + timedelta(seconds=rng.randint(5, 90))
                    at = at_utc.isoformat(" ") + suffix
                    signed_at = signed_utc.isoformat(" ") + suffix
                    batch = product.batch_prefix + batch_suffix
                    site = _site(product.route, age, rng)
                    dose_text = str(dose)
                    order_id = self.uuid()
                    vaccination_id = self.uuid()
                    version_id = str(self.version_id)
                    self.version_id += 1
                    orders.append(
                        (
                            order_id,
                            patient_id,
                            unit_id,
                            product.pk_text,
                            standing,
                            standing_id,
                            null,
                            null,
                            dose_text,
                            "",
                            active,
                            at,
                            user_id,
                        )
                    )
                    vaccinations.append(
                        (
                            vaccination_id,
                            patient_id,
                            unit_id,
                            visit_id,
                            order_id,
                            signed,
                            version_id,
                            at,
                            user_id,
                            assignment_id,
                            "",
                            null,
                            null,
                            "",
                        )
                    )
                    versions.append(
                        (
                            version_id,
                            vaccination_id,
                            "1",
                            administered.isoformat(" ") + suffix,
                            product.pk_text,
                            batch,
                            expiry,
                            false,
                            product.volume if product.volume is not None else null,
                            dose_text,
                            site,
                            product.route,
                            user_id,
                            "",
                            "",
                            at,
                            user_id,
                            signed_at,
                            user_id,
                        )
                    )
                    # What audit_event_record stores for vaccination_record: the snapshot, then the version.
                    detail = detail_text(
                        {
                            "administered_at": (local + later).isoformat(),
                            "product": product.code,
                            "batch_number": batch,
                            "batch_expiry": expiry,
                            "dose_number": dose,
                            "dose_volume_ml": product.volume,
                            "site": site,
                            "route": product.route,
                            "expired_batch_confirmed": False,
                            **snapshot_rest,
                        }
                    )
                    object_id = _dashed(vaccination_id)
                    for occurred, occurred_utc, action, audit_detail in (
                        (at, at_utc, create, detail),
                        (signed_at, signed_utc, sign, sign_detail),
                    ):
                        audits.append(
                            self.audit_row(
                                occurred,
                                occurred_utc,
                                unit_id,
                                patient_id,
                                action,
                                "journal.vaccination",
                                object_id,
                                audit_detail,
                            )
                        )
                    n_vaccinations += 1
            if registered is None:
                registered = datetime.combine(
                    self.today - timedelta(days=rng.randint(1, 3000)), datetime.min.time()
                ) + timedelta(minutes=rng.randrange(7 * 60, 17 * 60))
            given_name = rng.choice(GIVEN_FEMALE if female else GIVEN_MALE)
            family = rng.choice(FAMILY)
            email = (
                f"{given_name}.{family}{rng.randint(1, 999)}@example.se".lower().translate(_ASCII)
                if rng.random() < 0.5
                else ""
            )
            phone = f"+4670{rng.randint(1000000, 9999999)}" if rng.random() < 0.8 else ""
            created = registered.isoformat(" ") + suffix
            patients.append(
                (
                    patient_id,
                    IdentifierKind.PERSONNUMMER.value,
                    pnr,
                    "",
                    given_name,
                    family,
                    birth.isoformat(),
                    (LegalSex.FEMALE if female else LegalSex.MALE).value,
                    street_address(rng),
                    f"{rng.randint(11100, 98999)}",
                    rng.choice(CITIES),
                    phone,
                    email,
                    true if rng.random() < 0.002 else false,
                    null,
                    true,
                    created,
                    created,
                )
            )
            # What patient_register logs.
            audits.append(
                self.audit_row(
                    created,
                    registered,
                    home[0],
                    patient_id,
                    create,
                    "patients.patient",
                    _dashed(patient_id),
                    self.register_detail,
                )
            )
        rows = {
            Patient: patients,
            Visit: visits,
            Order: orders,
            Vaccination: vaccinations,
            VaccinationVersion: versions,
            AuditEvent: audits,
        }
        return rows, n_vaccinations, len(visits)


def _audit_details() -> tuple[dict[str, Any], str]:
    """What vaccination_record logs beyond the fields written here: the rest of its snapshot (keys after
    expired_batch_confirmed, e.g. an empty override reason) and the SIGN detail (with decision support's
    findings, none, where the services check doses)."""
    from ympa.journal import services

    names = {f.name for f in dataclass_fields(services.Administration)}
    known = {
        "administered_at",
        "product",
        "batch_number",
        "batch_expiry",
        "dose_number",
        "dose_volume_ml",
        "site",
        "route",
        "expired_batch_confirmed",
    }
    rest: dict[str, Any] = {"override_reason": ""} if "override_reason" in names else {}
    unknown = names - known - {"note", "override_reason"}
    if unknown:
        raise RuntimeError(f"ympa synth does not know the administration fields {sorted(unknown)}")
    sign: dict[str, Any] = (
        {"version": 1, "decision_support": []} if "override_reason" in names else {"version": 1}
    )
    return rest, detail_text(sign)


def _dashed(hex_id: str) -> str:
    """A UUID's 32 hex digits in the canonical form, as str(uuid) gives it (audit rows' object_id)."""
    return f"{hex_id[:8]}-{hex_id[8:12]}-{hex_id[12:16]}-{hex_id[16:20]}-{hex_id[20:]}"


def _progress_printer(out: TextIO | None) -> Callable[[str], None]:
    def emit(message: str) -> None:
        if out is not None:
            out.write(f"synth: {message}\n")
            out.flush()

    return emit


@dataclass
class _Chunk:
    rows: dict[type[Model], list[Row]]
    patients: int
    vaccinations: int
    visits: int
    seconds: float


_DONE = object()


def _produce(
    generator: _Generator,
    identities: list[tuple[str, date, bool]],
    counts: list[int],
    chunk_patients: int,
    out: queue.Queue[object],
    stop: threading.Event,
) -> None:
    """Generate chunks in a thread of its own: generating overlaps the database's work on the last chunk."""

    def put(item: object) -> None:
        while not stop.is_set():
            try:
                out.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    try:
        for first in range(0, len(identities), chunk_patients):
            if stop.is_set():
                return
            started = time.perf_counter()
            part = slice(first, first + chunk_patients)
            rows, done, visits = generator.chunk(identities[part], counts[part])
            put(_Chunk(rows, len(identities[part]), done, visits, time.perf_counter() - started))
    except BaseException as exc:  # handed to the writing thread, which raises it
        put(exc)
    finally:
        put(_DONE)


def synth_fill(
    *,
    patients: int,
    vaccinations: int,
    seed: int = 1,
    progress: TextIO | None = sys.stderr,
    chunk_patients: int = 2000,
) -> SynthStats:
    """Add `patients` synthetic patients and `vaccinations` signed vaccinations among them.

    One transaction; progress lines go to `progress` (None: silent). Returns counts and timings.
    """
    if patients < 0 or vaccinations < 0:
        raise ValueError("counts must not be negative")
    if vaccinations and not patients:
        raise ValueError("vaccinations need patients: give --patients as well")
    emit = _progress_printer(progress)
    stats = SynthStats()
    started = time.perf_counter()
    today = timezone.localdate()
    with transaction.atomic():
        org = synth_org()
        catalogue = _Catalogue(list(Product.objects.filter(active=True).order_by("pk")))
        writer = _writer()
        extras = _defaults(writer)
        version_id, audit_id = writer.prepare()
        k = Patient.objects.filter(identifier_kind=IdentifierKind.PERSONNUMMER).count()
        stats.first_patient_number = k
        rng = random.Random(f"ympa-synth:{seed}:{k}")
        chain = chain_for(care_provider_id=org.provider.pk, patient_id=None)
        [chain_head] = audit_chain_heads_lock(chains=[chain]).values()
        generator = _Generator(
            org=org,
            catalogue=catalogue,
            writer=writer,
            rng=rng,
            today=today,
            version_id=version_id,
            audit_id=audit_id,
            chain_head=chain_head,
        )
        checks = (
            "checked per constraint after the copy"
            if getattr(writer, "set_based_checks", False)
            else "checked by the database's deferred triggers"
        )
        emit(
            f"{patients} patients, {vaccinations} vaccinations on {connection.vendor} "
            f"({len(org.units)} care units of {org.provider.hsa_id}; foreign keys {checks})"
        )
        identities, _k, stats.skipped_identifiers = generator.identities(k, patients)
        # How many doses each patient gets: every dose goes to a patient drawn at random.
        counts = [0] * patients
        for index in rng.choices(range(patients), k=vaccinations) if patients else []:
            counts[index] += 1
        chunks: queue.Queue[object] = queue.Queue(maxsize=2)
        stop = threading.Event()
        producer = threading.Thread(
            target=_produce,
            args=(generator, identities, counts, chunk_patients, chunks, stop),
            name="ympa-synth-generate",
            daemon=True,
        )
        producer.start()
        last_report = started
        gen_seconds = write_seconds = 0.0
        table_seconds = {model._meta.db_table: 0.0 for model, _ in TABLES}
        try:
            while (item := chunks.get()) is not _DONE:
                if isinstance(item, BaseException):
                    raise item
                assert isinstance(item, _Chunk)
                gen_seconds += item.seconds
                t_write = time.perf_counter()
                for model, columns in TABLES:
                    t_table = time.perf_counter()
                    rows = item.rows[model]
                    if model in extras:
                        names, values = extras[model]
                        columns, rows = columns + names, [row + values for row in rows]
                    writer.write(model, columns, rows)
                    table_seconds[model._meta.db_table] += time.perf_counter() - t_table
                t_check = time.perf_counter()
                writer.chunk_done()
                stats.check_seconds += time.perf_counter() - t_check
                write_seconds += time.perf_counter() - t_write
                stats.patients += item.patients
                stats.vaccinations += item.vaccinations
                stats.visits += item.visits
                stats.audit_events += len(item.rows[AuditEvent])
                stats.rows += sum(len(r) for r in item.rows.values())
                now = time.perf_counter()
                if now - last_report >= 2.0 or stats.patients == patients:
                    last_report = now
                    elapsed = now - started
                    rate = stats.rows / elapsed
                    emit(
                        f"{stats.patients}/{patients} patients, {stats.vaccinations}/{vaccinations} "
                        f"vaccinations, {stats.rows} rows in {elapsed:.1f} s ({rate:,.0f} rows/s)"
                    )
        finally:
            stop.set()
            while producer.is_alive():
                with contextlib.suppress(queue.Empty):
                    chunks.get(timeout=0.1)
            producer.join()
        stats.insert_seconds = time.perf_counter() - started
        t_check = time.perf_counter()
        if getattr(writer, "set_based_checks", False):
            emit("checking every foreign key of the new rows")
        first_uuid = generator.first_uuid
        writer.finish(
            {
                Patient: first_uuid,
                Visit: first_uuid,
                Order: first_uuid,
                Vaccination: first_uuid,
                VaccinationVersion: version_id,
                AuditEvent: audit_id,
            },
            {VaccinationVersion: generator.version_id - 1, AuditEvent: generator.audit_id - 1},
        )
        stats.check_seconds += time.perf_counter() - t_check
        chain_head.last_seq, chain_head.last_hash = generator.chain_seq, generator.chain_hash
        audit_chain_heads_save([chain_head])
        stats.timings = {"generate": gen_seconds, "write": write_seconds, **table_seconds}
        emit("committing")
    # Anchored at once, so the new rows are covered by `ympa audit verify` before the next periodic anchor.
    audit_anchor_create()
    emit("analyzing tables")
    t_analyze = time.perf_counter()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            tables = ", ".join(connection.ops.quote_name(m._meta.db_table) for m, _ in TABLES)
            cursor.execute(f"ANALYZE {tables}")
        else:
            cursor.execute("PRAGMA optimize")
    stats.analyze_seconds = time.perf_counter() - t_analyze
    stats.seconds = time.perf_counter() - started
    emit(
        f"done: {stats.patients} patients, {stats.vaccinations} vaccinations, {stats.visits} visits, "
        f"{stats.audit_events} audit events; {stats.rows} rows in {stats.seconds:.1f} s "
        f"({stats.rows_per_second:,.0f} rows/s; generating {gen_seconds:.1f} s in a thread of its own, "
        f"writing {write_seconds:.1f} s of which foreign-key checks {stats.check_seconds:.1f} s, "
        f"analyze {stats.analyze_seconds:.1f} s)"
    )
    return stats


def synth_summary(stats: SynthStats) -> dict[str, Any]:
    return {
        "patients": stats.patients,
        "vaccinations": stats.vaccinations,
        "visits": stats.visits,
        "audit_events": stats.audit_events,
        "rows": stats.rows,
        "seconds": round(stats.seconds, 2),
        "rows_per_second": round(stats.rows_per_second),
        "insert_seconds": round(stats.insert_seconds, 2),
        "check_seconds": round(stats.check_seconds, 2),
        "analyze_seconds": round(stats.analyze_seconds, 2),
        **{f"{k}_seconds": round(v, 2) for k, v in stats.timings.items()},
    }
