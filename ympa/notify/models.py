from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class MessageChannel(models.TextChoices):
    SMS = "sms", _("SMS")
    EMAIL = "email", _("E-mail")


class MessageStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")


class Message(models.Model):
    """An outgoing SMS or e-mail. Created in the business transaction, sent by a task after commit."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    channel = models.CharField(max_length=5, choices=MessageChannel.choices)
    to = models.CharField(max_length=254)
    subject = models.CharField(max_length=200, blank=True)
    body = models.TextField()
    purpose = models.CharField(max_length=40)
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, null=True, blank=True, related_name="messages"
    )
    status = models.CharField(max_length=10, choices=MessageStatus.choices, default=MessageStatus.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    # When a queued message is due (again); a retry after a temporary failure waits here.
    next_attempt_at = models.DateTimeField(default=timezone.now)
    provider_id = models.CharField(max_length=64, blank=True)
    parts = models.PositiveSmallIntegerField(null=True, blank=True)
    # 46elks reports cost in 1/10000 of the account currency (SEK).
    cost = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    # The body holds a secret (a one-time code): it is erased once the message is sent or has failed, so
    # the code lives in the database only while it waits to be sent.
    secret = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    # An optional text attachment of an e-mail (e.g. a booking's calendar file), sent with the body.
    attachment_name = models.CharField(max_length=100, blank=True)
    attachment_mime = models.CharField(max_length=100, blank=True)
    attachment_content = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["provider_id"], condition=~Q(provider_id=""), name="message_provider_id_unique"
            ),
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="message_due_idx")]

    def __str__(self) -> str:
        return f"{self.channel} to {self.to}: {self.status}"
