"""The public slot picker's time buttons, written out in Python: a mass-vaccination week lists a thousand
free times, and the template engine spent most of the page's time rendering them one tag at a time."""

from __future__ import annotations

from collections.abc import Sequence

from django import template
from django.utils.safestring import SafeString, mark_safe

from ympa.booking.selectors import FreeTime

register = template.Library()


@register.simple_tag
def time_buttons(times: Sequence[FreeTime], book_url: str) -> SafeString:
    # Safe without escaping: the URL comes from reverse(), the ids are integers and the labels "HH:MM".
    return mark_safe(  # noqa: S308
        "".join(
            f'<a class="btn btn-outline-primary btn-sm" href="{book_url}?slot={int(t.pk)}" '
            f'data-slot="{int(t.pk)}">{t.label}</a>'
            for t in times
        )
    )
