"""A local stand-in for Inera's IdP (SITHS login over OpenID Connect), for development and tests.

Standard library plus jwcrypto for real RS256 signatures. It follows the published protocol, not Ympa's
client:
  Authorization code flow: request, response, errors             https://openid.net/specs/openid-connect-core-1_0.html#CodeFlowAuth
  Authorization errors; do not redirect when client_id or
  redirect_uri is wrong                                          https://www.rfc-editor.org/rfc/rfc6749#section-4.1.2.1
  Parameters must not repeat                                     https://www.rfc-editor.org/rfc/rfc6749#section-3.1
  Client authentication (client_secret_basic with form-encoded
  id and secret, client_secret_post; one method per request)     https://www.rfc-editor.org/rfc/rfc6749#section-2.3.1
  Codes: short-lived, single use, reuse revokes what they issued https://www.rfc-editor.org/rfc/rfc6749#section-4.1.2
  Token request checks and error JSON (invalid_client 401,
  invalid_grant, ...), no-store                                  https://www.rfc-editor.org/rfc/rfc6749#section-5
  ID token claims, at_hash                                       https://openid.net/specs/openid-connect-core-1_0.html#IDToken
  The claims request parameter (id_token and userinfo members)   https://openid.net/specs/openid-connect-core-1_0.html#ClaimsParameter
  request / request_uri not supported, prompt=none errors        https://openid.net/specs/openid-connect-core-1_0.html#AuthError
  Userinfo with a Bearer token; invalid_token                    https://openid.net/specs/openid-connect-core-1_0.html#UserInfo
                                                                 https://www.rfc-editor.org/rfc/rfc6750#section-3
  Discovery document                                             https://openid.net/specs/openid-connect-discovery-1_0.html
  PKCE S256 (challenge = BASE64URL(SHA256(verifier)))            https://www.rfc-editor.org/rfc/rfc7636
  iss on every authorization response                            https://www.rfc-editor.org/rfc/rfc9207
  Inera: claims asked for one by one (claims parameter) or by scope, unknown ones ignored
                                                  https://inera.atlassian.net/wiki/spaces/ST/pages/4216127489/2.7+Attributstyrning+OIDC
  Inera: an essential acr the card cannot meet fails the login   https://inera.atlassian.net/wiki/spaces/ST/pages/3475212630
  Inera's claim names and Ympa's reading of allCommissions are described in claims.py.

Where the standards leave a choice the simulator is strict, so that surprises show up here first: PKCE with
S256 is required, redirect_uri must equal a registered URI exactly, request objects are refused, a code is
burnt by its first use even if that use fails, and the IdP releases only the claims asked for through the
claims parameter (Inera's scope names for the healthcare claims are not published where we could read them,
so scopes other than openid release nothing). Error texts are its own.

Conventions of the simulator itself (not of Inera's IdP):
  - GET /authorize shows the test staff (in Swedish); choosing one logs in as that person, as if with their
    SITHS card. No card, PIN or password.
  - POST /choose.json with {"authorization_url": ..., "employee_hsa_id": ...} makes the same choice without
    HTML and answers {"redirect_to": <callback URL>}; only for clients on this machine. TestIdp.choose()
    does the same in-process.
  - The default staff are Ympa's demo staff (ympa/core/demo.py: names, care units, care providers). The demo
    gives them no HSA-id of their own, so the employee HSA-id is SE + the provider's organisation number +
    "-" + the username without dots. adam.admin's only commission has the purpose "Statistik", so he cannot
    open records; everyone else has "Vård och behandling" commissions; smittskydd (a regional assignment
    without care unit) is left out. Nobody has a personal identity number (the demo has none).
  - The subject (sub) is a UUID derived from the employee HSA-id, so it stays the same across restarts.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import html
import ipaddress
import json
import re
import secrets
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qsl, unquote_plus, urlencode, urlsplit, urlunsplit

from ympa.authn.oidc.claims import (
    CARE_PURPOSE,
    CLAIM_ACR,
    CLAIM_ALL_COMMISSIONS,
    CLAIM_EMPLOYEE_HSA_ID,
    CLAIM_FAMILY_NAME,
    CLAIM_GIVEN_NAME,
    CLAIM_PERSONAL_IDENTITY_NUMBER,
    LOA2,
    LOA3,
    Commission,
)
from ympa.authn.oidc.keys import generate_key, load_or_create_key, public_jwks, sign_jwt

_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")
_VERIFIER = re.compile(r"[A-Za-z0-9._~-]{43,128}")
_MAX_BODY = 64 * 1024
_PENDING_TTL = 600.0  # how long the staff page stays usable
_POLL_INTERVAL = 0.05  # how quickly serve_forever notices stop()
_SUBJECT_NAMESPACE = uuid.UUID("6f1d3c3e-5b0e-4f4e-9d6a-0c6a2f6b7a10")
_STATISTICS_PURPOSE = "Statistik"


@dataclass(frozen=True)
class TestStaff:
    """A person the test IdP can log in: their HSA identity and commissions, as HSA would report them."""

    __test__: ClassVar[bool] = False  # a fixture type, not a pytest test class

    username: str
    given_name: str
    surname: str
    employee_hsa_id: str
    title: str
    commissions: tuple[Commission, ...]
    personal_identity_number: str | None = None
    assurance_level: str = LOA3

    @property
    def subject(self) -> str:
        return str(uuid.uuid5(_SUBJECT_NAMESPACE, self.employee_hsa_id))

    def claims(self) -> dict[str, Any]:
        """Every healthcare claim the IdP can release for this person."""
        claims: dict[str, Any] = {
            CLAIM_EMPLOYEE_HSA_ID: self.employee_hsa_id,
            CLAIM_GIVEN_NAME: self.given_name,
            CLAIM_FAMILY_NAME: self.surname,
            "name": f"{self.given_name} {self.surname}",
            CLAIM_ALL_COMMISSIONS: [commission.as_claim() for commission in self.commissions],
            CLAIM_ACR: self.assurance_level,
        }
        if self.personal_identity_number is not None:
            claims[CLAIM_PERSONAL_IDENTITY_NUMBER] = self.personal_identity_number
        return claims


@dataclass(frozen=True)
class _Unit:
    hsa_id: str
    name: str
    provider_hsa_id: str
    provider_name: str


# The demo's care providers and units (ympa/core/demo.py: PROVIDERS; HSA-ids as _org_structure builds them).
_CLINIC_ORG = "5599000014"
_REGION_ORG = "2321990018"
_CLINIC = (f"SE{_CLINIC_ORG}-CLIN", "Vaccinkliniken Ympa Demo AB")
_REGION = (f"SE{_REGION_ORG}-REGI", "Region Västra Götaland, demoförvaltning")
_CITY = _Unit(f"SE{_CLINIC_ORG}-E1001", "Vaccinkliniken City (demo)", *_CLINIC)
_SOLNA = _Unit(f"SE{_CLINIC_ORG}-E1002", "Vaccinkliniken Solna (demo)", *_CLINIC)
_MAJORNA = _Unit(f"SE{_REGION_ORG}-E2001", "Vårdcentralen Majorna (demo)", *_REGION)
_BORAS = _Unit(f"SE{_REGION_ORG}-E2002", "Barnavårdscentralen Borås (demo)", *_REGION)


def _demo_staff(
    username: str,
    given_name: str,
    surname: str,
    title: str,
    units: Sequence[_Unit],
    purpose: str = CARE_PURPOSE,
) -> TestStaff:
    organisation = _CLINIC_ORG if units[0].provider_hsa_id == _CLINIC[0] else _REGION_ORG
    employee_hsa_id = f"SE{organisation}-{username.replace('.', '')}"
    commissions = tuple(
        Commission(
            hsa_id=f"{employee_hsa_id}U{number}",
            purpose=purpose,
            care_unit_hsa_id=unit.hsa_id,
            care_unit_name=unit.name,
            care_provider_hsa_id=unit.provider_hsa_id,
            care_provider_name=unit.provider_name,
            name=f"{title}, {unit.name}",
        )
        for number, unit in enumerate(units, start=1)
    )
    return TestStaff(
        username=username,
        given_name=given_name,
        surname=surname,
        employee_hsa_id=employee_hsa_id,
        title=title,
        commissions=commissions,
    )


DEFAULT_STAFF: tuple[TestStaff, ...] = (
    _demo_staff("sara.ssk", "Sara", "Sjuksköterska", "Sjuksköterska", [_CITY]),
    _demo_staff("lisa.lakare", "Lisa", "Läkare", "Läkare", [_CITY, _SOLNA]),
    _demo_staff("adam.admin", "Adam", "Administratör", "Administratör", [_CITY], _STATISTICS_PURPOSE),
    _demo_staff("nils.ssk", "Nils", "Sjuksköterska", "Sjuksköterska", [_SOLNA]),
    _demo_staff("ulla.usk", "Ulla", "Undersköterska", "Undersköterska", [_CITY]),
    _demo_staff("rita.reception", "Rita", "Receptionist", "Receptionist", [_CITY]),
    _demo_staff("karin.lakare", "Karin", "Läkare", "Läkare", [_MAJORNA]),
    _demo_staff("maria.ssk", "Maria", "Sjuksköterska", "Sjuksköterska", [_MAJORNA]),
    _demo_staff("jonas.ssk", "Jonas", "Sjuksköterska", "Sjuksköterska", [_BORAS]),
    _demo_staff("bodil.barnmorska", "Bodil", "Barnmorska", "Barnmorska", [_BORAS]),
)


@dataclass(frozen=True)
class _AuthRequest:
    redirect_uri: str
    state: str | None
    nonce: str | None
    code_challenge: str
    scope: str
    id_token_claims: Mapping[str, Any]
    userinfo_claims: Mapping[str, Any]
    required_acr: tuple[str, ...]


@dataclass(frozen=True)
class _Pending:
    request: _AuthRequest
    created: float


@dataclass
class _Grant:
    request: _AuthRequest
    staff: TestStaff
    issued: float
    used: bool = False
    access_token: str | None = None


@dataclass(frozen=True)
class _Access:
    staff: TestStaff
    claims: Mapping[str, Any]
    expires: float


class _PageError(Exception):
    """An authorization request that must not be redirected (unknown client or redirect_uri)."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status
        self.text = text


