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


def assignment_for_session(user: User, assignment_id: object) -> Assignment | None:
    if not isinstance(assignment_id, int):
        return None
    return active_assignments(user).filter(pk=assignment_id).first()


def users_by_phone(phone: str) -> list[User]:
    """The active accounts with this mobile number (E.164); a number is not unique to one account."""
    return list(User.objects.filter(phone=phone, is_active=True).order_by("pk"))
