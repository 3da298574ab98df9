from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.http import url_has_allowed_host_and_scheme

from ympa.authn.models import User
from ympa.core.actor import Actor
from ympa.orgs.models import Assignment


class StaffRequest(HttpRequest):
    """The request a staff view receives after `staff_view`: logged in, with an assignment and an Actor."""

    user: User
    assignment: Assignment
    actor: Actor


def client_ip(request: HttpRequest) -> str | None:
    """The client's address, for rate limits and the login trail.

    Behind the TLS-terminating proxy (YMPA_BEHIND_PROXY) every request comes from the proxy, so the address
    is the last one in X-Forwarded-For: the one our proxy appended (earlier entries are the client's word).
    """
    address = request.META.get("REMOTE_ADDR", "")
    if settings.SECURE_PROXY_SSL_HEADER:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").rsplit(",", 1)[-1].strip()
        address = forwarded or address
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None


def user_agent(request: HttpRequest) -> str:
    return request.META.get("HTTP_USER_AGENT", "")[:200]


def safe_url(request: HttpRequest, candidate: str | None) -> str | None:
    """`candidate` if it points into this site (a `next` from a form or a header), else None."""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return None


def return_url(request: HttpRequest) -> str | None:
    """The page to come back to after logging in or re-authenticating.

    A GET comes back to itself. An htmx request comes back to the page that made it (a fragment is no
    page to land on); any other request (a POST) to the page it was sent from.
    """
    if request.headers.get("HX-Request"):
        return safe_url(request, request.headers.get("HX-Current-URL"))
    if request.method in ("GET", "HEAD"):
        return request.get_full_path()
    return safe_url(request, request.headers.get("Referer"))


def page_redirect(request: HttpRequest, url: str) -> HttpResponse:
    """Send the browser to `url`; for htmx, through `HX-Redirect`, since htmx would swap a redirected page
    into the fragment's place."""
    if request.headers.get("HX-Request"):
        response = HttpResponse(status=200)
        response["HX-Redirect"] = url
        return response
    return HttpResponseRedirect(url)
