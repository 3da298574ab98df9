from __future__ import annotations

import time

import segno
from django.contrib.auth import authenticate, login, logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from ympa.authn.forms import AssignmentForm, CodeForm, LoginForm
from ympa.authn.models import User
from ympa.authn.selectors import active_assignments
from ympa.authn.services import totp_enrol, totp_new_secret, totp_provisioning_uri, totp_verify

PENDING_SECONDS = 300
MAX_CODE_ATTEMPTS = 5


def _safe_next(request: HttpRequest, candidate: str | None) -> str | None:
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return None


def _pending_user(request: HttpRequest) -> User | None:
    pending = request.session.get("pending_login")
    if not isinstance(pending, dict) or time.time() - float(pending.get("at", 0)) > PENDING_SECONDS:
        request.session.pop("pending_login", None)
        return None
    user_id = pending.get("user")
    if not isinstance(user_id, int):
        return None
    return User.objects.filter(pk=user_id, is_active=True).first()


@never_cache
@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    form = LoginForm(request.POST or None)
    next_url = _safe_next(request, request.POST.get("next") or request.GET.get("next"))
    if request.method == "POST" and form.is_valid():
        user = authenticate(
            request, username=form.cleaned_data["username"], password=form.cleaned_data["password"]
        )
        if isinstance(user, User):
            request.session.cycle_key()
            request.session["pending_login"] = {
                "user": user.pk,
                "at": time.time(),
                "attempts": 0,
                "next": next_url,
            }
            return redirect("authn:totp" if user.totp_secret else "authn:enrol")
        form.add_error(None, _("Wrong username or password."))
    return render(request, "authn/login.html", {"form": form, "next": next_url or ""})


def _count_attempt(request: HttpRequest) -> bool:
    """Count a wrong code; after too many the password step must be repeated."""
    pending = request.session["pending_login"]
    pending["attempts"] = int(pending.get("attempts", 0)) + 1
    request.session.modified = True
    if pending["attempts"] >= MAX_CODE_ATTEMPTS:
        request.session.pop("pending_login", None)
        return False
    return True


def _finish_login(request: HttpRequest, user: User) -> HttpResponse:
    next_url = request.session["pending_login"].get("next")
    request.session.pop("pending_login", None)
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    assignments = list(active_assignments(user)[:2])
    if len(assignments) == 1:
        request.session["assignment_id"] = assignments[0].pk
        return redirect(next_url or "journal:home")
    return redirect("authn:assignment")


@never_cache
@require_http_methods(["GET", "POST"])
def totp_view(request: HttpRequest) -> HttpResponse:
    user = _pending_user(request)
    if user is None:
        return redirect("authn:login")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if totp_verify(user=user, code=form.cleaned_data["code"]):
            return _finish_login(request, user)
        if not _count_attempt(request):
            return redirect("authn:login")
        form.add_error("code", _("The code is wrong or already used. Wait for the next code and try again."))
    return render(request, "authn/totp.html", {"form": form})


@never_cache
@require_http_methods(["GET", "POST"])
def enrol_view(request: HttpRequest) -> HttpResponse:
    user = _pending_user(request)
    if user is None:
        return redirect("authn:login")
    if user.totp_secret:
        return redirect("authn:totp")
    secret = request.session.get("enrol_secret") or totp_new_secret()
    request.session["enrol_secret"] = secret
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if totp_enrol(user=user, secret=secret, code=form.cleaned_data["code"]):
            request.session.pop("enrol_secret", None)
            return _finish_login(request, user)
        if not _count_attempt(request):
            return redirect("authn:login")
        form.add_error("code", _("The code does not match. Check that the app shows Ympa and try again."))
    uri = totp_provisioning_uri(user, secret)
    qr = segno.make(uri, error="m").svg_data_uri(scale=5)
    return render(request, "authn/enrol.html", {"form": form, "qr": qr, "secret": secret})


@never_cache
@require_http_methods(["GET", "POST"])
def assignment_view(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect("authn:login")
    assert isinstance(request.user, User)
    assignments = list(active_assignments(request.user))
    form = AssignmentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        chosen = next((a for a in assignments if a.pk == form.cleaned_data["assignment"]), None)
        if chosen is not None:
            request.session["assignment_id"] = chosen.pk
            return redirect("journal:home")
        form.add_error(None, _("Choose one of your assignments."))
    response = render(request, "authn/assignment.html", {"assignments": assignments, "form": form})
    response["Cache-Control"] = "no-store"
    return response


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("authn:login")
