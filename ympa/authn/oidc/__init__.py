"""Staff login with SITHS through Inera's IdP over OpenID Connect. Plain Python, no Django.

``client.OidcClient``
    the relying party: discovery, ``begin()`` (authorization URL + state, nonce, PKCE verifier) and
    ``finish()`` (callback, token request, ID token validation, optional userinfo) -> ``OidcLogin``.
``claims.StaffIdentity`` / ``claims.Commission``
    who logged in and their commissions (medarbetaruppdrag); ``care_commissions()`` are those that may
    open patient records.
``claims.OidcError``
    the one exception, with a machine ``code`` (``claims.ErrorCode``).
``idp_simulator.TestIdp``
    a local IdP for development and tests (``ympa simulate idp`` via ``idp_simulator.run``).
"""

from ympa.authn.oidc.claims import CARE_PURPOSE, LOA2, LOA3, Commission, ErrorCode, OidcError, StaffIdentity
from ympa.authn.oidc.client import LoginStart, OidcClient, OidcLogin, ProviderMetadata

__all__ = [
    "CARE_PURPOSE",
    "LOA2",
    "LOA3",
    "Commission",
    "ErrorCode",
    "LoginStart",
    "OidcClient",
    "OidcError",
    "OidcLogin",
    "ProviderMetadata",
    "StaffIdentity",
]
