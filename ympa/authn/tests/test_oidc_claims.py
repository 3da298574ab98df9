"""Reading Inera's healthcare claims into a StaffIdentity. Pure Python, no network, no database."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from ympa.authn.oidc import CARE_PURPOSE, LOA3, OidcError
from ympa.authn.oidc.claims import parse_staff_identity

TODAY = date(2026, 11, 25)
COMMISSION = {
    "commissionHsaId": "SE5599000014-M1",
    "commissionName": "Sjuksköterska, City",
    "commissionPurpose": CARE_PURPOSE,
    "healthCareUnitHsaId": "SE5599000014-E1001",
    "healthCareUnitName": "Vaccinkliniken City (demo)",
    "healthCareProviderHsaId": "SE5599000014-CLIN",
    "healthCareProviderName": "Vaccinkliniken Ympa Demo AB",
}


def claims(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "sub": "subject-1",
        "acr": LOA3,
        "employeeHsaId": "se5599000014-sarassk",
        "given_name": "Sara",
        "family_name": "Sjuksköterska",
        "credentialPersonalIdentityNumber": "191212121212",
        "allCommissions": [COMMISSION],
    }
    data.update(overrides)
    return {name: value for name, value in data.items() if value is not None}


def code_of(data: dict[str, Any]) -> str:
    with pytest.raises(OidcError) as caught:
        parse_staff_identity(data, today=TODAY)
    return caught.value.code


def test_a_complete_set_of_claims() -> None:
    identity = parse_staff_identity(claims(), today=TODAY)
    assert identity.subject == "subject-1"
    assert identity.employee_hsa_id == "SE5599000014-sarassk"  # the SE prefix normalised
    assert (identity.given_name, identity.surname) == ("Sara", "Sjuksköterska")
    assert identity.personal_identity_number == "191212121212"
    assert identity.assurance_level == LOA3
    [commission] = identity.commissions
    assert commission.hsa_id == "SE5599000014-M1"
    assert commission.name == "Sjuksköterska, City"
    assert (commission.care_unit_hsa_id, commission.care_unit_name) == (
        "SE5599000014-E1001",
        "Vaccinkliniken City (demo)",
    )
    assert (commission.care_provider_hsa_id, commission.care_provider_name) == (
        "SE5599000014-CLIN",
        "Vaccinkliniken Ympa Demo AB",
    )
    assert identity.care_commissions() == (commission,)
    assert commission.as_claim() == {**COMMISSION}


def test_purpose_is_compared_exactly() -> None:
    variants = ["vård och behandling", "Vård och behandling ", "Vard och behandling", "Statistik"]
    commissions = [{**COMMISSION, "commissionPurpose": purpose} for purpose in variants]
    identity = parse_staff_identity(claims(allCommissions=[*commissions, COMMISSION]), today=TODAY)
    assert len(identity.commissions) == 5
    # Surrounding whitespace is dropped when reading, so only the second variant becomes a care commission.
    assert [c.purpose for c in identity.care_commissions()] == [CARE_PURPOSE, CARE_PURPOSE]


def test_optional_parts() -> None:
    provider_level = {k: v for k, v in COMMISSION.items() if not k.startswith("healthCareUnit")}
    del provider_level["commissionHsaId"]
    identity = parse_staff_identity(
        claims(given_name=None, credentialPersonalIdentityNumber=None, allCommissions=[provider_level]),
        today=TODAY,
    )
    assert identity.given_name == "" and identity.personal_identity_number is None
    [commission] = identity.commissions
    assert (
        commission.hsa_id is None
        and commission.care_unit_hsa_id is None
        and commission.care_unit_name is None
    )
    assert commission.allows_care
    assert parse_staff_identity(claims(allCommissions=None), today=TODAY).commissions == ()


def test_samordningsnummer_is_a_personal_identity_number() -> None:
    identity = parse_staff_identity(claims(credentialPersonalIdentityNumber="19701063-2391"), today=TODAY)
    assert identity.personal_identity_number == "197010632391"


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"sub": None}, "claims_invalid"),
        ({"acr": None}, "claims_invalid"),
        ({"employeeHsaId": None}, "claims_invalid"),
        ({"family_name": ""}, "claims_invalid"),
        ({"family_name": 12}, "claims_invalid"),
        ({"allCommissions": {"commissionHsaId": "SE5599000014-M1"}}, "claims_invalid"),
        ({"allCommissions": ["SE5599000014-M1"]}, "claims_invalid"),
        ({"allCommissions": [{**COMMISSION, "commissionPurpose": None}]}, "claims_invalid"),
        ({"allCommissions": [{**COMMISSION, "healthCareProviderName": None}]}, "claims_invalid"),
        ({"allCommissions": [{**COMMISSION, "healthCareUnitName": ["City"]}]}, "claims_invalid"),
        ({"employeeHsaId": "SE5599000015-sarassk"}, "hsa_id_invalid"),  # wrong check digit
        ({"employeeHsaId": "sarassk"}, "hsa_id_invalid"),
        ({"allCommissions": [{**COMMISSION, "healthCareUnitHsaId": "SE5599000014-Å1"}]}, "hsa_id_invalid"),
        ({"allCommissions": [{**COMMISSION, "healthCareProviderHsaId": "SE5599000014-"}]}, "hsa_id_invalid"),
        (
            {"allCommissions": [{**COMMISSION, "commissionHsaId": "SE5599000014-" + "x" * 30}]},
            "hsa_id_invalid",
        ),
        ({"credentialPersonalIdentityNumber": "191212121213"}, "personnummer_invalid"),
        ({"credentialPersonalIdentityNumber": "20301231-0029"}, "personnummer_invalid"),  # born in the future
        ({"credentialPersonalIdentityNumber": 191212121212}, "claims_invalid"),
    ],
)
def test_invalid_claims_make_the_token_unusable(overrides: dict[str, Any], code: str) -> None:
    assert code_of(claims(**overrides)) == code
