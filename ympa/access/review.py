"""Log review (logguppföljning): a care provider's reviewers look through its access log and record it.

The Patient Data Act (4 kap. 3 § PDL) makes the care provider check the access log systematically and
regularly. The review lists the provider's own staff's accesses in a period and marks the ones a reviewer
should look at first:

- **emergency**: emergency access, both steps and every read made while one was open (always followed up);
- **no visit**: a staff member read a patient who had no visit at their unit within `VISIT_WINDOW` of the
  access (booked visits count once booking exists);
- **protected**: the patient has a protected identity;
- **same name**: the patient has the staff member's surname, or lives at the staff member's own address
  (when the staff member is in the patient register under their personal identity number), which includes
  the staff member's own record. Case is ignored for ASCII letters only on SQLite (its lower()).

The listing itself shows identified patients, so it is an access too: each patient on a page (or in an
export) gets a row in the log, written in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import BooleanField, Exists, ExpressionWrapper, F, OuterRef, Q, QuerySet
from django.db.models.functions import Lower
from django.utils.translation import gettext as _

from ympa.access.models import Action, AuditEvent
from ympa.access.review_models import LogReview, ReviewCategory, ReviewOutcome
from ympa.access.services import audit_event_build, audit_events_save
from ympa.core.actor import Actor, ActorKind
from ympa.core.dates import day_after, day_start
from ympa.core.errors import NotPermitted
from ympa.journal.models import Visit
from ympa.orgs.models import Assignment
from ympa.orgs.rights import Right
from ympa.patients.models import Patient

VISIT_WINDOW = timedelta(days=30)
# An export is one transaction with one log row per patient in it; a reviewer narrows the period beyond this.
EXPORT_LIMIT = 10_000
# The longest period one listing covers.
MAX_PERIOD_DAYS = 366


@dataclass(frozen=True)
class ReviewFilter:
    start: date
    end: date
    categories: tuple[ReviewCategory, ...] = ()
    # Part of the staff member's name or HSA-id, and a patient's identifier (digits).
    staff: str = ""
    patient_identifier: str = ""

    def clean(self) -> ReviewFilter:
        errors: dict[str, str] = {}
        if self.end < self.start:
            errors["end"] = _("The period ends before it starts.")
        elif (self.end - self.start).days >= MAX_PERIOD_DAYS:
            errors["end"] = _("Review at most %(days)d days at a time.") % {"days": MAX_PERIOD_DAYS}
        if errors:
            raise ValidationError(errors)
        return self


def _reviewer(actor: Actor) -> Assignment:
    """Log review is the care provider's: an active assignment at one of its units with the review right."""
    assignment = actor.assignment
    if (
        actor.user is None
        or assignment is None
        or assignment.care_unit is None
        or not assignment.is_active()
        or not assignment.has_right(Right.REVIEW_LOGS)
    ):
        raise NotPermitted(_("Reviewing the access log needs the right to review logs at a care unit."))
    return assignment


def _flags() -> dict[str, Any]:
    """Each category as a boolean expression on an AuditEvent row."""
    visit = Visit.objects.filter(
        patient=OuterRef("patient"),
        care_unit=OuterRef("care_unit"),
        started_at__gte=OuterRef("occurred_at") - VISIT_WINDOW,
        started_at__lte=OuterRef("occurred_at") + timedelta(days=1),
    )
    # The staff member's own entry in the patient register, at the patient's address.
    same_address = (
        Patient.objects.filter(
            identifier=OuterRef("user__personal_identity_number"),
            postal_code=OuterRef("patient__postal_code"),
        )
        .exclude(street_address="")
        .annotate(street=Lower("street_address"))
        .filter(street=Lower(OuterRef("patient__street_address")))
    )
    return {
        ReviewCategory.EMERGENCY.value: ExpressionWrapper(
            Q(detail__type="emergency") | Q(detail__emergency=True), output_field=BooleanField()
        ),
        ReviewCategory.NO_VISIT.value: ExpressionWrapper(
            Q(actor_kind=ActorKind.STAFF, patient__isnull=False, care_unit__isnull=False) & ~Exists(visit),
            output_field=BooleanField(),
        ),
        ReviewCategory.PROTECTED.value: ExpressionWrapper(
            Q(patient__protected_identity=True), output_field=BooleanField()
        ),
        ReviewCategory.SAME_NAME.value: ExpressionWrapper(
            Q(actor_kind=ActorKind.STAFF, patient__isnull=False)
            & (Q(patient_surname=F("staff_surname")) | Exists(same_address)),
            output_field=BooleanField(),
        ),
    }


