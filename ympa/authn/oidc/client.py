"""OpenID Connect relying party for SITHS staff logins through Inera's IdP. Plain Python, httpx, jwcrypto.

The authorization code flow with PKCE and a confidential client, following the standards (Inera's IdP speaks
standard OpenID Connect; its claim names are described in claims.py):
  Authorization code flow, request parameters, callback           https://openid.net/specs/openid-connect-core-1_0.html#CodeFlowAuth
  Error response on the callback (error, error_description, state) https://www.rfc-editor.org/rfc/rfc6749#section-4.1.2.1
  Token request, client_secret_basic (id and secret form-encoded
  before Basic), token and error responses                        https://www.rfc-editor.org/rfc/rfc6749#section-2.3.1
                                                                  https://www.rfc-editor.org/rfc/rfc6749#section-5
  ID token claims and their validation (iss, aud, azp, exp, iat,
  nonce, acr), at_hash                                            https://openid.net/specs/openid-connect-core-1_0.html#IDTokenValidation
                                                                  https://openid.net/specs/openid-connect-core-1_0.html#CodeIDToken
  The claims request parameter (how Inera wants attributes asked) https://openid.net/specs/openid-connect-core-1_0.html#ClaimsParameter
  Userinfo: Bearer token, sub must equal the ID token's sub       https://openid.net/specs/openid-connect-core-1_0.html#UserInfoResponse
  Keys: jwks_uri, kid; without kid only a single key may be used  https://openid.net/specs/openid-connect-core-1_0.html#Signing
  Discovery: URL, required fields, issuer must be identical       https://openid.net/specs/openid-connect-discovery-1_0.html
  PKCE with S256, verifier of 43-128 unreserved characters        https://www.rfc-editor.org/rfc/rfc7636
  iss in the authorization response (mix-up defence)              https://www.rfc-editor.org/rfc/rfc9207
  Inera: acr requested as an essential claim with exact values    https://inera.atlassian.net/wiki/spaces/ST/pages/3475212630

Where the standards leave a choice, this client is strict: only RS256 and ES256 signatures (RSA keys of at
least 2048 bits), no encrypted ID tokens, no "crit" headers, an ID token with several audiences only if its
azp is this client, an iss parameter on the callback checked whenever present (and required when the
metadata announces it), the acr checked against `accepted_acr` even though the IdP should already have
enforced it, and metadata that does not offer code, S256 or client_secret_basic refused. Plain http is
allowed only for loopback addresses (the local test IdP). Exception messages never include tokens, codes or
personal identity numbers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import ssl
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote_plus, urlencode, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import httpx
from jwcrypto import jwk, jws
from jwcrypto.common import JWException

from ympa.authn.oidc.claims import (
    CLAIM_ACR,
    CLAIM_EMPLOYEE_HSA_ID,
    LOA3,
    REQUESTED_CLAIMS,
    ErrorCode,
    OidcError,
    StaffIdentity,
    parse_staff_identity,
)

DEFAULT_LEEWAY = 30.0
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_KEY_TYPES = {"RS256": "RSA", "ES256": "EC"}
_MIN_RSA_BITS = 2048
_SWEDEN = ZoneInfo("Europe/Stockholm")
# RFC 6749 appendix A.7: error codes are printable ASCII without '"' and '\'.
_OAUTH_ERROR = re.compile(r"[\x20\x21\x23-\x5b\x5d-\x7e]{1,64}")
_MAX_DESCRIPTION = 200


@dataclass(frozen=True)
class ProviderMetadata:
    """What the client uses from the IdP's discovery document."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None
    iss_parameter_supported: bool


@dataclass(frozen=True)
class LoginStart:
    """The start of one login: send the browser to `url`, keep the rest in the session for finish()."""

    url: str
    state: str
    nonce: str
    code_verifier: str

    def as_dict(self) -> dict[str, str]:
        return {
            "url": self.url,
            "state": self.state,
            "nonce": self.nonce,
            "code_verifier": self.code_verifier,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, str]) -> LoginStart:
        return cls(
            url=data["url"], state=data["state"], nonce=data["nonce"], code_verifier=data["code_verifier"]
        )


