from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from ympa.core.forms import StyledForm


class CancelForm(StyledForm):
    reason = forms.CharField(label=_("Reason for cancelling"), max_length=200)


class StatsForm(StyledForm):
    start = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    end = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    period = forms.ChoiceField(
        label=_("Per"), choices=[("day", _("Day")), ("week", _("Week"))], required=False
    )

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if start and end and end < start:
            self.add_error("end", _("The end date is before the start date."))
        elif start and end and (end - start).days > 366:
            self.add_error("end", _("Choose a period of at most a year."))
        return data


class WaitingEndForm(StyledForm):
    reason = forms.CharField(label=_("Why is the entry ended?"), max_length=200)


class WaitingAddForm(StyledForm):
    appointment_type = forms.TypedChoiceField(label=_("Appointment type"), coerce=int)
    identifier = forms.CharField(label=_("Personal identity number"), max_length=20)
    phone = forms.CharField(label=_("Mobile number"), max_length=30, required=False)
    email = forms.CharField(label=_("E-mail"), max_length=254, required=False)

    def __init__(self, *args: Any, types: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["appointment_type"].choices = types  # type: ignore[attr-defined]
