from __future__ import annotations

import uuid
from datetime import date
from typing import Any
from uuid import UUID

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ympa.access.routes import returns_patient_data
from ympa.access.services import patient_access, patient_access_many
from ympa.authn.decorators import staff_view
from ympa.authn.request import StaffRequest
from ympa.catalog.models import Product
from ympa.core.errors import ConflictError, NotPermitted
from ympa.inventory.selectors import batch_choices
from ympa.inventory.services import uses_inventory
from ympa.journal.forecasts import GROUP_LABELS, assess_dose
from ympa.journal.forms import (
    AdministrationForm,
    AdverseEventForm,
    ConditionForm,
    CorrectionForm,
    ReasonForm,
    RecordForm,
)
from ympa.journal.models import AdverseEvent, Condition, EntryStatus, Vaccination
from ympa.journal.selectors import (
    administration_defaults,
    adverse_events_of,
    condition_choices,
    due_worklist,
    unsigned_entries,
    vaccination_get,
    vaccination_versions,
)
from ympa.journal.services import (
    Administration,
    adverse_event_nullify,
    adverse_event_register,
    condition_end,
    condition_nullify,
    condition_register,
    vaccination_correct,
    vaccination_nullify,
    vaccination_record,
    vaccination_sign,
    vaccination_update_draft,
)
from ympa.orgs.rights import Right
from ympa.patients.selectors import patient_get


def _refused(request: StaffRequest, exc: ConflictError | NotPermitted, back: str) -> HttpResponse:
    status = 409 if isinstance(exc, ConflictError) else 403
    template = "409.html" if status == 409 else "403.html"
    return render(request, template, {"message": exc.message, "back": back}, status=status)


def _vaccination_or_404(request: StaffRequest, vaccination_id: UUID | str) -> Vaccination:
    vaccination = vaccination_get(actor=request.actor, vaccination_id=vaccination_id)
    if vaccination is None:
        raise Http404
    return vaccination


def _vaccination_shown(request: StaffRequest, vaccination: Vaccination) -> None:
    """Log the read of a page that shows the entry (a form too: it carries the record)."""
    patient_access(
        actor=request.actor,
        patient=vaccination.patient,
        object_type="journal.vaccination",
        object_id=str(vaccination.pk),
    )


def _initial_from(version_data: Administration) -> dict[str, Any]:
    return {
        "product": version_data.product.code,
        "administered_at": timezone.localtime(version_data.administered_at),
        "batch_number": version_data.batch_number,
        "batch_expiry": version_data.batch_expiry,
        "expired_batch_confirmed": version_data.expired_batch_confirmed,
        "dose_number": version_data.dose_number,
        "dose_volume_ml": version_data.dose_volume_ml,
        "site": version_data.site,
        "route": version_data.route,
        "note": version_data.note,
    }


@returns_patient_data
@staff_view()
@require_GET
def home(request: StaffRequest) -> HttpResponse:
    drafts = (
        list(unsigned_entries(actor=request.actor, mine_only=True)[:20])
        if request.assignment.care_unit
        else []
    )
    patient_access_many(
        actor=request.actor,
        patients=[v.patient for v in drafts],
        object_type="journal.unsigned_worklist",
        object_id=str(request.assignment.care_unit_id),
        detail={"scope": "mine"},
    )
    return render(request, "journal/home.html", {"drafts": drafts})


