from __future__ import annotations

import uuid

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ympa.notify.models import MessageChannel


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


class AuthEventKind(models.TextChoices):
    LOGIN = "login", _("Logged in")
    LOGOUT = "logout", _("Logged out")
    LOGIN_FAILED = "login_failed", _("Login failed")
    TIMEOUT = "timeout", _("Logged out after a timeout")
    REAUTH = "reauth", _("Re-authenticated")
    REAUTH_FAILED = "reauth_failed", _("Re-authentication failed")
    LOCKOUT = "lockout", _("Locked out")
    CODE_SENT = "code_sent", _("One-time code sent")


class AuthEvent(models.Model):
    """The login trail: logins, logouts, failures, timeouts, re-authentications, lockouts and codes sent.

    Append-only (database triggers refuse UPDATE, and DELETE on PostgreSQL). Holds what was attempted
    (a username, a phone number or a one-time code's identity key), never a password or a code.
    """

    occurred_at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=16, choices=AuthEventKind.choices)
    user = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    identity = models.CharField(max_length=150, blank=True)
    # An `assurance.LoginMethod` value and its `Assurance` level, when the event belongs to a login.
    method = models.CharField(max_length=16, blank=True)
    assurance = models.PositiveSmallIntegerField(null=True, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=200, blank=True)
    # Why, in a word: wrong_password, wrong_code, idle, absolute, a code's purpose, …
    detail = models.CharField(max_length=64, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["user", "occurred_at"], name="authevent_user_time_idx"),
            models.Index(fields=["kind", "occurred_at"], name="authevent_kind_time_idx"),
            # Password guessing is throttled by counting recent failures per identity and per address.
            models.Index(fields=["identity", "occurred_at"], name="authevent_identity_time_idx"),
            models.Index(fields=["ip", "occurred_at"], name="authevent_ip_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M} {self.kind} {self.identity}"


class CodePurpose(models.TextChoices):
    """What a one-time code is for. The label completes "123456 is your code for …" in the message."""

    STAFF_LOGIN = "staff_login", _("logging in to Ympa")
    STAFF_REAUTH = "staff_reauth", _("confirming your identity in Ympa")
    BOOKING = "booking", _("booking a vaccination")


class OneTimeCodeChallenge(models.Model):
    """One code sent by SMS or e-mail. Only an HMAC of the code is stored; a code is used at most once.

    `identity` is the caller's key for whom the code proves (a user id, a personnummer, a phone number);
    nothing here assumes a staff user.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    purpose = models.CharField(max_length=32, choices=CodePurpose.choices)
    identity = models.CharField(max_length=128)
    channel = models.CharField(max_length=5, choices=MessageChannel.choices)
    code_hash = models.CharField(max_length=64)
    # The address that asked for the code: sends are limited per address.
    ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    failed_attempts = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)
    # Replaced by a newer code, or spent by too many wrong attempts.
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["purpose", "identity"],
                condition=Q(used_at__isnull=True, revoked_at__isnull=True),
                name="one_time_code_one_live_per_identity",
            ),
            models.CheckConstraint(
                condition=Q(expires_at__gt=models.F("created_at")), name="one_time_code_expires_after_created"
            ),
            models.CheckConstraint(
                condition=Q(used_at__isnull=True) | Q(revoked_at__isnull=True),
                name="one_time_code_used_or_revoked",
            ),
        ]
        indexes = [
            models.Index(fields=["identity", "created_at"], name="otc_identity_time_idx"),
            models.Index(fields=["ip", "created_at"], name="otc_ip_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.purpose} {self.identity} {self.created_at:%Y-%m-%d %H:%M}"


class OneTimeCodeFailure(models.Model):
    """A wrong code, counted per identity and per client address for lockouts."""

    challenge = models.ForeignKey(OneTimeCodeChallenge, on_delete=models.CASCADE, related_name="failures")
    identity = models.CharField(max_length=128)
    ip = models.GenericIPAddressField(null=True, blank=True)
    occurred_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["identity", "occurred_at"], name="otc_failure_identity_idx"),
            models.Index(fields=["ip", "occurred_at"], name="otc_failure_ip_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.identity} {self.occurred_at:%Y-%m-%d %H:%M}"


class OneTimeCodeLimit(models.Model):
    """One row per identity and per client address, locked (SELECT … FOR UPDATE) while a send or a check is
    counted, so the limits hold across app server processes. It also holds a lockout."""

    key = models.CharField(max_length=150, unique=True)
    locked_until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.key
