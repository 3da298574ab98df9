from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from ympa.authn.selectors import assignment_for_session
from ympa.core.actor import Actor, Channel


class StaffSessionMiddleware:
    """Attach the session's chosen assignment and the resulting Actor to every staff request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.assignment = None  # type: ignore[attr-defined]
        request.actor = None  # type: ignore[attr-defined]
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            assignment = assignment_for_session(user, request.session.get("assignment_id"))
            if assignment is None:
                request.session.pop("assignment_id", None)
            request.assignment = assignment  # type: ignore[attr-defined]
            request.actor = Actor.staff(user, assignment, Channel.UI)  # type: ignore[attr-defined]
        return self.get_response(request)
