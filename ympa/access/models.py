from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ympa.core.actor import ActorKind, Channel


class Action(models.TextChoices):
    READ = "read", _("Read")
    CREATE = "create", _("Create")
    UPDATE = "update", _("Update")
    SIGN = "sign", _("Sign")
    CORRECT = "correct", _("Correct")
    NULLIFY = "nullify", _("Nullify")
    PRINT = "print", _("Print")
    EXPORT = "export", _("Export")


class AuditEvent(models.Model):
    """One row per action on patient data, append-only, written in the same transaction as the action.

    Rows are never updated or deleted (database triggers refuse it). The actor is stored both as foreign
    keys and as a snapshot of names, so the log stays readable whatever later happens to users or units.
    """

    occurred_at = models.DateTimeField(default=timezone.now)
    actor_kind = models.CharField(max_length=10, choices=ActorKind.choices)
    actor_identity = models.CharField(max_length=64)
    actor_name = models.CharField(max_length=200)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    assignment = models.ForeignKey(
        "orgs.Assignment", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    care_unit = models.ForeignKey(
        "orgs.CareUnit", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    care_provider = models.ForeignKey(
        "orgs.CareProvider", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, null=True, blank=True, related_name="audit_events"
    )
    action = models.CharField(max_length=10, choices=Action.choices)
    object_type = models.CharField(max_length=40)
    object_id = models.CharField(max_length=64)
    channel = models.CharField(max_length=12, choices=Channel.choices)
    purpose = models.CharField(max_length=32, blank=True)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["patient", "occurred_at"], name="audit_patient_time_idx"),
            models.Index(fields=["care_provider", "occurred_at"], name="audit_provider_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M} {self.actor_identity} {self.action} {self.object_type}"


# The PDL facts live in their own module; imported here so that Django sees the models.
from ympa.access.pdl_models import (  # noqa: E402
    Block,
    CareRelation,
    PdlAssertion,
    TemporaryRevoke,
)

__all__ = ["Action", "AuditEvent", "Block", "CareRelation", "PdlAssertion", "TemporaryRevoke"]
