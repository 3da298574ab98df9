"""Input of the public booking pages, parsed to types only; the rules are in `ympa.booking.services`."""

from __future__ import annotations

from dataclasses import dataclass

from django import forms
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _

from ympa.notify.models import MessageChannel

SELF = "self"
NEW = "new"
AUTO = "auto"


@dataclass(frozen=True)
class PersonRow:
    """One row of the booking form: who (self, a child's patient id, or new) and which slot."""

    person: str
    slot: str
    identifier: str = ""
    given_name: str = ""
    family_name: str = ""

    @property
    def booked(self) -> bool:
        return bool(self.slot)


def person_rows(data: QueryDict) -> list[PersonRow]:
    """The form's repeated fields, row by row. A post without `person` books the identified person alone
    in the one `slot` given (the lean path of a single booking)."""
    people = data.getlist("person") or [SELF]
    columns = {name: data.getlist(name) for name in ("slot", "identifier", "given_name", "family_name")}

    def cell(name: str, index: int) -> str:
        values = columns[name]
        return values[index].strip() if index < len(values) else ""

    return [
        PersonRow(
            person=person.strip(),
            slot=cell("slot", index),
            identifier=cell("identifier", index),
            given_name=cell("given_name", index),
            family_name=cell("family_name", index),
        )
        for index, person in enumerate(people)
    ]


class ContactForm(forms.Form):
    phone = forms.CharField(label=_("Mobile number"), max_length=30, required=False)
    email = forms.CharField(label=_("E-mail address"), max_length=254, required=False)
    idempotency_key = forms.CharField(max_length=64, required=False, widget=forms.HiddenInput)


class IdentifyForm(forms.Form):
    pnr = forms.CharField(
        label=_("Personal identity number"),
        max_length=20,
        help_text=_("12 digits, e.g. 19121212-1212"),
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "numeric"}),
    )
    channel = forms.ChoiceField(
        label=_("Send the code by"),
        choices=[(MessageChannel.SMS, _("SMS")), (MessageChannel.EMAIL, _("E-mail"))],
        widget=forms.RadioSelect,
        initial=MessageChannel.SMS,
    )
    destination = forms.CharField(
        label=_("Mobile number or e-mail address"),
        max_length=254,
        widget=forms.TextInput(attrs={"autocomplete": "tel email"}),
    )


class CodeForm(forms.Form):
    code = forms.CharField(
        label=_("Code"),
        max_length=12,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


class CancelForm(forms.Form):
    reason = forms.CharField(label=_("Reason (optional)"), max_length=200, required=False)
