from __future__ import annotations

from django.http import HttpRequest
from django.utils import timezone
from ninja.security import HttpBearer

from ympa.authn.models import ApiToken
from ympa.authn.services import token_hash
from ympa.core.actor import Actor, Channel

# Writing last_used_at on every call would add a write to every read; once a minute is enough to audit use.
LAST_USED_RESOLUTION_SECONDS = 60


class BearerToken(HttpBearer):
    """`Authorization: Bearer ympa_...` from `ympa api-token USERNAME`; acts as the token's assignment."""

    def authenticate(self, request: HttpRequest, token: str) -> ApiToken | None:
        if not token.startswith("ympa_") or len(token) > 100:
            return None
        record = (
            ApiToken.objects.select_related("user", "assignment__care_unit__care_provider")
            .filter(token_hash=token_hash(token), revoked_at__isnull=True, user__is_active=True)
            .first()
        )
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


def api_actor(request: HttpRequest) -> Actor:
    """The Actor that BearerToken attached to an authenticated API request."""
    actor = getattr(request, "actor", None)
    if not isinstance(actor, Actor):
        raise RuntimeError("API view reached without authentication")
    return actor
