from __future__ import annotations

from uuid import UUID

from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from ympa.access.pdl_services import patient_facts
from ympa.access.routes import returns_patient_data
from ympa.access.services import patient_access, patient_access_many
from ympa.access.views import CareRelationForm, pdl_context
from ympa.authn.decorators import staff_view
from ympa.authn.request import StaffRequest
from ympa.core.errors import NotPermitted
from ympa.journal.forms import ConditionForm
from ympa.journal.selectors import (
    condition_choices,
    patient_conditions,
    patient_decision_support,
    patient_history,
)
from ympa.patients.forms import GuardianForm, PatientDetailsForm, PatientRegisterForm
from ympa.patients.models import Patient
from ympa.patients.selectors import children_of, guardians_of, patient_get, patient_search
from ympa.patients.services import guardianship_add, patient_register, patient_update


def _patient_or_404(request: StaffRequest, patient_id: UUID | str) -> Patient:
    patient = patient_get(actor=request.actor, patient_id=patient_id)
    if patient is None:
        raise Http404
    return patient


@returns_patient_data
@staff_view()
@require_GET
def search(request: StaffRequest) -> HttpResponse:
    query = request.GET.get("q", "")
    results = patient_search(actor=request.actor, query=query)
    try:
        patient_access_many(actor=request.actor, patients=results, object_type="patients.search")
    except NotPermitted as exc:
        return render(request, "403.html", {"message": exc.message}, status=403)
    template = "patients/_results.html" if request.headers.get("HX-Request") else "patients/search.html"
    return render(request, template, {"query": query, "results": results})


@returns_patient_data
@staff_view()
@require_http_methods(["GET", "POST"])
def register(request: StaffRequest) -> HttpResponse:
    form = PatientRegisterForm(
        request.POST or None, initial={"identifier": request.GET.get("identifier", "")}
    )
    if request.method == "POST" and form.is_valid():
        try:
            patient = patient_register(
                actor=request.actor,
                identifier=form.cleaned_data["identifier"],
                details=form.details(),
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            return redirect("patients:overview", patient_id=patient.pk)
    return render(request, "patients/register.html", {"form": form})


@returns_patient_data
@staff_view()
@require_GET
def overview(request: StaffRequest, patient_id: str) -> HttpResponse:
    patient = _patient_or_404(request, patient_id)
    # One read of the PDL facts serves the per-entry decisions and the gate.
    facts = patient_facts(patient=patient, log_for=request.actor)
    history = patient_history(actor=request.actor, patient=patient, facts=facts)
    if history.needs_care_relation:
        # No care relation, no record (PDL): only the name and number the search already showed.
        return render(
            request,
            "patients/no_care_relation.html",
            {"patient": patient, "care_relation_form": CareRelationForm()},
            status=403,
        )
    patient_access(actor=request.actor, patient=patient, facts=facts)
    today = timezone.localdate()
    return render(
        request,
        "patients/overview.html",
        {
            "patient": patient,
            "history": history,
            **pdl_context(request, patient, history),
            "decision": patient_decision_support(
                actor=request.actor, patient=patient, today=today, readable=history
            ),
            "conditions": patient_conditions(actor=request.actor, patient=patient),
            "condition_form": ConditionForm(
                choices=condition_choices(actor=request.actor), initial={"start_date": today}
            ),
            "age": patient.age_on(today),
            "guardians": guardians_of(patient),
            "children": children_of(patient),
            "guardian_form": GuardianForm() if patient.is_minor(today) else None,
        },
    )


@returns_patient_data
@staff_view()
@require_http_methods(["GET", "POST"])
def edit(request: StaffRequest, patient_id: str) -> HttpResponse:
    patient = _patient_or_404(request, patient_id)
    initial = {name: getattr(patient, name) for name in PatientDetailsForm.base_fields}
    form = PatientDetailsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            patient_update(actor=request.actor, patient=patient, details=form.details())
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            return redirect("patients:overview", patient_id=patient.pk)
    # The form shows the record (also when it comes back with errors).
    patient_access(actor=request.actor, patient=patient)
    return render(request, "patients/edit.html", {"form": form, "patient": patient})


@returns_patient_data
@staff_view()
@require_http_methods(["POST"])
def add_guardian(request: StaffRequest, patient_id: str) -> HttpResponse:
    child = _patient_or_404(request, patient_id)
    form = GuardianForm(request.POST)
    if form.is_valid():
        matches = patient_search(actor=request.actor, query=form.cleaned_data["identifier"], limit=2)
        if len(matches) != 1:
            form.add_error(
                "identifier",
                _("No registered patient has this identity number. Register the guardian first."),
            )
        else:
            try:
                guardianship_add(actor=request.actor, child=child, guardian=matches[0])
            except ValidationError as exc:
                form.add_service_errors(exc)
            else:
                return redirect("patients:overview", patient_id=child.pk)
    patient_access(actor=request.actor, patient=child)
    return render(request, "patients/guardian.html", {"form": form, "patient": child})
