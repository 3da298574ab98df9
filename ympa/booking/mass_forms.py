from __future__ import annotations

from typing import Any

from django import forms
from django.urls import reverse_lazy
from django.utils.translation import gettext_lazy as _

from ympa.booking.models import AppointmentType
from ympa.core.forms import StyledForm
from ympa.journal.forms import product_choices
from ympa.journal.models import Site
from ympa.orgs.models import CareUnit


class SessionStartForm(StyledForm):
    name = forms.CharField(label=_("Name of the session"), max_length=100)
    # Choosing the vaccine lists the unit's batches of it in stock (htmx).
    product = forms.ChoiceField(
        label=_("Vaccine"),
        choices=(),
        widget=forms.Select(
            attrs={
                "hx-get": reverse_lazy("booking:mass_sessions"),
                "hx-trigger": "change",
                "hx-target": "#batch-choices",
                "hx-select": "#batch-choices",
                "hx-swap": "outerHTML",
                "hx-include": "this",
            }
        ),
    )
    batch_number = forms.CharField(
        label=_("Batch number"), max_length=40, widget=forms.TextInput(attrs={"autocomplete": "off"})
    )
    batch_expiry = forms.DateField(
        label=_("Batch expiry date"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    default_site = forms.ChoiceField(label=_("Default injection site"), choices=Site.choices)
    appointment_type = forms.ModelChoiceField(
        label=_("Appointment type"),
        queryset=AppointmentType.objects.none(),
        required=False,
        empty_label=_("Any"),
    )

    def __init__(self, *args: Any, unit: CareUnit, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["product"].choices = [("", "—"), *product_choices()]  # type: ignore[attr-defined]
        self.fields["appointment_type"].queryset = AppointmentType.objects.filter(  # type: ignore[attr-defined]
            care_unit=unit, active=True
        )


class SignForm(StyledForm):
    """The desk's one-step form; everything but the key has the session's or the forecast's default."""

    entry = forms.UUIDField(widget=forms.HiddenInput)
    idempotency_key = forms.CharField(max_length=64, widget=forms.HiddenInput)
    dose_number = forms.IntegerField(label=_("Dose number"), min_value=1, max_value=20)
    site = forms.ChoiceField(label=_("Site"), choices=Site.choices)
    override_reason = forms.CharField(
        label=_("Why the dose is given although it does not count"), required=False, max_length=1000
    )
    declaration_confirmed = forms.BooleanField(
        label=_("I have gone through the flagged answers with the patient"), required=False
    )


class WalkInForm(StyledForm):
    identifier = forms.CharField(label=_("Personnummer of a walk-in"), max_length=20)
    given_name = forms.CharField(label=_("Given name"), max_length=100, required=False)
    family_name = forms.CharField(label=_("Family name"), max_length=100, required=False)
