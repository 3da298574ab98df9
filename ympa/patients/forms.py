from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from ympa.core.forms import StyledForm
from ympa.patients.services import PatientDetails


class PatientDetailsForm(StyledForm):
    given_name = forms.CharField(
        label=_("Given name"), max_length=100, widget=forms.TextInput(attrs={"autocomplete": "off"})
    )
    family_name = forms.CharField(
        label=_("Family name"), max_length=100, widget=forms.TextInput(attrs={"autocomplete": "off"})
    )
    street_address = forms.CharField(label=_("Street address"), max_length=200, required=False)
    postal_code = forms.CharField(label=_("Postal code"), max_length=6, required=False)
    city = forms.CharField(label=_("City"), max_length=100, required=False)
    phone = forms.CharField(
        label=_("Mobile phone"),
        max_length=20,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "tel"}),
    )
    email = forms.CharField(label=_("E-mail"), max_length=254, required=False, widget=forms.EmailInput)
    protected_identity = forms.BooleanField(
        label=_("Protected identity (address and contact details are never shown or sent)"), required=False
    )

    deceased_on = forms.DateField(
        label=_("Date of death"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )

    def details(self) -> PatientDetails:
        data = self.cleaned_data
        return PatientDetails(
            **{name: data[name] for name in PatientDetails.__dataclass_fields__ if name in data}
        )


class PatientRegisterForm(PatientDetailsForm):
    identifier = forms.CharField(
        label=_("Personal identity number, coordination number or reserve number"),
        max_length=20,
        help_text=_("For example 19121212-1212"),
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "off", "inputmode": "numeric"}),
    )
    field_order = ["identifier", "given_name", "family_name"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # A death is recorded on an existing patient (Edit details), not at registration.
        del self.fields["deceased_on"]


class GuardianForm(StyledForm):
    identifier = forms.CharField(label=_("Guardian's personal identity number"), max_length=20)
