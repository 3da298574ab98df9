"""The patient view's PDL administration: care relation, consent, emergency access (two steps) and blocks.

Each action is a small POST from the patient overview; the services decide and log. Emergency access and
changes to blocks need a recent proof of identity (`reauthenticated`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from ympa.access.extract import LOG_EXTRACT, Format, log_extract_create, log_extract_rows
from ympa.access.pdl_models import AssertionType, Block, BlockType, PdlAssertion
from ympa.access.pdl_services import (
    MAX_TEMPORARY_REVOKE_HOURS,
    BlockRequest,
    block_end,
    block_register,
    care_relation_register,
    consent_register,
    emergency_access_open,
    emergency_access_register,
    temporary_revoke_blocks,
)
from ympa.access.routes import returns_patient_data
from ympa.access.services import patient_access
from ympa.authn.decorators import reauthenticated, staff_view
from ympa.authn.request import StaffRequest
from ympa.core.errors import NotPermitted
from ympa.core.forms import StyledForm
from ympa.journal.selectors import PatientHistory, blocked_sources
from ympa.orgs.models import CareUnit
from ympa.patients.models import Patient
from ympa.patients.selectors import patient_get


class CareRelationForm(StyledForm):
    prefix = "relation"
    purpose = forms.CharField(label=gettext_lazy("Purpose of the care relation"), max_length=200)


class ConsentForm(StyledForm):
    prefix = "consent"
    scope = forms.ChoiceField(
        label=gettext_lazy("The consent covers"),
        choices=[("unit", gettext_lazy("the whole care unit")), ("me", gettext_lazy("only me"))],
    )
    days = forms.IntegerField(
        label=gettext_lazy("Valid for (days, empty: until revoked)"),
        min_value=1,
        max_value=3650,
        required=False,
    )


class RevokeForm(StyledForm):
    prefix = "revoke"
    hours = forms.IntegerField(
        label=gettext_lazy("Lift the blocks for (hours)"),
        min_value=1,
        max_value=MAX_TEMPORARY_REVOKE_HOURS,
        initial=1,
    )
    only_me = forms.BooleanField(label=gettext_lazy("Only for me"), required=False, initial=True)


class EmergencyForm(StyledForm):
    prefix = "emergency"
    reason = forms.CharField(label=gettext_lazy("Why is this an emergency?"), max_length=1024)


class BlockForm(StyledForm):
    prefix = "block"
    block_type = forms.ChoiceField(label=gettext_lazy("Block"), choices=BlockType.choices)
    care_unit = forms.ChoiceField(label=gettext_lazy("Information of"), required=False)
    reason = forms.CharField(label=gettext_lazy("Note"), max_length=1024, required=False)

    def __init__(self, *args: Any, units: Sequence[CareUnit] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.units = {str(u.pk): u for u in units}
        choices = [("", _("all our care units")), *((key, u.name) for key, u in self.units.items())]
        field = self.fields["care_unit"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = choices


class EndForm(StyledForm):
    prefix = "end"
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=1024)


def pdl_context(request: StaffRequest, patient: Patient, history: PatientHistory) -> dict[str, object]:
    """What the patient overview shows about access: forms for what the reader may need, and the blocks and
    consents of the reader's own care provider."""
    unit = request.assignment.care_unit
    provider_id = unit.care_provider_id if unit is not None else None
    consents = list(
        PdlAssertion.objects.filter(
            patient=patient, assertion_type=AssertionType.CONSENT, care_unit=unit, cancelled_at__isnull=True
        )
        .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=timezone.now()))
        .select_related("user")
    )
    elsewhere = history.hidden_at_other_providers or history.blocked_information
    return {
        "care_relation_form": CareRelationForm() if history.needs_care_relation else None,
        "consent_form": ConsentForm() if elsewhere and not consents else None,
        "emergency_form": EmergencyForm() if history.blocked_information else None,
        "revoke_form": RevokeForm() if history.blocked_information else None,
        "block_form": BlockForm(units=provider_units(request)),
        "blocks": list(
            Block.objects.filter(
                patient=patient,
                information_care_provider_id=provider_id,
                ended_at__isnull=True,
                nullified_at__isnull=True,
            ).select_related("information_care_unit")
        ),
        "consents": consents,
    }


