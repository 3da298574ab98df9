"""SITHS staff login through the healthcare identity provider (OpenID Connect), on the Django side.

The protocol is in `ympa.authn.oidc`; this module connects it to Ympa's users and sessions. A SITHS login
identifies the employee by HSA-id (`User.hsa_id`). The identity provider also lists the employee's
commissions (medarbetaruppdrag); only those for "Vård och behandling" at a care unit where the employee also
has an Ympa assignment can be chosen, and the chosen one becomes the session's assignment. The care units of
those commissions are kept in the session, so every later request is checked against them
(`session_care_unit_hsa_ids`), not only the choice.
"""

from __future__ import annotations

import threading

from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse

from ympa.authn.assurance import SITHS_CARE_UNITS
from ympa.authn.oidc.claims import StaffIdentity
from ympa.authn.oidc.client import OidcClient

SESSION_PENDING = "siths_pending"
SESSION_UNITS = SITHS_CARE_UNITS

_client: OidcClient | None = None
_client_config: tuple[str, ...] = ()
_lock = threading.Lock()


def redirect_uri() -> str:
    return f"{settings.PUBLIC_URL}{reverse('authn:siths_callback')}"


def siths_client() -> OidcClient:
    """One client per process: it caches the IdP's metadata and keys between logins."""
    global _client, _client_config
    config = settings.SITHS
    wanted = (
        config["ISSUER"],
        config["CLIENT_ID"],
        config["CLIENT_SECRET"],
        config["CA_FILE"] or "",
        redirect_uri(),
    )
    with _lock:
        if _client is None or _client_config != wanted:
            if _client is not None:
                _client.close()
            _client = OidcClient(
                config["ISSUER"],
                config["CLIENT_ID"],
                config["CLIENT_SECRET"],
                redirect_uri(),
                ca_file=config["CA_FILE"] or None,
            )
            _client_config = wanted
        return _client


def care_unit_hsa_ids(identity: StaffIdentity) -> list[str]:
    """The care units where the identity provider says the employee may work with patients' care."""
    return sorted({c.care_unit_hsa_id for c in identity.care_commissions() if c.care_unit_hsa_id})


def session_care_unit_hsa_ids(request: HttpRequest) -> list[str] | None:
    """None for sessions not logged in with SITHS; otherwise the care units the login allows (maybe none)."""
    units = request.session.get(SESSION_UNITS)
    if units is None:
        return None
    return [u for u in units if isinstance(u, str)] if isinstance(units, list) else []
