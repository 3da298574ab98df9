from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from ympa.core.forms import StyledForm
from ympa.orgs.rights import REGION_ROLES, Right, Role
from ympa.orgs.services import StaffDetails


class StaffForm(StyledForm):
    username = forms.CharField(label=_("Username"), max_length=150)
    first_name = forms.CharField(label=_("Given name"), max_length=150)
    last_name = forms.CharField(label=_("Family name"), max_length=150)
    hsa_id = forms.CharField(
        label=_("HSA-id"), max_length=40, required=False, help_text=_("For example SE2321000016-1234")
    )
    phone = forms.CharField(label=_("Mobile phone"), max_length=20, required=False)
    email = forms.EmailField(label=_("E-mail"), required=False)
    role = forms.ChoiceField(
        label=_("Role"), choices=[(r.value, r.label) for r in Role if r not in REGION_ROLES]
    )
    rights_granted = forms.MultipleChoiceField(
        label=_("Extra rights beyond the role"),
        choices=Right.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    rights_revoked = forms.MultipleChoiceField(
        label=_("Rights removed from the role"),
        choices=Right.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    valid_until = forms.DateTimeField(
        label=_("Assignment ends"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M"],
    )

    def details(self) -> StaffDetails:
        data = self.cleaned_data
        return StaffDetails(
            username=data["username"],
            first_name=data["first_name"],
            last_name=data["last_name"],
            role=data["role"],
            hsa_id=data["hsa_id"],
            phone=data["phone"],
            email=data["email"],
            rights_granted=tuple(data["rights_granted"]),
            rights_revoked=tuple(data["rights_revoked"]),
            valid_until=data["valid_until"],
        )