def provider_units(request: StaffRequest) -> list[CareUnit]:
    unit = request.assignment.care_unit
    return list(unit.care_provider.care_units.order_by("name")) if unit is not None else []


def _patient(request: StaffRequest, patient_id: UUID) -> Patient:
    patient = patient_get(actor=request.actor, patient_id=patient_id)
    if patient is None:
        raise Http404
    return patient


def _back(patient: Patient) -> HttpResponse:
    return redirect("patients:overview", patient_id=patient.pk)


def _refused(request: StaffRequest, exc: NotPermitted | ValidationError) -> None:
    """A service said no: show why on the patient page the action returns to."""
    messages.error(request, "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc))


def _act(
    request: StaffRequest,
    patient: Patient,
    form: forms.Form,
    action: Callable[[dict[str, Any]], object],
    success: str,
) -> HttpResponse:
    """Validate `form`, run the service `action` on its data, say how it went, and go back to the patient.

    An action that returns an empty list did nothing (no block to lift), so there is nothing to confirm.
    """
    if not form.is_valid():
        _errors(request, form)
    else:
        try:
            result = action(form.cleaned_data)
        except (NotPermitted, ValidationError) as exc:
            _refused(request, exc)
        else:
            if result != []:
                messages.success(request, success)
    return _back(patient)


def _errors(request: StaffRequest, form: forms.Form) -> None:
    for errors in form.errors.values():
        for error in errors:
            messages.error(request, str(error))


@returns_patient_data
@staff_view()
@require_POST
def care_relation_view(request: StaffRequest, patient_id: UUID) -> HttpResponse:
    patient = _patient(request, patient_id)
    return _act(
        request,
        patient,
        CareRelationForm(request.POST),
        lambda data: care_relation_register(actor=request.actor, patient=patient, purpose=data["purpose"]),
        _("The care relation is registered."),
    )


@returns_patient_data
@staff_view()
@require_POST
def consent_view(request: StaffRequest, patient_id: UUID) -> HttpResponse:
    patient = _patient(request, patient_id)
    return _act(
        request,
        patient,
        ConsentForm(request.POST),
        lambda data: consent_register(
            actor=request.actor,
            patient=patient,
            whole_unit=data["scope"] == "unit",
            valid_until=timezone.now() + timedelta(days=data["days"]) if data["days"] else None,
        ),
        _("The patient's consent is registered."),
    )


@returns_patient_data
@staff_view()
@reauthenticated()
@require_POST
def emergency_view(request: StaffRequest, patient_id: UUID) -> HttpResponse:
    """Step 1: register the emergency with a reason; the next page says where blocked information exists."""
    patient = _patient(request, patient_id)
    form = EmergencyForm(request.POST)
    if not form.is_valid():
        _errors(request, form)
        return _back(patient)
    try:
        emergency = emergency_access_register(
            actor=request.actor, patient=patient, reason=form.cleaned_data["reason"]
        )
    except (NotPermitted, ValidationError) as exc:
        _refused(request, exc)
        return _back(patient)
    return redirect("access:emergency", patient_id=patient.pk, emergency_id=emergency.pk)


@returns_patient_data
@staff_view()
@require_GET
def emergency_page(request: StaffRequest, patient_id: UUID, emergency_id: UUID) -> HttpResponse:
    patient = _patient(request, patient_id)
    emergency = get_object_or_404(
        PdlAssertion,
        pk=emergency_id,
        patient=patient,
        assertion_type=AssertionType.EMERGENCY,
        user=request.user,
    )
    patient_access(
        actor=request.actor, patient=patient, object_type="access.pdlassertion", object_id=str(emergency.pk)
    )
    return render(
        request,
        "access/emergency.html",
        {
            "patient": patient,
            "emergency": emergency,
            "sources": blocked_sources(actor=request.actor, patient=patient),
        },
    )


@returns_patient_data
@staff_view()
@reauthenticated()
@require_POST
def emergency_open_view(request: StaffRequest, patient_id: UUID, emergency_id: UUID) -> HttpResponse:
    """Step 2: open the blocked information for the rest of the emergency access's time."""
    patient = _patient(request, patient_id)
    emergency = get_object_or_404(PdlAssertion, pk=emergency_id, patient=patient)
    try:
        emergency_access_open(actor=request.actor, emergency=emergency)
    except NotPermitted as exc:
        _refused(request, exc)
    else:
        messages.warning(request, _("Emergency access is open. It is logged and will be reviewed."))
    return _back(patient)


@returns_patient_data
@staff_view()
@reauthenticated()
@require_POST
def block_view(request: StaffRequest, patient_id: UUID) -> HttpResponse:
    patient = _patient(request, patient_id)
    form = BlockForm(request.POST, units=provider_units(request))
    return _act(
        request,
        patient,
        form,
        lambda data: block_register(
            actor=request.actor,
            patient=patient,
            request=BlockRequest(
                BlockType(data["block_type"]), form.units.get(data["care_unit"]), reason=data["reason"]
            ),
        ),
        _("The block is registered."),
    )


@returns_patient_data
@staff_view()
@reauthenticated()
@require_POST
def block_end_view(request: StaffRequest, patient_id: UUID, block_id: UUID) -> HttpResponse:
    patient = _patient(request, patient_id)
    block = get_object_or_404(Block, pk=block_id, patient=patient)
    return _act(
        request,
        patient,
        EndForm(request.POST),
        lambda data: block_end(actor=request.actor, block=block, reason=data["reason"]),
        _("The block is lifted."),
    )


@returns_patient_data
@staff_view()
@reauthenticated()
@require_POST
def revoke_view(request: StaffRequest, patient_id: UUID) -> HttpResponse:
    """The patient consents to lifting, for a few hours, the blocks that hide information from the reader."""
    patient = _patient(request, patient_id)
    return _act(
        request,
        patient,
        RevokeForm(request.POST),
        lambda data: temporary_revoke_blocks(
            actor=request.actor, patient=patient, hours=data["hours"], only_me=data["only_me"]
        ),
        _("The blocks are lifted for a while, with the patient's consent."),
    )


def _date_input() -> forms.DateInput:
    # A date input sends and shows ISO dates whatever the language.
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class LogExtractForm(StyledForm):
    start = forms.DateField(label=gettext_lazy("From"), required=False, widget=_date_input())
    end = forms.DateField(label=gettext_lazy("To"), required=False, widget=_date_input())

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if start and end and start > end:
            raise ValidationError(_("The period's start is after its end."))
        return data


def _log_extract_page(
    request: StaffRequest, patient: Patient, form: LogExtractForm, status: int = 200
) -> HttpResponse:
    """The log extract's form and, for a valid period, its rows. Showing them is a read of the record."""
    patient_access(actor=request.actor, patient=patient, object_type=LOG_EXTRACT)
    valid = form.is_valid()
    period = {name: day.isoformat() for name, day in form.cleaned_data.items() if day} if valid else {}
    return render(
        request,
        "access/log_extract.html",
        {
            "patient": patient,
            "form": form,
            "rows": log_extract_rows(patient=patient, **form.cleaned_data) if valid else None,
            "query": urlencode(period),
        },
        status=status,
    )


@returns_patient_data
@staff_view()
@require_GET
def log_extract_page(request: StaffRequest, patient_id: UUID) -> HttpResponse:
    """Log extract (loggutdrag): which care units accessed the record and when, to hand to the patient."""
    patient = _patient(request, patient_id)
    # Bound even without parameters: no period is the whole log.
    return _log_extract_page(request, patient, LogExtractForm(request.GET))


def _log_extract_download(request: StaffRequest, patient_id: UUID, fmt: Format) -> HttpResponse:
    patient = _patient(request, patient_id)
    form = LogExtractForm(request.GET)
    if not form.is_valid():
        # No file for a period that makes no sense: the form again, with the error.
        return _log_extract_page(request, patient, form, status=400)
    extract = log_extract_create(actor=request.actor, patient=patient, fmt=fmt, **form.cleaned_data)
    response = HttpResponse(extract.content, content_type=extract.content_type)
    response["Content-Disposition"] = f'attachment; filename="{extract.filename}"'
    return response


@returns_patient_data
@staff_view()
@require_GET
def log_extract_csv_view(request: StaffRequest, patient_id: UUID) -> HttpResponse:
    return _log_extract_download(request, patient_id, "csv")


@returns_patient_data
@staff_view()
@require_GET
def log_extract_pdf_view(request: StaffRequest, patient_id: UUID) -> HttpResponse:
    return _log_extract_download(request, patient_id, "pdf")
