"""How a session was logged in and how far it can be trusted; the one way every login path logs a user in.

The session remembers the login method, its level of assurance, when the user logged in, when they last
proved who they are (the login or a later re-authentication) and when they were last active. The idle and
absolute timeouts (`middleware.SessionTimeoutMiddleware`) and `decorators.reauthenticated` read it.

A session logged in by Django's `login()` without `session_login` (only the test client's `force_login`
does that; a test checks that nothing else in Ympa calls `login()`) carries none of this: no timeouts
apply to it and it counts as freshly authenticated.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import IntEnum
from typing import Literal

from django.conf import settings
from django.contrib.auth import login, logout
from django.db import models
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy

from ympa.authn.models import AuthEventKind, User
from ympa.authn.request import client_ip, user_agent
from ympa.authn.services import auth_event_record


class LoginMethod(models.TextChoices):
    PASSWORD_TOTP = "password_totp", gettext_lazy("password and authenticator app")
    PASSWORD_SMS = "password_sms", gettext_lazy("password and SMS code")
    BANKID = "bankid", gettext_lazy("BankID")
    SITHS = "siths", gettext_lazy("SITHS card")


class Assurance(IntEnum):
    LOW = 1
    SUBSTANTIAL = 2
    HIGH = 3


METHOD_ASSURANCE: dict[LoginMethod, Assurance] = {
    # An SMS can be diverted (SIM swap, number porting): the lower level, as the issue decided.
    LoginMethod.PASSWORD_SMS: Assurance.LOW,
    # Local administrator accounts: Ympa itself registered the person, no identity provider vouches.
    LoginMethod.PASSWORD_TOTP: Assurance.LOW,
    LoginMethod.BANKID: Assurance.HIGH,
    LoginMethod.SITHS: Assurance.HIGH,
}

# The URL name of the view that re-authenticates with a method, for methods whose login lives elsewhere
# (the BankID and SITHS code registers theirs here). The view receives `?next=` and calls
# `session_reauthenticated` once the user has proved who they are.
REAUTH_VIEWS: dict[LoginMethod, str] = {
    LoginMethod.BANKID: "authn:bankid_reauth",
    LoginMethod.SITHS: "authn:siths_reauth",
}

SESSION_KEY = "ympa_auth"
# Where to go once an assignment is chosen (a login that started from a deep link).
AFTER_ASSIGNMENT = "after_assignment"
# Set by a SITHS login only (ympa.authn.siths): the care units its commissions allow.
SITHS_CARE_UNITS = "siths_care_units"
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"
# Last activity is written at most this often: a session write on every request would be wasted work,
# and a timeout up to a minute early does no harm.
ACTIVITY_RESOLUTION = timedelta(minutes=1)


def _state(request: HttpRequest) -> dict[str, object] | None:
    state = request.session.get(SESSION_KEY)
    return state if isinstance(state, dict) else None


def _time(state: dict[str, object], key: str) -> datetime:
    value = state.get(key)
    # A clock that is missing or damaged reads as long ago, so every timeout applies at once.
    return datetime.fromtimestamp(value if isinstance(value, int | float) else 0, tz=UTC)


def _record(
    request: HttpRequest,
    kind: AuthEventKind,
    user: User,
    *,
    method: LoginMethod | None,
    assurance: Assurance | None,
    detail: str = "",
) -> None:
    auth_event_record(
        kind=kind,
        user=user,
        identity=user.get_username(),
        method=method.value if method else "",
        assurance=int(assurance) if assurance else None,
        ip=client_ip(request),
        user_agent=user_agent(request),
        detail=detail,
    )


def session_login(request: HttpRequest, user: User, *, method: LoginMethod) -> None:
    """Log `user` in after they proved who they are with `method`, and record it in the login trail.

    The session key is cycled even when the same user logs in again, so a key someone else saw before the
    login is worthless after it.
    """
    method = LoginMethod(method)
    assurance = METHOD_ASSURANCE[method]
    request.session.cycle_key()
    login(request, user, backend=MODEL_BACKEND)
    # Nothing of an earlier login in this browser carries over: the new login decides the assignments.
    for key in ("assignment_id", AFTER_ASSIGNMENT, SITHS_CARE_UNITS):
        request.session.pop(key, None)
    now = timezone.now().timestamp()
    request.session[SESSION_KEY] = {
        "method": method.value,
        "assurance": int(assurance),
        "login_at": now,
        "authenticated_at": now,
        "active_at": now,
    }
    _record(request, AuthEventKind.LOGIN, user, method=method, assurance=assurance)


def session_reauthenticated(request: HttpRequest, *, method: LoginMethod) -> None:
    """The logged-in user proved who they are again (with `method`): views behind `reauthenticated` open.

    The session keeps the assurance of its login; the trail records which method re-authenticated.
    """
    if not isinstance(request.user, User):
        raise RuntimeError("re-authentication needs a logged-in user")
    state = _state(request)
    # A session without clocks (see the module docstring) counts as fresh already: nothing to renew.
    if state is not None:
        now = timezone.now().timestamp()
        state["authenticated_at"] = now
        state["active_at"] = now
        request.session.modified = True
    _record(
        request,
        AuthEventKind.REAUTH,
        request.user,
        method=LoginMethod(method),
        assurance=session_assurance(request),
    )


def session_logout(
    request: HttpRequest, *, kind: AuthEventKind = AuthEventKind.LOGOUT, detail: str = ""
) -> None:
    """Log out (a logout, a timeout, …), recording it in the login trail when someone was logged in."""
    if isinstance(request.user, User):
        _record(
            request,
            kind,
            request.user,
            method=session_method(request),
            assurance=session_assurance(request),
            detail=detail,
        )
    logout(request)


def session_method(request: HttpRequest) -> LoginMethod | None:
    state = _state(request)
    method = state.get("method") if state else None
    return LoginMethod(method) if method in LoginMethod.values else None


def session_assurance(request: HttpRequest) -> Assurance | None:
    """The level of assurance of the session's login; None when nobody logged in through session_login."""
    state = _state(request)
    level = state.get("assurance") if state else None
    return Assurance(level) if isinstance(level, int) and level in Assurance._value2member_map_ else None


def session_authentication_age(request: HttpRequest) -> timedelta | None:
    """How long ago the user last proved who they are (login or re-authentication)."""
    state = _state(request)
    return timezone.now() - _time(state, "authenticated_at") if state else None


def session_timed_out(request: HttpRequest) -> Literal["idle", "absolute"] | None:
    """Whether the session has been idle too long or has lasted too long since the login."""
    state = _state(request)
    if state is None:
        return None
    now = timezone.now()
    if now - _time(state, "login_at") > timedelta(seconds=settings.SESSION_ABSOLUTE_SECONDS):
        return "absolute"
    if now - _time(state, "active_at") > timedelta(seconds=settings.SESSION_IDLE_SECONDS):
        return "idle"
    return None


def session_mark_active(request: HttpRequest) -> None:
    state = _state(request)
    if state is None:
        return
    now = timezone.now()
    if now - _time(state, "active_at") >= ACTIVITY_RESOLUTION:
        state["active_at"] = now.timestamp()
        request.session.modified = True
