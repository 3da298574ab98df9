from __future__ import annotations

import calendar
from datetime import date

from django import forms
from django.utils.translation import gettext_lazy as _

from ympa.core.forms import StyledForm
from ympa.reporting.selectors import month_start

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
