"""BankID pages: start an order, show the animated QR code while polling, and act on the outcome.

The same three views serve staff login, staff re-authentication and citizen login; each URL passes its
purpose. What a completed order does is decided here, per purpose.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ympa.access.routes import no_patient_data
from ympa.authn.assurance import AFTER_ASSIGNMENT, LoginMethod, session_login, session_reauthenticated
from ympa.authn.bankid.client import CompletionData
from ympa.authn.bankid_flow import OrderFailed, OrderState, Purpose, order_cancel, order_poll, order_start
from ympa.authn.models import AuthEventKind, User
from ympa.authn.request import client_ip, page_redirect, safe_url, user_agent
from ympa.authn.services import auth_event_record

URLS = {
    Purpose.STAFF_LOGIN: ("authn:bankid", "authn:bankid_status", "authn:bankid_cancel"),
    Purpose.STAFF_REAUTH: ("authn:bankid_reauth", "authn:bankid_reauth_status", "authn:bankid_reauth_cancel"),
    Purpose.CITIZEN_LOGIN: ("citizen:login", "citizen:login_status", "citizen:login_cancel"),
}
TITLES = {
    Purpose.STAFF_LOGIN: Purpose.STAFF_LOGIN.label,
    Purpose.STAFF_REAUTH: Purpose.STAFF_REAUTH.label,
    Purpose.CITIZEN_LOGIN: Purpose.CITIZEN_LOGIN.label,
}


def _context(purpose: Purpose, **values: object) -> dict[str, object]:
    page, status, cancel = URLS[purpose]
    return {
        "purpose": purpose,
        "title": TITLES[purpose],
        "start_url": reverse(page),
        "status_url": reverse(status),
        "cancel_url": reverse(cancel),
        "base_template": "citizen/base.html" if purpose is Purpose.CITIZEN_LOGIN else "base.html",
        **values,
    }


def _reauth_user(request: HttpRequest) -> User | None:
    user = request.user
    return user if isinstance(user, User) and user.is_authenticated else None


@no_patient_data("BankID login and re-authentication: the QR code page")
@never_cache
@require_http_methods(["GET", "POST"])
def bankid_view(request: HttpRequest, purpose: Purpose) -> HttpResponse:
    """GET: the start page. POST: start an order and show the QR code, which then polls for the outcome."""
    next_url = safe_url(request, request.POST.get("next") or request.GET.get("next")) or ""
    context = _context(purpose, next=next_url)
    if purpose is Purpose.STAFF_REAUTH:
        user = _reauth_user(request)
        if user is None:
            return page_redirect(request, reverse("authn:login"))
        if not user.personal_identity_number:
            context["error"] = _("Your account has no personal identity number, so BankID cannot confirm it.")
            return render(request, "authn/bankid.html", context, status=409)
    if request.method == "POST":
        user = _reauth_user(request) if purpose is Purpose.STAFF_REAUTH else None
        try:
            order_start(
                request,
                purpose=purpose,
                next_url=next_url,
                personal_number=user.personal_identity_number if user else None,
            )
        except OrderFailed as exc:
            context["error"] = exc.message
            return render(request, "authn/bankid.html", context, status=503)
        context["state"] = order_poll(request, purpose=purpose)
    return render(request, "authn/bankid.html", context)


@no_patient_data(
    "BankID order status; a completed citizen login links the register itself (citizen_login logs it)"
)
@never_cache
@require_GET
def bankid_status_view(request: HttpRequest, purpose: Purpose) -> HttpResponse:
    """The polled fragment: the QR code of this second and BankID's latest hint, or the outcome."""
    state = order_poll(request, purpose=purpose)
    if state.status == "complete" and state.completion is not None:
        return _completed(request, purpose, state, state.completion)
    return render(request, "authn/_bankid_status.html", _context(purpose, state=state))


@no_patient_data("cancels a BankID order")
@never_cache
@require_POST
def bankid_cancel_view(request: HttpRequest, purpose: Purpose) -> HttpResponse:
    order_cancel(request)
    return page_redirect(request, reverse(URLS[purpose][0]))


def _failed(request: HttpRequest, purpose: Purpose, message: str) -> HttpResponse:
    state = OrderState("failed", message, purpose=purpose)
    return render(request, "authn/_bankid_status.html", _context(purpose, state=state))


def _completed(
    request: HttpRequest, purpose: Purpose, state: OrderState, done: CompletionData
) -> HttpResponse:
    personal_number = done.user.personal_number
    if purpose is Purpose.CITIZEN_LOGIN:
        from ympa.citizen.session import citizen_login

        citizen_login(request, personal_number=personal_number, name=done.user.name)
        # The public booking pages send the citizen here to identify and back with `next`.
        return page_redirect(request, state.next_url or reverse("citizen:home"))
    user = User.objects.filter(personal_identity_number=personal_number, is_active=True).first()
    if purpose is Purpose.STAFF_REAUTH:
        current = _reauth_user(request)
        if current is None or user is None or current.pk != user.pk:
            auth_event_record(
                kind=AuthEventKind.REAUTH_FAILED,
                user=current,
                identity=current.get_username() if current else "",
                method=LoginMethod.BANKID.value,
                ip=client_ip(request),
                user_agent=user_agent(request),
                detail="BankID of another person",
            )
            return _failed(
                request, purpose, _("That BankID belongs to someone else than the logged-in user.")
            )
        session_reauthenticated(request, method=LoginMethod.BANKID)
        return page_redirect(request, state.next_url or reverse("journal:home"))
    if user is None:
        auth_event_record(
            kind=AuthEventKind.LOGIN_FAILED,
            identity=personal_number,
            method=LoginMethod.BANKID.value,
            ip=client_ip(request),
            user_agent=user_agent(request),
            detail="no staff account with this personal identity number",
        )
        return _failed(
            request,
            purpose,
            _("Your BankID is not linked to a staff account in Ympa. Ask your unit's administrator."),
        )
    session_login(request, user, method=LoginMethod.BANKID)
    if state.next_url:
        request.session[AFTER_ASSIGNMENT] = state.next_url
    return page_redirect(request, reverse("authn:assignment"))