@returns_patient_data
@staff_view(right=Right.ADMINISTER)
@require_http_methods(["GET", "POST"])
def vaccination_new(request: StaffRequest, patient_id: str) -> HttpResponse:
    patient = patient_get(actor=request.actor, patient_id=patient_id)
    if patient is None:
        raise Http404
    unit = request.assignment.care_unit
    assert unit is not None
    chosen = Product.objects.filter(
        code=request.POST.get("product") or request.GET.get("product"), active=True
    ).first()
    defaults = administration_defaults(unit=unit, product=chosen, patient=patient)
    initial = {
        "product": chosen.code if chosen else "",
        "administered_at": timezone.localtime().replace(second=0, microsecond=0),
        "batch_number": defaults.batch_number,
        "batch_expiry": defaults.batch_expiry,
        "dose_number": defaults.dose_number,
        "dose_volume_ml": defaults.dose_volume_ml,
        "site": defaults.site,
        "route": defaults.route,
        "idempotency_key": uuid.uuid4().hex,
    }
    refill = request.method == "POST" and request.POST.get("action") == "refill"
    if request.method == "POST" and not refill:
        form = RecordForm(request.POST)
        if form.is_valid():
            sign = request.POST.get("action") == "sign"
            try:
                vaccination_record(
                    actor=request.actor,
                    patient=patient,
                    data=form.administration(),
                    idempotency_key=form.cleaned_data["idempotency_key"],
                    sign=sign,
                )
            except ValidationError as exc:
                form.add_service_errors(exc)
            except (ConflictError, NotPermitted) as exc:
                return _refused(request, exc, reverse("patients:overview", args=[patient.pk]))
            else:
                messages.success(
                    request,
                    _("The vaccination was signed.") if sign else _("The vaccination was saved as a draft."),
                )
                return redirect("patients:overview", patient_id=patient.pk)
    else:
        form = RecordForm(initial=initial)
    # The form carries the patient's name and a dose number from their history.
    patient_access(actor=request.actor, patient=patient, object_type="journal.vaccination", object_id="new")
    template = (
        "journal/_administration_fields.html"
        if request.headers.get("HX-Request")
        else "journal/vaccination_new.html"
    )
    # The unit's usable batches of the vaccine, to pick from when its provider keeps its stock in Ympa.
    in_stock = batch_choices(unit=unit, product=chosen) if chosen and uses_inventory(unit) else []
    return render(
        request,
        template,
        {
            "form": form,
            "patient": patient,
            "can_sign": request.assignment.has_right(Right.SIGN),
            "batch_choices": in_stock,
        },
    )


@returns_patient_data
@staff_view()
@require_GET
def vaccination_detail(request: StaffRequest, vaccination_id: str) -> HttpResponse:
    vaccination = _vaccination_or_404(request, vaccination_id)
    _vaccination_shown(request, vaccination)
    version = vaccination.current_version
    problems = (
        [
            p.describe()
            for p in assess_dose(
                vaccination.patient,
                vaccination.care_unit.care_provider,
                day=timezone.localdate(version.administered_at),
                product=version.product,
                volume=version.dose_volume_ml,
                exclude_vaccination=vaccination.pk,
            ).problems
        ]
        if vaccination.status == EntryStatus.DRAFT and version is not None
        else []
    )
    return render(
        request,
        "journal/vaccination_detail.html",
        {
            "problems": problems,
            "vaccination": vaccination,
            "patient": vaccination.patient,
            "versions": vaccination_versions(vaccination),
            "adverse_events": adverse_events_of(vaccination),
            "can_sign": request.assignment.has_right(Right.SIGN),
            "can_correct": request.assignment.has_right(Right.CORRECT),
        },
    )


@returns_patient_data
@staff_view(right=Right.ADMINISTER)
@require_http_methods(["GET", "POST"])
def vaccination_edit(request: StaffRequest, vaccination_id: str) -> HttpResponse:
    vaccination = _vaccination_or_404(request, vaccination_id)
    back = reverse("journal:vaccination", args=[vaccination.pk])
    if vaccination.status != EntryStatus.DRAFT:
        return _refused(
            request,
            ConflictError(_("The entry is signed and cannot be edited. Make a correction instead.")),
            back,
        )
    assert vaccination.current_version is not None
    form = AdministrationForm(
        request.POST or None, initial=_initial_from(Administration.of_version(vaccination.current_version))
    )
    if request.method == "POST" and form.is_valid():
        try:
            vaccination_update_draft(actor=request.actor, vaccination=vaccination, data=form.administration())
            if request.POST.get("action") == "sign":
                vaccination_sign(actor=request.actor, vaccination=vaccination)
        except ValidationError as exc:
            form.add_service_errors(exc)
        except (ConflictError, NotPermitted) as exc:
            return _refused(request, exc, back)
        else:
            return redirect(back)
    _vaccination_shown(request, vaccination)
    return render(
        request,
        "journal/vaccination_edit.html",
        {
            "form": form,
            "vaccination": vaccination,
            "patient": vaccination.patient,
            "can_sign": request.assignment.has_right(Right.SIGN),
        },
    )