class _RedirectError(Exception):
    """An authorization error reported to the client through its redirect_uri."""

    def __init__(self, redirect_to: str) -> None:
        super().__init__(redirect_to)
        self.redirect_to = redirect_to


class _OAuthError(Exception):
    """A token or userinfo endpoint error, answered as OAuth error JSON."""

    def __init__(
        self, status: int, error: str, description: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description
        self.headers = dict(headers or {})


class TestIdp:
    """Serves the simulated IdP on `host`:`port` (0 picks a free port); see the module docstring.

    `key_file` is a PEM file with the RSA signing key, created if missing, so that restarts keep the key;
    without it a new key is generated at start. `clock` returns epoch seconds (for tests).
    """

    __test__: ClassVar[bool] = False  # a fixture, not a pytest test class

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        staff: Iterable[TestStaff] | None = None,
        client_id: str,
        client_secret: str,
        redirect_uris: Iterable[str],
        token_ttl: int = 300,
        code_ttl: int = 60,
        key_file: str | Path | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not client_id or not client_secret:
            raise ValueError("client_id and client_secret must not be empty")
        if token_ttl <= 0 or code_ttl <= 0:
            raise ValueError("token_ttl and code_ttl must be positive")
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_uris = tuple(redirect_uris)
        if not self.redirect_uris:
            raise ValueError("register at least one redirect URI")
        self.staff = tuple(DEFAULT_STAFF if staff is None else staff)
        if len({person.employee_hsa_id for person in self.staff}) != len(self.staff):
            raise ValueError("every test staff member needs an employee HSA-id of their own")
        self.token_ttl = token_ttl
        self.code_ttl = code_ttl
        self._clock = clock
        self._key = load_or_create_key(key_file) if key_file is not None else generate_key("RS256")
        self._lock = threading.Lock()
        self._pending: dict[str, _Pending] = {}
        self._grants: dict[str, _Grant] = {}
        self._access: dict[str, _Access] = {}
        self._serve_thread: threading.Thread | None = None
        self._serving_here = False
        self._stopped = False
        self._server = _Server((host, port), _Handler, self)

    @property
    def url(self) -> str:
        """The issuer identifier (also the base URL of every endpoint)."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def key_id(self) -> str:
        kid: str = self._key.get("kid")
        return kid

    def start(self) -> None:
        """Serve in a background thread."""
        if self._serve_thread is not None:
            raise RuntimeError("the test IdP is already running")
        self._serve_thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": _POLL_INTERVAL},
            name="test-idp",
            daemon=True,
        )
        self._serve_thread.start()

    def serve_forever(self) -> None:
        """Serve in the calling thread until stop() is called (from another thread) or it is interrupted."""
        self._serving_here = True
        try:
            self._server.serve_forever(poll_interval=_POLL_INTERVAL)
        finally:
            self._serving_here = False

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._stopped:
            return
        self._stopped = True
        # shutdown() waits for a serve_forever loop to finish, so it would hang if none is running.
        if self._serve_thread is not None or self._serving_here:
            self._server.shutdown()
        self._server.server_close()
        if self._serve_thread is not None:
            self._serve_thread.join()

    def __enter__(self) -> TestIdp:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def choose(self, authorization_url: str, employee_hsa_id: str) -> str:
        """Log in as `employee_hsa_id` for the request in `authorization_url`; returns the callback URL.

        Errors the client must hear about (a bad scope, missing PKCE, ...) come back as a callback URL with
        error=...; a request that may not be redirected (unknown client or redirect_uri) or an unknown staff
        member raises ValueError.
        """
        try:
            request = self._authorization_request(
                parse_qsl(urlsplit(authorization_url).query, keep_blank_values=True)
            )
            return self._log_in(request, employee_hsa_id)
        except _RedirectError as exc:
            return exc.redirect_to
        except _PageError as exc:
            raise ValueError(exc.text) from None

    # The protocol; called from the server's threads.

    def metadata(self) -> dict[str, Any]:
        issuer = self.url
        return {
            "issuer": issuer,
            "authorization_endpoint": f"{issuer}/authorize",
            "token_endpoint": f"{issuer}/token",
            "userinfo_endpoint": f"{issuer}/userinfo",
            "jwks_uri": f"{issuer}/jwks",
            "scopes_supported": ["openid"],
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
            "claims_parameter_supported": True,
            "request_parameter_supported": False,
            "request_uri_parameter_supported": False,
            "claims_supported": sorted(
                {"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash"}
                | set(DEFAULT_STAFF[0].claims())
                | {CLAIM_PERSONAL_IDENTITY_NUMBER}
            ),
            "acr_values_supported": [LOA2, LOA3],
            "authorization_response_iss_parameter_supported": True,
        }

    def jwks(self) -> dict[str, Any]:
        return public_jwks([self._key])

    def _authorization_request(self, pairs: Sequence[tuple[str, str]]) -> _AuthRequest:
        """Check an authorization request. Raises _PageError or _RedirectError."""
        params: dict[str, str] = {}
        repeated: set[str] = set()
        for name, value in pairs:
            if name in params:
                repeated.add(name)
            params[name] = value
        if params.get("client_id") != self.client_id or "client_id" in repeated:
            raise _PageError(400, "Okänd klient: client_id är inte registrerat hos test-IdP:n.")
        redirect_uri = params.get("redirect_uri", "")
        if redirect_uri not in self.redirect_uris or "redirect_uri" in repeated:
            raise _PageError(
                400,
                "redirect_uri saknas eller är inte exakt en av de adresser som är registrerade för klienten.",
            )
        state = None if "state" in repeated else params.get("state")

        def fail(error: str, description: str) -> _RedirectError:
            return _RedirectError(
                self._redirect(redirect_uri, error=error, error_description=description, state=state)
            )

        if repeated:
            raise fail("invalid_request", f"Repeated parameters: {', '.join(sorted(repeated))}.")
        if "request" in params:
            raise fail("request_not_supported", "Request objects are not supported.")
        if "request_uri" in params:
            raise fail("request_uri_not_supported", "request_uri is not supported.")
        if params.get("response_type") != "code":
            raise fail("unsupported_response_type", "Only response_type=code is supported.")
        scope = params.get("scope", "")
        if "openid" not in scope.split(" "):
            raise fail("invalid_scope", "The scope must contain openid.")
        challenge = params.get("code_challenge")
        if not challenge:
            raise fail("invalid_request", "PKCE is required: send code_challenge.")
        if params.get("code_challenge_method") != "S256":
            raise fail("invalid_request", "Only code_challenge_method=S256 is supported.")
        if not _CHALLENGE.fullmatch(challenge):
            raise fail("invalid_request", "code_challenge is not a base64url SHA-256 value.")
        if "none" in params.get("prompt", "").split(" "):
            raise fail("login_required", "The user must choose who to log in as.")
        try:
            requested = json.loads(params["claims"]) if "claims" in params else {}
        except ValueError:
            raise fail("invalid_request", "The claims parameter is not JSON.") from None
        id_token_claims = requested.get("id_token", {}) if isinstance(requested, dict) else None
        userinfo_claims = requested.get("userinfo", {}) if isinstance(requested, dict) else None
        if not isinstance(id_token_claims, dict) or not isinstance(userinfo_claims, dict):
            raise fail("invalid_request", "The claims parameter must be an object of objects.")
        return _AuthRequest(
            redirect_uri=redirect_uri,
            state=state,
            nonce=params.get("nonce"),
            code_challenge=challenge,
            scope=scope,
            id_token_claims=id_token_claims,
            userinfo_claims=userinfo_claims,
            required_acr=_required_acr(id_token_claims) + _required_acr(userinfo_claims),
        )

    def _begin_choice(self, request: _AuthRequest) -> str:
        """Keep a checked request for the staff page; returns the transaction id its forms post back."""
        transaction = secrets.token_urlsafe(24)
        now = self._clock()
        with self._lock:
            self._pending = {key: p for key, p in self._pending.items() if now - p.created < _PENDING_TTL}
            self._pending[transaction] = _Pending(request, now)
        return transaction

    def _complete_choice(self, transaction: str, employee_hsa_id: str | None) -> str:
        """The tester chose someone (or cancelled, with None); returns the callback URL."""
        with self._lock:
            pending = self._pending.pop(transaction, None)
        if pending is None or self._clock() - pending.created >= _PENDING_TTL:
            raise _PageError(400, "Inloggningen har gått ut eller är redan använd. Börja om från tjänsten.")
        if employee_hsa_id is None:
            request = pending.request
            return self._redirect(
                request.redirect_uri,
                error="access_denied",
                error_description="The user cancelled the login.",
                state=request.state,
            )
        try:
            return self._log_in(pending.request, employee_hsa_id)
        except _RedirectError as exc:
            return exc.redirect_to

    def _log_in(self, request: _AuthRequest, employee_hsa_id: str) -> str:
        staff = next((person for person in self.staff if person.employee_hsa_id == employee_hsa_id), None)
        if staff is None:
            raise _PageError(400, f"Ingen testperson har HSA-id {employee_hsa_id}.")
        if request.required_acr and staff.assurance_level not in request.required_acr:
            raise _RedirectError(
                self._redirect(
                    request.redirect_uri,
                    error="access_denied",
                    error_description="The user's level of assurance is not the one requested.",
                    state=request.state,
                )
            )
        code = secrets.token_urlsafe(32)
        with self._lock:
            now = self._clock()
            # A used code is remembered while what it issued lives, so that a replay can revoke it.
            horizon = self.code_ttl + self.token_ttl
            self._grants = {key: g for key, g in self._grants.items() if now - g.issued < horizon}
            self._grants[code] = _Grant(request=request, staff=staff, issued=now)
        return self._redirect(request.redirect_uri, code=code, state=request.state)

    def token(self, authorization: str | None, pairs: Sequence[tuple[str, str]]) -> dict[str, Any]:
        """Redeem a code. Raises _OAuthError."""
        form: dict[str, str] = {}
        for name, value in pairs:
            if name in form:
                raise _OAuthError(400, "invalid_request", f"Repeated parameter {name}.")
            form[name] = value
        self._authenticate_client(authorization, form)
        if form.get("grant_type") != "authorization_code":
            raise _OAuthError(400, "unsupported_grant_type", "Only authorization_code is supported.")
        code = form.get("code", "")
        now = self._clock()
        with self._lock:
            grant = self._grants.get(code)
            if grant is not None and grant.used:
                # The code may have been stolen: whatever it issued stops working.
                if grant.access_token is not None:
                    self._access.pop(grant.access_token, None)
                raise _OAuthError(400, "invalid_grant", "The code has already been used.")
            if grant is not None:
                grant.used = True
        if grant is None:
            raise _OAuthError(400, "invalid_grant", "Unknown code.")
        if now - grant.issued >= self.code_ttl:
            raise _OAuthError(400, "invalid_grant", "The code has expired.")
        if form.get("redirect_uri") != grant.request.redirect_uri:
            raise _OAuthError(400, "invalid_grant", "redirect_uri differs from the authorization request.")
        verifier = form.get("code_verifier")
        if verifier is None:
            raise _OAuthError(400, "invalid_request", "PKCE is required: send code_verifier.")
        if not _VERIFIER.fullmatch(verifier) or not hmac.compare_digest(
            _s256(verifier), grant.request.code_challenge
        ):
            raise _OAuthError(400, "invalid_grant", "code_verifier does not match the code_challenge.")

        staff = grant.staff
        access_token = secrets.token_urlsafe(32)
        expires = now + self.token_ttl
        id_token_claims: dict[str, Any] = {
            "iss": self.url,
            "sub": staff.subject,
            "aud": self.client_id,
            "exp": int(expires),
            "iat": int(now),
            "auth_time": int(grant.issued),
            "acr": staff.assurance_level,
            "at_hash": _half_hash(access_token),
        }
        if grant.request.nonce is not None:
            id_token_claims["nonce"] = grant.request.nonce
        id_token_claims.update(_released(staff, grant.request.id_token_claims))
        with self._lock:
            grant.access_token = access_token
            self._access = {key: a for key, a in self._access.items() if now < a.expires}
            self._access[access_token] = _Access(
                staff=staff, claims=_released(staff, grant.request.userinfo_claims), expires=expires
            )
        return {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": self.token_ttl,
            "scope": grant.request.scope,
            "id_token": sign_jwt(id_token_claims, self._key),
        }

    def userinfo(self, authorization: str | None) -> dict[str, Any]:
        """The claims for a Bearer access token. Raises _OAuthError."""
        scheme, _, token = (authorization or "").partition(" ")
        challenge = 'Bearer realm="test-idp"'
        if scheme.lower() != "bearer" or not token:
            raise _OAuthError(
                401,
                "invalid_request",
                "Send the access token as a Bearer token.",
                {"WWW-Authenticate": challenge},
            )
        with self._lock:
            access = self._access.get(token.strip())
        if access is None or self._clock() >= access.expires:
            raise _OAuthError(
                401,
                "invalid_token",
                "The access token is unknown, revoked or expired.",
                {"WWW-Authenticate": f'{challenge}, error="invalid_token"'},
            )
        return {"sub": access.staff.subject, **access.claims}

    def _authenticate_client(self, authorization: str | None, form: Mapping[str, str]) -> None:
        basic = authorization is not None and authorization.lower().startswith("basic ")
        posted = "client_secret" in form
        if basic and posted:
            raise _OAuthError(400, "invalid_request", "Use one client authentication method, not two.")
        challenge = {"WWW-Authenticate": 'Basic realm="test-idp"'} if basic else {}
        if basic and authorization is not None:
            try:
                decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                decoded = ""
            raw_id, separator, raw_secret = decoded.partition(":")
            client_id, secret = unquote_plus(raw_id), unquote_plus(raw_secret)
            if not separator or ("client_id" in form and form["client_id"] != client_id):
                client_id, secret = "", ""
        elif posted:
            client_id, secret = form.get("client_id", ""), form["client_secret"]
        else:
            raise _OAuthError(401, "invalid_client", "Client authentication is required.")
        valid = hmac.compare_digest(client_id.encode(), self.client_id.encode()) and hmac.compare_digest(
            secret.encode(), self.client_secret.encode()
        )
        if not valid:
            raise _OAuthError(401, "invalid_client", "Wrong client_id or client_secret.", challenge)

    def _redirect(self, redirect_uri: str, **params: str | None) -> str:
        values = {name: value for name, value in params.items() if value is not None}
        values["iss"] = self.url
        parts = urlsplit(redirect_uri)
        query = urlencode(values)
        return urlunsplit(parts._replace(query=f"{parts.query}&{query}" if parts.query else query))


def _required_acr(requested: Mapping[str, Any]) -> tuple[str, ...]:
    spec = requested.get(CLAIM_ACR)
    if not isinstance(spec, dict) or spec.get("essential") is not True:
        return ()
    if isinstance(spec.get("value"), str):
        return (spec["value"],)
    values = spec.get("values")
    if isinstance(values, list):
        return tuple(value for value in values if isinstance(value, str))
    return ()


def _released(staff: TestStaff, requested: Mapping[str, Any]) -> dict[str, Any]:
    # Claims the IdP does not know are ignored, as Inera's IdP does.
    available = staff.claims()
    return {name: available[name] for name in requested if name in available}


def _s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode()


def _half_hash(access_token: str) -> str:
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[_Handler], idp: TestIdp) -> None:
        self.idp = idp
        super().__init__(address, handler)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "test-idp"

    def log_message(self, format: str, *args: object) -> None:
        # Quiet: tests should not print per request.
        return

    def do_GET(self) -> None:
        target = urlsplit(self.path)
        idp = self.server.idp
        if target.path == "/.well-known/openid-configuration":
            self._send_json(200, idp.metadata())
        elif target.path == "/jwks":
            self._send_json(200, idp.jwks())
        elif target.path == "/authorize":
            try:
                request = idp._authorization_request(parse_qsl(target.query, keep_blank_values=True))
            except _PageError as exc:
                self._send_page(exc.status, _error_page(exc.text))
            except _RedirectError as exc:
                self._send_redirect(exc.redirect_to)
            else:
                self._send_page(200, _staff_page(idp, idp._begin_choice(request)))
        elif target.path == "/userinfo":
            self._userinfo()
        else:
            self._send_json(404, {"error": "not_found"})

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        idp = self.server.idp
        if path == "/authorize":
            try:
                form = dict(self._read_form())
                employee = None if "cancel" in form else form.get("employee_hsa_id", "")
                self._send_redirect(idp._complete_choice(form.get("transaction", ""), employee))
            except _PageError as exc:
                self._send_page(exc.status, _error_page(exc.text))
            except _OAuthError as exc:
                self._send_page(exc.status, _error_page(exc.description))
        elif path == "/token":
            try:
                answer = idp.token(self.headers.get("Authorization"), self._read_form())
            except _OAuthError as exc:
                self._send_oauth_error(exc)
            else:
                self._send_json(200, answer, {"Pragma": "no-cache"})
        elif path == "/userinfo":
            self._userinfo()
        elif path == "/choose.json":
            self._choose()
        else:
            self._send_json(404, {"error": "not_found"})

    def _userinfo(self) -> None:
        try:
            self._send_json(200, self.server.idp.userinfo(self.headers.get("Authorization")))
        except _OAuthError as exc:
            self._send_oauth_error(exc)

    def _choose(self) -> None:
        if not ipaddress.ip_address(self.client_address[0]).is_loopback:
            self._send_json(403, {"error": "Only for clients on this machine."})
            return
        try:
            data = json.loads(self._read_body())
        except (_OAuthError, ValueError):
            data = None
        if not isinstance(data, dict) or not all(
            isinstance(data.get(key), str) for key in ("authorization_url", "employee_hsa_id")
        ):
            self._send_json(400, {"error": 'Send {"authorization_url": ..., "employee_hsa_id": ...}.'})
            return
        try:
            redirect_to = self.server.idp.choose(data["authorization_url"], data["employee_hsa_id"])
        except ValueError as exc:
            self._send_json(400, {"error": str(exc)})
            return
        self._send_json(200, {"redirect_to": redirect_to})

    def _read_body(self) -> str:
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            raise _OAuthError(400, "invalid_request", "Invalid Content-Length.") from None
        if not 0 <= length <= _MAX_BODY:
            raise _OAuthError(400, "invalid_request", "The request body is too large.")
        try:
            return self.rfile.read(length).decode()
        except UnicodeDecodeError:
            raise _OAuthError(400, "invalid_request", "The request body must be UTF-8.") from None

    def _read_form(self) -> list[tuple[str, str]]:
        content_type = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type != "application/x-www-form-urlencoded":
            raise _OAuthError(400, "invalid_request", "The body must be application/x-www-form-urlencoded.")
        return parse_qsl(self._read_body(), keep_blank_values=True)

    def _send_oauth_error(self, error: _OAuthError) -> None:
        self._send_json(
            error.status, {"error": error.error, "error_description": error.description}, error.headers
        )

    def _send_redirect(self, location: str) -> None:
        # 303 so that the browser follows a POSTed choice with a GET to the client's callback.
        self.send_response(303)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()

    def _send_page(self, status: int, page: str) -> None:
        self._send(status, "text/html; charset=utf-8", page.encode())

    def _send_json(self, status: int, data: object, extra: Mapping[str, str] | None = None) -> None:
        self._send(status, "application/json", json.dumps(data, ensure_ascii=False).encode(), extra)

    def _send(
        self, status: int, content_type: str, body: bytes, extra: Mapping[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
        self.send_header("Cache-Control", "no-store")
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


def _staff_page(idp: TestIdp, transaction: str) -> str:
    hidden = f'<input type="hidden" name="transaction" value="{html.escape(transaction)}">'
    rows = []
    for person in idp.staff:
        commissions = "".join(
            f"<li>{html.escape(c.care_unit_name or c.care_provider_name)}: {html.escape(c.purpose)}"
            f" <small>({html.escape(c.hsa_id or '')})</small></li>"
            for c in person.commissions
        )
        rows.append(
            "<tr>"
            f"<td>{html.escape(person.given_name)} {html.escape(person.surname)}"
            f"<br><small>{html.escape(person.title)} · {html.escape(person.username)}</small></td>"
            f"<td><code>{html.escape(person.employee_hsa_id)}</code></td>"
            f"<td><ul>{commissions or '<li>Inga medarbetaruppdrag</li>'}</ul></td>"
            f'<td><form method="post" action="/authorize">{hidden}'
            f'<input type="hidden" name="employee_hsa_id" value="{html.escape(person.employee_hsa_id)}">'
            f'<button type="submit">Logga in som {html.escape(person.given_name)}</button></form></td>'
            "</tr>"
        )
    return f"""<!doctype html>
<html lang="sv">
<head>
<meta charset="utf-8">
<title>Test-IdP: välj testperson</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5rem; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ border: 1px solid #ccc; padding: .3rem .5rem; text-align: left; vertical-align: top; }}
ul {{ margin: 0; padding-left: 1.2rem; }}
</style>
</head>
<body>
<h1>Test-IdP (SITHS-inloggning, simulerad)</h1>
<p>Klienten <code>{html.escape(idp.client_id)}</code> vill logga in dig. Välj vem du loggar in som; inget kort
och ingen PIN-kod behövs. Uppdragen skickas till tjänsten, där du väljer ett av dem.</p>
<table>
<thead><tr><th>Namn</th><th>HSA-id</th><th>Medarbetaruppdrag</th><th></th></tr></thead>
<tbody>{"".join(rows)}</tbody>
</table>
<form method="post" action="/authorize">{hidden}<input type="hidden" name="cancel" value="1">
<p><button type="submit">Avbryt inloggningen</button></p></form>
</body>
</html>
"""


def _error_page(text: str) -> str:
    return f"""<!doctype html>
<html lang="sv">
<head><meta charset="utf-8"><title>Test-IdP: fel</title></head>
<body style="font-family: system-ui, sans-serif; margin: 1.5rem">
<h1>Inloggningen kan inte genomföras</h1>
<p>{html.escape(text)}</p>
</body>
</html>
"""


def run(
    port: int,
    *,
    client_id: str,
    client_secret: str,
    redirect_uris: Iterable[str],
    key_file: str | Path | None = None,
    host: str = "127.0.0.1",
) -> None:
    """Serve the test IdP on `host`:`port` until Ctrl-C (for `ympa simulate idp`)."""
    idp = TestIdp(
        host,
        port,
        client_id=client_id,
        client_secret=client_secret,
        redirect_uris=redirect_uris,
        key_file=key_file,
    )
    staff = "".join(
        f"  {person.username:<18} {person.employee_hsa_id:<32} "
        f"{len([c for c in person.commissions if c.allows_care])} vårduppdrag\n"
        for person in idp.staff
    )
    sys.stdout.write(
        "Test IdP (SITHS over OpenID Connect)\n"
        f"  issuer:        {idp.url}\n"
        f"  discovery:     {idp.url}/.well-known/openid-configuration\n"
        f"  client_id:     {client_id}\n"
        f"  client_secret: {client_secret}\n"
        f"  redirect URIs: {', '.join(idp.redirect_uris)}\n"
        f"  signing key:   {key_file or 'generated for this run'} (kid {idp.key_id})\n"
        f"Test staff:\n{staff}"
        "Press Ctrl-C to stop.\n"
    )
    sys.stdout.flush()
    try:
        idp.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        idp.stop()
