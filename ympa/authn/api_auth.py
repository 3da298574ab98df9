from __future__ import annotations

import functools

from django.db import connection
from django.http import HttpRequest
from django.utils import timezone
from ninja.security import HttpBearer

from ympa.authn.models import ApiToken, User
from ympa.authn.services import token_hash
from ympa.core.actor import Actor, Channel
from ympa.core.rows import Columns, split
from ympa.orgs.models import Assignment, CareProvider, CareUnit

# Writing last_used_at on every call would add a write to every read; once a minute is enough to audit use.
LAST_USED_RESOLUTION_SECONDS = 60


class BearerToken(HttpBearer):
    """`Authorization: Bearer ympa_...` from `ympa api-token USERNAME`; acts as the token's assignment."""

    def authenticate(self, request: HttpRequest, token: str) -> ApiToken | None:
        if not token.startswith("ympa_") or len(token) > 100:
            return None
        record = _token_with_assignment(token_hash(token))
        if record is None or not record.assignment.is_active():
            return None
        now = timezone.now()
        if (
            record.last_used_at is None
            or (now - record.last_used_at).total_seconds() > LAST_USED_RESOLUTION_SECONDS
        ):
            ApiToken.objects.filter(pk=record.pk).update(last_used_at=now)
        request.actor = Actor.staff(record.user, record.assignment, Channel.API)  # type: ignore[attr-defined]
        return record


_TOKEN = Columns(ApiToken, "t")
_USER = Columns(User, "u")
_ASSIGNMENT = Columns(Assignment, "a")
_UNIT = Columns(CareUnit, "cu")
_PROVIDER = Columns(CareProvider, "cp")


@functools.cache
def _token_query() -> str:
    parts = (_TOKEN, _USER, _ASSIGNMENT, _UNIT, _PROVIDER)
    tables = {part.alias: part.model._meta.db_table for part in parts}
    return (
        f"SELECT {', '.join(part.select() for part in parts)} FROM {tables['t']} t "  # noqa: S608
        f"JOIN {tables['u']} u ON u.id = t.user_id JOIN {tables['a']} a ON a.id = t.assignment_id "
        f"LEFT JOIN {tables['cu']} cu ON cu.id = a.care_unit_id "
        f"LEFT JOIN {tables['cp']} cp ON cp.id = cu.care_provider_id "
        "WHERE t.token_hash = %s AND t.revoked_at IS NULL AND u.is_active"
    )


def _token_with_assignment(digest: str) -> ApiToken | None:
    """The live token with its user, assignment, care unit and provider: what
    `select_related("user", "assignment__care_unit__care_provider")` gives, written out because every API
    call runs it and the ORM's query building cost more than the query (see ympa.core.rows)."""
    with connection.cursor() as cursor:
        cursor.execute(_token_query(), [digest])
        row = cursor.fetchone()
    if row is None:
        return None
    token, user, assignment, unit, provider = split(row, (_TOKEN, _USER, _ASSIGNMENT, _UNIT, _PROVIDER))
    assert isinstance(token, ApiToken) and isinstance(user, User) and isinstance(assignment, Assignment)
    if unit is not None:
        unit.care_provider = provider  # type: ignore[attr-defined]
    assignment.care_unit = unit  # type: ignore[assignment]
    token.user = user
    token.assignment = assignment
    return token


def api_actor(request: HttpRequest) -> Actor:
    """The Actor that BearerToken attached to an authenticated API request."""
    actor = getattr(request, "actor", None)
    if not isinstance(actor, Actor):
        raise RuntimeError("API view reached without authentication")
    return actor
