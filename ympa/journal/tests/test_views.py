from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from conftest import actor_of, staff_client
from ympa.access.models import Action, AuditEvent
from ympa.access.pdl_services import care_relation_register
from ympa.authn.models import User
from ympa.journal.models import EntryStatus, Vaccination
from ympa.journal.services import Administration, vaccination_record
from ympa.patients.models import Patient

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("standing_orders")]
Build = Callable[..., Administration]


def form_for(administration: Administration, **extra: str) -> dict[str, str]:
    data = {
        "product": administration.product.code,
        "administered_at": timezone.localtime(administration.administered_at).strftime("%Y-%m-%dT%H:%M"),
        "batch_number": administration.batch_number,
        "batch_expiry": administration.batch_expiry.isoformat() if administration.batch_expiry else "",
        "dose_number": str(administration.dose_number),
        "dose_volume_ml": str(administration.dose_volume_ml or ""),
        "site": administration.site,
        "route": administration.route,
        "note": "",
    }
    data.update(extra)
    return data


def test_login_required(client: Client, citizen: Patient) -> None:
    response = client.get(f"/patients/{citizen.pk}/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert not AuditEvent.objects.filter(action=Action.READ).exists()


def test_overview_is_logged_and_not_cached(nurse_a: User, citizen: Patient) -> None:
    response = staff_client(nurse_a).get(f"/patients/{citizen.pk}/")
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    assert b"Tolvansson" in response.content
    assert AuditEvent.objects.filter(action=Action.READ, patient=citizen, user=nurse_a).count() == 1


def test_protected_identity_hides_contact_details(nurse_a: User, citizen: Patient) -> None:
    Patient.objects.filter(pk=citizen.pk).update(protected_identity=True)
    response = staff_client(nurse_a).get(f"/patients/{citizen.pk}/")
    assert b"Testgatan" not in response.content and b"+46701234567" not in response.content


def test_record_and_sign_through_the_form(nurse_a: User, citizen: Patient, administration: Build) -> None:
    client = staff_client(nurse_a)
    page = client.get(f"/patients/{citizen.pk}/vaccinations/new/?product=vaxigriptetra")
    key = re.search(rb'name="idempotency_key" value="([0-9a-f]+)"', page.content)
    assert key is not None
    data = form_for(administration(), idempotency_key=key.group(1).decode(), action="sign")
    response = client.post(f"/patients/{citizen.pk}/vaccinations/new/", data)
    assert response.status_code == 302
    # A double submit (same form posted again) does not create a second record.
    client.post(f"/patients/{citizen.pk}/vaccinations/new/", data)
    vaccination = Vaccination.objects.get()
    assert vaccination.status == EntryStatus.SIGNED


def test_form_shows_field_errors_and_saves_nothing(
    nurse_a: User, citizen: Patient, administration: Build
) -> None:
    data = form_for(
        administration(administered_at=timezone.now() + timedelta(hours=2)),
        idempotency_key="abc",
        action="sign",
    )
    response = staff_client(nurse_a).post(f"/patients/{citizen.pk}/vaccinations/new/", data)
    assert response.status_code == 200
    assert b"framtiden" in response.content
    assert not Vaccination.objects.exists()


def test_defaults_come_from_the_last_batch_at_the_unit(
    nurse_a: User, citizen: Patient, administration: Build
) -> None:
    vaccination_record(
        actor=actor_of(nurse_a),
        patient=citizen,
        data=administration(batch_number="LAST77", site="right_deltoid"),
        sign=True,
    )
    page = staff_client(nurse_a).get(
        f"/patients/{citizen.pk}/vaccinations/new/?product=vaxigriptetra", HTTP_HX_REQUEST="true"
    )
    assert b'value="LAST77"' in page.content
    assert b'<option value="right_deltoid" selected>' in page.content
    assert b'name="dose_number" value="2"' in page.content


def test_editing_a_signed_entry_answers_409(nurse_a: User, citizen: Patient, administration: Build) -> None:
    vaccination = vaccination_record(
        actor=actor_of(nurse_a), patient=citizen, data=administration(), sign=True
    )
    client = staff_client(nurse_a)
    response = client.post(
        f"/vaccinations/{vaccination.pk}/edit/",
        form_for(administration(batch_number="CHANGED"), action="draft"),
    )
    assert response.status_code == 409
    assert vaccination.versions.get().batch_number == "AB1234"


def test_correct_and_nullify_through_the_ui(nurse_a: User, citizen: Patient, administration: Build) -> None:
    vaccination = vaccination_record(
        actor=actor_of(nurse_a), patient=citizen, data=administration(), sign=True
    )
    client = staff_client(nurse_a)
    response = client.post(
        f"/vaccinations/{vaccination.pk}/correct/",
        form_for(administration(batch_number="AB5678"), reason="Batch misread"),
    )
    assert response.status_code == 302
    detail = client.get(f"/vaccinations/{vaccination.pk}/")
    assert b"AB1234" in detail.content and b"AB5678" in detail.content and b"Batch misread" in detail.content
    client.post(f"/vaccinations/{vaccination.pk}/nullify/", {"reason": "Wrong patient"})
    vaccination.refresh_from_db()
    assert vaccination.status == EntryStatus.NULLIFIED


def test_other_provider_cannot_see_the_entry(
    nurse_a: User, nurse_b: User, citizen: Patient, administration: Build
) -> None:
    vaccination = vaccination_record(
        actor=actor_of(nurse_a), patient=citizen, data=administration(), sign=True
    )
    client = staff_client(nurse_b)
    assert client.get(f"/vaccinations/{vaccination.pk}/").status_code == 404
    # Without a care relation, not even the overview.
    assert b"AB1234" not in client.get(f"/patients/{citizen.pk}/").content
    care_relation_register(actor=actor_of(nurse_b), patient=citizen, purpose="Vaccination")
    assert client.get(f"/vaccinations/{vaccination.pk}/").status_code == 404
    overview = client.get(f"/patients/{citizen.pk}/")
    assert b"AB1234" not in overview.content
    assert b'data-testid="hidden-entries"' in overview.content


def test_receptionist_gets_403_on_recording(
    receptionist_a: User, citizen: Patient, administration: Build
) -> None:
    response = staff_client(receptionist_a).post(
        f"/patients/{citizen.pk}/vaccinations/new/",
        form_for(administration(), idempotency_key="x", action="draft"),
    )
    assert response.status_code == 403
    assert not Vaccination.objects.exists()


def test_english_is_selectable(nurse_a: User, citizen: Patient) -> None:
    client = staff_client(nurse_a)
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert b"Register vaccination" in client.get(f"/patients/{citizen.pk}/").content
    client.post("/i18n/setlang/", {"language": "sv", "next": "/"})
    assert b"Registrera vaccination" in client.get(f"/patients/{citizen.pk}/").content


def test_list_views_use_a_constant_number_of_queries(
    nurse_a: User, citizen: Patient, administration: Build
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = staff_client(nurse_a)
    urls = (
        f"/patients/{citizen.pk}/",
        "/worklist/unsigned/?scope=unit",
        "/",
        "/patients/?q=Tolvan",
        "/worklist/due/",
    )

    def record(n: int, signed: bool) -> None:
        for index in range(n):
            vaccination_record(
                actor=actor_of(nurse_a),
                patient=citizen,
                data=administration(administered_at=timezone.now() - timedelta(days=400 * index + 1)),
                sign=signed,
            )

    def counts() -> list[int]:
        result = []
        for url in urls:
            with CaptureQueriesContext(connection) as captured:
                assert client.get(url).status_code == 200
            result.append(len(captured.captured_queries))
        return result

    record(1, signed=True)
    record(1, signed=False)
    few = counts()
    record(10, signed=True)
    record(10, signed=False)
    assert counts() == few
    # The overview reads the PDL facts (care relations, blocks, revokes, consents), checks the care relation
    # at the gate, and lists its own provider's blocks and consents: a constant handful of queries whatever
    # the history's size.
    assert max(few) <= 26
