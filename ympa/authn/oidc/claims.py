"""The healthcare claims of Inera's IdP, read into a `StaffIdentity`. Plain Python, no Django.

Claim names, as Inera documents them for OpenID Connect (each is the last part of the Sambi attribute name
http://sambi.se/attributes/1/<name> that the same table gives for SAML):
  Attribute list, SAML name -> OIDC claim (employeeHsaId, given_name, family_name, acr for levelOfAssurance,
  credentialPersonalIdentityNumber, allCommissions, commissionHsaId, commissionName, commissionPurpose,
  healthCareProviderHsaId)        https://inera.atlassian.net/wiki/spaces/ST/pages/3475212719/2.0+Attributlista
                                  https://inera.atlassian.net/wiki/pages/viewpage.action?pageId=3475259438
  Claims are requested one by one with the OIDC `claims` parameter or in groups with scopes; unknown ones
  are ignored; allCommissions returns every commission instead of letting the user pick one at the IdP
                                  https://inera.atlassian.net/wiki/spaces/ST/pages/4216127489/2.7+Attributstyrning+OIDC
  A person (personnummer) has one or more HSA staff ids (employeeHsaId), each with commissions
  (commissionHsaId)               https://inera.atlassian.net/wiki/pages/diffpagesbyversion.action?originalVersion=1&pageId=3475219144&revisedVersion=8
  employeeHsaId: single-valued, "enligt HSA"               https://sambi.se/?p=2785
  Level of assurance: acr, e.g. http://id.sambi.se/loa/loa3, requested as an essential acr claim; SITHS
  reserve cards are LoA 2          https://inera.atlassian.net/wiki/spaces/ST/pages/3475212630
  Related Sambi attributes (healthCareProviderName, commissionPurpose, personalIdentityNumber), listed by
  eHälsomyndigheten's attribute framework
                                  https://samarbetsyta.ehalsomyndigheten.se/pages/viewinfo.action?pageId=408879141
  The commission purpose that allows care is the exact text "Vård och behandling", the constant Inera's own
  certificate services filter HSA commissions on ("Statistik" is another purpose they use)
                                  https://github.com/sklintyg/infra (hsatk stub CredentialInformation)
                                  https://github.com/sklintyg/webcert (HsaOrganizationsServiceImpl)

What the documentation does not say, and what Ympa chose (strict where there was a choice):
  - The claim names healthCareUnitHsaId, healthCareUnitName and healthCareProviderName are not in the part
    of Inera's table that could be read; they are the names of the same fields in HSA's commission data
    (GetCredentialsForPerson, CommissionType), which the IdP's other claim names follow.
  - The JSON shape of one allCommissions element is not published in what could be read. Ympa expects an
    array of objects keyed by the single-commission claim names above (commissionHsaId, commissionName,
    commissionPurpose, healthCareUnitHsaId, healthCareUnitName, healthCareProviderHsaId,
    healthCareProviderName) with string values; anything else makes the token unusable. HSA leaves out the
    care unit fields when a commission belongs directly to the care provider, so those two may be absent.
  - An absent allCommissions is read as "no commissions", so such a user can log in but not open records.
  - given_name may be absent (HSA has a few people without one) and is then empty; family_name and
    employeeHsaId are required.
  - The personal identity number comes from the SITHS certificate (credentialPersonalIdentityNumber) and may
    be absent. Any HSA-id or personal identity number that does not validate makes the whole token unusable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from ympa.identifiers import IdentifierError, parse_hsa_id, parse_personnummer

CARE_PURPOSE = "Vård och behandling"
LOA2 = "http://id.sambi.se/loa/loa2"
LOA3 = "http://id.sambi.se/loa/loa3"

CLAIM_EMPLOYEE_HSA_ID = "employeeHsaId"
CLAIM_GIVEN_NAME = "given_name"
CLAIM_FAMILY_NAME = "family_name"
CLAIM_PERSONAL_IDENTITY_NUMBER = "credentialPersonalIdentityNumber"
CLAIM_ALL_COMMISSIONS = "allCommissions"
CLAIM_ACR = "acr"

COMMISSION_HSA_ID = "commissionHsaId"
COMMISSION_NAME = "commissionName"
COMMISSION_PURPOSE = "commissionPurpose"
CARE_UNIT_HSA_ID = "healthCareUnitHsaId"
CARE_UNIT_NAME = "healthCareUnitName"
CARE_PROVIDER_HSA_ID = "healthCareProviderHsaId"
CARE_PROVIDER_NAME = "healthCareProviderName"

# The claims Ympa asks for in every login (OIDC Core 5.5, the `claims` request parameter).
REQUESTED_CLAIMS = (
    CLAIM_EMPLOYEE_HSA_ID,
    CLAIM_GIVEN_NAME,
    CLAIM_FAMILY_NAME,
    CLAIM_PERSONAL_IDENTITY_NUMBER,
    CLAIM_ALL_COMMISSIONS,
)

ErrorCode = Literal[
    "unavailable",  # the IdP could not be reached or answered with a server error; try again later
    "discovery_failed",  # the discovery document is missing, unreadable or unsafe
    "issuer_mismatch",  # discovery metadata, callback or ID token name another issuer
    "jwks_failed",  # the IdP's key set could not be read
    "state_mismatch",  # the callback does not belong to this browser's login
    "idp_error",  # the IdP answered the authorization request with an error (see oauth_error)
    "callback_invalid",  # the callback carries neither a code nor an error
    "token_error",  # the token endpoint refused the code (see oauth_error) or answered nonsense
    "token_invalid",  # the ID token is malformed, lacks required claims or uses a refused algorithm
    "unknown_key",  # no key in the IdP's key set matches the ID token
    "signature_invalid",  # the ID token's signature does not verify
    "audience_mismatch",  # the ID token was not issued to this client
    "expired",  # the ID token's exp has passed
    "not_yet_valid",  # the ID token's nbf or iat lies in the future
    "nonce_mismatch",  # the ID token was not issued for this login
    "acr_not_accepted",  # the level of assurance is not one this client accepts
    "userinfo_failed",  # the userinfo endpoint refused the access token or answered nonsense
    "subject_mismatch",  # userinfo describes another user than the ID token
    "claims_invalid",  # a healthcare claim is missing or has the wrong type
    "hsa_id_invalid",  # an HSA-id in the claims is not a valid HSA-id
    "personnummer_invalid",  # the personal identity number in the claims is not valid
]


class OidcError(Exception):
    """A login through the IdP failed. `code` says why (see ErrorCode); the message is for logs.

    Messages never contain tokens, codes or personal identity numbers. `oauth_error` is the OAuth error code
    the IdP sent (authorization or token endpoint), if any.
    """

    def __init__(self, code: ErrorCode, message: str, *, oauth_error: str | None = None) -> None:
        super().__init__(message)
        self.code: ErrorCode = code
        self.oauth_error = oauth_error


@dataclass(frozen=True)
class Commission:
    """A medarbetaruppdrag. The care unit is None when the commission belongs directly to the provider."""

    hsa_id: str | None
    purpose: str
    care_unit_hsa_id: str | None
    care_unit_name: str | None
    care_provider_hsa_id: str
    care_provider_name: str
    name: str | None = None

    @property
    def allows_care(self) -> bool:
        return self.purpose == CARE_PURPOSE

    def as_claim(self) -> dict[str, str]:
        """The allCommissions element describing this commission (see the module docstring)."""
        fields = {
            COMMISSION_HSA_ID: self.hsa_id,
            COMMISSION_NAME: self.name,
            COMMISSION_PURPOSE: self.purpose,
            CARE_UNIT_HSA_ID: self.care_unit_hsa_id,
            CARE_UNIT_NAME: self.care_unit_name,
            CARE_PROVIDER_HSA_ID: self.care_provider_hsa_id,
            CARE_PROVIDER_NAME: self.care_provider_name,
        }
        return {key: value for key, value in fields.items() if value is not None}


@dataclass(frozen=True)
class StaffIdentity:
    """Who logged in, with every commission the IdP reported."""

    subject: str
    employee_hsa_id: str
    given_name: str
    surname: str
    personal_identity_number: str | None
    assurance_level: str
    commissions: tuple[Commission, ...]

    def care_commissions(self) -> tuple[Commission, ...]:
        """The commissions whose purpose is exactly "Vård och behandling": only these may open records."""
        return tuple(commission for commission in self.commissions if commission.allows_care)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form (e.g. for the session while the user picks a commission)."""
        return {
            "subject": self.subject,
            "employee_hsa_id": self.employee_hsa_id,
            "given_name": self.given_name,
            "surname": self.surname,
            "personal_identity_number": self.personal_identity_number,
            "assurance_level": self.assurance_level,
            "commissions": [
                {
                    "hsa_id": c.hsa_id,
                    "purpose": c.purpose,
                    "care_unit_hsa_id": c.care_unit_hsa_id,
                    "care_unit_name": c.care_unit_name,
                    "care_provider_hsa_id": c.care_provider_hsa_id,
                    "care_provider_name": c.care_provider_name,
                    "name": c.name,
                }
                for c in self.commissions
            ],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StaffIdentity:
        """The inverse of as_dict (for data Ympa stored itself; not a parser of IdP claims)."""
        return cls(
            subject=data["subject"],
            employee_hsa_id=data["employee_hsa_id"],
            given_name=data["given_name"],
            surname=data["surname"],
            personal_identity_number=data["personal_identity_number"],
            assurance_level=data["assurance_level"],
            commissions=tuple(Commission(**item) for item in data["commissions"]),
        )


def parse_staff_identity(claims: Mapping[str, Any], *, today: date | None = None) -> StaffIdentity:
    """Read validated ID token claims. Raises OidcError: claims_invalid, hsa_id_invalid, personnummer_invalid.

    `today` decides which birth dates lie in the future when the personal identity number is checked.
    """
    subject = _required_text(claims, "sub")
    personal_identity_number = _optional_text(claims, CLAIM_PERSONAL_IDENTITY_NUMBER)
    if personal_identity_number is not None:
        try:
            personal_identity_number = parse_personnummer(personal_identity_number, today=today).value
        except IdentifierError as exc:
            raise OidcError(
                "personnummer_invalid",
                f"The claim {CLAIM_PERSONAL_IDENTITY_NUMBER} is not a valid personal identity number"
                f" ({exc.code}).",
            ) from exc
    raw_commissions = claims.get(CLAIM_ALL_COMMISSIONS, [])
    if not isinstance(raw_commissions, list):
        raise OidcError("claims_invalid", f"The claim {CLAIM_ALL_COMMISSIONS} is not a JSON array.")
    return StaffIdentity(
        subject=subject,
        employee_hsa_id=_hsa_id(_required_text(claims, CLAIM_EMPLOYEE_HSA_ID), CLAIM_EMPLOYEE_HSA_ID),
        given_name=_optional_text(claims, CLAIM_GIVEN_NAME) or "",
        surname=_required_text(claims, CLAIM_FAMILY_NAME),
        personal_identity_number=personal_identity_number,
        assurance_level=_required_text(claims, CLAIM_ACR),
        commissions=tuple(_commission(item, index) for index, item in enumerate(raw_commissions)),
    )


def _commission(item: object, index: int) -> Commission:
    where = f"{CLAIM_ALL_COMMISSIONS}[{index}]"
    if not isinstance(item, dict):
        raise OidcError("claims_invalid", f"{where} is not a JSON object.")
    return Commission(
        hsa_id=_optional_hsa_id(item, COMMISSION_HSA_ID, where),
        purpose=_required_text(item, COMMISSION_PURPOSE, where),
        care_unit_hsa_id=_optional_hsa_id(item, CARE_UNIT_HSA_ID, where),
        care_unit_name=_optional_text(item, CARE_UNIT_NAME, where),
        care_provider_hsa_id=_hsa_id(
            _required_text(item, CARE_PROVIDER_HSA_ID, where), f"{where}.{CARE_PROVIDER_HSA_ID}"
        ),
        care_provider_name=_required_text(item, CARE_PROVIDER_NAME, where),
        name=_optional_text(item, COMMISSION_NAME, where),
    )


def _optional_hsa_id(data: Mapping[str, Any], key: str, where: str) -> str | None:
    value = _optional_text(data, key, where)
    return None if value is None else _hsa_id(value, f"{where}.{key}")


def _hsa_id(value: str, where: str) -> str:
    try:
        return parse_hsa_id(value)
    except IdentifierError as exc:
        raise OidcError("hsa_id_invalid", f"{where} is not a valid HSA-id ({exc.code}).") from exc


def _optional_text(data: Mapping[str, Any], key: str, where: str = "") -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise OidcError("claims_invalid", f"The claim {_path(where, key)} is not a non-empty string.")
    return value.strip()


def _required_text(data: Mapping[str, Any], key: str, where: str = "") -> str:
    value = _optional_text(data, key, where)
    if value is None:
        raise OidcError("claims_invalid", f"The claim {_path(where, key)} is missing.")
    return value


def _path(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key