def _events(assignment: Assignment, review: ReviewFilter) -> QuerySet[AuditEvent]:
    assert assignment.care_unit is not None
    events = (
        AuditEvent.objects.filter(
            care_provider_id=assignment.care_unit.care_provider_id,
            occurred_at__gte=day_start(review.start),
            occurred_at__lt=day_after(review.end),
            patient__isnull=False,
        )
        .select_related("patient", "care_unit")
        .annotate(patient_surname=Lower("patient__family_name"), staff_surname=Lower("user__last_name"))
        .annotate(**{f"is_{name}": expression for name, expression in _flags().items()})
    )
    if review.categories:
        wanted = Q()
        for category in review.categories:
            wanted |= Q(**{f"is_{category.value}": True})
        events = events.filter(wanted)
    if review.staff.strip():
        term = review.staff.strip()
        events = events.filter(Q(actor_name__icontains=term) | Q(actor_identity__icontains=term))
    digits = "".join(ch for ch in review.patient_identifier if ch.isdigit())
    if digits:
        events = events.filter(patient__identifier__endswith=digits)
    return events.order_by("-occurred_at", "-id")


@dataclass(frozen=True)
class ReviewRow:
    event: AuditEvent
    categories: tuple[ReviewCategory, ...]


def _row(event: AuditEvent) -> ReviewRow:
    return ReviewRow(
        event=event,
        categories=tuple(c for c in ReviewCategory if getattr(event, f"is_{c.value}", False)),
    )


def _log_listed(actor: Actor, rows: list[ReviewRow], action: Action, review: ReviewFilter) -> None:
    patients = {row.event.patient_id: row.event.patient for row in rows if row.event.patient is not None}
    detail = {"review": f"{review.start.isoformat()}/{review.end.isoformat()}"}
    audit_events_save(
        [
            audit_event_build(
                actor=actor,
                action=action,
                patient=patient,
                object_type="access.log_review",
                object_id=str(patient.pk),
                detail=detail,
                purpose="log_review",
            )
            for patient in patients.values()
        ]
    )


@dataclass(frozen=True)
class ReviewPage:
    rows: list[ReviewRow]
    total: int
    page: int
    pages: int


@transaction.atomic
def log_review_page(*, actor: Actor, review: ReviewFilter, page: int = 1, per_page: int = 100) -> ReviewPage:
    """One page of the provider's accesses in the period, newest first, each with its categories; the
    patients shown are logged as read for the review."""
    assignment = _reviewer(actor)
    events = _events(assignment, review.clean())
    total = events.count()
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    rows = [_row(event) for event in events[(page - 1) * per_page : page * per_page]]
    _log_listed(actor, rows, Action.READ, review)
    return ReviewPage(rows=rows, total=total, page=page, pages=pages)


@transaction.atomic
def log_review_export(*, actor: Actor, review: ReviewFilter) -> list[ReviewRow]:
    """Every matching access for a CSV file (at most EXPORT_LIMIT), each patient logged as exported."""
    assignment = _reviewer(actor)
    events = _events(assignment, review.clean())
    rows = [_row(event) for event in events[: EXPORT_LIMIT + 1]]
    if len(rows) > EXPORT_LIMIT:
        raise ValidationError(
            _("More than %(limit)d accesses match. Choose a shorter period or fewer categories.")
            % {"limit": EXPORT_LIMIT}
        )
    _log_listed(actor, rows, Action.EXPORT, review)
    return rows


def emergency_accesses_since_last_review(*, actor: Actor) -> int:
    """Emergency accesses at the provider after the end of the newest review that covered them."""
    assignment = _reviewer(actor)
    assert assignment.care_unit is not None
    provider_id = assignment.care_unit.care_provider_id
    # A review covered emergency accesses when it listed every access or chose that category.
    last = max(
        (
            period_end
            for period_end, categories in LogReview.objects.filter(care_provider_id=provider_id).values_list(
                "period_end", "categories"
            )
            if not categories or ReviewCategory.EMERGENCY.value in categories
        ),
        default=None,
    )
    events = AuditEvent.objects.filter(care_provider_id=provider_id).filter(
        Q(detail__type="emergency") | Q(detail__emergency=True)
    )
    if last is not None:
        events = events.filter(occurred_at__gte=day_after(last))
    return events.count()


@transaction.atomic
def log_review_record(
    *, actor: Actor, review: ReviewFilter, outcome: ReviewOutcome, finding: str
) -> LogReview:
    """Record that the period was reviewed: who, when, which categories, how many accesses, the finding."""
    assignment = _reviewer(actor)
    review.clean()
    if not finding.strip():
        raise ValidationError({"finding": _("Describe what the review found (or that it found nothing).")})
    assert assignment.care_unit is not None and actor.user is not None
    return LogReview.objects.create(
        care_provider_id=assignment.care_unit.care_provider_id,
        reviewed_by=actor.user,
        reviewer_assignment=assignment,
        period_start=review.start,
        period_end=review.end,
        categories=[c.value for c in review.categories],
        accesses_listed=_events(assignment, review).count(),
        outcome=outcome,
        finding=finding.strip(),
    )


def log_reviews(*, actor: Actor, limit: int = 20) -> list[LogReview]:
    assignment = _reviewer(actor)
    assert assignment.care_unit is not None
    return list(
        LogReview.objects.filter(care_provider_id=assignment.care_unit.care_provider_id).select_related(
            "reviewed_by"
        )[:limit]
    )
