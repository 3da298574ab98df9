"""The test IdP as a protocol partner, spoken to with plain HTTP over loopback. No database needed."""

from __future__ import annotations

import base64
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote_plus, urlencode, urlsplit

import httpx
import pytest

from ympa.authn.oidc.claims import CARE_PURPOSE
from ympa.authn.oidc.client import s256_challenge
from ympa.authn.oidc.idp_simulator import DEFAULT_STAFF, TestIdp
from ympa.core import demo
from ympa.core.synthetic import organisation_number
from ympa.identifiers import parse_hsa_id

CLIENT_ID, CLIENT_SECRET = "ympa", "a secret:with/odd+chars"
REDIRECT_URI = "http://127.0.0.1:8000/auth/oidc/callback/"
NURSE = "SE5599000014-sarassk"
VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def idp(clock: Clock) -> Iterator[TestIdp]:
    with TestIdp(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, redirect_uris=[REDIRECT_URI], clock=clock
    ) as server:
        yield server


def authorize_url(idp: TestIdp, **overrides: str | None) -> str:
    params: dict[str, str | None] = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "scope": "openid",
        "state": "xyz",
        "nonce": "abc",
        "code_challenge": s256_challenge(VERIFIER),
        "code_challenge_method": "S256",
        "claims": json.dumps({"id_token": {"employeeHsaId": None, "allCommissions": None, "unknown": None}}),
    }
    params.update(overrides)
    return f"{idp.url}/authorize?" + urlencode({k: v for k, v in params.items() if v is not None})


def query_of(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


def code_for(idp: TestIdp, **overrides: str | None) -> str:
    return query_of(idp.choose(authorize_url(idp, **overrides), NURSE))["code"]


def basic(client_id: str, secret: str) -> dict[str, str]:
    credentials = f"{quote_plus(client_id)}:{quote_plus(secret)}"
    return {"Authorization": "Basic " + base64.b64encode(credentials.encode()).decode()}


def redeem(
    idp: TestIdp, issued_code: str, *, headers: dict[str, str] | None = None, **form: str | None
) -> httpx.Response:
    body: dict[str, str | None] = {
        "grant_type": "authorization_code",
        "code": issued_code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": VERIFIER,
    }
    body.update(form)
    return httpx.post(
        f"{idp.url}/token",
        data={k: v for k, v in body.items() if v is not None},
        headers=basic(CLIENT_ID, CLIENT_SECRET) if headers is None else headers,
    )


def payload(token: str) -> dict[str, Any]:
    part = token.split(".")[1]
    data: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return data


# Discovery and keys


def test_discovery_and_key_set(idp: TestIdp) -> None:
    metadata = httpx.get(f"{idp.url}/.well-known/openid-configuration").json()
    assert metadata["issuer"] == idp.url
    assert metadata["authorization_endpoint"] == f"{idp.url}/authorize"
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert metadata["authorization_response_iss_parameter_supported"] is True
    assert {"employeeHsaId", "allCommissions", "credentialPersonalIdentityNumber"} <= set(
        metadata["claims_supported"]
    )
    [key] = httpx.get(metadata["jwks_uri"]).json()["keys"]
    assert key["kid"] == idp.key_id and key["kty"] == "RSA" and key["use"] == "sig" and key["alg"] == "RS256"
    assert "d" not in key and "p" not in key


def test_key_file_keeps_the_key_across_restarts(tmp_path: Path) -> None:
    key_file = tmp_path / "idp-key.pem"
    options: dict[str, Any] = {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "redirect_uris": [REDIRECT_URI],
    }
    with TestIdp(key_file=key_file, **options) as first:
        kid = first.key_id
        first_keys = httpx.get(f"{first.url}/jwks").json()
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    with TestIdp(key_file=key_file, **options) as second:
        assert second.key_id == kid
        assert httpx.get(f"{second.url}/jwks").json() == first_keys
    with TestIdp(**options) as fresh:
        assert fresh.key_id != kid


# The authorization endpoint


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"scope": "profile"}, "invalid_scope"),
        ({"code_challenge": None}, "invalid_request"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge_method": None}, "invalid_request"),
        ({"code_challenge": "too-short"}, "invalid_request"),
        ({"claims": "{not json"}, "invalid_request"),
        ({"request": "eyJhbGciOiJub25lIn0.e30."}, "request_not_supported"),
        ({"prompt": "none"}, "login_required"),
    ],
)
def test_authorization_errors_are_redirected(
    idp: TestIdp, overrides: dict[str, str | None], error: str
) -> None:
    answer = httpx.get(authorize_url(idp, **overrides))
    assert answer.status_code == 303
    location = answer.headers["Location"]
    assert location.startswith(REDIRECT_URI + "?")
    params = query_of(location)
    assert (params["error"], params["state"], params["iss"]) == (error, "xyz", idp.url)
    assert "code" not in params


