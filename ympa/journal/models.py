"""The vaccination record: visits, orders, administrations (versioned, signed) and adverse events.

Clinical content lives in immutable versions. A correction adds a version; a nullification marks the
entry void; nothing is deleted (database triggers refuse updates to signed versions).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ympa.catalog.models import Route


class Visit(models.Model):
    """A patient's visit at a care unit; a care relation exists while it lasts."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # No index of their own: visit_one_per_day leads with the patient and visit_unit_patient_idx with the
    # unit, and every dose's visit writes each index of this table.
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="visits", db_index=False
    )
    care_unit = models.ForeignKey(
        "orgs.CareUnit", on_delete=models.PROTECT, related_name="visits", db_index=False
    )
    visit_date = models.DateField()
    started_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["patient", "care_unit", "visit_date"], name="visit_one_per_day"),
        ]
        indexes = [models.Index(fields=["care_unit", "patient"], name="visit_unit_patient_idx")]

    def __str__(self) -> str:
        return f"{self.patient} @ {self.care_unit} {self.visit_date}"


class StandingOrder(models.Model):
    """A generellt direktiv: a physician's written order under which nurses give named vaccines."""

    care_unit = models.ForeignKey("orgs.CareUnit", on_delete=models.PROTECT, related_name="standing_orders")
    title = models.CharField(max_length=200)
    products = models.ManyToManyField("catalog.Product", related_name="standing_orders")
    issued_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    valid_from = models.DateField()
    valid_until = models.DateField(null=True, blank=True)
    text = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.title


class OrderBasis(models.TextChoices):
    INDIVIDUAL = "individual", _("Individual order")
    STANDING = "standing", _("Standing order")


class OrderStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    COMPLETED = "completed", _("Completed")
    CANCELLED = "cancelled", _("Cancelled")


class Order(models.Model):
    """An ordination: the decision to give a vaccine, by a prescriber or under a standing order."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="orders")
    care_unit = models.ForeignKey("orgs.CareUnit", on_delete=models.PROTECT, related_name="orders")
    product = models.ForeignKey("catalog.Product", on_delete=models.PROTECT, related_name="orders")
    basis = models.CharField(max_length=12, choices=OrderBasis.choices)
    standing_order = models.ForeignKey(StandingOrder, on_delete=models.PROTECT, null=True, blank=True)
    prescriber = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    prescriber_assignment = models.ForeignKey(
        "orgs.Assignment", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    dose_number = models.PositiveSmallIntegerField(null=True, blank=True)
    note = models.TextField(blank=True)
    status = models.CharField(max_length=12, choices=OrderStatus.choices, default=OrderStatus.ACTIVE)
    ordered_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(Q(basis="standing") & Q(standing_order__isnull=False))
                | (Q(basis="individual") & Q(prescriber__isnull=False)),
                name="order_basis_complete",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product} → {self.patient}"


class EntryStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SIGNED = "signed", _("Signed")
    NULLIFIED = "nullified", _("Nullified")


class Site(models.TextChoices):
    LEFT_DELTOID = "left_deltoid", _("Left upper arm (deltoid)")
    RIGHT_DELTOID = "right_deltoid", _("Right upper arm (deltoid)")
    LEFT_THIGH = "left_thigh", _("Left thigh (vastus lateralis)")
    RIGHT_THIGH = "right_thigh", _("Right thigh (vastus lateralis)")
    LEFT_GLUTEAL = "left_gluteal", _("Left buttock")
    RIGHT_GLUTEAL = "right_gluteal", _("Right buttock")
    ORAL = "oral", _("Mouth")
    NASAL = "nasal", _("Nose")
    OTHER = "other", _("Other (see note)")


class Vaccination(models.Model):
    """The administration record (header). Its clinical content is in VaccinationVersion rows."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # No index of their own: vaccination_patient_idx leads with the patient and vaccination_unit_status_idx
    # with the unit, and every dose writes each index of this table.
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="vaccinations", db_index=False
    )
    care_unit = models.ForeignKey(
        "orgs.CareUnit", on_delete=models.PROTECT, related_name="vaccinations", db_index=False
    )
    visit = models.ForeignKey(Visit, on_delete=models.PROTECT, related_name="vaccinations")
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="vaccinations")
    status = models.CharField(max_length=10, choices=EntryStatus.choices, default=EntryStatus.DRAFT)
    current_version = models.OneToOneField(
        "VaccinationVersion", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_assignment = models.ForeignKey("orgs.Assignment", on_delete=models.PROTECT, related_name="+")
    # A double submit (same user, same key) yields the same record.
    idempotency_key = models.CharField(max_length=64, blank=True, default="")
    nullified_at = models.DateTimeField(null=True, blank=True)
    nullified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    nullification_reason = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["created_by", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="vaccination_idempotency_unique",
            ),
            models.CheckConstraint(
                condition=~Q(status="nullified")
                | (
                    Q(nullified_at__isnull=False)
                    & Q(nullified_by__isnull=False)
                    & ~Q(nullification_reason="")
                ),
                name="vaccination_nullification_complete",
            ),
        ]
        indexes = [
            models.Index(fields=["patient", "created_at"], name="vaccination_patient_idx"),
            models.Index(fields=["care_unit", "status"], name="vaccination_unit_status_idx"),
        ]

    def __str__(self) -> str:
        return f"Vaccination {self.id}"


