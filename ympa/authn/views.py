from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import segno
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import time_format
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from ympa.access.routes import no_patient_data
from ympa.authn.assurance import (
    AFTER_ASSIGNMENT,
    REAUTH_VIEWS,
    LoginMethod,
    session_login,
    session_logout,
    session_method,
    session_reauthenticated,
)
from ympa.authn.forms import AssignmentForm, CodeForm, LoginForm, PasswordForm, SmsCodeForm, SmsLoginForm
from ympa.authn.models import AuthEventKind, CodePurpose, OneTimeCodeChallenge, User
from ympa.authn.request import client_ip, safe_url, user_agent
from ympa.authn.selectors import (
    active_assignments,
    password_attempts_blocked_until,
    session_assignments,
    users_by_phone,
)
from ympa.authn.services import (
    CodeCheck,
    CodeOutcome,
    OneTimeCodeLimited,
    auth_event_record,
    one_time_code_send,
    one_time_code_verify,
    totp_enrol,
    totp_new_secret,
    totp_provisioning_uri,
    totp_verify,
)
from ympa.authn.siths import session_care_unit_hsa_ids
from ympa.notify.models import MessageChannel

PENDING_SECONDS = 300
MAX_CODE_ATTEMPTS = 5
# The session keys of a login or re-authentication under way.
PENDING_LOGIN = "pending_login"
PENDING_SMS_LOGIN = "pending_sms_login"
PENDING_REAUTH = "pending_reauth"
REAUTH_FAILURES = "reauth_failures"


def _record_failure(
    request: HttpRequest,
    kind: AuthEventKind,
    *,
    identity: str,
    method: LoginMethod,
    detail: str,
    user: User | None = None,
) -> None:
    auth_event_record(
        kind=kind,
        user=user,
        identity=identity,
        method=method.value,
        ip=client_ip(request),
        user_agent=user_agent(request),
        detail=detail,
    )


def _pending(request: HttpRequest, key: str) -> dict[str, Any] | None:
    """A login step under way, if it started less than PENDING_SECONDS ago."""
    pending = request.session.get(key)
    if not isinstance(pending, dict):
        return None
    if timezone.now().timestamp() - float(pending.get("at", 0)) > PENDING_SECONDS:
        request.session.pop(key, None)
        return None
    return pending


def _start_pending(request: HttpRequest, key: str, **values: Any) -> None:
    request.session[key] = {"at": timezone.now().timestamp(), "attempts": 0, **values}


def _pending_user(request: HttpRequest) -> User | None:
    pending = _pending(request, PENDING_LOGIN)
    user_id = pending.get("user") if pending else None
    if not isinstance(user_id, int):
        return None
    return User.objects.filter(pk=user_id, is_active=True).first()


def _until(moment: datetime | None) -> str:
    return time_format(timezone.localtime(moment), "H:i") if moment else ""


@no_patient_data("staff login")
@never_cache
@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    form = LoginForm(request.POST or None)
    next_url = safe_url(request, request.POST.get("next") or request.GET.get("next"))
    if request.method == "POST" and form.is_valid():
        username = form.cleaned_data["username"]
        blocked = password_attempts_blocked_until(username, client_ip(request))
        if blocked is not None:
            form.add_error(
                None, _("Too many failed attempts. Try again after %(time)s.") % {"time": _until(blocked)}
            )
            return render(request, "authn/login.html", {"form": form, "next": next_url or ""}, status=429)
        user = authenticate(request, username=username, password=form.cleaned_data["password"])
        if isinstance(user, User):
            request.session.cycle_key()
            _start_pending(request, PENDING_LOGIN, user=user.pk, next=next_url)
            return redirect("authn:totp" if user.totp_secret else "authn:enrol")
        _record_failure(
            request,
            AuthEventKind.LOGIN_FAILED,
            identity=username,
            method=LoginMethod.PASSWORD_TOTP,
            detail="wrong_password",
        )
        form.add_error(None, _("Wrong username or password."))
    return render(request, "authn/login.html", {"form": form, "next": next_url or ""})


def _count_attempt(request: HttpRequest, key: str) -> bool:
    """Count a wrong code; after too many the first step must be repeated."""
    pending = request.session[key]
    pending["attempts"] = int(pending.get("attempts", 0)) + 1
    request.session.modified = True
    if pending["attempts"] >= MAX_CODE_ATTEMPTS:
        request.session.pop(key, None)
        return False
    return True


def _finish_login(request: HttpRequest, user: User, *, method: LoginMethod, key: str) -> HttpResponse:
    next_url = request.session[key].get("next")
    request.session.pop(key, None)
    session_login(request, user, method=method)
    assignments = list(active_assignments(user)[:2])
    if len(assignments) == 1:
        request.session["assignment_id"] = assignments[0].pk
        return redirect(next_url or "journal:home")
    return redirect("authn:assignment")


