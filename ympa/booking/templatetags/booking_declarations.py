"""Template helpers for showing a health declaration: its answers as rows, with the question's text in the
reader's language and the flagged ones marked."""

from __future__ import annotations

from django import template

from ympa.booking.declaration import AnswerRow, answer_rows
from ympa.booking.models import HealthDeclaration

register = template.Library()


@register.filter(name="answer_rows")
def answer_rows_filter(declaration: HealthDeclaration | None) -> list[AnswerRow]:
    return answer_rows(declaration) if declaration is not None else []