class VaccinationVersion(models.Model):
    # No index of its own: vaccination_version_unique leads with it, and every dose writes a version.
    vaccination = models.ForeignKey(
        Vaccination, on_delete=models.PROTECT, related_name="versions", db_index=False
    )
    number = models.PositiveSmallIntegerField()
    administered_at = models.DateTimeField()
    product = models.ForeignKey("catalog.Product", on_delete=models.PROTECT, related_name="+")
    batch_number = models.CharField(max_length=40)
    batch_expiry = models.DateField(null=True, blank=True)
    expired_batch_confirmed = models.BooleanField(default=False)
    dose_volume_ml = models.DecimalField(max_digits=4, decimal_places=2, null=True, blank=True)
    dose_number = models.PositiveSmallIntegerField()
    site = models.CharField(max_length=16, choices=Site.choices)
    route = models.CharField(max_length=2, choices=Route.choices)
    performer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    note = models.TextField(blank=True)
    # Why a dose that decision support judged not valid (too early, too young, ...) was given anyway.
    override_reason = models.TextField(blank=True)
    correction_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    signed_at = models.DateTimeField(null=True, blank=True)
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["vaccination", "number"]
        constraints = [
            models.UniqueConstraint(fields=["vaccination", "number"], name="vaccination_version_unique"),
            models.CheckConstraint(condition=Q(number__gte=1), name="vaccination_version_positive"),
            models.CheckConstraint(condition=Q(dose_number__gte=1), name="vaccination_dose_number_positive"),
            models.CheckConstraint(
                condition=Q(number=1) | ~Q(correction_reason=""), name="vaccination_correction_has_reason"
            ),
            models.CheckConstraint(
                condition=(Q(signed_at__isnull=True) & Q(signed_by__isnull=True))
                | (Q(signed_at__isnull=False) & Q(signed_by__isnull=False)),
                name="vaccination_signature_complete",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.vaccination_id} v{self.number}"


class Severity(models.TextChoices):
    MILD = "mild", _("Mild")
    MODERATE = "moderate", _("Moderate")
    SEVERE = "severe", _("Severe")


class Symptom(models.TextChoices):
    LOCAL_REACTION = "local_reaction", _("Reaction at the injection site")
    FEVER = "fever", _("Fever")
    ALLERGIC = "allergic", _("Allergic reaction")
    ANAPHYLAXIS = "anaphylaxis", _("Anaphylaxis")
    FAINTING = "fainting", _("Fainting")
    RASH = "rash", _("Rash")
    HEADACHE = "headache", _("Headache")
    OTHER = "other", _("Other (see description)")


class AdverseEvent(models.Model):
    """A suspected adverse event following immunisation (biverkning), linked to the dose."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    vaccination = models.ForeignKey(Vaccination, on_delete=models.PROTECT, related_name="adverse_events")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="adverse_events")
    symptoms = models.JSONField(default=list)
    description = models.TextField(blank=True)
    onset_at = models.DateTimeField()
    severity = models.CharField(max_length=10, choices=Severity.choices)
    serious = models.BooleanField(default=False)
    reported_to_mpa = models.BooleanField(default=False)
    mpa_reported_on = models.DateField(null=True, blank=True)
    mpa_reference = models.CharField(max_length=60, blank=True)
    recorded_at = models.DateTimeField(default=timezone.now)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_assignment = models.ForeignKey("orgs.Assignment", on_delete=models.PROTECT, related_name="+")
    signed_at = models.DateTimeField()
    nullified_at = models.DateTimeField(null=True, blank=True)
    nullified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    nullification_reason = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(nullified_at__isnull=True)
                | (Q(nullified_by__isnull=False) & ~Q(nullification_reason="")),
                name="adverse_event_nullification_complete",
            ),
            models.CheckConstraint(
                condition=Q(reported_to_mpa=True) | Q(mpa_reported_on__isnull=True),
                name="adverse_event_report_date_only_if_reported",
            ),
        ]

    def __str__(self) -> str:
        return f"Adverse event {self.id}"

    @property
    def symptom_labels(self) -> list[str]:
        return [str(Symptom(code).label) if code in Symptom.values else code for code in self.symptoms]


class StoredForecast(models.Model):
    """The current forecast of one vaccine group for one patient under one schedule set (derived data).

    Recomputed after every change of the patient's signed history, so worklists, reminders and statistics
    read it instead of running the engine in bulk per request.
    """

    # No index of its own: stored_forecast_unique leads with it, and every signed dose and the nightly
    # refresh write these rows.
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.CASCADE, related_name="forecasts", db_index=False
    )
    schedule_key = models.CharField(max_length=120)
    vaccine_group = models.CharField(max_length=40)
    status = models.CharField(max_length=20)
    dose_number = models.PositiveSmallIntegerField(null=True, blank=True)
    earliest = models.DateField(null=True, blank=True)
    recommended = models.DateField(null=True, blank=True)
    past_due = models.DateField(null=True, blank=True)
    latest = models.DateField(null=True, blank=True)
    # When the row's values were last written: a recomputation that finds the same forecast on the same
    # assessment day leaves the row as it is.
    computed_at = models.DateTimeField()
    assessment_date = models.DateField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "schedule_key", "vaccine_group"], name="stored_forecast_unique"
            ),
        ]
        indexes = [
            models.Index(fields=["schedule_key", "vaccine_group", "recommended"], name="forecast_due_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.patient_id} {self.vaccine_group}: {self.status}"


class Condition(models.Model):
    """An underlying condition or indication decision support takes into account (a CDSi observation).

    Recorded and signed by a professional; ended when it no longer applies; nullified (with a reason) when it
    was recorded in error. Never deleted.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="conditions")
    code = models.CharField(max_length=20)
    # The observation's title when it was recorded, so the entry stays readable if the schedule data change.
    title = models.CharField(max_length=300)
    schedule_set = models.CharField(max_length=10)
    start_date = models.DateField()
    end_date = models.DateField(null=True, blank=True)
    note = models.TextField(blank=True)
    recorded_at = models.DateTimeField(default=timezone.now)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_assignment = models.ForeignKey("orgs.Assignment", on_delete=models.PROTECT, related_name="+")
    care_unit = models.ForeignKey("orgs.CareUnit", on_delete=models.PROTECT, related_name="+")
    nullified_at = models.DateTimeField(null=True, blank=True)
    nullified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    nullification_reason = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gte=models.F("start_date")),
                name="condition_period_valid",
            ),
            models.CheckConstraint(
                condition=Q(nullified_at__isnull=True)
                | (Q(nullified_by__isnull=False) & ~Q(nullification_reason="")),
                name="condition_nullification_complete",
            ),
        ]
        indexes = [models.Index(fields=["patient", "code"], name="condition_patient_idx")]

    def __str__(self) -> str:
        return f"{self.code} {self.start_date}"