@no_patient_data("staff login: the authenticator code")
@never_cache
@require_http_methods(["GET", "POST"])
def totp_view(request: HttpRequest) -> HttpResponse:
    user = _pending_user(request)
    if user is None:
        return redirect("authn:login")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if totp_verify(user=user, code=form.cleaned_data["code"]):
            return _finish_login(request, user, method=LoginMethod.PASSWORD_TOTP, key=PENDING_LOGIN)
        _record_failure(
            request,
            AuthEventKind.LOGIN_FAILED,
            user=user,
            identity=user.get_username(),
            method=LoginMethod.PASSWORD_TOTP,
            detail="wrong_code",
        )
        if not _count_attempt(request, PENDING_LOGIN):
            return redirect("authn:login")
        form.add_error("code", _("The code is wrong or already used. Wait for the next code and try again."))
    return render(request, "authn/totp.html", {"form": form})


@no_patient_data("staff login: enrolling an authenticator")
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
            return _finish_login(request, user, method=LoginMethod.PASSWORD_TOTP, key=PENDING_LOGIN)
        _record_failure(
            request,
            AuthEventKind.LOGIN_FAILED,
            user=user,
            identity=user.get_username(),
            method=LoginMethod.PASSWORD_TOTP,
            detail="wrong_enrolment_code",
        )
        if not _count_attempt(request, PENDING_LOGIN):
            return redirect("authn:login")
        form.add_error("code", _("The code does not match. Check that the app shows Ympa and try again."))
    uri = totp_provisioning_uri(user, secret)
    qr = segno.make(uri, error="m").svg_data_uri(scale=5)
    return render(request, "authn/enrol.html", {"form": form, "qr": qr, "secret": secret})


@dataclass(frozen=True)
class _PhoneLogin:
    user: User | None
    # For the login trail: why it failed, and the account tried when the number has exactly one.
    failure: str
    attempted: User | None


def _phone_login(phone: str, password: str) -> _PhoneLogin:
    """The one active account with this number and password, if there is one."""
    candidates = users_by_phone(phone)
    attempted = candidates[0] if len(candidates) == 1 else None
    if not candidates:
        # The same password hashing work as a real check, so the answer takes as long either way.
        User().set_password(password)
        return _PhoneLogin(None, "unknown_number", None)
    matches = [user for user in candidates if user.check_password(password)]
    if len(matches) == 1:
        return _PhoneLogin(matches[0], "", matches[0])
    # Two accounts with one number and one password cannot be told apart: they log in by username.
    return _PhoneLogin(None, "ambiguous_number" if matches else "wrong_password", attempted)


def _send_sms_code(
    request: HttpRequest, user: User, purpose: CodePurpose, form: forms.Form
) -> OneTimeCodeChallenge | None:
    """Send `user` a code by SMS; when the limits refuse, say until when on `form` and return None."""
    try:
        return one_time_code_send(
            purpose=purpose,
            identity=f"user:{user.pk}",
            channel=MessageChannel.SMS,
            destination=user.phone,
            ip=client_ip(request),
            language=get_language(),
        )
    except OneTimeCodeLimited as exc:
        form.add_error(
            None,
            _("Too many codes have been requested. Try again after %(time)s.") % {"time": _until(exc.until)},
        )
        return None


@no_patient_data("staff login by mobile number")
@never_cache
@require_http_methods(["GET", "POST"])
def sms_login_view(request: HttpRequest) -> HttpResponse:
    """Step 1 of the login by mobile number: number and password. Whether the number belongs to anyone or
    the password is right, the answer is the same (the code page); only a right pair gets an SMS."""
    form = SmsLoginForm(request.POST or None)
    next_url = safe_url(request, request.POST.get("next") or request.GET.get("next"))
    if request.method == "POST" and form.is_valid():
        phone = form.cleaned_data["phone"]
        blocked = password_attempts_blocked_until(phone, client_ip(request))
        if blocked is not None:
            form.add_error(
                None, _("Too many failed attempts. Try again after %(time)s.") % {"time": _until(blocked)}
            )
            return render(request, "authn/sms_login.html", {"form": form, "next": next_url or ""}, status=429)
        found = _phone_login(phone, form.cleaned_data["password"])
        user = found.user
        challenge_id = None
        if user is None:
            _record_failure(
                request,
                AuthEventKind.LOGIN_FAILED,
                identity=phone,
                method=LoginMethod.PASSWORD_SMS,
                detail=found.failure,
                user=found.attempted,
            )
        else:
            challenge = _send_sms_code(request, user, CodePurpose.STAFF_LOGIN, form)
            if challenge is None:
                return render(request, "authn/sms_login.html", {"form": form, "next": next_url or ""})
            challenge_id = str(challenge.pk)
        request.session.cycle_key()
        _start_pending(
            request,
            PENDING_SMS_LOGIN,
            user=user.pk if user else None,
            challenge=challenge_id,
            phone=phone,
            next=next_url,
        )
        return redirect("authn:sms_code")
    return render(request, "authn/sms_login.html", {"form": form, "next": next_url or ""})


