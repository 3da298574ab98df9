"""Signing keys and signed JWTs for the test IdP (and for tests that forge tokens). Plain Python + jwcrypto.

JSON Web Key, key sets, "kid", "use"                        https://www.rfc-editor.org/rfc/rfc7517
JWK thumbprint (used as a stable "kid")                     https://www.rfc-editor.org/rfc/rfc7638
JWS compact serialization, RS256 and ES256                  https://www.rfc-editor.org/rfc/rfc7515
                                                            https://www.rfc-editor.org/rfc/rfc7518#section-3.1
ID tokens are signed JWTs; with several keys a kid is required
                                                            https://openid.net/specs/openid-connect-core-1_0.html#SigEnc
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

from jwcrypto import jwk, jws

SigningAlg = Literal["RS256", "ES256"]

_RSA_BITS = 2048


def generate_key(alg: SigningAlg = "RS256") -> jwk.JWK:
    """A new private signing key for `alg`, with its RFC 7638 thumbprint as kid."""
    if alg == "RS256":
        key = jwk.JWK.generate(kty="RSA", size=_RSA_BITS)
    else:
        key = jwk.JWK.generate(kty="EC", crv="P-256")
    return _labelled(key, alg)


def load_or_create_key(path: str | Path) -> jwk.JWK:
    """The RSA key in the PEM file `path`, created (readable by the owner only) if it does not exist.

    The kid is the key's thumbprint, so a restarted IdP publishes the same kid and tokens it issued before
    still verify.
    """
    target = Path(path)
    try:
        pem = target.read_bytes()
    except FileNotFoundError:
        key = generate_key("RS256")
        pem = key.export_to_pem(private_key=True, password=None)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            # Another process created it in the meantime; its key wins so that both agree.
            return load_or_create_key(target)
        with os.fdopen(descriptor, "wb") as out:
            out.write(pem)
        return key
    key = jwk.JWK.from_pem(pem)
    if key.get("kty") != "RSA" or not key.has_private:
        raise ValueError(f"{target} does not hold an RSA private key")
    return _labelled(key, "RS256")


def public_jwks(keys: Iterable[jwk.JWK]) -> dict[str, Any]:
    """The JWK Set document publishing the public halves of `keys`."""
    return {"keys": [key.export_public(as_dict=True) for key in keys]}


def sign_jwt(claims: Mapping[str, Any], key: jwk.JWK, *, kid: str | None = None) -> str:
    """`claims` as a compact JWS signed with `key` (alg from the key; kid from the key unless given)."""
    alg = key.get("alg")
    if alg not in ("RS256", "ES256"):
        raise ValueError("the key has no supported alg (RS256 or ES256)")
    header = {"alg": alg, "typ": "JWT", "kid": kid if kid is not None else key.get("kid")}
    token = jws.JWS(json.dumps(dict(claims), ensure_ascii=False).encode())
    token.add_signature(key, alg=alg, protected=json.dumps(header))
    compact: str = token.serialize(compact=True)
    return compact


def _labelled(key: jwk.JWK, alg: SigningAlg) -> jwk.JWK:
    fields = key.export(as_dict=True)
    fields.update(kid=key.thumbprint(), use="sig", alg=alg)
    return jwk.JWK(**fields)
