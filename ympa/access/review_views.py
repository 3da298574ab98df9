"""The log review page (logguppföljning): filter the care provider's access log, export it, record the review.

The filters are posted, not put in the URL: a patient's identifier must not end up in server or proxy logs.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from ympa.access.review import (
    ReviewFilter,
    ReviewRow,
    emergency_accesses_since_last_review,
    log_review_export,
    log_review_page,
    log_review_record,
    log_reviews,
)
from ympa.access.review_models import ReviewCategory, ReviewOutcome
from ympa.access.routes import returns_patient_data
from ympa.authn.decorators import staff_view
from ympa.authn.request import StaffRequest
from ympa.core.forms import StyledForm
from ympa.core.spreadsheet import csv_bytes, csv_download
from ympa.orgs.rights import Right

DEFAULT_DAYS = 7


class ReviewFilterForm(StyledForm):
    start = forms.DateField(
        label=gettext_lazy("From"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    end = forms.DateField(
        label=gettext_lazy("To"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    categories = forms.MultipleChoiceField(
        label=gettext_lazy("Show only"),
        choices=ReviewCategory.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy("None chosen: every access in the period."),
    )
    staff = forms.CharField(
        label=gettext_lazy("Staff member (name or HSA-id)"), max_length=100, required=False
    )
    patient = forms.CharField(label=gettext_lazy("Patient's identity number"), max_length=20, required=False)

    def review(self) -> ReviewFilter:
        data = self.cleaned_data
        return ReviewFilter(
            start=data["start"],
            end=data["end"],
            categories=tuple(ReviewCategory(c) for c in data["categories"]),
            staff=data["staff"],
            patient_identifier=data["patient"],
        )


class ReviewRecordForm(StyledForm):
    prefix = "record"
    outcome = forms.ChoiceField(
        label=gettext_lazy("Outcome"), choices=ReviewOutcome.choices, widget=forms.RadioSelect
    )
    finding = forms.CharField(
        label=gettext_lazy("Finding"),
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy("What you checked and found, and what is done about any remarks."),
    )


def _initial() -> dict[str, Any]:
    today = timezone.localdate()
    return {
        "start": today - timedelta(days=DEFAULT_DAYS - 1),
        "end": today,
        "categories": [c.value for c in ReviewCategory],
    }


def _csv(rows: list[ReviewRow]) -> bytes:
    header = [
        _("Time"),
        _("Staff member"),
        _("HSA-id"),
        _("Care unit"),
        _("Patient"),
        _("Identity number"),
        _("Action"),
        _("What"),
        _("Channel"),
        _("Flags"),
        _("Reason given"),
    ]
    return csv_bytes(
        header,
        (
            [
                timezone.localtime(row.event.occurred_at).strftime("%Y-%m-%d %H:%M:%S"),
                row.event.actor_name,
                row.event.actor_identity,
                row.event.care_unit.name if row.event.care_unit else "",
                row.event.patient.full_name if row.event.patient else "",
                row.event.patient.identifier if row.event.patient else "",
                row.event.get_action_display(),
                row.event.object_type,
                row.event.get_channel_display(),
                ", ".join(str(c.label) for c in row.categories),
                row.event.detail.get("reason", ""),
            ]
            for row in rows
        ),
    )


def _page_number(request: StaffRequest) -> int:
    value = request.POST.get("page", "")
    return int(value) if value.isdigit() else 1


@returns_patient_data
@staff_view(right=Right.REVIEW_LOGS)
@require_http_methods(["GET", "POST"])
def review_view(request: StaffRequest) -> HttpResponse:
    """GET: the flagged accesses of the last week. POST: the posted filter, a page of it, its CSV export
    (`export`), or the record that it was reviewed (`record`)."""
    form = ReviewFilterForm(request.POST if request.method == "POST" else _initial())
    record_form = ReviewRecordForm(request.POST if "record" in request.POST else None)
    context: dict[str, Any] = {"form": form, "record_form": record_form}
    if form.is_valid():
        review = form.review()
        context["review"] = review
        try:
            if "export" in request.POST:
                rows = log_review_export(actor=request.actor, review=review)
                name = f"logguppfoljning-{review.start:%Y%m%d}-{review.end:%Y%m%d}.csv"
                return csv_download(_csv(rows), name)
            if "record" in request.POST and record_form.is_valid():
                log_review_record(
                    actor=request.actor,
                    review=review,
                    outcome=ReviewOutcome(record_form.cleaned_data["outcome"]),
                    finding=record_form.cleaned_data["finding"],
                )
                messages.success(request, _("The review is recorded."))
                return redirect("review:log_review")
            context["result"] = log_review_page(
                actor=request.actor, review=review, page=_page_number(request)
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
    context["reviews"] = log_reviews(actor=request.actor)
    context["unreviewed_emergencies"] = emergency_accesses_since_last_review(actor=request.actor)
    return render(request, "access/log_review.html", context)