def _code_no_longer_valid(request: HttpRequest, key: str, to: str) -> HttpResponse:
    request.session.pop(key, None)
    messages.error(request, _("The code is no longer valid. Start again to get a new code."))
    return redirect(to)


def _locked(request: HttpRequest, key: str, check: CodeCheck, to: str) -> HttpResponse:
    request.session.pop(key, None)
    messages.error(
        request,
        _("Too many wrong codes. Try again after %(time)s.") % {"time": _until(check.locked_until)},
    )
    return redirect(to)


@no_patient_data("staff login: the SMS code")
@never_cache
@require_http_methods(["GET", "POST"])
def sms_code_view(request: HttpRequest) -> HttpResponse:
    """Step 2 of the login by mobile number: the code from the SMS.

    When step 1 sent nothing (an unknown number or a wrong password) every code is wrong, with the same
    answers and the same limits as a real code, so the page does not tell whether the number exists.
    """
    if not isinstance(request.session.get(PENDING_SMS_LOGIN), dict):
        return redirect("authn:sms_login")
    pending = _pending(request, PENDING_SMS_LOGIN)
    if pending is None:
        return _code_no_longer_valid(request, PENDING_SMS_LOGIN, "authn:sms_login")
    form = SmsCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        check = (
            one_time_code_verify(
                challenge_id=pending["challenge"],
                purpose=CodePurpose.STAFF_LOGIN,
                code=form.cleaned_data["code"],
                ip=client_ip(request),
            )
            if pending.get("challenge")
            else CodeCheck(CodeOutcome.WRONG)
        )
        user_id = pending.get("user")
        user = User.objects.filter(pk=user_id, is_active=True).first() if isinstance(user_id, int) else None
        if check.ok and user is not None:
            return _finish_login(request, user, method=LoginMethod.PASSWORD_SMS, key=PENDING_SMS_LOGIN)
        if check.outcome in (CodeOutcome.EXPIRED, CodeOutcome.USED):
            return _code_no_longer_valid(request, PENDING_SMS_LOGIN, "authn:sms_login")
        if check.outcome is CodeOutcome.LOCKED:
            return _locked(request, PENDING_SMS_LOGIN, check, "authn:sms_login")
        if user is not None:
            _record_failure(
                request,
                AuthEventKind.LOGIN_FAILED,
                user=user,
                identity=str(pending.get("phone", "")),
                method=LoginMethod.PASSWORD_SMS,
                detail="wrong_code",
            )
        if not _count_attempt(request, PENDING_SMS_LOGIN):
            return _code_no_longer_valid(request, PENDING_SMS_LOGIN, "authn:sms_login")
        form.add_error("code", _("The code is wrong. Check the SMS and try again."))
    return render(request, "authn/sms_code.html", {"form": form})


