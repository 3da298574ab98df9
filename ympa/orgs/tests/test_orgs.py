from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.utils.translation import override

from conftest import actor_of, make_staff, staff_client
from ympa.access.models import AuditEvent
from ympa.authn.models import User
from ympa.core.errors import NotPermitted
from ympa.orgs.models import Assignment, CareProvider, CareUnit, Municipality, Region
from ympa.orgs.rights import DEFAULT_RIGHTS, Right, Role, effective_rights
from ympa.orgs.services import StaffDetails, assignment_end, care_provider_create, care_unit_create, staff_add

pytestmark = pytest.mark.django_db


def test_regions_and_municipalities_are_loaded() -> None:
    assert Region.objects.count() == 21
    assert Municipality.objects.count() == 290
    assert Municipality.objects.get(code="1480").region.name == "Västra Götalandsregionen"
    for municipality in Municipality.objects.select_related("region"):
        assert municipality.code.startswith(municipality.region.code)


def test_every_role_has_a_default_rights_row() -> None:
    assert set(DEFAULT_RIGHTS) == set(Role)
    assert Right.SIGN not in DEFAULT_RIGHTS[Role.RECEPTIONIST]
    assert effective_rights("nurse", ["order"], ["manage_stock"]) == (
        DEFAULT_RIGHTS[Role.NURSE] | {Right.ORDER}
    ) - {Right.MANAGE_STOCK}


def test_assignment_must_be_to_a_unit_or_a_region(unit_a: CareUnit, nurse_a: User) -> None:
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        Assignment.objects.create(
            user=nurse_a, care_unit=unit_a, region=Region.objects.get(code="01"), role="nurse"
        )


def test_invalid_hsa_id_and_org_number_are_field_errors() -> None:
    with override("en"), pytest.raises(ValidationError) as error:
        care_provider_create(
            hsa_id="SE123-X",
            name="X",
            organisation_number="559900-0018",
            region=Region.objects.get(code="01"),
            modules=[],
        )
    assert set(error.value.message_dict) == {"hsa_id", "organisation_number"}
    assert not CareProvider.objects.exists()


def test_unit_hsa_id_of_another_provider_is_refused(unit_a: CareUnit, provider_b: CareProvider) -> None:
    with pytest.raises(ValidationError):
        care_unit_create(
            care_provider=provider_b, hsa_id=unit_a.hsa_id, name="Copy", municipality=unit_a.municipality
        )


@pytest.fixture
def admin_a(unit_a: CareUnit) -> User:
    return make_staff("admin_a", Role.ADMINISTRATOR, unit=unit_a)


def test_unit_administrator_adds_staff_with_hsa_id(admin_a: User) -> None:
    user = staff_add(
        actor=actor_of(admin_a),
        details=StaffDetails(
            username="new_ssk",
            first_name="Ny",
            last_name="Sjuksköterska",
            role="nurse",
            hsa_id="se2321000016-abc1",
            rights_granted=("order",),
        ),
    )
    assert user.hsa_id == "SE2321000016-abc1"
    assignment = user.assignments.get()
    assert Right.ORDER in assignment.rights
    assert AuditEvent.objects.filter(object_type="orgs.assignment", user=admin_a).exists()


def test_invalid_staff_hsa_id_saves_nothing(admin_a: User) -> None:
    with pytest.raises(ValidationError) as error:
        staff_add(
            actor=actor_of(admin_a),
            details=StaffDetails(
                username="x", first_name="X", last_name="Y", role="nurse", hsa_id="SE2321000017-1"
            ),
        )
    assert "hsa_id" in error.value.message_dict
    assert not User.objects.filter(username="x").exists()


def test_nurse_cannot_administer_the_unit(nurse_a: User) -> None:
    with pytest.raises(NotPermitted):
        staff_add(
            actor=actor_of(nurse_a),
            details=StaffDetails(username="x", first_name="X", last_name="Y", role="nurse"),
        )
    assert not User.objects.filter(username="x").exists()


def test_end_assignment_keeps_it(admin_a: User, nurse_a: User) -> None:
    assignment = nurse_a.assignments.get()
    assignment_end(actor=actor_of(admin_a), assignment=assignment)
    assignment.refresh_from_db()
    assert assignment.valid_until is not None and not assignment.is_active()


def test_staff_page(admin_a: User, nurse_a: User) -> None:
    client = staff_client(admin_a)
    page = client.get("/unit/staff/")
    assert page.status_code == 200 and b"nurse_a" in page.content
    response = client.post(
        "/unit/staff/",
        {"username": "ny", "first_name": "Ny", "last_name": "Person", "role": "nurse", "hsa_id": "bad"},
    )
    assert response.status_code == 200 and b"invalid-feedback" in response.content
    assert staff_client(nurse_a).get("/unit/staff/").status_code == 403


def test_unit_administrator_chooses_the_schedules(
    admin_a: User, unit_a: CareUnit, django_capture_on_commit_callbacks: object
) -> None:
    from ympa.orgs.services import care_provider_set_schedule

    with pytest.raises(ValidationError):
        care_provider_set_schedule(actor=actor_of(admin_a), schedule_set="xx", options={})
    with pytest.raises(ValidationError):
        care_provider_set_schedule(
            actor=actor_of(admin_a), schedule_set="se", options={"tbe_shorter_interval_from_age": "55"}
        )
    with django_capture_on_commit_callbacks(execute=True) as callbacks:  # type: ignore[operator]
        care_provider_set_schedule(
            actor=actor_of(admin_a), schedule_set="se", options={"tbe_shorter_interval_from_age": "60"}
        )
    assert len(callbacks) == 1
    unit_a.care_provider.refresh_from_db()
    assert unit_a.care_provider.schedule_options == {"tbe_shorter_interval_from_age": "60"}
    assert AuditEvent.objects.filter(object_type="orgs.careprovider").exists()


def test_nurse_cannot_choose_schedules(nurse_a: User) -> None:
    from ympa.orgs.services import care_provider_set_schedule

    with pytest.raises(NotPermitted):
        care_provider_set_schedule(actor=actor_of(nurse_a), schedule_set="cdc", options={})
    assert staff_client(nurse_a).get("/unit/schedules/").status_code == 403


def test_schedules_page(admin_a: User, unit_a: CareUnit) -> None:
    client = staff_client(admin_a)
    assert b"kortare intervall" in client.get("/unit/schedules/").content
    assert client.post("/unit/schedules/", {"schedule_set": "cdc"}).status_code == 302
    unit_a.care_provider.refresh_from_db()
    assert unit_a.care_provider.schedule_set == "cdc"
