from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from ympa.access.routes import no_patient_data
from ympa.authn.decorators import reauthenticated, staff_view
from ympa.authn.request import StaffRequest
from ympa.forecast import schedule_parameters, schedule_sets
from ympa.orgs.forms import StaffForm
from ympa.orgs.models import Assignment
from ympa.orgs.rights import DEFAULT_RIGHTS, Right, Role
from ympa.orgs.selectors import unit_assignments
from ympa.orgs.services import assignment_end, care_provider_set_schedule, staff_add


# Changing who holds which assignment and rights needs a recent proof of identity; the page with the form
# asks for it too, so the user confirms who they are before typing rather than after.
@no_patient_data("the unit's staff and their assignments")
@staff_view(right=Right.ADMINISTER_UNIT)
@reauthenticated()
@require_http_methods(["GET", "POST"])
def staff(request: StaffRequest) -> HttpResponse:
    unit = request.assignment.care_unit
    if unit is None:
        raise Http404
    form = StaffForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            staff_add(actor=request.actor, details=form.details())
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, _("The assignment was added."))
            return redirect("orgs:staff")
    role_rights = [(role, sorted(r.label for r in DEFAULT_RIGHTS[role])) for role in Role]
    return render(
        request,
        "orgs/staff.html",
        {
            "unit": unit,
            "assignments": unit_assignments(unit),
            "form": form,
            "role_rights": role_rights,
            "now": timezone.now(),
        },
    )


@no_patient_data("ends a staff member's assignment")
@staff_view(right=Right.ADMINISTER_UNIT)
@reauthenticated()
@require_POST
def end_assignment(request: StaffRequest, assignment_id: int) -> HttpResponse:
    assignment = Assignment.objects.filter(pk=assignment_id, care_unit=request.assignment.care_unit).first()
    if assignment is None:
        raise Http404
    try:
        assignment_end(actor=request.actor, assignment=assignment)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("The assignment was ended."))
    return redirect("orgs:staff")


# Swedish texts for the regional choices the schedule sets offer (the data files describe them in English).
PARAMETER_LABELS = {
    "tbe_shorter_interval_from_age": gettext_lazy(
        "Age (years) at the start of TBE vaccination from which the schedule with shorter intervals and an "
        "extra dose applies"
    ),
}


@no_patient_data("the care provider's choice of schedules")
@staff_view(right=Right.ADMINISTER_UNIT)
@require_http_methods(["GET", "POST"])
def schedules(request: StaffRequest) -> HttpResponse:
    unit = request.assignment.care_unit
    if unit is None:
        raise Http404
    provider = unit.care_provider
    chosen = (
        request.POST.get("schedule_set", provider.schedule_set)
        if request.method == "POST"
        else provider.schedule_set
    )
    parameters = schedule_parameters(chosen) if chosen in schedule_sets() else []
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        options = {p.name: request.POST.get(p.name, p.default) for p in parameters}
        try:
            care_provider_set_schedule(actor=request.actor, schedule_set=chosen, options=options)
        except ValidationError as exc:
            errors = exc.message_dict
        else:
            messages.success(request, _("The schedules were saved. Stored forecasts are being recomputed."))
            return redirect("orgs:schedules")
    current = {**{p.name: p.default for p in parameters}, **provider.schedule_options}
    return render(
        request,
        "orgs/schedules.html",
        {
            "provider": provider,
            "sets": schedule_sets(),
            "chosen": chosen,
            "parameters": [
                (p, current.get(p.name, p.default), str(PARAMETER_LABELS.get(p.name, p.description)))
                for p in parameters
            ],
            "errors": errors,
        },
    )
