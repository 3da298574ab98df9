"""Forms of the visit pages: the health declaration (built from the form's questions), reception's search
and walk-in, the queue's status change, the nurse's confirmation and a unit's declaration forms."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from ympa.booking.declaration import QUESTIONS, Kind, Question
from ympa.booking.models import QueueStatus
from ympa.core.forms import StyledForm

YES_NO = [("yes", _("Yes")), ("no", _("No"))]


@dataclass(frozen=True)
class QuestionBlock:
    """One question as the template shows it: a fieldset of its fields."""

    question: Question
    fields: list[forms.BoundField]


class DeclarationAnswersForm(StyledForm):
    """The answers to a list of questions; `answers()` gives them in the service's shape. The service
    validates them again (and computes the flags)."""

    def __init__(self, *args: Any, questions: list[Question], **kwargs: Any) -> None:
        self.questions = questions
        super().__init__(*args, **kwargs)
        for question in questions:
            key = question.key
            if question.kind in (Kind.YES_NO, Kind.YES_NO_DETAILS):
                self.fields[key] = forms.ChoiceField(
                    label=question.text,
                    choices=YES_NO,
                    widget=forms.RadioSelect,
                    required=True,
                    error_messages={"required": _("Answer yes or no.")},
                )
                if question.kind == Kind.YES_NO_DETAILS:
                    self.fields[f"{key}_details"] = forms.CharField(
                        label=question.details,
                        required=False,
                        max_length=500,
                        widget=forms.Textarea(attrs={"rows": 2}),
                    )
            elif question.kind == Kind.DATE_RANGE:
                self.fields[f"{key}_from"] = forms.DateField(
                    label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
                )
                self.fields[f"{key}_to"] = forms.DateField(
                    label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
                )
            else:
                self.fields[key] = forms.CharField(
                    label=question.text, required=question.required, max_length=500
                )
        # StyledForm styled the fields present when it ran; these were added after.
        self._style()

    def _style(self) -> None:
        for field in self.fields.values():
            widget = field.widget
            css = "form-check-input" if isinstance(widget, forms.RadioSelect) else "form-control"
            widget.attrs["class"] = css

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for question in self.questions:
            if question.kind != Kind.DATE_RANGE:
                continue
            start, end = data.get(f"{question.key}_from"), data.get(f"{question.key}_to")
            if start and end and end < start:
                self.add_error(f"{question.key}_to", _("The last date is before the first date."))
        return data

    def blocks(self) -> list[QuestionBlock]:
        result = []
        for question in self.questions:
            names = {
                Kind.YES_NO: [question.key],
                Kind.YES_NO_DETAILS: [question.key, f"{question.key}_details"],
                Kind.DATE_RANGE: [f"{question.key}_from", f"{question.key}_to"],
                Kind.TEXT: [question.key],
            }[question.kind]
            result.append(QuestionBlock(question, [self[name] for name in names]))
        return result

    def answers(self) -> dict[str, Any]:
        data = self.cleaned_data
        answers: dict[str, Any] = {}
        for question in self.questions:
            key = question.key
            if question.kind == Kind.YES_NO:
                answers[key] = {"answer": data.get(key)}
            elif question.kind == Kind.YES_NO_DETAILS:
                answers[key] = {"answer": data.get(key), "details": data.get(f"{key}_details", "")}
            elif question.kind == Kind.DATE_RANGE:
                start, end = data.get(f"{key}_from"), data.get(f"{key}_to")
                answers[key] = {"from": start, "to": end} if start or end else {}
            else:
                answers[key] = data.get(key, "")
        return answers


class ReceptionSearchForm(StyledForm):
    q = forms.CharField(
        label=_("Name, identity number or time (HH:MM)"),
        required=False,
        max_length=60,
        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off"}),
    )


class WalkInForm(StyledForm):
    identifier = forms.CharField(
        label=_("Personnummer or samordningsnummer"),
        max_length=20,
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "numeric"}),
    )
    given_name = forms.CharField(label=_("Given name (if new)"), required=False, max_length=100)
    family_name = forms.CharField(label=_("Family name (if new)"), required=False, max_length=100)


class StatusForm(StyledForm):
    status = forms.ChoiceField(choices=QueueStatus.choices)


class ConfirmForm(StyledForm):
    note = forms.CharField(
        label=_("Note (optional)"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )
    next = forms.CharField(required=False, widget=forms.HiddenInput)


class DeclarationFormCreateForm(StyledForm):
    name = forms.CharField(label=_("Name of the form"), max_length=100)
    questions = forms.MultipleChoiceField(
        label=_("Questions"),
        choices=[(question.key, question.text_en) for question in QUESTIONS],
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The question's text in the reader's language, chosen when the form is made (not at import).
        self.fields["questions"].choices = [(q.key, q.text) for q in QUESTIONS]  # type: ignore[attr-defined]
