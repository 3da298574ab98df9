"""SITHS login pages: off to the identity provider, back with an ID token, then choose a commission."""

from __future__ import annotations

import logging
import time

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from ympa.access.routes import no_patient_data
from ympa.authn.assurance import AFTER_ASSIGNMENT, LoginMethod, session_login, session_reauthenticated
from ympa.authn.models import AuthEventKind, User
from ympa.authn.oidc.claims import OidcError, StaffIdentity
from ympa.authn.oidc.client import LoginStart
from ympa.authn.request import client_ip, safe_url, user_agent
from ympa.authn.services import auth_event_record
from ympa.authn.siths import SESSION_PENDING, SESSION_UNITS, care_unit_hsa_ids, siths_client

logger = logging.getLogger(__name__)

# A login started and not finished within this time is abandoned (the IdP's own page times out sooner).
PENDING_SECONDS = 600


def _failure(request: HttpRequest, message: str, *, identity: str = "", detail: str = "") -> HttpResponse:
    auth_event_record(
        kind=AuthEventKind.LOGIN_FAILED,
        identity=identity,
        method=LoginMethod.SITHS.value,
        ip=client_ip(request),
        user_agent=user_agent(request),
        detail=detail,
    )
    return render(request, "authn/siths_failed.html", {"message": message}, status=403)


@no_patient_data("SITHS login: redirects to the identity provider")
@never_cache
@require_GET
def siths_start_view(request: HttpRequest, reauth: bool = False) -> HttpResponse:
    """Send the browser to the identity provider; `reauth`: the logged-in user proves who they are again."""
    if reauth and not request.user.is_authenticated:
        return redirect("authn:login")
    try:
        start = siths_client().begin()
    except OidcError as exc:
        logger.warning("SITHS login could not start: %s", exc.code)
        return render(
            request,
            "authn/siths_failed.html",
            {
                "message": _(
                    "The SITHS login service does not answer. Try again in a while or log in another way."
                )
            },
            status=503,
        )
    request.session[SESSION_PENDING] = {
        **start.as_dict(),
        "at": time.time(),
        "next": safe_url(request, request.GET.get("next")) or "",
        "reauth": reauth,
    }
    return redirect(start.url)


def _pending(request: HttpRequest) -> dict[str, object] | None:
    pending = request.session.pop(SESSION_PENDING, None)
    if not isinstance(pending, dict) or time.time() - float(pending.get("at", 0)) > PENDING_SECONDS:
        return None
    return pending


@no_patient_data("SITHS login: the identity provider's answer")
@never_cache
@require_GET
def siths_callback_view(request: HttpRequest) -> HttpResponse:
    pending = _pending(request)
    if pending is None:
        return _failure(
            request,
            _("The login took too long or was started in another window. Start again."),
            detail="no pending",
        )
    start = LoginStart.from_dict(
        {k: str(v) for k, v in pending.items() if k in ("url", "state", "nonce", "code_verifier")}
    )
    try:
        result = siths_client().finish(
            request.GET.dict(), state=start.state, nonce=start.nonce, code_verifier=start.code_verifier
        )
    except OidcError as exc:
        if exc.code == "idp_error":
            message = _("The login was cancelled or refused at the identity provider.")
        else:
            message = _(
                "The answer from the identity provider could not be trusted, so you were not logged in."
            )
        return _failure(request, message, detail=f"oidc: {exc.code}")
    identity = result.identity
    user = User.objects.filter(hsa_id=identity.employee_hsa_id, is_active=True).first()
    if user is None:
        return _failure(
            request,
            _(
                "Your SITHS identity (HSA-id %(hsa_id)s) is not linked to an account in Ympa. "
                "Ask your unit's administrator."
            )
            % {"hsa_id": identity.employee_hsa_id},
            identity=identity.employee_hsa_id,
            detail="unknown HSA-id",
        )
    next_url = str(pending.get("next") or "")
    if pending.get("reauth"):
        if not request.user.is_authenticated or request.user.pk != user.pk:
            return _failure(
                request,
                _("You re-authenticated as another person. Log out and log in again."),
                identity=identity.employee_hsa_id,
                detail="reauth as another user",
            )
        session_reauthenticated(request, method=LoginMethod.SITHS)
        return redirect(next_url or "journal:home")
    return _login(request, user, identity, next_url)


def _login(request: HttpRequest, user: User, identity: StaffIdentity, next_url: str) -> HttpResponse:
    session_login(request, user, method=LoginMethod.SITHS)
    # Stored after session_login, which starts a new session.
    request.session[SESSION_UNITS] = care_unit_hsa_ids(identity)
    if next_url:
        request.session[AFTER_ASSIGNMENT] = next_url
    return redirect("authn:assignment")
