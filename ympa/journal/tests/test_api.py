from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from conftest import actor_of
from ympa.access.models import Action, AuditEvent
from ympa.access.pdl_services import care_relation_register
from ympa.authn.models import ApiToken, User
from ympa.authn.services import api_token_create
from ympa.journal.models import EntryStatus, Vaccination
from ympa.journal.services import Administration, vaccination_record
from ympa.patients.models import Patient

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("standing_orders")]
Build = Callable[..., Administration]


class Api:
    def __init__(self, user: User) -> None:
        assignment = user.assignments.get()
        _record, self.token = api_token_create(user=user, assignment=assignment)
        self.client = Client()

    def call(self, method: str, path: str, body: dict[str, Any] | None = None, **headers: str) -> Any:
        return getattr(self.client, method)(
            f"/api/v1{path}",
            data=json.dumps(body) if body is not None else None,
            content_type="application/json",
            headers={"Authorization": f"Bearer {self.token}", **headers},
        )


def payload(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "administered_at": (timezone.now() - timedelta(minutes=5)).isoformat(),
        "product": "vaxigriptetra",
        "batch_number": "AB1234",
        "dose_number": 1,
        "site": "left_deltoid",
        "route": "IM",
        "dose_volume_ml": "0.5",
        "batch_expiry": (timezone.localdate() + timedelta(days=100)).isoformat(),
    }
    body.update(changes)
    return body


def test_healthz_and_openapi(client: Client) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "database": connection.vendor}
    schema = client.get("/api/v1/openapi.json").json()
    assert schema["info"]["title"] == "Ympa API"
    assert "/api/v1/patients/{patient_id}/vaccinations" in schema["paths"]


def test_requests_without_a_valid_token_are_refused(citizen: Patient) -> None:
    client = Client()
    assert client.get(f"/api/v1/patients/{citizen.pk}").status_code == 401
    response = client.get(f"/api/v1/patients/{citizen.pk}", headers={"Authorization": "Bearer ympa_wrong"})
    assert response.status_code == 401
    assert not AuditEvent.objects.filter(action=Action.READ).exists()


def test_revoked_token_is_refused(nurse_a: User, citizen: Patient) -> None:
    api = Api(nurse_a)
    ApiToken.objects.update(revoked_at=timezone.now())
    assert api.call("get", f"/patients/{citizen.pk}").status_code == 401


def test_read_patient_is_logged_with_the_api_channel(nurse_a: User, citizen: Patient) -> None:
    response = Api(nurse_a).call("get", f"/patients/{citizen.pk}")
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    assert response.json()["identifier"] == "191212121212"
    event = AuditEvent.objects.get(action=Action.READ)
    assert event.channel == "api" and event.user == nurse_a


def test_protected_identity_never_sent(nurse_a: User, citizen: Patient) -> None:
    Patient.objects.filter(pk=citizen.pk).update(protected_identity=True)
    api = Api(nurse_a)
    for path in (f"/patients/{citizen.pk}", "/patients?q=Tolvan"):
        body = api.call("get", path).content
        assert b"Testgatan" not in body and b"46701234567" not in body


def test_register_patient_with_invalid_identifier(nurse_a: User) -> None:
    response = Api(nurse_a).call(
        "post", "/patients", {"identifier": "19121212-1213", "given_name": "A", "family_name": "B"}
    )
    assert response.status_code == 422
    assert "identifier" in response.json()["errors"]
    assert not Patient.objects.exists()


def test_record_sign_idempotent(nurse_a: User, citizen: Patient) -> None:
    api = Api(nurse_a)
    first = api.call(
        "post", f"/patients/{citizen.pk}/vaccinations", payload(sign=True), **{"Idempotency-Key": "a1"}
    )
    assert first.status_code == 201, first.content
    assert first.json()["status"] == "signed"
    again = api.call(
        "post", f"/patients/{citizen.pk}/vaccinations", payload(sign=True), **{"Idempotency-Key": "a1"}
    )
    assert again.status_code == 200 and again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert Vaccination.objects.count() == 1


