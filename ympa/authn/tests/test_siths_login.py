"""SITHS login through the local test identity provider over loopback HTTP: the browser is the test client,
the person at the IdP's page is `TestIdp.choose`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse

from ympa.authn.assurance import SESSION_KEY, Assurance, LoginMethod
from ympa.authn.models import AuthEvent, AuthEventKind, User
from ympa.authn.oidc.claims import CARE_PURPOSE, Commission
from ympa.authn.oidc.idp_simulator import TestIdp, TestStaff
from ympa.authn.siths import SESSION_UNITS
from ympa.orgs.models import Assignment, CareUnit
from ympa.orgs.rights import Role

NURSE_HSA = "SE5599000014-nursea"
STRANGER_HSA = "SE5599000014-stranger"
SECRET = "test-idp-secret"


def _commission(unit: CareUnit, purpose: str, number: int) -> Commission:
    return Commission(
        hsa_id=f"{NURSE_HSA}U{number}",
        purpose=purpose,
        care_unit_hsa_id=unit.hsa_id,
        care_unit_name=unit.name,
        care_provider_hsa_id=unit.care_provider.hsa_id,
        care_provider_name=unit.care_provider.name,
    )


@pytest.fixture
def idp_staff(unit_a: CareUnit, unit_a2: CareUnit) -> list[TestStaff]:
    # The identity provider's HSA-ids are checked in full (the organisation number's check digit too).
    for unit, hsa_id in ((unit_a, "SE5599000014-A001"), (unit_a2, "SE5599000014-A002")):
        unit.hsa_id = hsa_id
        unit.save(update_fields=["hsa_id"])
    unit_a.care_provider.hsa_id = "SE5599000014-PRVA"
    unit_a.care_provider.save(update_fields=["hsa_id"])
    return [
        TestStaff(
            username="nurse_a",
            given_name="Nurse",
            surname="A",
            employee_hsa_id=NURSE_HSA,
            title="Sjuksköterska",
            # Care at clinic A; only statistics at clinic A2.
            commissions=(_commission(unit_a, CARE_PURPOSE, 1), _commission(unit_a2, "Statistik", 2)),
        ),
        TestStaff(
            username="stranger",
            given_name="Sigrid",
            surname="Främling",
            employee_hsa_id=STRANGER_HSA,
            title="Sjuksköterska",
            commissions=(),
        ),
    ]


@pytest.fixture
def idp(settings: Any, idp_staff: list[TestStaff]) -> Iterator[TestIdp]:
    callback = f"{django_settings.PUBLIC_URL}{reverse('authn:siths_callback')}"
    with TestIdp(
        client_id="ympa-test", client_secret=SECRET, redirect_uris=[callback], staff=idp_staff
    ) as server:
        settings.SITHS = {
            **settings.SITHS,
            "ISSUER": server.url,
            "CLIENT_ID": "ympa-test",
            "CLIENT_SECRET": SECRET,
        }
        yield server


@pytest.fixture
def nurse(nurse_a: User, unit_a2: CareUnit) -> User:
    nurse_a.hsa_id = NURSE_HSA
    nurse_a.save(update_fields=["hsa_id"])
    # Ympa also knows her at clinic A2, but the IdP does not vouch for care there.
    Assignment.objects.create(user=nurse_a, care_unit=unit_a2, role=Role.NURSE)
    return nurse_a


def _login(client: Client, idp: TestIdp, hsa_id: str) -> Any:
    start = client.get(reverse("authn:siths"))
    assert start.status_code == 302
    callback = urlsplit(idp.choose(start["Location"], hsa_id))
    return client.get(f"{callback.path}?{callback.query}")


@pytest.mark.django_db
def test_siths_login_offers_only_care_commissions(
    client: Client, idp: TestIdp, nurse: User, unit_a: CareUnit
) -> None:
    response = _login(client, idp, NURSE_HSA)
    assert response.status_code == 302
    assert response["Location"] == reverse("authn:assignment")
    assert client.get(response["Location"]).status_code == 302
    assert int(client.session["_auth_user_id"]) == nurse.pk
    assert client.session[SESSION_KEY]["method"] == LoginMethod.SITHS
    assert client.session[SESSION_KEY]["assurance"] == Assurance.HIGH
    assert client.session[SESSION_UNITS] == [unit_a.hsa_id]
    # The only assignment the commissions allow is chosen at once.
    assert client.session["assignment_id"] == Assignment.objects.get(user=nurse, care_unit=unit_a).pk
    page = client.get(reverse("authn:assignment")).content.decode()
    assert "Clinic A2" not in page
    assert AuthEvent.objects.filter(kind=AuthEventKind.LOGIN, user=nurse, method="siths").exists()


@pytest.mark.django_db
def test_an_assignment_outside_the_commissions_cannot_be_chosen(
    client: Client, idp: TestIdp, nurse: User, unit_a2: CareUnit
) -> None:
    _login(client, idp, NURSE_HSA)
    other = Assignment.objects.get(user=nurse, care_unit=unit_a2)
    response = client.post(reverse("authn:assignment"), {"assignment": other.pk})
    assert client.session.get("assignment_id") != other.pk
    assert response.status_code == 200
    # Nor can it be smuggled into the session: every request checks it against the commissions.
    session = client.session
    session["assignment_id"] = other.pk
    session.save()
    assert client.get(reverse("patients:search")).status_code == 302


@pytest.mark.django_db
def test_without_a_care_commission_no_patient_records(
    client: Client, idp: TestIdp, nurse: User, idp_staff: list[TestStaff]
) -> None:
    nurse.hsa_id = STRANGER_HSA
    nurse.save(update_fields=["hsa_id"])
    _login(client, idp, STRANGER_HSA)
    assert client.session[SESSION_UNITS] == []
    assert "assignment_id" not in client.session
    page = client.get(reverse("authn:assignment"))
    assert "Vård och behandling" in page.content.decode()
    response = client.get(reverse("patients:search"))
    assert response.status_code == 302
    assert response["Location"] == reverse("authn:assignment")


@pytest.mark.django_db
def test_an_unknown_hsa_id_is_refused(client: Client, idp: TestIdp, nurse: User) -> None:
    response = _login(client, idp, STRANGER_HSA)
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session
    assert AuthEvent.objects.filter(kind=AuthEventKind.LOGIN_FAILED, identity=STRANGER_HSA).exists()


@pytest.mark.django_db
def test_a_tampered_callback_is_refused(client: Client, idp: TestIdp, nurse: User) -> None:
    start = client.get(reverse("authn:siths"))
    callback = urlsplit(idp.choose(start["Location"], NURSE_HSA))
    tampered = callback.query.replace("state=", "state=x")
    response = client.get(f"{callback.path}?{tampered}")
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_a_callback_without_a_started_login_is_refused(client: Client, idp: TestIdp, nurse: User) -> None:
    response = client.get(reverse("authn:siths_callback") + "?code=abc&state=def")
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session
