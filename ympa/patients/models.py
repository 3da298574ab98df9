from __future__ import annotations

import uuid
from datetime import date

from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class IdentifierKind(models.TextChoices):
    PERSONNUMMER = "personnummer", _("Personal identity number")
    SAMORDNINGSNUMMER = "samordningsnummer", _("Coordination number")
    RESERVNUMMER = "reservnummer", _("Reserve number")


class LegalSex(models.TextChoices):
    FEMALE = "female", _("Female")
    MALE = "male", _("Male")
    UNKNOWN = "unknown", _("Unknown")


class Patient(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    identifier_kind = models.CharField(max_length=20, choices=IdentifierKind.choices)
    # Normalised: 12 digits for personnummer and samordningsnummer, the scheme's own form for reserve numbers.
    identifier = models.CharField(max_length=16)
    reserve_scheme = models.CharField(max_length=32, blank=True)
    given_name = models.CharField(max_length=100)
    family_name = models.CharField(max_length=100)
    birth_date = models.DateField(null=True, blank=True)
    legal_sex = models.CharField(max_length=8, choices=LegalSex.choices, default=LegalSex.UNKNOWN)
    street_address = models.CharField(max_length=200, blank=True)
    postal_code = models.CharField(max_length=6, blank=True)
    city = models.CharField(max_length=100, blank=True)
    phone = models.CharField(max_length=16, blank=True)
    email = models.EmailField(blank=True)
    # Skyddade personuppgifter: address and contact details are never shown, exported or sent.
    protected_identity = models.BooleanField(default=False)
    deceased_on = models.DateField(null=True, blank=True)
    is_test_data = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["identifier_kind", "identifier", "reserve_scheme"], name="patient_identifier_unique"
            ),
            models.CheckConstraint(
                condition=~Q(identifier_kind="reservnummer") | ~Q(reserve_scheme=""),
                name="patient_reserve_number_has_scheme",
            ),
        ]
        indexes = [
            models.Index(fields=["identifier"], name="patient_identifier_idx"),
            models.Index(Lower("family_name"), Lower("given_name"), name="patient_name_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.given_name} {self.family_name}"

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}"

    def age_on(self, day: date) -> int | None:
        if self.birth_date is None:
            return None
        years = day.year - self.birth_date.year
        if (day.month, day.day) < (self.birth_date.month, self.birth_date.day):
            years -= 1
        return years

    def is_minor(self, day: date) -> bool:
        age = self.age_on(day)
        return age is not None and age < 18


class Guardianship(models.Model):
    """A guardian (vårdnadshavare) of a minor. Ended, never deleted."""

    child = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="guardianships")
    guardian = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="wards")
    created_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["child", "guardian"],
                condition=Q(ended_at__isnull=True),
                name="guardianship_active_unique",
            ),
            models.CheckConstraint(condition=~Q(child=models.F("guardian")), name="guardianship_not_self"),
        ]

    def __str__(self) -> str:
        return f"{self.guardian} → {self.child}"
