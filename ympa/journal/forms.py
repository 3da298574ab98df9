from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from ympa.catalog.groups import group_label
from ympa.catalog.models import Product, Route
from ympa.core.forms import StyledForm
from ympa.journal.models import Severity, Site, Symptom
from ympa.journal.services import Administration, AdverseEventReport

DATETIME_LOCAL = "%Y-%m-%dT%H:%M"


def product_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    grouped: dict[str, list[tuple[str, str]]] = {}
    for product in Product.objects.filter(active=True).order_by("vaccine_group", "name"):
        grouped.setdefault(group_label(product.vaccine_group), []).append((product.code, product.name))
    return sorted(grouped.items())


class AdministrationForm(StyledForm):
    product = forms.ChoiceField(label=_("Vaccine"), choices=())
    administered_at = forms.DateTimeField(
        label=_("Given at"),
        input_formats=[DATETIME_LOCAL, "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_LOCAL),
    )
    batch_number = forms.CharField(
        label=_("Batch number"), max_length=40, widget=forms.TextInput(attrs={"autocomplete": "off"})
    )
    batch_expiry = forms.DateField(
        label=_("Batch expiry date"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    expired_batch_confirmed = forms.BooleanField(
        label=_("The batch had expired, and the dose was given anyway"), required=False
    )
    dose_number = forms.IntegerField(label=_("Dose number in the series"), min_value=1, max_value=20)
    dose_volume_ml = forms.DecimalField(
        label=_("Dose volume (ml)"),
        required=False,
        min_value=0,
        max_value=5,
        decimal_places=2,
        widget=forms.NumberInput(attrs={"step": "0.05"}),
    )
    site = forms.ChoiceField(label=_("Site"), choices=[("", "—"), *Site.choices])
    route = forms.ChoiceField(label=_("Route"), choices=[("", "—"), *Route.choices])
    note = forms.CharField(label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    override_reason = forms.CharField(
        label=_("Why the dose was given although it does not count"),
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["product"].choices = [("", "—"), *product_choices()]  # type: ignore[attr-defined]

    def administration(self) -> Administration:
        data = self.cleaned_data
        return Administration(
            administered_at=data["administered_at"],
            product=Product.objects.defer("sources").get(code=data["product"]),
            batch_number=data["batch_number"],
            batch_expiry=data["batch_expiry"],
            dose_number=data["dose_number"],
            dose_volume_ml=data["dose_volume_ml"],
            site=data["site"],
            route=data["route"],
            note=data["note"],
            expired_batch_confirmed=data["expired_batch_confirmed"],
            override_reason=data["override_reason"],
        )


class RecordForm(AdministrationForm):
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=64)


class CorrectionForm(AdministrationForm):
    reason = forms.CharField(
        label=_("Reason for the correction"), widget=forms.Textarea(attrs={"rows": 2}), max_length=1000
    )


class ReasonForm(StyledForm):
    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 2}), max_length=1000)


class AdverseEventForm(StyledForm):
    symptoms = forms.MultipleChoiceField(
        label=_("Symptoms"), choices=Symptom.choices, widget=forms.CheckboxSelectMultiple
    )
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    onset_at = forms.DateTimeField(
        label=_("Onset"),
        input_formats=[DATETIME_LOCAL],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_LOCAL),
    )
    severity = forms.ChoiceField(label=_("Severity"), choices=Severity.choices, widget=forms.RadioSelect)
    serious = forms.BooleanField(
        label=_("Serious (hospital care, life-threatening, lasting harm or death)"), required=False
    )
    reported_to_mpa = forms.BooleanField(label=_("Reported to the Medical Products Agency"), required=False)
    mpa_reported_on = forms.DateField(
        label=_("Report date"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    mpa_reference = forms.CharField(label=_("Report reference"), required=False, max_length=60)

    def report(self) -> AdverseEventReport:
        data = self.cleaned_data
        return AdverseEventReport(
            symptoms=list(data["symptoms"]),
            onset_at=data["onset_at"],
            severity=data["severity"],
            description=data["description"],
            serious=data["serious"],
            reported_to_mpa=data["reported_to_mpa"],
            mpa_reported_on=data["mpa_reported_on"],
            mpa_reference=data["mpa_reference"],
        )


class ConditionForm(StyledForm):
    code = forms.ChoiceField(label=_("Condition or indication"), choices=())
    start_date = forms.DateField(
        label=_("From"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    note = forms.CharField(label=_("Note"), required=False, max_length=500)

    def __init__(self, *args: Any, choices: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["code"].choices = [("", "—"), *choices]  # type: ignore[attr-defined]