def test_future_time_and_naive_time_are_refused(nurse_a: User, citizen: Patient) -> None:
    api = Api(nurse_a)
    future = payload(administered_at=(timezone.now() + timedelta(hours=1)).isoformat())
    assert api.call("post", f"/patients/{citizen.pk}/vaccinations", future).status_code == 422
    naive = payload(administered_at="2025-01-01T10:00:00")
    assert api.call("post", f"/patients/{citizen.pk}/vaccinations", naive).status_code == 422
    assert not Vaccination.objects.exists()


def test_patch_signed_entry_answers_409_and_changes_nothing(
    nurse_a: User, citizen: Patient, administration: Build
) -> None:
    vaccination = vaccination_record(
        actor=actor_of(nurse_a), patient=citizen, data=administration(), sign=True
    )
    response = Api(nurse_a).call("patch", f"/vaccinations/{vaccination.pk}", payload(batch_number="CHANGED"))
    assert response.status_code == 409
    assert response.json()["code"] == "entry_signed"
    assert vaccination.versions.get().batch_number == "AB1234"


def test_draft_patch_sign_correct_nullify(nurse_a: User, citizen: Patient) -> None:
    api = Api(nurse_a)
    created = api.call("post", f"/patients/{citizen.pk}/vaccinations", payload()).json()
    path = f"/vaccinations/{created['id']}"
    assert api.call("patch", path, payload(dose_number=2)).json()["current"]["dose_number"] == 2
    assert api.call("post", f"{path}/sign").json()["status"] == "signed"
    corrected = api.call("post", f"{path}/correct", {**payload(dose_number=3), "reason": "Dose 3"}).json()
    assert [v["number"] for v in corrected["versions"]] == [2, 1]
    assert corrected["current"]["correction_reason"] == "Dose 3"
    nullified = api.call("post", f"{path}/nullify", {"reason": "Wrong patient"}).json()
    assert nullified["status"] == EntryStatus.NULLIFIED
    listed = api.call("get", f"/patients/{citizen.pk}/vaccinations").json()
    assert [v["status"] for v in listed] == ["nullified"]


def test_assistant_cannot_sign_through_the_api(assistant_a: User, citizen: Patient) -> None:
    response = Api(assistant_a).call("post", f"/patients/{citizen.pk}/vaccinations", payload(sign=True))
    assert response.status_code == 403
    assert not Vaccination.objects.exists()


def test_other_provider_gets_404(
    nurse_a: User, nurse_b: User, citizen: Patient, administration: Build
) -> None:
    vaccination = vaccination_record(
        actor=actor_of(nurse_a), patient=citizen, data=administration(), sign=True
    )
    api = Api(nurse_b)
    assert api.call("get", f"/vaccinations/{vaccination.pk}").status_code == 404
    assert api.call("post", f"/vaccinations/{vaccination.pk}/nullify", {"reason": "x"}).status_code == 404
    # No care relation: not even the list. With one, provider A's entries stay hidden (no consent).
    assert api.call("get", f"/patients/{citizen.pk}/vaccinations").status_code == 403
    care_relation_register(actor=actor_of(nurse_b), patient=citizen, purpose="Vaccination")
    assert api.call("get", f"/patients/{citizen.pk}/vaccinations").json() == []


def test_adverse_event_through_the_api(nurse_a: User, citizen: Patient, administration: Build) -> None:
    vaccination = vaccination_record(
        actor=actor_of(nurse_a), patient=citizen, data=administration(), sign=True
    )
    api = Api(nurse_a)
    response = api.call(
        "post",
        f"/vaccinations/{vaccination.pk}/adverse-events",
        {"symptoms": ["fever"], "onset_at": timezone.now().isoformat(), "severity": "mild"},
    )
    assert response.status_code == 201
    assert api.call("get", f"/vaccinations/{vaccination.pk}/adverse-events").json()[0]["symptoms"] == [
        "fever"
    ]


def test_unknown_product_is_a_field_error(nurse_a: User, citizen: Patient) -> None:
    response = Api(nurse_a).call("post", f"/patients/{citizen.pk}/vaccinations", payload(product="nope"))
    assert response.status_code == 422 and "product" in response.json()["errors"]
