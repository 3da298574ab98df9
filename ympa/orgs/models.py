from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ympa.orgs.rights import Right, Role, effective_rights


class Region(models.Model):
    """A county (län) and the region that governs it; codes are SCB's two-digit county codes."""

    code = models.CharField(max_length=2, unique=True)
    county_name = models.CharField(max_length=100)
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class Municipality(models.Model):
    code = models.CharField(max_length=4, unique=True)
    name = models.CharField(max_length=100)
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="municipalities")

    class Meta:
        ordering = ["code"]
        verbose_name_plural = "municipalities"

    def __str__(self) -> str:
        return self.name


class Module(models.TextChoices):
    JOURNAL = "journal", _("Vaccination record")
    BOOKING = "booking", _("Booking")
    INVENTORY = "inventory", _("Inventory")
    REMINDERS = "reminders", _("Reminders")
    STATISTICS = "statistics", _("Statistics")


class CareProvider(models.Model):
    """A vårdgivare: the legal entity that owns its record."""

    hsa_id = models.CharField(max_length=31, unique=True)
    name = models.CharField(max_length=200)
    organisation_number = models.CharField(max_length=11)
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="care_providers")
    modules = models.JSONField(default=list)
    # Which vaccination schedules decision support follows ("se" or "cdc"), and the regional choices the
    # schedule set offers (e.g. {"tbe_shorter_interval_from_age": "60"}).
    schedule_set = models.CharField(max_length=10, default="se")
    schedule_options = models.JSONField(default=dict, blank=True)
    is_test_data = models.BooleanField(default=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class CareUnit(models.Model):
    """A vårdenhet, usually one clinic."""

    hsa_id = models.CharField(max_length=31, unique=True)
    name = models.CharField(max_length=200)
    care_provider = models.ForeignKey(CareProvider, on_delete=models.PROTECT, related_name="care_units")
    street_address = models.CharField(max_length=200, blank=True)
    postal_code = models.CharField(max_length=6, blank=True)
    city = models.CharField(max_length=100, blank=True)
    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT, related_name="care_units")
    latitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    phone = models.CharField(max_length=16, blank=True)
    is_test_data = models.BooleanField(default=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(latitude__isnull=True) | Q(latitude__gte=Decimal(-90), latitude__lte=Decimal(90)),
                name="care_unit_latitude_range",
            ),
            models.CheckConstraint(
                condition=Q(longitude__isnull=True)
                | Q(longitude__gte=Decimal(-180), longitude__lte=Decimal(180)),
                name="care_unit_longitude_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Purpose(models.TextChoices):
    CARE = "care", _("Care and treatment")
    INFECTION_CONTROL = "infection_control", _("Infection control")
    ADMINISTRATION = "administration", _("Administration")


class Assignment(models.Model):
    """A medarbetaruppdrag: a staff member's commission at a care unit (for infection control: a region)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="assignments")
    care_unit = models.ForeignKey(
        CareUnit, on_delete=models.PROTECT, null=True, blank=True, related_name="assignments"
    )
    region = models.ForeignKey(
        Region, on_delete=models.PROTECT, null=True, blank=True, related_name="assignments"
    )
    role = models.CharField(max_length=32, choices=Role.choices)
    purpose = models.CharField(max_length=32, choices=Purpose.choices, default=Purpose.CARE)
    rights_granted = models.JSONField(default=list, blank=True)
    rights_revoked = models.JSONField(default=list, blank=True)
    valid_from = models.DateTimeField(default=timezone.now)
    valid_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["user", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(care_unit__isnull=False) & Q(region__isnull=True))
                | (Q(care_unit__isnull=True) & Q(region__isnull=False)),
                name="assignment_unit_xor_region",
            ),
            models.CheckConstraint(
                condition=Q(valid_until__isnull=True) | Q(valid_until__gt=models.F("valid_from")),
                name="assignment_valid_period",
            ),
        ]

    def __str__(self) -> str:
        place = self.care_unit or self.region
        return f"{self.get_role_display()}, {place}"

    @property
    def rights(self) -> frozenset[Right]:
        return effective_rights(self.role, self.rights_granted, self.rights_revoked)

    def has_right(self, right: Right) -> bool:
        return right in self.rights

    def is_active(self, at: datetime | None = None) -> bool:
        now = timezone.now() if at is None else at
        return self.valid_from <= now and (self.valid_until is None or now < self.valid_until)

    @property
    def care_provider(self) -> CareProvider | None:
        return self.care_unit.care_provider if self.care_unit else None
