from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from ympa.core.forms import StyledForm
from ympa.core.validation import current_language
from ympa.identifiers import IdentifierError, parse_phone_number


class LoginForm(StyledForm):
    username = forms.CharField(
        label=_("Username"),
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "username", "autofocus": True}),
    )
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class CodeForm(StyledForm):
    code = forms.RegexField(
        label=_("Code from your authenticator app"),
        regex=r"^\s*\d{3}\s?\d{3}\s*$",
        error_messages={"invalid": _("Enter the six digits shown in the app.")},
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True, "size": 8}
        ),
    )


class AssignmentForm(forms.Form):
    assignment = forms.IntegerField(widget=forms.HiddenInput)


class SmsLoginForm(StyledForm):
    phone = forms.CharField(
        label=_("Mobile number"),
        max_length=20,
        widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel", "autofocus": True}),
    )
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def clean_phone(self) -> str:
        try:
            return parse_phone_number(self.cleaned_data["phone"]).e164
        except IdentifierError as exc:
            raise forms.ValidationError(exc.message(current_language()), code=exc.code) from exc


class SmsCodeForm(StyledForm):
    code = forms.RegexField(
        label=_("Code from the SMS"),
        regex=r"^\s*\d{3}\s?\d{3}\s*$",
        error_messages={"invalid": _("Enter the six digits in the SMS.")},
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True, "size": 8}
        ),
    )


class PasswordForm(StyledForm):
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password", "autofocus": True}),
    )