def test_repeated_parameters_are_refused(idp: TestIdp) -> None:
    answer = httpx.get(authorize_url(idp) + "&scope=openid")
    assert query_of(answer.headers["Location"])["error"] == "invalid_request"


@pytest.mark.parametrize(
    "overrides",
    [
        {"client_id": "someone-else"},
        {"client_id": None},
        {"redirect_uri": "http://127.0.0.1:8000/auth/oidc/callback"},  # no trailing slash: not exact
        {"redirect_uri": REDIRECT_URI + "?next=/"},
        {"redirect_uri": None},
    ],
)
def test_unknown_client_or_redirect_uri_is_not_redirected(
    idp: TestIdp, overrides: dict[str, str | None]
) -> None:
    answer = httpx.get(authorize_url(idp, **overrides))
    assert answer.status_code == 400 and "Location" not in answer.headers
    with pytest.raises(ValueError):
        idp.choose(authorize_url(idp, **overrides), NURSE)


def test_choose_json_is_strict(idp: TestIdp) -> None:
    endpoint = f"{idp.url}/choose.json"
    assert httpx.post(endpoint, json={"authorization_url": authorize_url(idp)}).status_code == 400
    unknown = httpx.post(endpoint, json={"authorization_url": authorize_url(idp), "employee_hsa_id": "SE1-x"})
    assert unknown.status_code == 400 and "SE1-x" in unknown.json()["error"]
    bad_request = httpx.post(
        endpoint, json={"authorization_url": authorize_url(idp, scope="email"), "employee_hsa_id": NURSE}
    )
    assert query_of(bad_request.json()["redirect_to"])["error"] == "invalid_scope"


def test_staff_page_escapes_and_lists_everyone(idp: TestIdp) -> None:
    page = httpx.get(authorize_url(idp)).text
    for person in DEFAULT_STAFF:
        assert person.employee_hsa_id in page
    assert "Statistik" in page
    assert "default-src 'none'" in httpx.get(authorize_url(idp)).headers["Content-Security-Policy"]


# The token endpoint


