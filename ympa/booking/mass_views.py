"""The mass-vaccination desk: start a session, then call, register and sign one patient after another.

The desk page swaps its patient panel with htmx: "call next" and "register and sign" each answer with the
panel of the patient now at the desk, so the steady state is one key press per patient. Without htmx the
forms post normally and are redirected back to the desk."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ympa.access.routes import no_patient_data, returns_patient_data
from ympa.access.services import patient_access
from ympa.authn.decorators import staff_view
from ympa.authn.request import StaffRequest
from ympa.booking.mass import (
    latest_declaration,
    mass_call_next,
    mass_current_entry,
    mass_dose_defaults,
    mass_session_end,
    mass_session_get,
    mass_session_start,
    mass_sessions,
    mass_vaccinate,
    mass_waiting_count,
    needs_declaration_confirmation,
)
from ympa.booking.mass_forms import SessionStartForm, SignForm, WalkInForm
from ympa.booking.models import MassSession, QueueEntry
from ympa.booking.queue import walk_in_add
from ympa.catalog.models import Product
from ympa.core.errors import ConflictError, NotPermitted
from ympa.inventory.selectors import batch_choices
from ympa.inventory.services import uses_inventory
from ympa.journal.forecasts import assess_dose
from ympa.journal.models import Site, Vaccination
from ympa.orgs.rights import Right


def _session_or_404(request: StaffRequest, session_id: uuid.UUID) -> MassSession:
    session = mass_session_get(actor=request.actor, session_id=session_id)
    if session is None:
        raise Http404
    return session


@no_patient_data("the unit's mass-vaccination sessions (product, batch, site) and the form to start one")
@staff_view(right=Right.ADMINISTER)
@require_http_methods(["GET", "POST"])
def sessions(request: StaffRequest) -> HttpResponse:
    unit = request.assignment.care_unit
    if unit is None:
        raise Http404
    code = request.POST.get("product") or request.GET.get("product") or ""
    form = SessionStartForm(request.POST or None, unit=unit, initial={"product": code})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            session = mass_session_start(
                actor=request.actor,
                name=data["name"],
                product=Product.objects.get(code=data["product"]),
                batch_number=data["batch_number"],
                batch_expiry=data["batch_expiry"],
                default_site=data["default_site"],
                appointment_type=data["appointment_type"],
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        except NotPermitted as exc:
            return render(request, "403.html", {"message": exc.message}, status=403)
        else:
            return redirect("booking:mass_desk", session_id=session.pk)
    chosen = Product.objects.filter(code=code, active=True).first()
    in_stock = batch_choices(unit=unit, product=chosen) if chosen and uses_inventory(unit) else []
    return render(
        request,
        "booking/mass/sessions.html",
        {"form": form, "sessions": mass_sessions(actor=request.actor), "batch_choices": in_stock},
    )


def _panel_context(
    request: StaffRequest,
    session: MassSession,
    entry: QueueEntry | None,
    *,
    form: SignForm | None = None,
    signed: Vaccination | None = None,
    error: str = "",
) -> dict[str, Any]:
    """What the patient panel shows; reading the patient at the desk is logged here."""
    context: dict[str, Any] = {
        "session": session,
        "entry": entry,
        "signed": signed,
        "error": error,
        "waiting": mass_waiting_count(session=session),
        "ended": session.ended_at is not None,
    }
    if entry is None:
        return context
    patient = entry.patient
    patient_access(
        actor=request.actor, patient=patient, object_type="booking.mass_desk", object_id=str(entry.pk)
    )
    dose = mass_dose_defaults(session=session, patient=patient)
    declaration = latest_declaration(patient=patient, unit=session.care_unit)
    problems = [
        p.describe()
        for p in assess_dose(
            patient,
            session.care_unit.care_provider,
            day=timezone.localdate(),
            product=session.product,
            volume=dose.dose_volume_ml,
        ).problems
    ]
    if form is None:
        form = SignForm(
            initial={
                "entry": entry.pk,
                "idempotency_key": uuid.uuid4().hex,
                "dose_number": dose.dose_number,
                "site": dose.site,
            }
        )
    context.update(
        {
            "patient": patient,
            "age": patient.age_on(timezone.localdate()),
            "dose": dose,
            "declaration": declaration,
            "flagged": needs_declaration_confirmation(declaration),
            "problems": problems,
            "form": form,
        }
    )
    return context


def _panel(request: StaffRequest, context: dict[str, Any]) -> HttpResponse:
    if request.headers.get("HX-Request"):
        return render(request, "booking/mass/_patient.html", context)
    if context.get("error"):
        messages.error(request, context["error"])
    return redirect("booking:mass_desk", session_id=context["session"].pk)


@returns_patient_data
@staff_view(right=Right.ADMINISTER)
@require_GET
def desk(request: StaffRequest, session_id: uuid.UUID) -> HttpResponse:
    session = _session_or_404(request, session_id)
    entry = mass_current_entry(actor=request.actor, session=session)
    context = _panel_context(request, session, entry)
    context["walk_in"] = WalkInForm()
    context["site_label"] = Site(session.default_site).label
    return render(request, "booking/mass/desk.html", context)


@returns_patient_data
@staff_view(right=Right.ADMINISTER)
@require_POST
def call_next(request: StaffRequest, session_id: uuid.UUID) -> HttpResponse:
    session = _session_or_404(request, session_id)
    if session.ended_at is not None:
        return _panel(request, _panel_context(request, session, None, error=_("The session has ended.")))
    entry = mass_current_entry(actor=request.actor, session=session)
    error = ""
    if entry is None:
        try:
            entry = mass_call_next(actor=request.actor, session=session)
        except (ConflictError, NotPermitted) as exc:
            error = str(exc.message)
    return _panel(request, _panel_context(request, session, entry, error=error))


@returns_patient_data
@staff_view(right=Right.SIGN)
@require_POST
def sign(request: StaffRequest, session_id: uuid.UUID) -> HttpResponse:
    session = _session_or_404(request, session_id)
    form = SignForm(request.POST)
    entry = _entry_at_desk(session, request.POST.get("entry", ""))
    if entry is None:
        current = mass_current_entry(actor=request.actor, session=session)
        return _panel(
            request,
            _panel_context(request, session, current, error=_("The patient is no longer at the desk.")),
        )
    if not form.is_valid():
        return _panel(request, _panel_context(request, session, entry, form=form))
    data = form.cleaned_data
    try:
        vaccination = mass_vaccinate(
            actor=request.actor,
            session=session,
            entry=entry,
            dose_number=data["dose_number"],
            site=data["site"],
            override_reason=data["override_reason"],
            declaration_confirmed=data["declaration_confirmed"],
            idempotency_key=data["idempotency_key"],
        )
    except ValidationError as exc:
        form.add_service_errors(exc)
        return _panel(request, _panel_context(request, session, entry, form=form))
    except ConflictError as exc:
        current = mass_current_entry(actor=request.actor, session=session)
        return _panel(request, _panel_context(request, session, current, error=str(exc.message)))
    except NotPermitted as exc:
        return render(request, "403.html", {"message": exc.message}, status=403)
    # One step for the nurse: the next patient is called at once (unless this desk already has one).
    following = mass_current_entry(actor=request.actor, session=session)
    if following is None and session.ended_at is None:
        following = mass_call_next(actor=request.actor, session=session)
    return _panel(request, _panel_context(request, session, following, signed=vaccination))


def _entry_at_desk(session: MassSession, entry_id: str) -> QueueEntry | None:
    try:
        pk = uuid.UUID(entry_id)
    except ValueError:
        return None
    return (
        QueueEntry.objects.filter(pk=pk, care_unit_id=session.care_unit_id).select_related("patient").first()
    )


@returns_patient_data
@staff_view(right=Right.ADMINISTER)
@require_POST
def walk_in(request: StaffRequest, session_id: uuid.UUID) -> HttpResponse:
    session = _session_or_404(request, session_id)
    form = WalkInForm(request.POST)
    added: QueueEntry | None = None
    ask_names = bool(request.POST.get("given_name") or request.POST.get("family_name"))
    if form.is_valid():
        data = form.cleaned_data
        try:
            added = walk_in_add(
                actor=request.actor,
                identifier=data["identifier"],
                given_name=data["given_name"],
                family_name=data["family_name"],
                session=session,
            )
        except ValidationError as exc:
            # An unregistered patient: the names are asked for only now.
            if hasattr(exc, "error_dict") and {"given_name", "family_name"} & exc.error_dict.keys():
                ask_names = True
            form.add_service_errors(exc)
        except (ConflictError, NotPermitted) as exc:
            form.add_error(None, str(exc.message))
    if added is not None:
        # The answer names the patient who was added.
        patient_access(
            actor=request.actor,
            patient=added.patient,
            object_type="booking.queue_entry",
            object_id=str(added.pk),
        )
        form = WalkInForm()
        ask_names = False
    context = {
        "session": session,
        "walk_in": form,
        "added": added,
        "ask_names": ask_names,
        "waiting": mass_waiting_count(session=session),
        "oob": True,
    }
    if request.headers.get("HX-Request"):
        return render(request, "booking/mass/_walk_in.html", context)
    if added is not None:
        messages.success(request, _("Added to the queue as number %(number)s.") % {"number": added.number})
    else:
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
    return redirect("booking:mass_desk", session_id=session.pk)


@no_patient_data("the number of patients waiting in the unit's queue")
@staff_view(right=Right.ADMINISTER)
@require_GET
def waiting(request: StaffRequest, session_id: uuid.UUID) -> HttpResponse:
    session = _session_or_404(request, session_id)
    return render(
        request,
        "booking/mass/_count.html",
        {"session": session, "waiting": mass_waiting_count(session=session)},
    )


@no_patient_data("ends a session: no patient is shown")
@staff_view(right=Right.ADMINISTER)
@require_POST
def end(request: StaffRequest, session_id: uuid.UUID) -> HttpResponse:
    session = _session_or_404(request, session_id)
    try:
        mass_session_end(actor=request.actor, session=session)
    except NotPermitted as exc:
        return render(request, "403.html", {"message": exc.message}, status=403)
    messages.success(request, _("The session has ended."))
    return redirect("booking:mass_sessions")