@no_patient_data("the user's own assignments")
@never_cache
@require_http_methods(["GET", "POST"])
def assignment_view(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect("authn:login")
    assert isinstance(request.user, User)
    care_units = session_care_unit_hsa_ids(request)
    assignments = list(session_assignments(request.user, care_units))
    after = safe_url(request, request.session.get(AFTER_ASSIGNMENT)) or reverse("journal:home")
    if request.method == "GET" and len(assignments) == 1 and "assignment_id" not in request.session:
        # Just logged in with a single possible assignment: nothing to choose.
        request.session["assignment_id"] = assignments[0].pk
        request.session.pop(AFTER_ASSIGNMENT, None)
        return redirect(after)
    form = AssignmentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        chosen = next((a for a in assignments if a.pk == form.cleaned_data["assignment"]), None)
        if chosen is not None:
            request.session["assignment_id"] = chosen.pk
            request.session.pop(AFTER_ASSIGNMENT, None)
            return redirect(after)
        form.add_error(None, _("Choose one of your assignments."))
    response = render(
        request,
        "authn/assignment.html",
        {"assignments": assignments, "form": form, "siths": care_units is not None},
    )
    response["Cache-Control"] = "no-store"
    return response


@no_patient_data("ends the session")
@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    session_logout(request)
    return redirect("authn:login")


def _reauth_failed(request: HttpRequest, user: User, *, method: LoginMethod, detail: str) -> bool:
    """Record a failed re-authentication; after too many the session is logged out (False)."""
    _record_failure(
        request,
        AuthEventKind.REAUTH_FAILED,
        user=user,
        identity=user.get_username(),
        method=method,
        detail=detail,
    )
    failures = int(request.session.get(REAUTH_FAILURES, 0)) + 1
    request.session[REAUTH_FAILURES] = failures
    if failures < MAX_CODE_ATTEMPTS:
        return True
    # Someone at an unattended computer may be guessing: the session ends.
    session_logout(request, detail="reauth_failed")
    messages.error(request, _("Too many failed attempts to confirm your identity. You have been logged out."))
    return False


def _reauth_done(request: HttpRequest, *, method: LoginMethod, next_url: str) -> HttpResponse:
    request.session.pop(REAUTH_FAILURES, None)
    request.session.pop(PENDING_REAUTH, None)
    session_reauthenticated(request, method=method)
    return redirect(next_url)


@no_patient_data("staff re-authentication")
@never_cache
@require_http_methods(["GET", "POST"])
def reauth_view(request: HttpRequest) -> HttpResponse:
    """Prove again who you are before a sensitive action, with the method of the login where possible:
    the authenticator code after a TOTP login, password and a new SMS code after an SMS login, the view in
    REAUTH_VIEWS for BankID and SITHS. Without one, an honest page, offering TOTP if the user has it."""
    if not isinstance(request.user, User):
        return redirect("authn:login")
    user = request.user
    next_url = safe_url(request, request.POST.get("next") or request.GET.get("next")) or resolve_url(
        settings.LOGIN_REDIRECT_URL
    )
    method = session_method(request)
    if method in REAUTH_VIEWS:
        return redirect(f"{reverse(REAUTH_VIEWS[method])}?{urlencode({'next': next_url})}")
    if method == LoginMethod.PASSWORD_SMS and user.phone:
        return _reauth_password(request, user, next_url)
    fallback = request.GET.get("with") == "totp" or request.POST.get("with") == "totp"
    if user.totp_secret and (method == LoginMethod.PASSWORD_TOTP or fallback):
        return _reauth_totp(request, user, next_url, fallback=fallback)
    return render(
        request,
        "authn/reauth_unavailable.html",
        {"method": method, "can_use_totp": bool(user.totp_secret), "next": next_url},
    )


def _reauth_totp(request: HttpRequest, user: User, next_url: str, *, fallback: bool) -> HttpResponse:
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if totp_verify(user=user, code=form.cleaned_data["code"]):
            return _reauth_done(request, method=LoginMethod.PASSWORD_TOTP, next_url=next_url)
        if not _reauth_failed(request, user, method=LoginMethod.PASSWORD_TOTP, detail="wrong_code"):
            return redirect("authn:login")
        form.add_error("code", _("The code is wrong or already used. Wait for the next code and try again."))
    return render(
        request,
        "authn/reauth.html",
        {"form": form, "next": next_url, "step": "totp", "fallback": fallback},
    )


def _reauth_password(request: HttpRequest, user: User, next_url: str) -> HttpResponse:
    form = PasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if not user.check_password(form.cleaned_data["password"]):
            if not _reauth_failed(request, user, method=LoginMethod.PASSWORD_SMS, detail="wrong_password"):
                return redirect("authn:login")
            form.add_error("password", _("Wrong password."))
        else:
            challenge = _send_sms_code(request, user, CodePurpose.STAFF_REAUTH, form)
            if challenge is not None:
                _start_pending(request, PENDING_REAUTH, challenge=str(challenge.pk), next=next_url)
                return redirect("authn:reauth_sms")
    return render(request, "authn/reauth.html", {"form": form, "next": next_url, "step": "password"})


@no_patient_data("staff re-authentication by SMS code")
@never_cache
@require_http_methods(["GET", "POST"])
def reauth_sms_view(request: HttpRequest) -> HttpResponse:
    if not isinstance(request.user, User):
        return redirect("authn:login")
    user = request.user
    pending = _pending(request, PENDING_REAUTH)
    if pending is None:
        return redirect("authn:reauth")
    form = SmsCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        check = one_time_code_verify(
            challenge_id=pending["challenge"],
            purpose=CodePurpose.STAFF_REAUTH,
            code=form.cleaned_data["code"],
            ip=client_ip(request),
        )
        if check.ok:
            return _reauth_done(request, method=LoginMethod.PASSWORD_SMS, next_url=pending["next"])
        restart = f"{reverse('authn:reauth')}?{urlencode({'next': pending['next']})}"
        if check.outcome in (CodeOutcome.EXPIRED, CodeOutcome.USED):
            return _code_no_longer_valid(request, PENDING_REAUTH, restart)
        if check.outcome is CodeOutcome.LOCKED:
            return _locked(request, PENDING_REAUTH, check, restart)
        if not _reauth_failed(request, user, method=LoginMethod.PASSWORD_SMS, detail="wrong_code"):
            return redirect("authn:login")
        form.add_error("code", _("The code is wrong. Check the SMS and try again."))
    return render(request, "authn/reauth.html", {"form": form, "next": pending["next"], "step": "sms"})
