"""The care provider's recall list: the page and its CSV file (`inventory.recall`)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from ympa.access.routes import returns_patient_data
from ympa.authn.decorators import reauthenticated, staff_view
from ympa.authn.request import StaffRequest
from ympa.core.spreadsheet import csv_bytes, csv_download
from ympa.inventory.recall import RecallList, recall_assignment, recall_list
from ympa.inventory.recall_forms import RecallForm


@returns_patient_data
@staff_view()
@require_http_methods(["GET", "POST"])
def recall_view(request: StaffRequest) -> HttpResponse:
    """GET: the form. POST: the list. A POST, so that the criteria and the reason stay out of URLs and the
    server's access logs."""
    # Refused (403, through ServiceErrorMiddleware) without a unit assignment and either right.
    recall_assignment(request.actor)
    form = RecallForm(request.POST if request.method == "POST" else None)
    recall: RecallList | None = None
    if form.is_bound and form.is_valid():
        try:
            recall = recall_list(actor=request.actor, **form.cleaned_data)
        except ValidationError as exc:
            form.add_service_errors(exc)
    return render(request, "inventory/recall.html", {"form": form, "recall": recall})


@returns_patient_data
@staff_view()
@reauthenticated()
@require_POST
def recall_csv_view(request: StaffRequest) -> HttpResponse:
    """The recall list as a file, for contacting the patients, from the same form as the page."""
    recall_assignment(request.actor)
    form = RecallForm(request.POST)
    if form.is_valid():
        try:
            recall = recall_list(actor=request.actor, export=True, **form.cleaned_data)
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            criteria = recall.criteria
            what = slugify(criteria.batch_number or criteria.product.code) or "batch"
            return csv_download(_csv(recall), f"aterkallelse-{what}-{timezone.localdate():%Y%m%d}.csv")
    return render(request, "inventory/recall.html", {"form": form, "recall": None})


def _csv(recall: RecallList) -> bytes:
    return csv_bytes(
        [
            _("Patient"),
            _("Identity number"),
            _("Given at"),
            _("Care unit"),
            _("Batch"),
            _("Phone"),
            _("Status"),
        ],
        (
            [
                row.name,
                row.identifier,
                timezone.localtime(row.given_at).strftime("%Y-%m-%d %H:%M"),
                row.care_unit,
                row.batch_number,
                _("Protected identity") if row.protected_identity else row.phone,
                _("Signed") if row.signed else _("Unsigned"),
            ]
            for row in recall.rows
        ),
    )
