"""Writes to the vaccination record: each checks rights, validates, writes and logs in one transaction."""

from __future__ import annotations

import functools
import multiprocessing
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, fields, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ympa.access.models import Action
from ympa.access.services import audit_event_build, audit_event_record, audit_events_save
from ympa.authn.models import User
from ympa.catalog.models import Product
from ympa.core import rows
from ympa.core.actor import Actor
from ympa.core.errors import ConflictError, NotPermitted
from ympa.inventory.services import stock_dose_book, stock_dose_rebook, stock_dose_return
from ympa.journal.decision import (
    ForecastRow,
    PatientFacts,
    compute_rows,
    data_for_key,
    forecast_rows_for,
    rows_from_result,
)
from ympa.journal.forecasts import (
    Assessment,
    assess_dose,
    conditions,
    conditions_of_many,
    histories,
    history,
    keys_in_use,
    schedule_data,
    schedule_keys_in_use,
)
from ympa.journal.models import (
    AdverseEvent,
    Condition,
    EntryStatus,
    Order,
    OrderBasis,
    OrderStatus,
    Severity,
    Site,
    StandingOrder,
    StoredForecast,
    Symptom,
    Vaccination,
    VaccinationVersion,
    Visit,
)
from ympa.orgs.models import Assignment, CareProvider, CareUnit
from ympa.orgs.rights import Right
from ympa.patients.models import Patient

MAX_DOSE_NUMBER = 20
# The columns of a stored forecast that a refresh replaces (the rest identify the row).
FORECAST_VALUES = (
    "status",
    "dose_number",
    "earliest",
    "recommended",
    "past_due",
    "latest",
    "computed_at",
    "assessment_date",
)
MAX_DOSE_VOLUME_ML = Decimal("5.0")


@dataclass(frozen=True)
class Administration:
    """The clinical content of one administration; one value per version of the entry."""

    administered_at: datetime
    product: Product
    batch_number: str
    dose_number: int
    site: str
    route: str
    batch_expiry: date | None = None
    dose_volume_ml: Decimal | None = None
    note: str = ""
    expired_batch_confirmed: bool = False
    override_reason: str = ""

    @classmethod
    def of_version(cls, version: VaccinationVersion) -> Administration:
        return cls(**{f.name: getattr(version, f.name) for f in fields(cls)})


def _assignment_with(actor: Actor, right: Right) -> tuple[Assignment, CareUnit]:
    assignment = actor.assignment
    if assignment is None or assignment.care_unit is None or not assignment.is_active():
        raise NotPermitted(_("Choose an active assignment at a care unit first."))
    if not assignment.has_right(right):
        raise NotPermitted(
            _("Your assignment does not include the right: %(right)s.") % {"right": Right(right).label}
        )
    return assignment, assignment.care_unit


def _user(actor: Actor) -> User:
    if actor.user is None:
        raise NotPermitted(_("Only a staff member can write to the record."))
    return actor.user


def _validate(patient: Patient, data: Administration) -> Administration:
    """Check an administration; returns it normalised. Raises ValidationError with field messages."""
    errors: dict[str, str] = {}
    now = timezone.now()
    if timezone.is_naive(data.administered_at):
        errors["administered_at"] = _("The time must include a time zone.")
    elif data.administered_at > now:
        errors["administered_at"] = _(
            "The administration time is in the future. Record a dose after it is given."
        )
    else:
        day = timezone.localdate(data.administered_at)
        if patient.birth_date and day < patient.birth_date:
            errors["administered_at"] = _("The administration date is before the patient's birth date.")
        if patient.deceased_on and day > patient.deceased_on:
            errors["administered_at"] = _("The administration date is after the patient's date of death.")
        if data.batch_expiry and data.batch_expiry < day and not data.expired_batch_confirmed:
            errors["batch_expiry"] = _(
                "The batch expired on %(expiry)s. Check the batch; if the dose was given anyway, "
                "confirm that the expired batch was used."
            ) % {"expiry": data.batch_expiry.isoformat()}
    batch = data.batch_number.strip().upper()
    if not batch:
        errors["batch_number"] = _("Enter the batch number from the package.")
    elif len(batch) > 40:
        errors["batch_number"] = _("The batch number is longer than 40 characters.")
    if not data.product.active:
        errors["product"] = _("This product is no longer in the catalogue.")
    if not 1 <= data.dose_number <= MAX_DOSE_NUMBER:
        errors["dose_number"] = _("The dose number must be between 1 and %(max)d.") % {"max": MAX_DOSE_NUMBER}
    if data.site not in Site.values:
        errors["site"] = _("Choose the injection site.")
    if data.product.routes and data.route not in data.product.routes:
        errors["route"] = _("%(product)s is given %(routes)s, not %(route)s.") % {
            "product": data.product.name,
            "routes": "/".join(data.product.routes),
            "route": data.route,
        }
    if data.dose_volume_ml is not None and not Decimal(0) < data.dose_volume_ml <= MAX_DOSE_VOLUME_ML:
        errors["dose_volume_ml"] = _("The dose volume must be more than 0 and at most 5 ml.")
    if errors:
        raise ValidationError(errors)
    return replace(data, batch_number=batch, note=data.note.strip())