@dataclass(frozen=True)
class OidcLogin:
    """A finished login. `claims` are the validated ID token claims; `id_token` serves as a logout hint."""

    identity: StaffIdentity
    claims: Mapping[str, Any] = field(repr=False)
    userinfo: Mapping[str, Any] | None = field(repr=False)
    id_token: str = field(repr=False)
    access_token: str = field(repr=False)


@dataclass(frozen=True)
class _Tokens:
    id_token: str
    access_token: str


class OidcClient:
    """Logs staff in through one OpenID provider. Thread-safe; close it (or use `with`) when done.

    `clock` returns the current time in epoch seconds (for tests). `accepted_acr` lists the levels of
    assurance the client asks for and accepts (empty: any, but the acr claim is still required).
    """

    def __init__(
        self,
        issuer: str,
        client_id: str,
        client_secret: str,
        redirect_uri: str,
        *,
        ca_file: str | None = None,
        http: httpx.Client | None = None,
        clock: Callable[[], float] | None = None,
        accepted_acr: Sequence[str] = (LOA3,),
        leeway: float = DEFAULT_LEEWAY,
        timeout: float = 10.0,
    ) -> None:
        _require_secure_url(issuer, "issuer")
        _require_secure_url(redirect_uri, "redirect_uri")
        if not client_id or not client_secret:
            raise ValueError("client_id and client_secret must not be empty")
        if http is not None and ca_file is not None:
            raise ValueError("give either ca_file or http, not both")
        if leeway < 0:
            raise ValueError("leeway must not be negative")
        self.issuer = issuer
        self.client_id = client_id
        self.redirect_uri = redirect_uri
        self._client_secret = client_secret
        self._accepted_acr = tuple(accepted_acr)
        self._leeway = leeway
        self._clock = clock or time.time
        self._owns_http = http is None
        if http is None:
            verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=ca_file) if ca_file else True
            # Redirects are not followed: every endpoint comes from the metadata, and the token request
            # carries the client secret.
            http = httpx.Client(verify=verify, timeout=timeout, follow_redirects=False)
        self._http = http
        self._lock = threading.Lock()
        self._metadata: ProviderMetadata | None = None
        self._keys: tuple[jwk.JWK, ...] | None = None

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # Discovery and keys

    def metadata(self) -> ProviderMetadata:
        """The IdP's discovery metadata, fetched once and then cached."""
        with self._lock:
            if self._metadata is not None:
                return self._metadata
        metadata = self._fetch_metadata()
        with self._lock:
            self._metadata = metadata
        return metadata

    def _fetch_metadata(self) -> ProviderMetadata:
        url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
        data = self._get_json(url, "discovery_failed", "the discovery document")
        if data.get("issuer") != self.issuer:
            raise OidcError(
                "issuer_mismatch",
                f"The discovery document at {url} names issuer {str(data.get('issuer'))[:200]!r},"
                f" not {self.issuer!r}.",
            )
        authorization_endpoint = _required_metadata_url(data, "authorization_endpoint")
        token_endpoint = _required_metadata_url(data, "token_endpoint")
        jwks_uri = _required_metadata_url(data, "jwks_uri")
        userinfo = _optional_metadata_url(data, "userinfo_endpoint")
        _require_offered(data, "response_types_supported", "code", default=None)
        algs = data.get("id_token_signing_alg_values_supported")
        if not isinstance(algs, list) or not set(_KEY_TYPES) & set(algs):
            raise OidcError(
                "discovery_failed", "The IdP offers neither RS256 nor ES256 for ID token signatures."
            )
        _require_offered(data, "code_challenge_methods_supported", "S256", default="S256")
        # Discovery 1.0: an IdP that leaves this out supports client_secret_basic.
        _require_offered(
            data,
            "token_endpoint_auth_methods_supported",
            "client_secret_basic",
            default="client_secret_basic",
        )
        return ProviderMetadata(
            issuer=self.issuer,
            authorization_endpoint=authorization_endpoint,
            token_endpoint=token_endpoint,
            jwks_uri=jwks_uri,
            userinfo_endpoint=userinfo,
            iss_parameter_supported=data.get("authorization_response_iss_parameter_supported") is True,
        )

    def _signing_keys(self, *, refresh: bool) -> tuple[jwk.JWK, ...]:
        with self._lock:
            if self._keys is not None and not refresh:
                return self._keys
        data = self._get_json(self.metadata().jwks_uri, "jwks_failed", "the key set")
        raw_keys = data.get("keys")
        if not isinstance(raw_keys, list):
            raise OidcError("jwks_failed", "The IdP's key set has no 'keys' array.")
        keys = []
        for item in raw_keys:
            if not isinstance(item, dict):
                continue
            try:
                # Only the public half is kept, whatever the document contains.
                keys.append(jwk.JWK(**jwk.JWK(**item).export_public(as_dict=True)))
            except (JWException, ValueError, TypeError):
                continue
        with self._lock:
            self._keys = tuple(keys)
        return self._keys

    def _key_for(self, kid: str | None, alg: str) -> jwk.JWK:
        for refresh in (False, True):
            keys = self._signing_keys(refresh=refresh)
            if kid is None:
                # Without a kid the key is only unambiguous when the set holds a single key.
                matching = list(keys) if len(keys) == 1 else []
            else:
                matching = [key for key in keys if key.get("kid") == kid]
            suitable = [key for key in matching if _key_fits(key, alg)]
            if suitable:
                return suitable[0]
        raise OidcError(
            "unknown_key",
            f"No {alg} key in the IdP's key set matches the ID token (kid {kid!r}), even after a refetch.",
        )

    # The login

    def begin(self) -> LoginStart:
        """Start a login: the authorization URL plus the state, nonce and PKCE verifier for the session."""
        metadata = self.metadata()
        state = secrets.token_urlsafe(32)
        nonce = secrets.token_urlsafe(32)
        code_verifier = secrets.token_urlsafe(64)
        params = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": "openid",
            "state": state,
            "nonce": nonce,
            "code_challenge": s256_challenge(code_verifier),
            "code_challenge_method": "S256",
            "claims": json.dumps(self._claims_request(), separators=(",", ":")),
        }
        return LoginStart(
            url=_with_query(metadata.authorization_endpoint, params),
            state=state,
            nonce=nonce,
            code_verifier=code_verifier,
        )

    def finish(
        self,
        callback_params: Mapping[str, str],
        *,
        state: str,
        nonce: str,
        code_verifier: str,
        fetch_userinfo: bool = False,
    ) -> OidcLogin:
        """Complete a login from the query parameters of the callback. Raises OidcError.

        The identity is read from the signed ID token; with `fetch_userinfo` the userinfo endpoint is asked
        as well (its answer must describe the same subject) and returned alongside.
        """
        received_state = callback_params.get("state", "")
        # Checked first, also for error answers: a callback with someone else's state proves nothing.
        if not received_state or not hmac.compare_digest(received_state.encode(), state.encode()):
            raise OidcError("state_mismatch", "The callback's state does not belong to this login.")
        metadata = self.metadata()
        iss = callback_params.get("iss")
        if iss is None and metadata.iss_parameter_supported:
            raise OidcError("issuer_mismatch", "The callback lacks the iss parameter the IdP announces.")
        if iss is not None and iss != metadata.issuer:
            raise OidcError("issuer_mismatch", "The callback's iss parameter names another issuer.")
        error = callback_params.get("error")
        if error:
            code = error if _OAUTH_ERROR.fullmatch(error) else "invalid"
            description = _printable(callback_params.get("error_description", ""))
            raise OidcError(
                "idp_error",
                f"The IdP refused the login: {code}" + (f" ({description})" if description else ""),
                oauth_error=code,
            )
        authorization_code = callback_params.get("code")
        if not authorization_code:
            raise OidcError("callback_invalid", "The callback carries neither a code nor an error.")
        tokens = self._redeem(metadata, authorization_code, code_verifier)
        claims = self.validate_id_token(tokens.id_token, nonce=nonce, access_token=tokens.access_token)
        userinfo = self._userinfo(metadata, tokens.access_token, claims["sub"]) if fetch_userinfo else None
        identity = parse_staff_identity(claims, today=self._today())
        return OidcLogin(
            identity=identity,
            claims=claims,
            userinfo=userinfo,
            id_token=tokens.id_token,
            access_token=tokens.access_token,
        )

    def validate_id_token(
        self, id_token: str, *, nonce: str, access_token: str | None = None
    ) -> dict[str, Any]:
        """Check an ID token's signature and claims (OIDC Core 3.1.3.7) and return the claims."""
        parts = id_token.split(".")
        if len(parts) != 3:
            raise OidcError(
                "token_invalid", "The ID token is not a compact JWS (encrypted ones are refused)."
            )
        header = _b64_json(parts[0])
        if header is None:
            raise OidcError("token_invalid", "The ID token's header is not a JSON object.")
        alg = header.get("alg")
        if alg not in _KEY_TYPES:
            raise OidcError("token_invalid", f"The ID token's algorithm {str(alg)[:20]!r} is refused.")
        if "crit" in header:
            raise OidcError("token_invalid", "The ID token has critical header extensions (refused).")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise OidcError("token_invalid", "The ID token's kid is not a string.")
        key = self._key_for(kid, alg)
        signed = jws.JWS()
        try:
            signed.deserialize(id_token)
            signed.verify(key, alg=alg)
        except jws.InvalidJWSSignature as exc:
            raise OidcError("signature_invalid", "The ID token's signature does not verify.") from exc
        except (JWException, ValueError) as exc:
            raise OidcError("token_invalid", "The ID token could not be read as a JWS.") from exc
        try:
            claims = json.loads(signed.payload)
        except ValueError:
            claims = None
        if not isinstance(claims, dict):
            raise OidcError("token_invalid", "The ID token's payload is not a JSON object.")
        self._check_claims(claims, nonce=nonce, alg=alg, access_token=access_token)
        return claims

    def _check_claims(
        self, claims: dict[str, Any], *, nonce: str, alg: str, access_token: str | None
    ) -> None:
        if claims.get("iss") != self.metadata().issuer:
            raise OidcError("issuer_mismatch", "The ID token was issued by another issuer.")
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub:
            raise OidcError("token_invalid", "The ID token has no subject (sub).")
        audience = claims.get("aud")
        audiences = [audience] if isinstance(audience, str) else audience
        if not isinstance(audiences, list) or not all(isinstance(item, str) for item in audiences):
            raise OidcError("token_invalid", "The ID token's audience (aud) is missing or malformed.")
        if self.client_id not in audiences:
            raise OidcError("audience_mismatch", "The ID token was issued to another client.")
        azp = claims.get("azp")
        if len(audiences) > 1 and azp is None:
            raise OidcError("audience_mismatch", "The ID token has several audiences and no azp.")
        if azp is not None and azp != self.client_id:
            raise OidcError("audience_mismatch", "The ID token's authorized party (azp) is another client.")
        now = self._clock()
        expires = _number(claims, "exp", required=True)
        issued = _number(claims, "iat", required=True)
        not_before = _number(claims, "nbf", required=False)
        if expires is not None and now >= expires + self._leeway:
            raise OidcError("expired", "The ID token has expired.")
        if issued is not None and issued > now + self._leeway:
            raise OidcError("not_yet_valid", "The ID token was issued in the future (check the clocks).")
        if not_before is not None and not_before > now + self._leeway:
            raise OidcError("not_yet_valid", "The ID token is not valid yet (nbf).")
        token_nonce = claims.get("nonce")
        if not isinstance(token_nonce, str) or not hmac.compare_digest(token_nonce.encode(), nonce.encode()):
            raise OidcError("nonce_mismatch", "The ID token was not issued for this login (nonce).")
        acr = claims.get(CLAIM_ACR)
        if self._accepted_acr and acr not in self._accepted_acr:
            raise OidcError("acr_not_accepted", f"The level of assurance {str(acr)[:100]!r} is not accepted.")
        at_hash = claims.get("at_hash")
        if (
            at_hash is not None
            and access_token is not None
            and not (isinstance(at_hash, str) and hmac.compare_digest(at_hash, _half_hash(access_token, alg)))
        ):
            raise OidcError("token_invalid", "The ID token's at_hash does not match the access token.")

    def _claims_request(self) -> dict[str, Any]:
        id_token: dict[str, Any] = {name: None for name in REQUESTED_CLAIMS}
        id_token[CLAIM_EMPLOYEE_HSA_ID] = {"essential": True}
        if len(self._accepted_acr) == 1:
            id_token[CLAIM_ACR] = {"essential": True, "value": self._accepted_acr[0]}
        elif self._accepted_acr:
            id_token[CLAIM_ACR] = {"essential": True, "values": list(self._accepted_acr)}
        else:
            id_token[CLAIM_ACR] = None
        return {"id_token": id_token}

    def _redeem(self, metadata: ProviderMetadata, authorization_code: str, code_verifier: str) -> _Tokens:
        credentials = f"{quote_plus(self.client_id)}:{quote_plus(self._client_secret)}"
        form = {
            "grant_type": "authorization_code",
            "code": authorization_code,
            "redirect_uri": self.redirect_uri,
            "code_verifier": code_verifier,
        }
        headers = {
            "Authorization": "Basic " + base64.b64encode(credentials.encode()).decode("ascii"),
            "Accept": "application/json",
        }
        response = self._send(
            "POST", metadata.token_endpoint, "the token endpoint", data=form, headers=headers
        )
        data = _json_object(response)
        if response.status_code != 200:
            oauth_error = data.get("error") if data is not None else None
            code = (
                oauth_error if isinstance(oauth_error, str) and _OAUTH_ERROR.fullmatch(oauth_error) else None
            )
            raise OidcError(
                "token_error",
                f"The token endpoint refused the code (HTTP {response.status_code}, {code or 'no error'}).",
                oauth_error=code,
            )
        if data is None:
            raise OidcError("token_error", "The token endpoint's answer is not a JSON object.")
        token_type = data.get("token_type")
        id_token = data.get("id_token")
        access_token = data.get("access_token")
        if not isinstance(token_type, str) or token_type.lower() != "bearer":
            raise OidcError("token_error", "The token endpoint did not issue a Bearer token.")
        if not isinstance(id_token, str) or not isinstance(access_token, str) or not access_token:
            raise OidcError("token_error", "The token endpoint's answer lacks the ID or access token.")
        return _Tokens(id_token=id_token, access_token=access_token)

    def _userinfo(self, metadata: ProviderMetadata, access_token: str, subject: str) -> dict[str, Any]:
        if metadata.userinfo_endpoint is None:
            raise OidcError("userinfo_failed", "The IdP has no userinfo endpoint.")
        response = self._send(
            "GET",
            metadata.userinfo_endpoint,
            "the userinfo endpoint",
            headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
        )
        if response.status_code != 200:
            raise OidcError("userinfo_failed", f"The userinfo endpoint answered HTTP {response.status_code}.")
        content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        data = _json_object(response) if content_type == "application/json" else None
        if data is None:
            raise OidcError("userinfo_failed", "The userinfo answer is not a plain JSON object.")
        if data.get("sub") != subject:
            raise OidcError("subject_mismatch", "The userinfo answer describes another subject.")
        return data

    # HTTP

    def _get_json(self, url: str, code: ErrorCode, what: str) -> dict[str, Any]:
        response = self._send("GET", url, what, headers={"Accept": "application/json"})
        if response.status_code != 200:
            raise OidcError(code, f"{what.capitalize()} at {url} answered HTTP {response.status_code}.")
        data = _json_object(response)
        if data is None:
            raise OidcError(code, f"{what.capitalize()} at {url} is not a JSON object.")
        return data

    def _send(
        self,
        method: str,
        url: str,
        what: str,
        *,
        headers: Mapping[str, str],
        data: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        try:
            response = self._http.request(method, url, headers=headers, data=data)
        except httpx.HTTPError as exc:
            raise OidcError("unavailable", f"Could not reach {what} at {url}: {type(exc).__name__}.") from exc
        if response.is_server_error:
            raise OidcError(
                "unavailable",
                f"{what.capitalize()} at {url} had a server error (HTTP {response.status_code}).",
            )
        return response

    def _today(self) -> date:
        return datetime.fromtimestamp(self._clock(), _SWEDEN).date()


def s256_challenge(code_verifier: str) -> str:
    """The PKCE S256 code challenge of a verifier (RFC 7636 4.2)."""
    digest = hashlib.sha256(code_verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _half_hash(access_token: str, alg: str) -> str:
    # OIDC Core 3.1.3.6: the left half of the hash that matches the alg (SHA-256 for RS256 and ES256).
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode("ascii")


def _key_fits(key: jwk.JWK, alg: str) -> bool:
    if key.get("use") not in (None, "sig") or key.get("alg") not in (None, alg):
        return False
    if key.get("kty") != _KEY_TYPES[alg]:
        return False
    if alg == "ES256":
        return key.get("crv") == "P-256"
    public_key = key.get_op_key("verify")
    return bool(public_key.key_size >= _MIN_RSA_BITS)


def _b64_json(segment: str) -> dict[str, Any] | None:
    try:
        data = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _number(claims: Mapping[str, Any], name: str, *, required: bool) -> float | None:
    value = claims.get(name)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise OidcError("token_invalid", f"The ID token's {name} is missing or not a number.")
    return float(value)


def _json_object(response: httpx.Response) -> dict[str, Any] | None:
    try:
        data = response.json()
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _printable(text: str) -> str:
    cleaned = "".join(char for char in text if char.isprintable())
    return cleaned[:_MAX_DESCRIPTION] + ("..." if len(cleaned) > _MAX_DESCRIPTION else "")


def _require_secure_url(url: str, what: str) -> None:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme == "https" and host:
        return
    if parts.scheme == "http" and host in _LOOPBACK_HOSTS:
        return
    raise ValueError(f"The {what} must be an https URL (plain http only on loopback), got {url!r}.")


def _optional_metadata_url(data: Mapping[str, Any], name: str) -> str | None:
    return None if data.get(name) is None else _required_metadata_url(data, name)


def _required_metadata_url(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str):
        raise OidcError("discovery_failed", f"The discovery document has no {name}.")
    try:
        _require_secure_url(value, name)
    except ValueError as exc:
        raise OidcError("discovery_failed", str(exc)) from exc
    return value


def _require_offered(data: Mapping[str, Any], name: str, wanted: str, *, default: str | None) -> None:
    offered = data.get(name, [default] if default is not None else None)
    if not isinstance(offered, list) or wanted not in offered:
        raise OidcError("discovery_failed", f"The IdP's {name} does not include {wanted!r}.")


def _with_query(url: str, params: Mapping[str, str]) -> str:
    parts = urlsplit(url)
    query = urlencode(params)
    return urlunsplit(parts._replace(query=f"{parts.query}&{query}" if parts.query else query))
