"""The OpenID Connect client against the test IdP over real loopback sockets. No database needed.

Tokens are forged with the IdP's own signing key (loaded from its key file) or with another key, to check
that the client refuses what it must refuse.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from jwcrypto import jwk

from ympa.authn.oidc import LOA2, LOA3, LoginStart, OidcClient, OidcError, StaffIdentity
from ympa.authn.oidc.client import s256_challenge
from ympa.authn.oidc.idp_simulator import DEFAULT_STAFF, TestIdp, TestStaff
from ympa.authn.oidc.keys import generate_key, load_or_create_key, sign_jwt

CLIENT_ID, CLIENT_SECRET = "ympa", "idp-simulator-secret"
REDIRECT_URI = "http://127.0.0.1:8000/auth/oidc/callback/"
NURSE, PHYSICIAN, ADMIN = "SE5599000014-sarassk", "SE5599000014-lisalakare", "SE5599000014-adamadmin"
NONCE = "n-0S6_WzA2Mj"


@pytest.fixture(scope="module")
def key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("idp") / "signing-key.pem"


@pytest.fixture(scope="module")
def idp(key_file: Path) -> Iterator[TestIdp]:
    with TestIdp(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, redirect_uris=[REDIRECT_URI], key_file=key_file
    ) as server:
        yield server


@pytest.fixture(scope="module")
def idp_key(idp: TestIdp, key_file: Path) -> jwk.JWK:
    return load_or_create_key(key_file)


@pytest.fixture
def client(idp: TestIdp) -> Iterator[OidcClient]:
    with OidcClient(idp.url, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI) as c:
        yield c


def callback(idp: TestIdp, start: LoginStart, employee_hsa_id: str) -> dict[str, str]:
    return query_of(idp.choose(start.url, employee_hsa_id))


def query_of(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


def finish(client: OidcClient, start: LoginStart, params: dict[str, str], **kwargs: Any) -> Any:
    return client.finish(
        params, state=start.state, nonce=start.nonce, code_verifier=start.code_verifier, **kwargs
    )


def expect(code: str, call: Any, *args: Any, **kwargs: Any) -> OidcError:
    with pytest.raises(OidcError) as caught:
        call(*args, **kwargs)
    assert caught.value.code == code, str(caught.value)
    return caught.value


def forged(idp: TestIdp, key: jwk.JWK, *, kid: str | None = None, **overrides: Any) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": idp.url,
        "sub": "forged-subject",
        "aud": CLIENT_ID,
        "exp": now + 300,
        "iat": now,
        "nonce": NONCE,
        "acr": LOA3,
        "employeeHsaId": NURSE,
        "family_name": "Sjuksköterska",
    }
    claims.update(overrides)
    for name in [name for name, value in claims.items() if value is None]:
        del claims[name]
    return sign_jwt(claims, key, kid=kid)


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


# The whole login


def test_full_login_through_the_html_page(idp: TestIdp, client: OidcClient) -> None:
    start = client.begin()
    request = query_of(start.url)
    assert start.url.startswith(f"{idp.url}/authorize?")
    assert request["response_type"] == "code" and request["scope"] == "openid"
    assert (request["client_id"], request["redirect_uri"]) == (CLIENT_ID, REDIRECT_URI)
    assert request["code_challenge_method"] == "S256"
    assert request["code_challenge"] == s256_challenge(start.code_verifier)
    assert (request["state"], request["nonce"]) == (start.state, start.nonce)
    assert 43 <= len(start.code_verifier) <= 128
    claims_request = json.loads(request["claims"])["id_token"]
    assert claims_request["acr"] == {"essential": True, "value": LOA3}
    assert {"employeeHsaId", "allCommissions", "given_name", "family_name"} <= set(claims_request)

    with httpx.Client() as browser:
        page = browser.get(start.url)
        assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]
        assert "Sara" in page.text and PHYSICIAN in page.text and "Vård och behandling" in page.text
        match = re.search(r'name="transaction" value="([^"]+)"', page.text)
        assert match is not None
        chosen = browser.post(
            f"{idp.url}/authorize", data={"transaction": match.group(1), "employee_hsa_id": PHYSICIAN}
        )
    assert chosen.status_code == 303
    location = chosen.headers["Location"]
    assert location.startswith(REDIRECT_URI + "?")
    params = query_of(location)
    assert params["state"] == start.state and params["iss"] == idp.url and params["code"]

    login = finish(client, start, params)

    identity = login.identity
    assert identity.employee_hsa_id == PHYSICIAN
    assert (identity.given_name, identity.surname) == ("Lisa", "Läkare")
    assert identity.personal_identity_number is None
    assert identity.assurance_level == LOA3
    assert identity.subject == login.claims["sub"]
    assert [c.care_unit_hsa_id for c in identity.commissions] == ["SE5599000014-E1001", "SE5599000014-E1002"]
    assert [c.care_unit_name for c in identity.commissions] == [
        "Vaccinkliniken City (demo)",
        "Vaccinkliniken Solna (demo)",
    ]
    assert {c.care_provider_hsa_id for c in identity.commissions} == {"SE5599000014-CLIN"}
    assert {c.care_provider_name for c in identity.commissions} == {"Vaccinkliniken Ympa Demo AB"}
    assert identity.care_commissions() == identity.commissions
    # The transaction on the page is single use.
    with httpx.Client() as browser:
        again = browser.post(
            f"{idp.url}/authorize", data={"transaction": match.group(1), "employee_hsa_id": PHYSICIAN}
        )
    assert again.status_code == 400 and "Location" not in again.headers


def test_login_through_the_json_hook_with_userinfo(idp: TestIdp, client: OidcClient) -> None:
    start = client.begin()
    answer = httpx.post(
        f"{idp.url}/choose.json", json={"authorization_url": start.url, "employee_hsa_id": NURSE}
    )
    assert answer.status_code == 200
    login = finish(client, start, query_of(answer.json()["redirect_to"]), fetch_userinfo=True)
    assert login.identity.employee_hsa_id == NURSE
    assert [c.care_unit_hsa_id for c in login.identity.care_commissions()] == ["SE5599000014-E1001"]
    assert login.userinfo is not None and login.userinfo["sub"] == login.identity.subject
    # Tokens stay out of the repr (and so out of logs).
    assert login.id_token not in repr(login) and login.access_token not in repr(login)


def test_staff_without_a_care_commission_parses_but_has_no_care_commissions(
    idp: TestIdp, client: OidcClient
) -> None:
    start = client.begin()
    identity = finish(client, start, callback(idp, start, ADMIN)).identity
    assert identity.employee_hsa_id == ADMIN
    [commission] = identity.commissions
    assert commission.purpose == "Statistik"
    assert commission.care_unit_hsa_id == "SE5599000014-E1001"
    assert identity.care_commissions() == ()


def test_session_forms_round_trip(idp: TestIdp, client: OidcClient) -> None:
    start = client.begin()
    assert LoginStart.from_dict(json.loads(json.dumps(start.as_dict()))) == start
    identity = finish(client, start, callback(idp, start, PHYSICIAN)).identity
    assert StaffIdentity.from_dict(json.loads(json.dumps(identity.as_dict()))) == identity


def test_discovery_and_keys_are_fetched_once(idp: TestIdp) -> None:
    requests: list[str] = []
    http = httpx.Client(event_hooks={"request": [lambda request: requests.append(request.url.path)]})
    with http, OidcClient(idp.url, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, http=http) as client:
        for _ in range(2):
            start = client.begin()
            finish(client, start, callback(idp, start, NURSE))
    assert requests.count("/.well-known/openid-configuration") == 1
    assert requests.count("/jwks") == 1
    assert requests.count("/token") == 2


# The callback


def test_state_mismatch_is_refused_before_anything_else(idp: TestIdp, client: OidcClient) -> None:
    start = client.begin()
    params = callback(idp, start, NURSE)
    expect("state_mismatch", finish, client, start, {**params, "state": "someone-elses"})
    expect("state_mismatch", finish, client, start, {k: v for k, v in params.items() if k != "state"})
    expect("state_mismatch", finish, client, start, {"error": "access_denied", "state": "someone-elses"})
    # The code was never redeemed, so the real login still works.
    assert finish(client, start, params).identity.employee_hsa_id == NURSE


def test_cancelled_login_is_an_idp_error(idp: TestIdp, client: OidcClient) -> None:
    start = client.begin()
    page = httpx.get(start.url)
    transaction = re.search(r'name="transaction" value="([^"]+)"', page.text)
    assert transaction is not None
    answer = httpx.post(f"{idp.url}/authorize", data={"transaction": transaction.group(1), "cancel": "1"})
    assert answer.status_code == 303
    error = expect("idp_error", finish, client, start, query_of(answer.headers["Location"]))
    assert error.oauth_error == "access_denied"


def test_callback_from_another_issuer_is_refused(idp: TestIdp, client: OidcClient) -> None:
    start = client.begin()
    params = callback(idp, start, NURSE)
    expect("issuer_mismatch", finish, client, start, {**params, "iss": "https://idp.example"})
    # The test IdP announces the iss parameter, so leaving it out is refused too.
    expect("issuer_mismatch", finish, client, start, {k: v for k, v in params.items() if k != "iss"})
    expect("callback_invalid", finish, client, start, {"state": start.state, "iss": idp.url})


def test_nonce_mismatch(idp: TestIdp, client: OidcClient) -> None:
    start = client.begin()
    params = callback(idp, start, NURSE)
    expect("nonce_mismatch", finish, client, replace(start, nonce="another-login"), params)


# The token endpoint


def test_code_reuse_is_refused_and_revokes_the_first_tokens(idp: TestIdp, client: OidcClient) -> None:
    start = client.begin()
    params = callback(idp, start, NURSE)
    login = finish(client, start, params)
    userinfo_url = f"{idp.url}/userinfo"
    headers = {"Authorization": f"Bearer {login.access_token}"}
    assert httpx.get(userinfo_url, headers=headers).status_code == 200

    error = expect("token_error", finish, client, start, params)
    assert error.oauth_error == "invalid_grant"
    revoked = httpx.get(userinfo_url, headers=headers)
    assert revoked.status_code == 401 and 'error="invalid_token"' in revoked.headers["WWW-Authenticate"]


def test_pkce_verifier_mismatch_is_refused(idp: TestIdp, client: OidcClient) -> None:
    start = client.begin()
    params = callback(idp, start, NURSE)
    other = client.begin().code_verifier
    error = expect("token_error", finish, client, replace(start, code_verifier=other), params)
    assert error.oauth_error == "invalid_grant"
    # The failed attempt burnt the code.
    assert expect("token_error", finish, client, start, params).oauth_error == "invalid_grant"


def test_wrong_client_secret_is_refused(idp: TestIdp) -> None:
    with OidcClient(idp.url, CLIENT_ID, "not-the-secret", REDIRECT_URI) as client:
        start = client.begin()
        error = expect("token_error", finish, client, start, callback(idp, start, NURSE))
    assert error.oauth_error == "invalid_client"


def test_unregistered_redirect_uri_is_refused_without_redirect(idp: TestIdp) -> None:
    with OidcClient(idp.url, CLIENT_ID, CLIENT_SECRET, "http://127.0.0.1:8000/elsewhere/") as client:
        start = client.begin()
    page = httpx.get(start.url)
    assert page.status_code == 400 and "Location" not in page.headers
    assert "redirect_uri" in page.text
    with pytest.raises(ValueError, match="redirect_uri"):
        idp.choose(start.url, NURSE)


# The ID token


def test_tampered_payload_is_refused(idp: TestIdp, client: OidcClient) -> None:
    start = client.begin()
    login = finish(client, start, callback(idp, start, NURSE))
    header, payload, signature = login.id_token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["employeeHsaId"] = PHYSICIAN
    tampered = f"{header}.{b64(claims)}.{signature}"
    expect("signature_invalid", client.validate_id_token, tampered, nonce=start.nonce)
    # The untouched token still verifies, so the refusal is about the change.
    assert client.validate_id_token(login.id_token, nonce=start.nonce)["employeeHsaId"] == NURSE


def test_token_signed_by_another_key_is_refused(idp: TestIdp, client: OidcClient) -> None:
    impostor = generate_key("RS256")
    expect("signature_invalid", client.validate_id_token, forged(idp, impostor, kid=idp.key_id), nonce=NONCE)
    # Under its own kid the impostor's key is simply not one of the IdP's.
    expect("unknown_key", client.validate_id_token, forged(idp, impostor), nonce=NONCE)
    expect("unknown_key", client.validate_id_token, forged(idp, generate_key("ES256")), nonce=NONCE)


def test_unknown_kid_refetches_the_key_set_once(idp: TestIdp) -> None:
    requests: list[str] = []
    http = httpx.Client(event_hooks={"request": [lambda request: requests.append(request.url.path)]})
    with http, OidcClient(idp.url, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, http=http) as client:
        expect("unknown_key", client.validate_id_token, forged(idp, generate_key("RS256")), nonce=NONCE)
    assert requests.count("/jwks") == 2


def test_forged_token_with_the_real_key_is_accepted(
    idp: TestIdp, idp_key: jwk.JWK, client: OidcClient
) -> None:
    # The baseline for the refusals below: a token forged with the IdP's key passes every check.
    assert client.validate_id_token(forged(idp, idp_key), nonce=NONCE)["sub"] == "forged-subject"


def test_expired_token_is_refused(idp: TestIdp, idp_key: jwk.JWK) -> None:
    start_time = time.time()
    clock = [start_time]
    with OidcClient(idp.url, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, clock=lambda: clock[0]) as client:
        start = client.begin()
        params = callback(idp, start, NURSE)
        clock[0] = start_time + idp.token_ttl + 31  # past exp and the 30 s leeway
        expect("expired", finish, client, start, params)
        clock[0] = start_time + idp.token_ttl + 29  # within the leeway
        token = forged(idp, idp_key, exp=int(start_time) + idp.token_ttl)
        assert client.validate_id_token(token, nonce=NONCE)
        clock[0] = start_time - 120  # the client's clock is behind: the token looks issued in the future
        expect("not_yet_valid", client.validate_id_token, token, nonce=NONCE)
        clock[0] = start_time
        expect(
            "not_yet_valid", client.validate_id_token, forged(idp, idp_key, nbf=start_time + 90), nonce=NONCE
        )


def test_wrong_audience_is_refused(idp: TestIdp, idp_key: jwk.JWK, client: OidcClient) -> None:
    expect(
        "audience_mismatch", client.validate_id_token, forged(idp, idp_key, aud="another-client"), nonce=NONCE
    )
    several = forged(idp, idp_key, aud=[CLIENT_ID, "another-client"])
    expect("audience_mismatch", client.validate_id_token, several, nonce=NONCE)
    several_for_us = forged(idp, idp_key, aud=[CLIENT_ID, "another-client"], azp=CLIENT_ID)
    assert client.validate_id_token(several_for_us, nonce=NONCE)
    for_them = forged(idp, idp_key, aud=[CLIENT_ID, "another-client"], azp="another-client")
    expect("audience_mismatch", client.validate_id_token, for_them, nonce=NONCE)
    # A real token issued to "ympa" is no good for a client with another id.
    with OidcClient(idp.url, "another-client", CLIENT_SECRET, REDIRECT_URI) as other:
        expect("audience_mismatch", other.validate_id_token, forged(idp, idp_key), nonce=NONCE)


def test_other_claim_checks(idp: TestIdp, idp_key: jwk.JWK, client: OidcClient) -> None:
    validate = client.validate_id_token
    expect("issuer_mismatch", validate, forged(idp, idp_key, iss="https://idp.example"), nonce=NONCE)
    expect("nonce_mismatch", validate, forged(idp, idp_key, nonce=None), nonce=NONCE)
    expect("token_invalid", validate, forged(idp, idp_key, exp=None), nonce=NONCE)
    expect("token_invalid", validate, forged(idp, idp_key, iat="yesterday"), nonce=NONCE)
    expect("token_invalid", validate, forged(idp, idp_key, sub=""), nonce=NONCE)
    expect("acr_not_accepted", validate, forged(idp, idp_key, acr=LOA2), nonce=NONCE)
    expect("acr_not_accepted", validate, forged(idp, idp_key, acr=None), nonce=NONCE)
    token = forged(idp, idp_key, at_hash="AAAAAAAAAAAAAAAAAAAAAA")
    expect("token_invalid", validate, token, nonce=NONCE, access_token="some-access-token")


def test_unsafe_algorithms_and_shapes_are_refused(idp: TestIdp, idp_key: jwk.JWK, client: OidcClient) -> None:
    real = forged(idp, idp_key)
    _, payload, signature = real.split(".")
    validate = client.validate_id_token
    expect("token_invalid", validate, f"{b64({'alg': 'none'})}.{payload}.", nonce=NONCE)
    expect(
        "token_invalid",
        validate,
        f"{b64({'alg': 'HS256', 'kid': idp.key_id})}.{payload}.{signature}",
        nonce=NONCE,
    )
    critical = {"alg": "RS256", "kid": idp.key_id, "crit": ["exp"], "exp": 1}
    expect("token_invalid", validate, f"{b64(critical)}.{payload}.{signature}", nonce=NONCE)
    expect("token_invalid", validate, "a.b.c.d.e", nonce=NONCE)
    expect("token_invalid", validate, f"bm90IGpzb24.{payload}.{signature}", nonce=NONCE)


# Levels of assurance and identities


def test_level_of_assurance(tmp_path: Path) -> None:
    reserve_card = replace(DEFAULT_STAFF[0], employee_hsa_id="SE5599000014-reserv", assurance_level=LOA2)
    with TestIdp(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, redirect_uris=[REDIRECT_URI], staff=[reserve_card]
    ) as idp:
        with OidcClient(idp.url, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI) as strict:
            start = strict.begin()
            error = expect("idp_error", finish, strict, start, callback(idp, start, "SE5599000014-reserv"))
            assert error.oauth_error == "access_denied"
        with OidcClient(
            idp.url, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, accepted_acr=(LOA2, LOA3)
        ) as lenient:
            start = lenient.begin()
            assert json.loads(query_of(start.url)["claims"])["id_token"]["acr"]["values"] == [LOA2, LOA3]
            login = finish(lenient, start, callback(idp, start, "SE5599000014-reserv"))
            assert login.identity.assurance_level == LOA2


def test_identity_numbers_are_validated() -> None:
    tolvan = TestStaff(
        username="tolvan",
        given_name="Tolvan",
        surname="Tolvansson",
        employee_hsa_id="SE5599000014-tolvan",
        title="Sjuksköterska",
        commissions=DEFAULT_STAFF[0].commissions,
        personal_identity_number="191212121212",
    )
    bad_number = replace(
        tolvan, employee_hsa_id="SE5599000014-badpnr", personal_identity_number="191212121213"
    )
    bad_hsa_id = replace(tolvan, employee_hsa_id="SE5599000015-badhsa")
    bad_unit = replace(
        tolvan,
        employee_hsa_id="SE5599000014-badunit",
        commissions=(replace(DEFAULT_STAFF[0].commissions[0], care_unit_hsa_id="SE5599000014-Ö1"),),
    )
    with (
        TestIdp(
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            redirect_uris=[REDIRECT_URI],
            staff=[tolvan, bad_number, bad_hsa_id, bad_unit],
        ) as idp,
        OidcClient(idp.url, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI) as client,
    ):

        def log_in(employee_hsa_id: str) -> StaffIdentity:
            start = client.begin()
            identity: StaffIdentity = finish(client, start, callback(idp, start, employee_hsa_id)).identity
            return identity

        assert log_in("SE5599000014-tolvan").personal_identity_number == "191212121212"
        error = expect("personnummer_invalid", log_in, "SE5599000014-badpnr")
        assert "191212121213" not in str(error)
        expect("hsa_id_invalid", log_in, "SE5599000015-badhsa")
        expect("hsa_id_invalid", log_in, "SE5599000014-badunit")


# Discovery and configuration


def test_discovery_must_name_the_configured_issuer(idp: TestIdp) -> None:
    with OidcClient(idp.url + "/", CLIENT_ID, CLIENT_SECRET, REDIRECT_URI) as client:
        expect("issuer_mismatch", client.begin)


def test_unreachable_idp_is_unavailable(idp: TestIdp) -> None:
    with TestIdp(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, redirect_uris=[REDIRECT_URI]) as gone:
        url = gone.url
    with OidcClient(url, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, timeout=2) as client:
        expect("unavailable", client.begin)


def test_plain_http_only_on_loopback() -> None:
    with pytest.raises(ValueError, match="https"):
        OidcClient("http://idp.example", CLIENT_ID, CLIENT_SECRET, REDIRECT_URI)
    with pytest.raises(ValueError, match="https"):
        OidcClient("https://idp.example", CLIENT_ID, CLIENT_SECRET, "http://ympa.example/callback/")
    OidcClient("https://idp.example", CLIENT_ID, CLIENT_SECRET, "https://ympa.example/callback/").close()