def test_token_response_and_released_claims(idp: TestIdp, clock: Clock) -> None:
    answer = redeem(idp, code_for(idp))
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store" and answer.headers["Pragma"] == "no-cache"
    tokens = answer.json()
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == idp.token_ttl
    claims = payload(tokens["id_token"])
    assert claims["iss"] == idp.url and claims["aud"] == CLIENT_ID and claims["nonce"] == "abc"
    assert (claims["iat"], claims["exp"]) == (int(clock.now), int(clock.now) + idp.token_ttl)
    # Only what the claims parameter asked for (and the IdP knows) is released.
    assert claims["employeeHsaId"] == NURSE
    assert claims["allCommissions"][0]["commissionPurpose"] == CARE_PURPOSE
    assert "family_name" not in claims and "unknown" not in claims
    userinfo = httpx.get(f"{idp.url}/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert userinfo.json() == {"sub": claims["sub"]}


def test_client_secret_post_is_accepted(idp: TestIdp) -> None:
    answer = redeem(idp, code_for(idp), headers={}, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    assert answer.status_code == 200


@pytest.mark.parametrize(
    ("headers", "form", "status", "error"),
    [
        ({}, {}, 401, "invalid_client"),
        (basic(CLIENT_ID, "wrong"), {}, 401, "invalid_client"),
        (basic("other", CLIENT_SECRET), {}, 401, "invalid_client"),
        ({}, {"client_id": CLIENT_ID, "client_secret": "wrong"}, 401, "invalid_client"),
        (
            basic(CLIENT_ID, CLIENT_SECRET),
            {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
            400,
            "invalid_request",
        ),
        (
            basic(CLIENT_ID, CLIENT_SECRET),
            {"grant_type": "client_credentials"},
            400,
            "unsupported_grant_type",
        ),
        (basic(CLIENT_ID, CLIENT_SECRET), {"code": "made-up"}, 400, "invalid_grant"),
        (basic(CLIENT_ID, CLIENT_SECRET), {"redirect_uri": REDIRECT_URI + "x"}, 400, "invalid_grant"),
        (basic(CLIENT_ID, CLIENT_SECRET), {"redirect_uri": None}, 400, "invalid_grant"),
        (basic(CLIENT_ID, CLIENT_SECRET), {"code_verifier": None}, 400, "invalid_request"),
        (basic(CLIENT_ID, CLIENT_SECRET), {"code_verifier": "x" * 43}, 400, "invalid_grant"),
    ],
)
def test_token_errors(
    idp: TestIdp, headers: dict[str, str], form: dict[str, str | None], status: int, error: str
) -> None:
    answer = redeem(idp, code_for(idp), headers=headers, **form)
    assert answer.status_code == status
    assert answer.json()["error"] == error
    assert answer.headers["Cache-Control"] == "no-store"
    if status == 401 and "Authorization" in headers:
        assert answer.headers["WWW-Authenticate"].startswith("Basic")


def test_codes_are_short_lived_and_single_use(idp: TestIdp, clock: Clock) -> None:
    code = code_for(idp)
    clock.now += idp.code_ttl
    assert redeem(idp, code).json()["error"] == "invalid_grant"
    code = code_for(idp)
    clock.now += idp.code_ttl - 1
    assert redeem(idp, code).status_code == 200
    assert redeem(idp, code).json()["error"] == "invalid_grant"


def test_access_tokens_expire(idp: TestIdp, clock: Clock) -> None:
    access_token = redeem(idp, code_for(idp)).json()["access_token"]
    headers = {"Authorization": f"Bearer {access_token}"}
    assert httpx.get(f"{idp.url}/userinfo", headers=headers).status_code == 200
    clock.now += idp.token_ttl
    assert httpx.get(f"{idp.url}/userinfo", headers=headers).status_code == 401
    assert httpx.get(f"{idp.url}/userinfo").status_code == 401


def test_token_body_must_be_a_form(idp: TestIdp) -> None:
    answer = httpx.post(
        f"{idp.url}/token", json={"grant_type": "authorization_code"}, headers=basic(CLIENT_ID, CLIENT_SECRET)
    )
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_request"


# The default staff are the demo's staff


def test_default_staff_match_the_demo() -> None:
    # Unit and provider HSA-ids are built the way demo._org_structure builds them.
    units: dict[tuple[str, str], tuple[str, str, str, str]] = {}
    for spec in demo.PROVIDERS:
        org = organisation_number(spec.org_prefix).replace("-", "")
        for unit in spec.units:
            units[(spec.key, unit.key)] = (
                f"SE{org}-{unit.code}",
                unit.name,
                f"SE{org}-{spec.key[:4].upper()}",
                spec.name,
            )
    places: dict[str, list[tuple[str, str] | str]] = {}
    names = {}
    for username, first, last, _role, place in demo.STAFF:
        places[username] = [place]
        names[username] = (first, last)
    for username, _role, place in demo.EXTRA_ASSIGNMENTS:
        places[username].append(place)
    for person in DEFAULT_STAFF:
        assert (person.given_name, person.surname) == names[person.username]
        assert parse_hsa_id(person.employee_hsa_id) == person.employee_hsa_id
        expected = {units[place] for place in places[person.username] if not isinstance(place, str)}
        commissions = {
            (c.care_unit_hsa_id, c.care_unit_name, c.care_provider_hsa_id, c.care_provider_name)
            for c in person.commissions
        }
        assert commissions == expected
        for commission in person.commissions:
            assert commission.hsa_id is not None and parse_hsa_id(commission.hsa_id) == commission.hsa_id
    by_name = {person.username: person for person in DEFAULT_STAFF}
    assert [c.purpose for c in by_name["sara.ssk"].commissions] == [CARE_PURPOSE]
    assert [c.purpose for c in by_name["lisa.lakare"].commissions] == [CARE_PURPOSE, CARE_PURPOSE]
    assert [c.purpose for c in by_name["adam.admin"].commissions] == ["Statistik"]
