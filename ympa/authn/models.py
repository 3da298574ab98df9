from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q
from django.utils import timezone


class User(AbstractUser):
    """A staff member's login. Identity facts (HSA-id, personnummer) are unique when present."""

    hsa_id = models.CharField(max_length=31, null=True, blank=True, unique=True)
    personal_identity_number = models.CharField(max_length=12, null=True, blank=True, unique=True)
    phone = models.CharField(max_length=16, blank=True)
    totp_secret = models.CharField(max_length=64, blank=True)
    # The last accepted TOTP time step: a code is never accepted twice (replay).
    totp_last_step = models.BigIntegerField(default=0)
    is_test_data = models.BooleanField(default=False)

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"


class ApiToken(models.Model):
    """A bearer token for the JSON API. Only its SHA-256 is stored; the token is shown once."""

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="api_tokens")
    assignment = models.ForeignKey("orgs.Assignment", on_delete=models.PROTECT, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=8)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(revoked_at__isnull=True) | Q(revoked_at__gte=models.F("created_at")),
                name="api_token_revoked_after_created",
            )
        ]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"
