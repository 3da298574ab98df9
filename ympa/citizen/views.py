from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from ympa.access.routes import no_patient_data
from ympa.citizen.session import citizen_logout, citizen_session


@no_patient_data(
    "the citizen's own BankID name and whether the login found a record (that lookup was logged at "
    "login); no record content yet"
)
@never_cache
@require_GET
def home_view(request: HttpRequest) -> HttpResponse:
    citizen = citizen_session(request)
    if citizen is None:
        return redirect("citizen:login")
    response = render(request, "citizen/home.html", {"citizen": citizen})
    response["Cache-Control"] = "no-store"
    return response


@no_patient_data("ends the citizen session")
@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    citizen_logout(request)
    return redirect("citizen:login")
