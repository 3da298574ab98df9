"""What the Patient Data Act needs recorded: care relations, blocks (spärrar) with temporary revokes, and
consents and emergency accesses (PDL assertions). Nothing here is ever deleted: it ends (with who and why)
or is nullified (registered by mistake, with who and why). The shapes follow the RIVTA contracts
ehr_blocking 3.2 (`BlockType`, `TemporaryRevokeType`) and ehr_patientconsent 1.0 (`PDLAssertionType`,
`ActionType`).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class BlockType(models.TextChoices):
    # RIVTA: Inner = "inom vårdgivare" between its care units; Outer = towards other care providers.
    INNER = "inner", _("Inner block: hidden from the care provider's other units")
    OUTER = "outer", _("Outer block: hidden from other care providers")


class AssertionType(models.TextChoices):
    CONSENT = "consent", _("Consent")
    EMERGENCY = "emergency", _("Emergency access")


class RevokeBasis(models.TextChoices):
    CONSENT = "consent", _("The patient's consent")
    EMERGENCY = "emergency", _("Emergency")


class CareRelation(models.Model):
    """An explicit care relation (vårdrelation) of a care unit with a patient, for a purpose and a period.

    Visits are care relations too (while recent); this records the others, e.g. telephone advice.
    """

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="care_relations")
    care_unit = models.ForeignKey("orgs.CareUnit", on_delete=models.PROTECT, related_name="care_relations")
    purpose = models.CharField(max_length=200)
    valid_from = models.DateTimeField(default=timezone.now)
    valid_until = models.DateTimeField()
    registered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(valid_until__gt=F("valid_from")), name="care_relation_period"),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_by__isnull=False), name="care_relation_ended_by"
            ),
        ]
        indexes = [models.Index(fields=["patient", "care_unit"], name="care_relation_patient_unit_idx")]

    def __str__(self) -> str:
        return f"{self.care_unit_id} ↔ {self.patient_id}: {self.purpose}"


class Block(models.Model):
    """A block (spärr) on a care provider's (or one of its units') information about a patient."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    block_type = models.CharField(max_length=5, choices=BlockType.choices)
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="blocks")
    information_care_provider = models.ForeignKey(
        "orgs.CareProvider", on_delete=models.PROTECT, related_name="+"
    )
    # None: the information of all the provider's units (only for an outer block).
    information_care_unit = models.ForeignKey(
        "orgs.CareUnit", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    information_start = models.DateField(null=True, blank=True)
    information_end = models.DateField(null=True, blank=True)
    reason = models.TextField(max_length=1024, blank=True)
    registered_at = models.DateTimeField(default=timezone.now)
    registered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    registered_assignment = models.ForeignKey("orgs.Assignment", on_delete=models.PROTECT, related_name="+")
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    end_reason = models.TextField(max_length=1024, blank=True)
    nullified_at = models.DateTimeField(null=True, blank=True)
    nullified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    nullification_reason = models.TextField(max_length=1024, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(block_type="outer") | Q(information_care_unit__isnull=False),
                name="block_inner_names_a_unit",
            ),
            models.CheckConstraint(
                condition=Q(information_start__isnull=True)
                | Q(information_end__isnull=True)
                | Q(information_end__gte=F("information_start")),
                name="block_information_period",
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | (Q(ended_by__isnull=False) & ~Q(end_reason="")),
                name="block_ended_with_who_and_why",
            ),
            models.CheckConstraint(
                condition=Q(nullified_at__isnull=True)
                | (Q(nullified_by__isnull=False) & ~Q(nullification_reason="")),
                name="block_nullified_with_who_and_why",
            ),
        ]
        indexes = [models.Index(fields=["patient"], name="block_patient_idx")]

    def __str__(self) -> str:
        return f"{self.get_block_type_display()} {self.patient_id}"


class TemporaryRevoke(models.Model):
    """A block lifted for a while for one care unit (or one staff member there), with the patient's consent or
    in an emergency."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    block = models.ForeignKey(Block, on_delete=models.PROTECT, related_name="revokes")
    revoked_for_care_unit = models.ForeignKey("orgs.CareUnit", on_delete=models.PROTECT, related_name="+")
    revoked_for_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    basis = models.CharField(max_length=9, choices=RevokeBasis.choices)
    starts_at = models.DateTimeField(default=timezone.now)
    ends_at = models.DateTimeField()
    registered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="temporary_revoke_period"),
        ]

    def __str__(self) -> str:
        return (
            f"{self.block_id} lifted for {self.revoked_for_care_unit_id} until {self.ends_at:%Y-%m-%d %H:%M}"
        )


class PdlAssertion(models.Model):
    """A consent (samtycke) to read other care providers' information, or an emergency access (nödåtkomst).

    For a whole care unit (user empty) or one staff member. An emergency access is always one staff member's,
    time-limited, and has two steps: registered (the reader learns where blocked information exists), then
    opened (the reader may read it). Every emergency access is flagged for the log review.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    assertion_type = models.CharField(max_length=9, choices=AssertionType.choices)
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="pdl_assertions")
    care_unit = models.ForeignKey("orgs.CareUnit", on_delete=models.PROTECT, related_name="+")
    care_provider = models.ForeignKey("orgs.CareProvider", on_delete=models.PROTECT, related_name="+")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    starts_at = models.DateTimeField(default=timezone.now)
    ends_at = models.DateTimeField(null=True, blank=True)
    # The personnummer of whoever gave consent for the patient (a guardian, a legal representative).
    represented_by = models.CharField(max_length=12, blank=True)
    reason = models.TextField(max_length=1024, blank=True)
    registered_at = models.DateTimeField(default=timezone.now)
    registered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    registered_assignment = models.ForeignKey("orgs.Assignment", on_delete=models.PROTECT, related_name="+")
    opened_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    cancellation_reason = models.TextField(max_length=1024, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__isnull=True) | Q(ends_at__gt=F("starts_at")), name="pdl_assertion_period"
            ),
            models.CheckConstraint(
                condition=Q(assertion_type="consent")
                | (Q(user__isnull=False) & Q(ends_at__isnull=False) & ~Q(reason="")),
                name="emergency_is_personal_timed_and_reasoned",
            ),
            models.CheckConstraint(
                condition=Q(assertion_type="emergency") | Q(opened_at__isnull=True),
                name="only_emergency_access_is_opened",
            ),
            models.CheckConstraint(
                condition=Q(cancelled_at__isnull=True)
                | (Q(cancelled_by__isnull=False) & ~Q(cancellation_reason="")),
                name="pdl_assertion_cancelled_with_who_and_why",
            ),
        ]
        indexes = [models.Index(fields=["patient", "care_unit"], name="pdl_assertion_patient_unit_idx")]

    def __str__(self) -> str:
        return f"{self.get_assertion_type_display()} {self.patient_id} @ {self.care_unit_id}"
