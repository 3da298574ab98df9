from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ympa.access.chain import GENESIS
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

    Tamper evidence (`ympa.access.chain`, `services.audit_events_save`, `verify.audit_log_verify`):

    - **Chains.** Rows are spread over a fixed number of chains (`chain.CHAINS`, 64): by the care provider's
      id (mod 64), else a stable hash of the patient, else a fixed key. A row's place is (chain, seq): seq
      counts from 1 without gaps within its chain (unique together).
    - **Row MAC.** row_hash is HMAC-SHA-256 over the row's canonical form: every field but the id as a JSON
      array (`chain.HEADER_FIELDS`, ending with prev_hash, the row_hash of the row before it in its chain,
      `chain.GENESIS` for seq 1), a newline, and the detail as PostgreSQL prints jsonb. The key derives from
      the AUDIT_LOG_KEY setting, which is not in the database: someone who can only write to the database
      can neither change, insert nor append a row that verifies.
    - **Heads.** `AuditChainHead` holds each chain's last seq and hash. Appending locks the head row of each
      chain it writes (select_for_update, in chain order, once per call), so a chain's seq stays gap-free
      while writers of other chains never wait; on SQLite writers are serialised anyway. The gate's single
      read row on PostgreSQL skips the lock: it is appended after the head read with the PDL facts by one
      statement that moves the head only if it is unchanged (`services._event_append_after`), else the lock
      is taken.
    - **Anchors.** `AuditAnchor` records every chain's head at a time, numbered and linked to the previous
      anchor, with an HMAC under a second key derived from the same setting (a periodic task, `ympa audit
      anchor`). Rows up to an anchored head cannot be removed without verification noticing, the newest
      included; rows written since the last anchor can (at most a few minutes' worth).
    - **Verify** (`ympa audit verify`): every chain from seq 1 is contiguous, every MAC recomputes, every
      prev_hash links, every head and every anchored head is there with its hash, every anchor's MAC holds.
    """

    occurred_at = models.DateTimeField(default=timezone.now)
    actor_kind = models.CharField(max_length=10, choices=ActorKind.choices)
    actor_identity = models.CharField(max_length=64)
    actor_name = models.CharField(max_length=200)
    # No index of their own on the foreign keys (db_index=False): every read and write of patient data
    # appends a row, and each index is written with it. The log is searched by patient or care provider and
    # time (the two indexes in Meta lead with them) and walked by chain; the others matter only to PROTECT
    # on deleting a user, assignment or unit, which nothing does (staff and units are ended, not deleted).
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    assignment = models.ForeignKey(
        "orgs.Assignment", on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False
    )
    care_unit = models.ForeignKey(
        "orgs.CareUnit", on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False
    )
    care_provider = models.ForeignKey(
        "orgs.CareProvider",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    patient = models.ForeignKey(
        "patients.Patient",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="audit_events",
        db_index=False,
    )
    action = models.CharField(max_length=10, choices=Action.choices)
    object_type = models.CharField(max_length=40)
    object_id = models.CharField(max_length=64)
    channel = models.CharField(max_length=12, choices=Channel.choices)
    purpose = models.CharField(max_length=32, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    # Set by audit_events_save, never by callers.
    chain = models.PositiveSmallIntegerField(editable=False)
    seq = models.PositiveBigIntegerField(editable=False)
    prev_hash = models.CharField(max_length=64, editable=False)
    row_hash = models.CharField(max_length=64, editable=False)

    class Meta:
        indexes = [
            models.Index(fields=["patient", "occurred_at"], name="audit_patient_time_idx"),
            models.Index(fields=["care_provider", "occurred_at"], name="audit_provider_time_idx"),
        ]
        constraints = [
            # Also the index verification walks the log by.
            models.UniqueConstraint(fields=["chain", "seq"], name="audit_chain_seq_unique"),
            models.CheckConstraint(condition=models.Q(seq__gte=1), name="audit_seq_from_one"),
        ]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M} {self.actor_identity} {self.action} {self.object_type}"


class AuditChainHead(models.Model):
    """The last row of one chain of the access log; its row lock is what a writer of that chain waits for.

    Created on first use. Updated only by the append path (a trigger refuses to move a head backwards or to
    another chain; on PostgreSQL also to delete one).
    """

    chain = models.PositiveSmallIntegerField(primary_key=True)
    last_seq = models.PositiveBigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default=GENESIS)

    def __str__(self) -> str:
        return f"chain {self.chain} at {self.last_seq}"


class AuditAnchor(models.Model):
    """Every chain's head at one moment, signed: the newest rows up to here cannot vanish unnoticed.

    heads maps each chain (as text) to [seq, row_hash]. Anchors are numbered from 1 without gaps and each
    MAC covers the previous one, so an anchor cannot be removed or changed from the middle either.
    Append-only (triggers). Each new anchor is also written to the application log (logger
    `ympa.access.services`), a copy outside the database.
    """

    seq = models.PositiveBigIntegerField(unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    heads = models.JSONField(default=dict)
    prev_mac = models.CharField(max_length=64)
    mac = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(seq__gte=1), name="audit_anchor_seq_from_one")
        ]

    def __str__(self) -> str:
        return f"anchor {self.seq} {self.created_at:%Y-%m-%d %H:%M}"


# The PDL facts live in their own module; imported here so that Django sees the models.
from ympa.access.pdl_models import (  # noqa: E402
    Block,
    CareRelation,
    PdlAssertion,
    TemporaryRevoke,
)
from ympa.access.review_models import LogReview  # noqa: E402

__all__ = [
    "Action",
    "AuditAnchor",
    "AuditChainHead",
    "AuditEvent",
    "Block",
    "CareRelation",
    "LogReview",
    "PdlAssertion",
    "TemporaryRevoke",
]