@returns_patient_data
@staff_view(right=Right.SIGN)
@require_POST
def vaccination_sign_view(request: StaffRequest, vaccination_id: str) -> HttpResponse:
    vaccination = _vaccination_or_404(request, vaccination_id)
    back = reverse("journal:vaccination", args=[vaccination.pk])
    try:
        vaccination_sign(
            actor=request.actor,
            vaccination=vaccination,
            override_reason=request.POST.get("override_reason", ""),
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    except (ConflictError, NotPermitted) as exc:
        return _refused(request, exc, back)
    else:
        messages.success(request, _("The vaccination was signed."))
    next_url = request.POST.get("next", "")
    safe = url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}
    ) and next_url.startswith("/")
    return redirect(next_url if safe else back)


@returns_patient_data
@staff_view(right=Right.CORRECT)
@require_http_methods(["GET", "POST"])
def vaccination_correct_view(request: StaffRequest, vaccination_id: str) -> HttpResponse:
    vaccination = _vaccination_or_404(request, vaccination_id)
    back = reverse("journal:vaccination", args=[vaccination.pk])
    if vaccination.status != EntryStatus.SIGNED:
        return _refused(request, ConflictError(_("Only signed entries are corrected.")), back)
    assert vaccination.current_version is not None
    form = CorrectionForm(
        request.POST or None, initial=_initial_from(Administration.of_version(vaccination.current_version))
    )
    if request.method == "POST" and form.is_valid():
        try:
            vaccination_correct(
                actor=request.actor,
                vaccination=vaccination,
                data=form.administration(),
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        except (ConflictError, NotPermitted) as exc:
            return _refused(request, exc, back)
        else:
            messages.success(
                request, _("The correction was signed. The earlier version is kept in the history.")
            )
            return redirect(back)
    _vaccination_shown(request, vaccination)
    return render(
        request,
        "journal/vaccination_correct.html",
        {"form": form, "vaccination": vaccination, "patient": vaccination.patient},
    )


@returns_patient_data
@staff_view(right=Right.CORRECT)
@require_http_methods(["GET", "POST"])
def vaccination_nullify_view(request: StaffRequest, vaccination_id: str) -> HttpResponse:
    vaccination = _vaccination_or_404(request, vaccination_id)
    back = reverse("journal:vaccination", args=[vaccination.pk])
    form = ReasonForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            vaccination_nullify(
                actor=request.actor, vaccination=vaccination, reason=form.cleaned_data["reason"]
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        except (ConflictError, NotPermitted) as exc:
            return _refused(request, exc, back)
        else:
            messages.success(request, _("The entry was nullified. It stays in the record, marked as void."))
            return redirect(back)
    _vaccination_shown(request, vaccination)
    return render(
        request,
        "journal/vaccination_nullify.html",
        {"form": form, "vaccination": vaccination, "patient": vaccination.patient},
    )


@returns_patient_data
@staff_view(right=Right.SIGN)
@require_http_methods(["GET", "POST"])
def adverse_event_new(request: StaffRequest, vaccination_id: str) -> HttpResponse:
    vaccination = _vaccination_or_404(request, vaccination_id)
    back = reverse("journal:vaccination", args=[vaccination.pk])
    form = AdverseEventForm(
        request.POST or None, initial={"onset_at": timezone.localtime().replace(second=0, microsecond=0)}
    )
    if request.method == "POST" and form.is_valid():
        try:
            adverse_event_register(actor=request.actor, vaccination=vaccination, report=form.report())
        except ValidationError as exc:
            form.add_service_errors(exc)
        except (ConflictError, NotPermitted) as exc:
            return _refused(request, exc, back)
        else:
            messages.success(request, _("The adverse event was registered."))
            return redirect(back)
    _vaccination_shown(request, vaccination)
    return render(
        request,
        "journal/adverse_event_new.html",
        {"form": form, "vaccination": vaccination, "patient": vaccination.patient},
    )


@returns_patient_data
@staff_view(right=Right.CORRECT)
@require_POST
def adverse_event_nullify_view(request: StaffRequest, event_id: str) -> HttpResponse:
    event = AdverseEvent.objects.filter(pk=event_id).select_related("vaccination").first()
    if event is None or vaccination_get(actor=request.actor, vaccination_id=event.vaccination_id) is None:
        raise Http404
    back = reverse("journal:vaccination", args=[event.vaccination_id])
    form = ReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Say why the entry is nullified."))
        return redirect(back)
    try:
        adverse_event_nullify(actor=request.actor, event=event, reason=form.cleaned_data["reason"])
    except (ConflictError, NotPermitted) as exc:
        return _refused(request, exc, back)
    messages.success(request, _("The adverse event was nullified."))
    return redirect(back)


@returns_patient_data
@staff_view()
@require_GET
def unsigned(request: StaffRequest) -> HttpResponse:
    if request.assignment.care_unit is None:
        raise Http404
    mine_only = request.GET.get("scope", "mine") != "unit"
    entries = list(unsigned_entries(actor=request.actor, mine_only=mine_only)[:200])
    patient_access_many(
        actor=request.actor,
        patients=[v.patient for v in entries],
        object_type="journal.unsigned_worklist",
        object_id=str(request.assignment.care_unit_id),
        detail={"scope": "mine" if mine_only else "unit"},
    )
    return render(
        request,
        "journal/unsigned.html",
        {"entries": entries, "mine_only": mine_only, "can_sign": request.assignment.has_right(Right.SIGN)},
    )


@returns_patient_data
@staff_view()
@require_GET
def due(request: StaffRequest) -> HttpResponse:
    if request.assignment.care_unit is None:
        raise Http404
    today = timezone.localdate()
    try:
        on = date.fromisoformat(request.GET.get("date", "")) if request.GET.get("date") else today
    except ValueError:
        on = today
    group = request.GET.get("group", "")
    rows, total = due_worklist(actor=request.actor, on=on, vaccine_group=group)
    patient_access_many(
        actor=request.actor,
        patients=[row.patient for row in rows],
        object_type="journal.due_worklist",
        object_id=str(request.assignment.care_unit_id),
        detail={"date": on.isoformat(), "group": group, "rows": total},
    )
    groups = sorted(GROUP_LABELS.items(), key=lambda item: str(item[1]))
    return render(
        request,
        "journal/due.html",
        {"rows": rows, "total": total, "on": on, "group": group, "groups": groups},
    )


def _back_to_patient(patient_id: object) -> HttpResponse:
    return redirect(reverse("patients:overview", args=[patient_id]) + "#conditions")


@returns_patient_data
@staff_view(right=Right.SIGN)
@require_POST
def condition_add(request: StaffRequest, patient_id: str) -> HttpResponse:
    patient = patient_get(actor=request.actor, patient_id=patient_id)
    if patient is None:
        raise Http404
    form = ConditionForm(request.POST, choices=condition_choices(actor=request.actor))
    if not form.is_valid():
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
        return _back_to_patient(patient.pk)
    try:
        condition_register(
            actor=request.actor,
            patient=patient,
            code=form.cleaned_data["code"],
            start_date=form.cleaned_data["start_date"],
            note=form.cleaned_data["note"],
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("The condition was recorded. Decision support takes it into account."))
    return _back_to_patient(patient.pk)


def _condition_or_404(request: StaffRequest, condition_id: str) -> Condition:
    condition = Condition.objects.filter(pk=condition_id).select_related("patient").first()
    if condition is None or patient_get(actor=request.actor, patient_id=condition.patient_id) is None:
        raise Http404
    return condition


@returns_patient_data
@staff_view(right=Right.SIGN)
@require_POST
def condition_end_view(request: StaffRequest, condition_id: str) -> HttpResponse:
    condition = _condition_or_404(request, condition_id)
    try:
        ended = date.fromisoformat(request.POST.get("end_date", ""))
    except ValueError:
        messages.error(request, _("Enter the end date."))
        return _back_to_patient(condition.patient_id)
    try:
        condition_end(actor=request.actor, condition=condition, end_date=ended)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    except (ConflictError, NotPermitted) as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The condition was ended."))
    return _back_to_patient(condition.patient_id)


@returns_patient_data
@staff_view(right=Right.SIGN)
@require_POST
def condition_nullify_view(request: StaffRequest, condition_id: str) -> HttpResponse:
    condition = _condition_or_404(request, condition_id)
    try:
        condition_nullify(actor=request.actor, condition=condition, reason=request.POST.get("reason", ""))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    except (ConflictError, NotPermitted) as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The condition was nullified."))
    return _back_to_patient(condition.patient_id)
