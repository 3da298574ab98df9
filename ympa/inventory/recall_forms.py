"""The recall form, shared by the care provider's recall list and the infection-control officer's region
recall: types only; what the combination must be is `recall.recall_criteria`'s to say."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from ympa.catalog.models import Product
from ympa.core.forms import StyledForm
from ympa.inventory.recall import MAX_REASON_LENGTH
from ympa.inventory.services import MAX_BATCH_LENGTH


def _date_input() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class RecallForm(StyledForm):
    # Every product, also those no longer in use: a recall may come after a vaccine is withdrawn.
    product = forms.ModelChoiceField(
        label=_("Vaccine"), queryset=Product.objects.order_by("name"), to_field_name="code"
    )
    batch_number = forms.CharField(
        label=_("Batch number"),
        max_length=MAX_BATCH_LENGTH,
        required=False,
        help_text=_("Leave it empty to list every batch of the vaccine given in the period."),
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    start = forms.DateField(label=_("From"), required=False, widget=_date_input())
    end = forms.DateField(label=_("To"), required=False, widget=_date_input())
    reason = forms.CharField(
        label=_("Reason or case reference"),
        max_length=MAX_REASON_LENGTH,
        help_text=_("Logged with every patient on the list."),
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
