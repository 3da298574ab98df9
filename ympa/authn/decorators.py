from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any, TypeVar, cast
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils.translation import gettext as _

from ympa.authn.assurance import session_authentication_age
from ympa.authn.request import page_redirect, return_url
from ympa.orgs.rights import Right

View = TypeVar("View", bound=Callable[..., HttpResponse])


def staff_view(*, right: Right | None = None) -> Callable[[View], View]:
    """A staff page: logged in, an assignment chosen, and optionally a right.

    Every staff response is marked `no-store`: it may carry patient data, which must not stay in caches.
    """

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            assignment = getattr(request, "assignment", None)
            if assignment is None:
                return redirect("authn:assignment")
            if right is not None and not assignment.has_right(right):
                response = render(
                    request,
                    "403.html",
                    {
                        "message": _("Your assignment does not include the right: %(right)s.")
                        % {"right": right.label}
                    },
                    status=403,
                )
            else:
                response = view(request, *args, **kwargs)
            response["Cache-Control"] = "no-store"
            return response

        return cast(View, wrapper)

    return decorator


def reauthenticated(max_age_seconds: int = 300) -> Callable[[View], View]:
    """A view that needs a recent proof of identity: emergency access, signing on behalf of another,
    exporting patient lists, changing rights or blocks.

    When the user last logged in or re-authenticated more than `max_age_seconds` ago, they are sent to the
    re-authentication page and brought back afterwards (after a POST, to the page the form was on). Put it
    inside `staff_view`, so a missing right is refused before anyone is asked to prove who they are.
    """

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            age = session_authentication_age(request)
            if age is not None and age > timedelta(seconds=max_age_seconds):
                query = urlencode({"next": return_url(request) or resolve_url(settings.LOGIN_REDIRECT_URL)})
                return page_redirect(request, f"{reverse('authn:reauth')}?{query}")
            return view(request, *args, **kwargs)

        return cast(View, wrapper)

    return decorator
