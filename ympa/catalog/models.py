from __future__ import annotations

from django.db import models
from django.utils.translation import get_language


class Disease(models.Model):
    code = models.SlugField(max_length=40, unique=True)
    name_sv = models.CharField(max_length=100)
    name_en = models.CharField(max_length=100)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name_en if (get_language() or "sv").startswith("en") else self.name_sv


class Route(models.TextChoices):
    IM = "IM", "IM"
    SC = "SC", "SC"
    ID = "ID", "ID"
    PO = "PO", "PO"
    IN = "IN", "IN"


class Product(models.Model):
    """A vaccine product. Facts come from the versioned catalogue file; `sources` names a source per fact."""

    code = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=120)
    vaccine_group = models.CharField(max_length=40, db_index=True)
    manufacturer = models.CharField(max_length=200, blank=True)
    atc_code = models.CharField(max_length=7, blank=True)
    npl_id = models.CharField(max_length=20, blank=True)
    cvx_code = models.CharField(max_length=4, blank=True)
    local_code = models.CharField(max_length=60, blank=True)
    target_diseases = models.ManyToManyField(Disease, related_name="products", blank=True)
    dose_volumes_ml = models.JSONField(default=list, blank=True)
    routes = models.JSONField(default=list, blank=True)
    min_age = models.CharField(max_length=10, blank=True, help_text="ISO 8601 duration, e.g. P6W")
    max_age = models.CharField(max_length=10, blank=True, help_text="ISO 8601 duration, e.g. P26Y")
    form = models.CharField(max_length=20, blank=True)
    sources = models.JSONField(default=dict, blank=True)
    catalog_version = models.CharField(max_length=30)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
