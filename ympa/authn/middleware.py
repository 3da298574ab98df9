from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

from ympa.authn.assurance import session_assurance, session_logout, session_mark_active, session_timed_out
from ympa.authn.models import AuthEventKind
from ympa.authn.request import page_redirect, return_url
from ympa.authn.selectors import assignment_for_session
from ympa.authn.siths import session_care_unit_hsa_ids
from ympa.core.actor import Actor, Channel

# Set by `session_free_partial` on a view whose htmx partial needs nothing of the session.
SESSION_FREE_PARTIAL = "ympa_session_free_partial"


def session_free_partial[View: Callable[..., Any]](view: View) -> View:
    """The view's htmx partial (a request with `HX-Request`) reads nothing of the visitor's session: no staff
    assignment, no timeout check, so the session is not even loaded. For public fragments that a surge asks
    for hundreds of times a second (a week's free times). The full page still gets the staff navigation."""
    setattr(view, SESSION_FREE_PARTIAL, True)
    return view


def _staff_user(request: HttpRequest, view: Callable[..., Any]) -> Any | None:
    """The logged-in user of the request, unless the view's partial is session-free (the session is then
    not even loaded)."""
    if getattr(view, SESSION_FREE_PARTIAL, False) and "HX-Request" in request.headers:
        return None
    user = getattr(request, "user", None)
    return user if user is not None and user.is_authenticated else None


class StaffSessionMiddleware:
    """Attach the session's chosen assignment and the resulting Actor to every staff request.

    Done once the view is known (process_view), so that a session-free partial skips it; a request that
    matches no view (a 404) has neither."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.assignment = None  # type: ignore[attr-defined]
        request.actor = None  # type: ignore[attr-defined]
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view: Callable[..., Any], args: Any, kwargs: Any
    ) -> HttpResponse | None:
        user = _staff_user(request, view)
        if user is not None:
            assignment = assignment_for_session(
                user, request.session.get("assignment_id"), session_care_unit_hsa_ids(request)
            )
            if assignment is None:
                request.session.pop("assignment_id", None)
            request.assignment = assignment  # type: ignore[attr-defined]
            assurance = session_assurance(request)
            request.actor = Actor.staff(  # type: ignore[attr-defined]
                user, assignment, Channel.UI, assurance=int(assurance) if assurance else 1
            )
        return None


# The header the queue pages' periodic refresh sends: such a request is no sign that someone is there.
POLL_HEADER = "X-Ympa-Poll"


class SessionTimeoutMiddleware:
    """Log out a session that was idle too long (YMPA_SESSION_IDLE_MINUTES) or has lasted too long since its
    login (YMPA_SESSION_MAX_HOURS), and send the browser to the login page with a message.

    Every request counts as activity except those carrying `X-Ympa-Poll: 1`: a page that polls every few
    seconds (a queue screen) must send that header, or a screen left open would keep its session alive
    forever. Polls are still checked, so an open queue screen is logged out on time.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view: Callable[..., Any], args: Any, kwargs: Any
    ) -> HttpResponse | None:
        if _staff_user(request, view) is not None:
            reason = session_timed_out(request)
            if reason is not None:
                next_url = return_url(request)
                session_logout(request, kind=AuthEventKind.TIMEOUT, detail=reason)
                if reason == "idle":
                    message = _("You have been logged out after %(minutes)d minutes without activity.") % {
                        "minutes": settings.SESSION_IDLE_SECONDS // 60
                    }
                else:
                    message = _(
                        "You have been logged out because %(hours)d hours have passed since you logged in."
                    ) % {"hours": settings.SESSION_ABSOLUTE_SECONDS // 3600}
                messages.info(request, message)
                return page_redirect(request, redirect_to_login(next_url or "").url)
            if request.headers.get(POLL_HEADER) != "1":
                session_mark_active(request)
        return None
