from __future__ import annotations

from django.db.models import Q, QuerySet
from django.utils import timezone

from ympa.authn.models import User
from ympa.orgs.models import Assignment


def active_assignments(user: User) -> QuerySet[Assignment]:
    now = timezone.now()
    return (
        Assignment.objects.filter(user=user, valid_from__lte=now)
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gt=now))
        .select_related("care_unit__care_provider", "region")
        .order_by("care_unit__name", "region__name", "id")
    )


def session_assignments(user: User, care_unit_hsa_ids: list[str] | None) -> QuerySet[Assignment]:
    """The assignments the session may use: all active ones, or (after a SITHS login, which passes the care
    units of the employee's "Vård och behandling" commissions) only those at these care units."""
    assignments = active_assignments(user)
    if care_unit_hsa_ids is not None:
        assignments = assignments.filter(care_unit__hsa_id__in=care_unit_hsa_ids)
    return assignments


def assignment_for_session(
    user: User, assignment_id: object, care_unit_hsa_ids: list[str] | None = None
) -> Assignment | None:
    if not isinstance(assignment_id, int):
        return None
    return session_assignments(user, care_unit_hsa_ids).filter(pk=assignment_id).first()


def users_by_phone(phone: str) -> list[User]:
    """The active accounts with this mobile number (E.164); a number is not unique to one account."""
    return list(User.objects.filter(phone=phone, is_active=True).order_by("pk"))
