from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Concatenate
from uuid import UUID

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from ympa.access.routes import no_patient_data, returns_patient_data
from ympa.citizen.selectors import citizen_family, citizen_record
from ympa.citizen.session import CitizenSession, citizen_logout, citizen_session


def citizen_page[**P](
    view: Callable[Concatenate[HttpRequest, CitizenSession, P], HttpResponse],
) -> Callable[Concatenate[HttpRequest, P], HttpResponse]:
    """A page for a logged-in citizen (else the login), given the session; every response is `no-store`:
    it may carry the citizen's or their children's patient data, which must not stay in caches."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: P.args, **kwargs: P.kwargs) -> HttpResponse:
        citizen = citizen_session(request)
        response = redirect("citizen:login") if citizen is None else view(request, citizen, *args, **kwargs)
        response["Cache-Control"] = "no-store"
        return response

    return wrapper


@returns_patient_data
@citizen_page
@require_GET
def home_view(request: HttpRequest, citizen: CitizenSession) -> HttpResponse:
    return render(
        request, "citizen/home.html", {"citizen": citizen, "family": citizen_family(citizen=citizen)}
    )


@returns_patient_data
@citizen_page
@require_GET
def record_view(request: HttpRequest, citizen: CitizenSession, patient_id: UUID) -> HttpResponse:
    record = citizen_record(citizen=citizen, patient_id=patient_id)
    if record is None:
        # Someone else's record, or none: the same answer, so the page tells nothing about who exists.
        return render(request, "citizen/not_found.html", {"citizen": citizen}, status=404)
    return render(request, "citizen/record.html", {"citizen": citizen, "record": record})


@no_patient_data("ends the citizen session")
@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    citizen_logout(request)
    return redirect("citizen:login")