def _order_for(
    *,
    actor: Actor,
    user: User,
    assignment: Assignment,
    unit: CareUnit,
    patient: Patient,
    data: Administration,
    order: Order | None,
    given: bool,
) -> Order:
    """The order the dose is given under; one created here for a dose being signed is already fulfilled."""
    status = OrderStatus.COMPLETED if given else OrderStatus.ACTIVE
    if order is not None:
        if (
            order.patient_id != patient.pk
            or order.product_id != data.product.pk
            or order.care_unit_id != unit.pk
        ):
            raise ValidationError({"order": _("The order is for another patient, product or care unit.")})
        if order.status != "active":
            raise ValidationError({"order": _("The order is no longer active.")})
        return order
    standing_id = _standing_order_id(unit, data.product, timezone.localdate(data.administered_at))
    if standing_id is not None:
        standing = Order(
            patient=patient,
            care_unit=unit,
            product=data.product,
            basis=OrderBasis.STANDING,
            standing_order_id=standing_id,
            dose_number=data.dose_number,
            created_by=user,
            status=status,
        )
        rows.insert(standing)
        return standing
    if assignment.has_right(Right.ORDER):
        created = Order.objects.create(
            patient=patient,
            care_unit=unit,
            product=data.product,
            basis=OrderBasis.INDIVIDUAL,
            prescriber=user,
            prescriber_assignment=assignment,
            dose_number=data.dose_number,
            created_by=user,
            status=status,
        )
        audit_event_record(
            actor=actor,
            action=Action.CREATE,
            patient=patient,
            object_type="journal.order",
            object_id=str(created.pk),
            detail={"product": data.product.code, "basis": created.basis},
        )
        return created
    raise ValidationError(
        {
            "order": _(
                "There is no order for %(product)s: ask a physician to order it, or use a standing order."
            )
            % {"product": data.product.name}
        }
    )


@functools.cache
def _standing_order_query() -> str:
    products = StandingOrder.products.through._meta.db_table
    return (
        f"SELECT s.id FROM {StandingOrder._meta.db_table} s "  # noqa: S608 (names come from the models)
        f"JOIN {products} p ON p.standingorder_id = s.id "
        "WHERE s.care_unit_id = %s AND p.product_id = %s AND s.valid_from <= %s "
        "AND (s.valid_until IS NULL OR s.valid_until >= %s) ORDER BY s.valid_from DESC, s.id LIMIT 1"
    )


def _standing_order_id(unit: CareUnit, product: Product, day: date) -> int | None:
    """The unit's standing order for the product in force on `day` (the newest), if any. Written out:
    nearly every dose a nurse records asks it."""
    on = connection.ops.adapt_datefield_value(day)
    with connection.cursor() as cursor:
        cursor.execute(_standing_order_query(), [unit.pk, product.pk, on, on])
        row = cursor.fetchone()
    return int(row[0]) if row is not None else None


def _signings_of_patient_queue(patient: Patient) -> None:
    """Make a signing for this patient wait for any other one still in progress, before the history is read.

    Under READ COMMITTED two nurses signing doses for the same patient at the same moment would each check
    their dose against a history without the other's: two doses of the same vaccine minutes apart would both
    pass as valid, and each would store forecasts missing the other dose. Locking the patient's row (FOR NO
    KEY UPDATE, which does not block the rows that merely refer to the patient) makes the second one read the
    history after the first has committed. SQLite has one writer at a time already."""
    if not connection.features.has_select_for_no_key_update:
        return
    with connection.cursor() as cursor:
        cursor.execute(_PATIENT_LOCK, [patient.pk])


_PATIENT_LOCK = f"SELECT 1 FROM {Patient._meta.db_table} WHERE id = %s FOR NO KEY UPDATE"  # noqa: S608


def _decision_support(
    patient: Patient, unit: CareUnit, data: Administration, *, exclude: Vaccination | None = None
) -> tuple[Administration, Assessment]:
    """Check the dose against the provider's schedules before it is signed.

    A dose that would not count (too young, too soon, live-virus conflict, series complete, ...) may still be
    signed, because it was given, but only with a stated reason, which is stored with the version.
    """
    _signings_of_patient_queue(patient)
    assessment = assess_dose(
        patient,
        unit.care_provider,
        day=timezone.localdate(data.administered_at),
        product=data.product,
        volume=data.dose_volume_ml,
        exclude_vaccination=exclude.pk if exclude is not None else None,
    )
    problems = [p.describe() for p in assessment.problems]
    if not problems:
        return replace(data, override_reason=""), assessment
    if not data.override_reason.strip():
        raise ValidationError(
            {
                "override_reason": ValidationError(
                    _("Decision support: the dose does not count (%(problems)s). If it was given, say why.")
                    % {"problems": "; ".join(problems)},
                    code="dose_not_valid",
                )
            }
        )
    return replace(data, override_reason=data.override_reason.strip()), assessment


def _problems(assessment: Assessment | None) -> list[str]:
    return [p.describe() for p in assessment.problems] if assessment is not None else []


def _update_forecasts(patient: Patient, assessment: Assessment | None) -> None:
    """Keep the stored forecasts current after a signed change of the patient's history.

    When the dose was given today and its provider's schedule set is the only one in use, the evaluation made
    before signing already is today's forecast of the vaccine groups the dose can change: those are stored in
    this transaction. The patient's other groups are the same with or without the dose; the nightly refresh
    moves them to the new day with everyone else's. Otherwise a task recomputes after commit.
    """
    today = timezone.localdate()
    if (
        assessment is not None
        and assessment.result is not None
        and assessment.day == today
        and schedule_keys_in_use() == [assessment.schedule_key]
    ):
        rows = rows_from_result(str(patient.pk), assessment.result)
        _insert_forecast_rows(rows, assessment.schedule_key, timezone.now(), today, replace=True)
        return
    _refresh_forecasts_after_commit(patient)


