from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Count, Max, Q, QuerySet
from django.utils import timezone

from ympa.authn.models import AuthEvent, AuthEventKind, User
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


# Password guessing: after this many wrong passwords for one username or mobile number, or from one address,
# within the window, no password is checked until the window has passed since the last failure.
PASSWORD_WINDOW = timedelta(minutes=15)
MAX_PASSWORD_FAILURES_PER_IDENTITY = 10
MAX_PASSWORD_FAILURES_PER_IP = 50
PASSWORD_FAILURES = ("wrong_password", "unknown_number", "ambiguous_number")


def password_attempts_blocked_until(identity: str, ip: str | None) -> datetime | None:
    """When password attempts for `identity` (or from `ip`) may start again; None if they may now.

    Counted from the login trail, so the limit holds across app servers. Unknown usernames and numbers
    count like known ones: the answer says nothing about whether an account exists.
    """
    recent = AuthEvent.objects.filter(
        kind=AuthEventKind.LOGIN_FAILED,
        detail__in=PASSWORD_FAILURES,
        occurred_at__gt=timezone.now() - PASSWORD_WINDOW,
    )
    scopes = [(recent.filter(identity=identity), MAX_PASSWORD_FAILURES_PER_IDENTITY)]
    if ip is not None:
        scopes.append((recent.filter(ip=ip), MAX_PASSWORD_FAILURES_PER_IP))
    blocked: list[datetime] = []
    for failures, limit in scopes:
        stats = failures.aggregate(count=Count("pk"), last=Max("occurred_at"))
        if stats["count"] >= limit and stats["last"] is not None:
            blocked.append(stats["last"] + PASSWORD_WINDOW)
    return max(blocked, default=None)
