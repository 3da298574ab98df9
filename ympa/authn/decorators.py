from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from ympa.orgs.rights import Right

View = TypeVar("View", bound=Callable[..., HttpResponse])


def staff_view(*, right: Right | None = None) -> Callable[[View], View]:
    """A staff page: logged in (password + TOTP), an assignment chosen, and optionally a right.

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