class _ForecastRefresh:
    """One on-commit callback per transaction that queues each changed patient's refresh once."""

    def __init__(self) -> None:
        self.patient_ids: set[str] = set()

    def __call__(self) -> None:
        from ympa.journal.tasks import refresh_patient_forecasts

        for patient_id in sorted(self.patient_ids):
            refresh_patient_forecasts.enqueue(patient_id)


def _refresh_forecasts_after_commit(patient: Patient) -> None:
    # A bulk action (the demo, an import) signs many doses of a patient in one transaction: refresh each once.
    # Django keeps registered callbacks in connection.run_on_commit as (savepoint ids, callback, robust).
    connection = transaction.get_connection()
    pending = next(
        (f for _sids, f, _robust in connection.run_on_commit if isinstance(f, _ForecastRefresh)), None
    )
    if pending is None:
        pending = _ForecastRefresh()
        transaction.on_commit(pending)
    pending.patient_ids.add(str(patient.pk))


def _snapshot(data: Administration) -> dict[str, Any]:
    return {
        "administered_at": data.administered_at.isoformat(),
        "product": data.product.code,
        "batch_number": data.batch_number,
        "batch_expiry": data.batch_expiry.isoformat() if data.batch_expiry else None,
        "dose_number": data.dose_number,
        "dose_volume_ml": str(data.dose_volume_ml) if data.dose_volume_ml is not None else None,
        "site": data.site,
        "route": data.route,
        "expired_batch_confirmed": data.expired_batch_confirmed,
        "override_reason": data.override_reason,
    }


def vaccination_record(
    *,
    actor: Actor,
    patient: Patient,
    data: Administration,
    order: Order | None = None,
    idempotency_key: str | None = None,
    sign: bool = False,
) -> Vaccination:
    """Record a dose that was given, as a draft (or signed at once when `sign`).

    The same idempotency key from the same user returns the first record instead of a second one, whether
    the repeat comes later or races the first: its transaction fails on the idempotency constraint and rolls
    back whole (no savepoint on the way of every dose), and the first one's record is returned.
    """
    try:
        return _vaccination_record(
            actor=actor,
            patient=patient,
            data=data,
            order=order,
            idempotency_key=idempotency_key,
            sign=sign,
        )
    except (IntegrityError, ValidationError):
        # A repeat fails on the idempotency constraint, or earlier on a check that the first request's own
        # dose now fails (its order is fulfilled; decision support finds the dose itself in the history).
        key = (idempotency_key or "").strip()
        existing = _by_key(_user(actor), key) if key else None
        if existing is None:
            raise
        return _same_request(existing, patient)


@transaction.atomic
def _vaccination_record(
    *,
    actor: Actor,
    patient: Patient,
    data: Administration,
    order: Order | None,
    idempotency_key: str | None,
    sign: bool,
) -> Vaccination:
    user = _user(actor)
    assignment, unit = _assignment_with(actor, Right.ADMINISTER)
    if sign:
        _assignment_with(actor, Right.SIGN)
    key = (idempotency_key or "").strip()
    if len(key) > 64:
        raise ValidationError({"idempotency_key": _("The idempotency key is longer than 64 characters.")})
    # A repeated key is not looked up here, where every dose would pay for it: the repeat fails on the
    # idempotency constraint when its vaccination is inserted, and vaccination_record answers it.
    clean = _validate(patient, data)
    assessment: Assessment | None = None
    if sign:
        clean, assessment = _decision_support(patient, unit, clean)
    resolved_order = _order_for(
        actor=actor,
        user=user,
        assignment=assignment,
        unit=unit,
        patient=patient,
        data=clean,
        order=order,
        given=sign,
    )
    visit_id = _visit_id_for(patient, unit, timezone.localdate(clean.administered_at), user)
    now = timezone.now()
    vaccination = Vaccination(
        patient=patient,
        care_unit=unit,
        visit_id=visit_id,
        order=resolved_order,
        status=EntryStatus.SIGNED if sign else EntryStatus.DRAFT,
        created_by=user,
        created_assignment=assignment,
        idempotency_key=key,
    )
    # The version is written first so that the header is inserted in its final state (foreign keys are
    # checked at commit); one UPDATE fewer per dose.
    version = VaccinationVersion(
        vaccination=vaccination,
        number=1,
        performer=user,
        created_by=user,
        signed_at=now if sign else None,
        signed_by=user if sign else None,
        **{f.name: getattr(clean, f.name) for f in fields(clean)},
    )
    rows.insert(version)
    vaccination.current_version = version
    # A concurrent double submit fails here on the idempotency constraint: vaccination_record answers it
    # after this transaction has rolled back.
    rows.insert(vaccination)
    if sign:
        _order_given(resolved_order)
    events = [
        audit_event_build(
            actor=actor,
            action=Action.CREATE,
            patient=patient,
            object_type="journal.vaccination",
            object_id=str(vaccination.pk),
            detail=_snapshot(clean),
        )
    ]
    if sign:
        events.append(
            audit_event_build(
                actor=actor,
                action=Action.SIGN,
                patient=patient,
                object_type="journal.vaccination",
                object_id=str(vaccination.pk),
                detail={"version": 1, "decision_support": _problems(assessment)},
            )
        )
    if sign:
        _update_forecasts(patient, assessment)
        _book_stock(unit, vaccination, clean, user)
    # Last: the log write locks its chain's head until commit, and every writer of the care provider waits
    # for it (see _book_stock), so nothing else is done while it is held.
    audit_events_save(events)
    return vaccination


