"""The record that a care provider reviewed its access log (logguppföljning): who, when, what, finding."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ReviewCategory(models.TextChoices):
    """What a reviewer looks for: the accesses the Patient Data Act's follow-up singles out."""

    EMERGENCY = "emergency", _("Emergency access")
    NO_VISIT = "no_visit", _("No visit at the unit")
    PROTECTED = "protected", _("Protected identity")
    SAME_NAME = "same_name", _("Same surname or address as the staff member")


class ReviewOutcome(models.TextChoices):
    NO_REMARKS = "no_remarks", _("No remarks")
    REMARKS = "remarks", _("Remarks: followed up")


class LogReview(models.Model):
    """One completed review of a care provider's access log for a period. Append-only (database triggers):
    a later finding is a new review, never an edited one."""

    care_provider = models.ForeignKey("orgs.CareProvider", on_delete=models.PROTECT, related_name="+")
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reviewer_assignment = models.ForeignKey("orgs.Assignment", on_delete=models.PROTECT, related_name="+")
    reviewed_at = models.DateTimeField(default=timezone.now)
    period_start = models.DateField()
    period_end = models.DateField()
    # The categories the reviewer filtered on (empty: every access of the period).
    categories = models.JSONField(default=list, blank=True)
    accesses_listed = models.PositiveIntegerField()
    outcome = models.CharField(max_length=10, choices=ReviewOutcome.choices)
    finding = models.TextField(max_length=4000)

    class Meta:
        ordering = ["-reviewed_at"]
        indexes = [models.Index(fields=["care_provider", "reviewed_at"], name="log_review_provider_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(period_end__gte=F("period_start")), name="log_review_period"),
            models.CheckConstraint(condition=~Q(finding=""), name="log_review_has_finding"),
        ]

    def __str__(self) -> str:
        return f"{self.care_provider_id} {self.period_start}/{self.period_end}"

    @property
    def category_labels(self) -> list[str]:
        return [str(ReviewCategory(value).label) for value in self.categories]
