from __future__ import annotations

import calendar
from datetime import date

from django import forms
from django.utils.translation import gettext_lazy as _

from ympa.catalog.models import Product
from ympa.core.forms import StyledForm
from ympa.reporting.selectors import month_start
from ympa.reporting.services import MAX_BATCH_LENGTH, MAX_REASON_LENGTH

# The period the region page shows when none is chosen: this month and the eleven before it.
DEFAULT_MONTHS = 12


class MonthInput(forms.DateInput):
    input_type = "month"


class PeriodForm(StyledForm):
    """Whole months, from the first day of `start`'s month to the last day of `end`'s."""

    start = forms.DateField(label=_("From month"), input_formats=["%Y-%m"], widget=MonthInput(format="%Y-%m"))
    end = forms.DateField(label=_("To month"), input_formats=["%Y-%m"], widget=MonthInput(format="%Y-%m"))

    @staticmethod
    def default(today: date) -> dict[str, date]:
        return {"start": month_start(today, 1 - DEFAULT_MONTHS), "end": month_start(today)}

    def period(self) -> tuple[date, date]:
        """The chosen period as dates (call after is_valid)."""
        start: date = self.cleaned_data["start"]
        end: date = self.cleaned_data["end"]
        last_day = calendar.monthrange(end.year, end.month)[1]
        return start, end.replace(day=last_day)


class RecallForm(StyledForm):
    product = forms.ModelChoiceField(
        label=_("Vaccine"), queryset=Product.objects.order_by("name"), to_field_name="code"
    )
    batch_number = forms.CharField(
        label=_("Batch number"),
        max_length=MAX_BATCH_LENGTH,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    reason = forms.CharField(
        label=_("Reason or case reference"),
        max_length=MAX_REASON_LENGTH,
        help_text=_("Logged with every patient on the list."),
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