def _book_stock(unit: CareUnit, vaccination: Vaccination, data: Administration, user: User) -> None:
    """A signed dose leaves the unit's stock in the signing transaction (ympa.inventory: never refused).

    Every stock booking of the record comes before its log write: writers lock the balance row, then the
    log's chain head, always in that order, so two of them cannot deadlock. The chain head (one per care
    provider) is the lock every signer of the provider shares, a balance row only those giving the same batch
    at the same unit: the shared one is taken last and held only for the log row and the commit."""
    stock_dose_book(
        unit=unit,
        vaccination_id=vaccination.pk,
        product_id=data.product.pk,
        batch_number=data.batch_number,
        given_at=data.administered_at,
        user=user,
    )


def _visit_id_for(patient: Patient, unit: CareUnit, day: date, user: User) -> UUID:
    """The patient's visit at the unit that day, created if needed (a race leaves exactly one).

    One upsert instead of insert-then-select. The ORM cannot do it: on a conflict its bulk_create keeps the
    new object's client-side UUID instead of the existing row's, so the statement is written out; the no-op
    update makes both databases return the existing row's id.
    """
    connection = transaction.get_connection()
    fields = {f.attname: f for f in Visit._meta.concrete_fields}
    values = {
        "id": uuid4(),
        "patient_id": patient.pk,
        "care_unit_id": unit.pk,
        "visit_date": day,
        "started_at": timezone.now(),
        "created_by_id": user.pk,
    }
    quote = connection.ops.quote_name
    names = ", ".join(quote(fields[name].column) for name in values)
    placeholders = ", ".join(["%s"] * len(values))
    # Table and column names come from the model (the conflict target is the visit_one_per_day constraint);
    # every value is a parameter.
    sql = (
        f"INSERT INTO {quote(Visit._meta.db_table)} ({names}) VALUES ({placeholders}) "  # noqa: S608
        "ON CONFLICT (patient_id, care_unit_id, visit_date) DO UPDATE SET visit_date = excluded.visit_date "
        "RETURNING id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [fields[name].get_db_prep_save(v, connection) for name, v in values.items()])
        row = cursor.fetchone()
    return fields["id"].to_python(row[0])


def _order_given(order: Order) -> None:
    """A signed dose fulfils its order (each order is for one dose)."""
    if order.status == OrderStatus.ACTIVE:
        order.status = OrderStatus.COMPLETED
        order.save(update_fields=["status"])


_BY_KEY = (
    f"SELECT id FROM {Vaccination._meta.db_table} "  # noqa: S608 (the table name comes from the model)
    "WHERE created_by_id = %s AND idempotency_key = %s AND NOT (idempotency_key = '')"
)


def _by_key(user: User, key: str) -> Vaccination | None:
    # Written out, and only a hit is loaded through the ORM. The non-empty term is the partial unique index's
    # own condition, word for word: SQLite uses a partial index only when it finds the index's condition in
    # the query (`<> ''` made it scan the nurse's every dose).
    with connection.cursor() as cursor:
        cursor.execute(_BY_KEY, [user.pk, key])
        row = cursor.fetchone()
    return Vaccination.objects.get(pk=row[0]) if row is not None else None


def _same_request(existing: Vaccination, patient: Patient) -> Vaccination:
    if existing.patient_id != patient.pk:
        raise ConflictError(
            _("This idempotency key was already used for another patient."), code="idempotency_key_reused"
        )
    return existing


def _lock(vaccination: Vaccination) -> Vaccination:
    return (
        Vaccination.objects.select_for_update(of=("self",))
        .select_related("current_version__product", "care_unit__care_provider", "patient")
        .get(pk=vaccination.pk)
    )


@transaction.atomic
def vaccination_update_draft(*, actor: Actor, vaccination: Vaccination, data: Administration) -> Vaccination:
    """Change a draft. A signed or nullified entry cannot be edited: correct it instead."""
    _user(actor)
    _assignment, unit = _assignment_with(actor, Right.ADMINISTER)
    locked = _lock(vaccination)
    if locked.status != EntryStatus.DRAFT:
        raise ConflictError(
            _("The entry is signed and cannot be edited. Make a correction instead."), code="entry_signed"
        )
    if locked.care_unit_id != unit.pk:
        raise NotPermitted(_("Only staff at the care unit that made the draft can change it."))
    clean = _validate(locked.patient, data)
    version = locked.current_version
    assert version is not None
    if clean.product.pk != locked.order.product_id:
        raise ValidationError({"product": _("The product differs from the order. Record a new vaccination.")})
    for f in fields(clean):
        setattr(version, f.name, getattr(clean, f.name))
    version.save()
    audit_event_record(
        actor=actor,
        action=Action.UPDATE,
        patient=locked.patient,
        object_type="journal.vaccination",
        object_id=str(locked.pk),
        detail=_snapshot(clean),
    )
    return locked


@transaction.atomic
def vaccination_sign(*, actor: Actor, vaccination: Vaccination, override_reason: str = "") -> Vaccination:
    user = _user(actor)
    _assignment, unit = _assignment_with(actor, Right.SIGN)
    locked = _lock(vaccination)
    if locked.status != EntryStatus.DRAFT:
        raise ConflictError(_("The entry is already signed or nullified."), code="not_draft")
    if locked.care_unit_id != unit.pk:
        raise NotPermitted(_("Only staff at the care unit that recorded the entry can sign it."))
    version = locked.current_version
    assert version is not None
    # Re-validate: time has passed since the draft (the batch may have expired, a birth date been corrected).
    draft = Administration.of_version(version)
    _validate(locked.patient, draft)
    checked, assessment = _decision_support(
        locked.patient, unit, replace(draft, override_reason=override_reason or draft.override_reason)
    )
    version.override_reason = checked.override_reason
    version.signed_at = timezone.now()
    version.signed_by = user
    version.save(update_fields=["override_reason", "signed_at", "signed_by"])
    locked.status = EntryStatus.SIGNED
    locked.save(update_fields=["status"])
    _order_given(locked.order)
    _update_forecasts(locked.patient, assessment)
    _book_stock(unit, locked, draft, user)
    # Last, after the stock booking (see _book_stock).
    audit_event_record(
        actor=actor,
        action=Action.SIGN,
        patient=locked.patient,
        object_type="journal.vaccination",
        object_id=str(locked.pk),
        detail={"version": version.number, "decision_support": _problems(assessment)},
    )
    return locked


@transaction.atomic
def vaccination_correct(
    *, actor: Actor, vaccination: Vaccination, data: Administration, reason: str
) -> Vaccination:
    """Correct a signed entry: a new signed version; the old one stays readable with who, when and why."""
    user = _user(actor)
    _assignment_with(actor, Right.CORRECT)
    _assignment, unit = _assignment_with(actor, Right.SIGN)
    locked = _lock(vaccination)
    if locked.status == EntryStatus.DRAFT:
        raise ConflictError(
            _("A draft is changed directly; only signed entries are corrected."), code="draft"
        )
    if locked.status == EntryStatus.NULLIFIED:
        raise ConflictError(_("A nullified entry cannot be corrected."), code="nullified")
    if unit.care_provider_id != locked.care_unit.care_provider_id:
        raise NotPermitted(_("Only the care provider that made the entry can correct it."))
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": _("Say why the entry is corrected.")})
    clean = _validate(locked.patient, data)
    previous = locked.current_version
    assert previous is not None
    old = Administration.of_version(previous)
    changed = [
        f.name
        for f in fields(clean)
        if f.name != "override_reason" and getattr(old, f.name) != getattr(clean, f.name)
    ]
    if not changed:
        raise ValidationError({"__all__": _("Nothing was changed, so there is nothing to correct.")})
    clean, assessment = _decision_support(locked.patient, unit, clean, exclude=locked)
    now = timezone.now()
    version = VaccinationVersion.objects.create(
        vaccination=locked,
        number=previous.number + 1,
        performer=previous.performer,
        created_by=user,
        correction_reason=reason,
        signed_at=now,
        signed_by=user,
        **{f.name: getattr(clean, f.name) for f in fields(clean)},
    )
    locked.current_version = version
    locked.save(update_fields=["current_version"])
    before, after = _snapshot(old), _snapshot(clean)
    if old.product.pk != clean.product.pk or old.batch_number != clean.batch_number:
        # The dose came from another batch than first recorded: the stock follows the record.
        stock_dose_rebook(
            unit=locked.care_unit,
            vaccination_id=locked.pk,
            product_id=clean.product.pk,
            batch_number=clean.batch_number,
            given_at=clean.administered_at,
            user=user,
            # Not the correction's reason: it may describe the patient; the ledger holds no patient data.
            note=_("Batch corrected in the record"),
        )
    # A correction may move a dose in time; later doses matter, so the forecast is recomputed in full.
    _refresh_forecasts_after_commit(locked.patient)
    # Last, after the stock booking (see _book_stock).
    audit_event_record(
        actor=actor,
        action=Action.CORRECT,
        patient=locked.patient,
        object_type="journal.vaccination",
        object_id=str(locked.pk),
        detail={
            "version": version.number,
            "reason": reason,
            "changes": {name: [before.get(name), after.get(name)] for name in changed if name in before},
            "decision_support": _problems(assessment),
        },
    )
    return locked


@transaction.atomic
def vaccination_nullify(*, actor: Actor, vaccination: Vaccination, reason: str) -> Vaccination:
    """Mark an entry void (makulering). It stays in the record, shown as nullified with the reason."""
    user = _user(actor)
    _assignment, unit = _assignment_with(actor, Right.CORRECT)
    locked = _lock(vaccination)
    if locked.status == EntryStatus.NULLIFIED:
        raise ConflictError(_("The entry is already nullified."), code="nullified")
    if unit.care_provider_id != locked.care_unit.care_provider_id:
        raise NotPermitted(_("Only the care provider that made the entry can nullify it."))
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": _("Say why the entry is nullified.")})
    locked.status = EntryStatus.NULLIFIED
    locked.nullified_at = timezone.now()
    locked.nullified_by = user
    locked.nullification_reason = reason
    locked.save(update_fields=["status", "nullified_at", "nullified_by", "nullification_reason"])
    # The dose no longer fulfils its order: a standing-order order existed only for this dose and ends; a
    # prescriber's individual order stands again, to be given or cancelled by a prescriber.
    order = locked.order
    order.status = OrderStatus.CANCELLED if order.basis == OrderBasis.STANDING else OrderStatus.ACTIVE
    order.save(update_fields=["status"])
    # A dose recorded in error goes back to the stock it was booked from (nothing when none was booked).
    stock_dose_return(vaccination_id=locked.pk, user=user, note=_("Nullified in the record"))
    if locked.current_version is not None and locked.current_version.signed_at is not None:
        _refresh_forecasts_after_commit(locked.patient)
    # Last, after the stock booking (see _book_stock).
    audit_event_record(
        actor=actor,
        action=Action.NULLIFY,
        patient=locked.patient,
        object_type="journal.vaccination",
        object_id=str(locked.pk),
        detail={"reason": reason},
    )
    return locked


@dataclass(frozen=True)
class AdverseEventReport:
    symptoms: list[str]
    onset_at: datetime
    severity: str
    description: str = ""
    serious: bool = False
    reported_to_mpa: bool = False
    mpa_reported_on: date | None = None
    mpa_reference: str = ""


@transaction.atomic
def adverse_event_register(
    *, actor: Actor, vaccination: Vaccination, report: AdverseEventReport
) -> AdverseEvent:
    """Register a suspected adverse event following a dose; saved signed by the recording professional."""
    user = _user(actor)
    assignment, _unit = _assignment_with(actor, Right.SIGN)
    locked = _lock(vaccination)
    if locked.status == EntryStatus.NULLIFIED:
        raise ConflictError(
            _("The vaccination is nullified; register the event on the right dose."), code="nullified"
        )
    errors: dict[str, str] = {}
    version = locked.current_version
    assert version is not None
    if not report.symptoms:
        errors["symptoms"] = _("Choose at least one symptom.")
    elif any(s not in Symptom.values for s in report.symptoms):
        errors["symptoms"] = _("Unknown symptom.")
    if Symptom.OTHER in report.symptoms and not report.description.strip():
        errors["description"] = _("Describe the symptom marked as other.")
    if report.severity not in Severity.values:
        errors["severity"] = _("Choose the severity.")
    if report.onset_at > timezone.now():
        errors["onset_at"] = _("The onset is in the future.")
    elif report.onset_at < version.administered_at:
        errors["onset_at"] = _("The onset is before the dose was given.")
    if report.mpa_reported_on and not report.reported_to_mpa:
        errors["mpa_reported_on"] = _(
            "A report date needs the box 'reported to the Medical Products Agency'."
        )
    if errors:
        raise ValidationError(errors)
    now = timezone.now()
    event = AdverseEvent.objects.create(
        vaccination=locked,
        patient=locked.patient,
        symptoms=sorted(set(report.symptoms)),
        description=report.description.strip(),
        onset_at=report.onset_at,
        severity=report.severity,
        serious=report.serious,
        reported_to_mpa=report.reported_to_mpa,
        mpa_reported_on=report.mpa_reported_on,
        mpa_reference=report.mpa_reference.strip(),
        recorded_by=user,
        recorded_assignment=assignment,
        recorded_at=now,
        signed_at=now,
    )
    audit_event_record(
        actor=actor,
        action=Action.CREATE,
        patient=locked.patient,
        object_type="journal.adverseevent",
        object_id=str(event.pk),
        detail={"vaccination": str(locked.pk), "severity": report.severity, "symptoms": event.symptoms},
    )
    return event


@transaction.atomic
def adverse_event_nullify(*, actor: Actor, event: AdverseEvent, reason: str) -> AdverseEvent:
    user = _user(actor)
    _assignment, unit = _assignment_with(actor, Right.CORRECT)
    locked = (
        AdverseEvent.objects.select_for_update().select_related("vaccination__care_unit").get(pk=event.pk)
    )
    if locked.nullified_at is not None:
        raise ConflictError(_("The adverse event is already nullified."), code="nullified")
    if unit.care_provider_id != locked.vaccination.care_unit.care_provider_id:
        raise NotPermitted(_("Only the care provider that made the entry can nullify it."))
    if not reason.strip():
        raise ValidationError({"reason": _("Say why the entry is nullified.")})
    locked.nullified_at = timezone.now()
    locked.nullified_by = user
    locked.nullification_reason = reason.strip()
    locked.save(update_fields=["nullified_at", "nullified_by", "nullification_reason"])
    audit_event_record(
        actor=actor,
        action=Action.NULLIFY,
        patient=locked.patient,
        object_type="journal.adverseevent",
        object_id=str(locked.pk),
        detail={"reason": locked.nullification_reason},
    )
    return locked


def _stored(row: ForecastRow, key: str, now: datetime, today: date) -> StoredForecast:
    patient_id, group, status, dose_number, earliest, recommended, past_due, latest = row
    return StoredForecast(
        patient_id=patient_id,
        schedule_key=key,
        vaccine_group=group,
        status=status,
        dose_number=dose_number,
        earliest=earliest,
        recommended=recommended,
        past_due=past_due,
        latest=latest,
        computed_at=now,
        assessment_date=today,
    )


@transaction.atomic
def forecast_refresh_patient(*, patient_id: str) -> int:
    """Recompute the patient's stored forecasts under every schedule set in use; returns the row count.

    Idempotent: it replaces whatever was stored, so running it twice (or late) gives the same result.
    """
    patient = Patient.objects.select_for_update().filter(pk=patient_id).first()
    if patient is None:
        return 0
    StoredForecast.objects.filter(patient=patient).delete()
    if patient.birth_date is None:
        return 0
    today, now = timezone.localdate(), timezone.now()
    item = [
        PatientFacts(
            str(patient.pk),
            patient.birth_date,
            patient.legal_sex,
            tuple(history(patient)),
            tuple(conditions(patient)),
        )
    ]
    rows = [
        _stored(row, key, now, today)
        for key in keys_in_use(CareProvider.objects.all())
        for row in forecast_rows_for(data_for_key(key), item, today)
    ]
    StoredForecast.objects.bulk_create(rows)
    return len(rows)


# Rows per INSERT statement: one statement for a patient's forecasts, bulk refreshes in a few hundred.
_FORECAST_ROWS_PER_STATEMENT = 50
# A forecast column set that identifies what a refresh may change; computed_at is left out, so a
# recomputation that finds the same forecast on the same day rewrites nothing.
_FORECAST_COMPARED = tuple(c for c in FORECAST_VALUES if c != "computed_at")


def _insert_forecast_rows(
    rows: list[ForecastRow], key: str, now: datetime, today: date, *, replace: bool = False
) -> int:
    """Insert stored-forecast rows, many per statement (`replace`: overwrite existing rows that differ).

    Building model instances costs more than computing the forecasts; the values are adapted by the database
    backend exactly as the ORM would adapt them. With `replace`, a row whose forecast and assessment day are
    unchanged is left alone: recording a dose changes one vaccine group's forecast, and rewriting the
    patient's other rows would only leave dead row versions behind.
    """
    if not rows:
        return 0
    ops = connection.ops
    patient_field = StoredForecast._meta.get_field("patient")
    computed_at = ops.adapt_datetimefield_value(now)
    assessed = ops.adapt_datefield_value(today)
    table = ops.quote_name(StoredForecast._meta.db_table)
    columns = ("patient_id", "schedule_key", "vaccine_group", *FORECAST_VALUES)
    row_marks = "(" + ", ".join(["%s"] * len(columns)) + ")"
    names = ", ".join(ops.quote_name(c) for c in columns)
    conflict = ""
    if replace:
        updates = ", ".join(f"{ops.quote_name(c)} = excluded.{ops.quote_name(c)}" for c in FORECAST_VALUES)
        old = ", ".join(f"{table}.{ops.quote_name(c)}" for c in _FORECAST_COMPARED)
        new = ", ".join(f"excluded.{ops.quote_name(c)}" for c in _FORECAST_COMPARED)
        differs = "IS DISTINCT FROM" if connection.vendor == "postgresql" else "IS NOT"
        # The conflict target is the stored_forecast_unique constraint.
        conflict = (
            f" ON CONFLICT (patient_id, schedule_key, vaccine_group) DO UPDATE SET {updates}"
            f" WHERE ({old}) {differs} ({new})"
        )
    values = [
        (
            patient_field.get_db_prep_value(UUID(patient_id), connection),
            key,
            group,
            status,
            dose_number,
            ops.adapt_datefield_value(earliest),
            ops.adapt_datefield_value(recommended),
            ops.adapt_datefield_value(past_due),
            ops.adapt_datefield_value(latest),
            computed_at,
            assessed,
        )
        for patient_id, group, status, dose_number, earliest, recommended, past_due, latest in rows
    ]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One statement of one text whatever the row count: the driver parses and the server plans it
            # once per connection (prepared), where a VALUES list is a new text to parse at every size.
            cursor.execute(_forecast_unnest_sql(table, names, conflict, columns), _forecast_arrays(values))
            return len(values)
        for start in range(0, len(values), _FORECAST_ROWS_PER_STATEMENT):
            chunk = values[start : start + _FORECAST_ROWS_PER_STATEMENT]
            # Table and column names come from the model; every value is a parameter.
            sql = f"INSERT INTO {table} ({names}) VALUES {', '.join([row_marks] * len(chunk))}{conflict}"  # noqa: S608
            cursor.execute(sql, [value for row in chunk for value in row])
    return len(values)


@functools.cache
def _forecast_unnest_sql(table: str, names: str, conflict: str, columns: tuple[str, ...]) -> str:
    """`INSERT … SELECT * FROM unnest(one array per column, cast to the column's type) …` (PostgreSQL)."""
    meta = StoredForecast._meta
    arrays = ", ".join(f"%s::{meta.get_field(c).db_type(connection)}[]" for c in columns)
    # Table and column names come from the model; every value is a parameter.
    return f"INSERT INTO {table} ({names}) SELECT * FROM unnest({arrays}){conflict}"  # noqa: S608


def _forecast_arrays(values: list[tuple[Any, ...]]) -> list[list[Any]]:
    """The rows as one array per column (for `unnest`)."""
    return [list(column) for column in zip(*values, strict=True)]


@dataclass(frozen=True)
class RefreshStats:
    patients: int
    rows: int
    seconds: float


def forecast_refresh_all(
    *, workers: int = 2, chunk: int = 500, progress: Callable[[int, int, float], None] | None = None
) -> RefreshStats:
    """Recompute every patient's stored forecasts (after new supporting data or a schedule-set change).

    The engine is pure Python and CPU-bound: chunks of patients go to worker processes, and while they compute
    one chunk this process reads the next and writes the previous one, each chunk in its own transaction.
    """
    started = time.monotonic()
    keys = keys_in_use(CareProvider.objects.all())
    today = timezone.localdate()
    total = Patient.objects.filter(birth_date__isnull=False).count()
    stats = {"done": 0, "rows": 0}
    # Workers import only the Django-free engine bridge; forking this (possibly threaded) process is avoided.
    context = multiprocessing.get_context("forkserver")

    def write(patient_ids: list[UUID], jobs: list[tuple[str, Future[list[ForecastRow]]]]) -> None:
        now = timezone.now()
        with transaction.atomic():
            StoredForecast.objects.filter(patient_id__in=patient_ids).delete()
            for key, future in jobs:
                stats["rows"] += _insert_forecast_rows(future.result(), key, now, today)
        stats["done"] += len(patient_ids)
        if progress is not None:
            progress(stats["done"], total, time.monotonic() - started)

    with ProcessPoolExecutor(max_workers=max(1, workers), mp_context=context) as pool:
        pending: tuple[list[UUID], list[tuple[str, Future[list[ForecastRow]]]]] | None = None
        last_pk = None
        while True:
            page = Patient.objects.filter(birth_date__isnull=False).order_by("pk")
            if last_pk is not None:
                page = page.filter(pk__gt=last_pk)
            patients = [
                (pk, birth, sex)
                for pk, birth, sex in page.values_list("pk", "birth_date", "legal_sex")[:chunk]
                if birth is not None
            ]
            if patients:
                last_pk = patients[-1][0]
                ids = [pk for pk, _birth, _sex in patients]
                doses, recorded = histories(ids), conditions_of_many(ids)
                items = [
                    PatientFacts(str(pk), birth, sex, tuple(doses.get(pk, [])), tuple(recorded.get(pk, [])))
                    for pk, birth, sex in patients
                ]
                step = -(-len(items) // max(1, workers))
                parts = [items[i : i + step] for i in range(0, len(items), step)]
                submitted = [
                    (key, pool.submit(compute_rows, key, part, today)) for key in keys for part in parts
                ]
            if pending is not None:
                write(*pending)
            if not patients:
                break
            pending = ([pk for pk, _birth, _sex in patients], submitted)
    _analyze_stored_forecasts()
    return RefreshStats(patients=stats["done"], rows=stats["rows"], seconds=time.monotonic() - started)


def _analyze_stored_forecasts() -> None:
    """Refresh PostgreSQL's statistics of the table a refresh rewrote, as its manual advises after a bulk
    load: until autovacuum gets there, a prepared lookup of a few patients' rows may be planned on none
    (see docs/architecture.md, "Hot paths")."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {connection.ops.quote_name(StoredForecast._meta.db_table)}")


def _condition_scope(actor: Actor, condition: Condition) -> Condition:
    _user(actor)
    _assignment, unit = _assignment_with(actor, Right.SIGN)
    locked = Condition.objects.select_for_update().select_related("care_unit").get(pk=condition.pk)
    if locked.care_unit.care_provider_id != unit.care_provider_id:
        raise NotPermitted(_("Only the care provider that recorded the condition can change it."))
    if locked.nullified_at is not None:
        raise ConflictError(_("The condition is nullified."), code="nullified")
    return locked


@transaction.atomic
def condition_register(
    *, actor: Actor, patient: Patient, code: str, start_date: date, note: str = ""
) -> Condition:
    """Record a condition or indication of the schedule set; decision support takes it into account."""
    user = _user(actor)
    assignment, unit = _assignment_with(actor, Right.SIGN)
    provider = unit.care_provider
    observation = schedule_data(provider).observations.get(code)
    errors: dict[str, str] = {}
    if observation is None:
        errors["code"] = _("Choose one of the conditions decision support knows.")
    if start_date > timezone.localdate():
        errors["start_date"] = _("The start date is in the future.")
    elif patient.birth_date is not None and start_date < patient.birth_date:
        errors["start_date"] = _("The start date is before the patient's birth date.")
    if (
        not errors
        and Condition.objects.filter(
            patient=patient, code=code, nullified_at__isnull=True, end_date__isnull=True
        ).exists()
    ):
        errors["code"] = _("This condition is already recorded and has not ended.")
    if errors:
        raise ValidationError(errors)
    assert observation is not None
    condition = Condition.objects.create(
        patient=patient,
        code=code,
        title=observation.title,
        schedule_set=provider.schedule_set,
        start_date=start_date,
        note=note.strip(),
        recorded_by=user,
        recorded_assignment=assignment,
        care_unit=unit,
    )
    audit_event_record(
        actor=actor,
        action=Action.CREATE,
        patient=patient,
        object_type="journal.condition",
        object_id=str(condition.pk),
        detail={"code": code, "start_date": start_date.isoformat()},
    )
    _refresh_forecasts_after_commit(patient)
    return condition


@transaction.atomic
def condition_end(*, actor: Actor, condition: Condition, end_date: date) -> Condition:
    """The condition no longer applies from `end_date` (it stays in the record)."""
    locked = _condition_scope(actor, condition)
    if locked.end_date is not None:
        raise ConflictError(_("The condition has already ended."), code="ended")
    if end_date < locked.start_date or end_date > timezone.localdate():
        raise ValidationError({"end_date": _("The end date must be between the start date and today.")})
    locked.end_date = end_date
    locked.save(update_fields=["end_date"])
    audit_event_record(
        actor=actor,
        action=Action.UPDATE,
        patient=locked.patient,
        object_type="journal.condition",
        object_id=str(locked.pk),
        detail={"end_date": end_date.isoformat()},
    )
    _refresh_forecasts_after_commit(locked.patient)
    return locked


@transaction.atomic
def condition_nullify(*, actor: Actor, condition: Condition, reason: str) -> Condition:
    """The condition was recorded in error: it stays, marked void, and no longer counts."""
    locked = _condition_scope(actor, condition)
    if not reason.strip():
        raise ValidationError({"reason": _("Say why the entry is nullified.")})
    locked.nullified_at = timezone.now()
    locked.nullified_by = _user(actor)
    locked.nullification_reason = reason.strip()
    locked.save(update_fields=["nullified_at", "nullified_by", "nullification_reason"])
    audit_event_record(
        actor=actor,
        action=Action.NULLIFY,
        patient=locked.patient,
        object_type="journal.condition",
        object_id=str(locked.pk),
        detail={"reason": locked.nullification_reason},
    )
    _refresh_forecasts_after_commit(locked.patient)
    return locked
