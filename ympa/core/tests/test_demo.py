from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from ympa.access.models import AuditEvent
from ympa.authn.models import ApiToken, User
from ympa.core.demo import STAFF, demo_load, demo_print_logins
from ympa.journal.models import AdverseEvent, EntryStatus, Vaccination
from ympa.orgs.models import Assignment, CareProvider, CareUnit
from ympa.orgs.rights import Role
from ympa.patients.models import Guardianship, Patient

pytestmark = pytest.mark.django_db


def test_demo_is_complete_and_idempotent() -> None:
    created, patients, vaccinations = demo_load()
    assert created and patients == 200
    assert 900 <= vaccinations <= 1200
    assert CareProvider.objects.filter(is_test_data=True).count() == 2
    assert CareProvider.objects.values("region").distinct().count() == 2
    assert CareUnit.objects.filter(is_test_data=True).count() == 4
    assert set(Assignment.objects.values_list("role", flat=True)) == set(Role)
    assert Patient.objects.count() == 200 and not Patient.objects.filter(is_test_data=False).exists()
    assert Patient.objects.filter(protected_identity=True).exists()
    assert Guardianship.objects.exists()
    tolvan = Patient.objects.get(identifier="191212121212")
    signed = Vaccination.objects.filter(patient=tolvan, status=EntryStatus.SIGNED)
    assert signed.count() >= 5
    assert signed.values("care_unit__care_provider").distinct().count() == 2
    assert Vaccination.objects.filter(status=EntryStatus.DRAFT).exists()
    assert Vaccination.objects.filter(status=EntryStatus.NULLIFIED).exists()
    assert Vaccination.objects.filter(versions__number=2).exists()
    assert AdverseEvent.objects.exists()
    assert AuditEvent.objects.count() > vaccinations

    counts = (Patient.objects.count(), Vaccination.objects.count(), AuditEvent.objects.count())
    assert demo_load() == (False, 200, vaccinations)
    assert (Patient.objects.count(), Vaccination.objects.count(), AuditEvent.objects.count()) == counts


def test_printed_logins_name_every_account() -> None:
    out = io.StringIO()
    demo_print_logins(out, base_url="http://127.0.0.1:8000")
    for username, *_rest in STAFF:
        assert username in out.getvalue()


def test_totp_and_api_token_commands(nurse_a: User) -> None:
    User.objects.filter(pk=nurse_a.pk).update(is_test_data=True)
    out = io.StringIO()
    call_command("totp", "nurse_a", stdout=out)
    assert out.getvalue().strip().isdigit()
    real = User.objects.create_user("real", password="x" * 12, totp_secret="JBSWY3DPEHPK3PXP")
    with pytest.raises(CommandError):
        call_command("totp", real.username)
    out = io.StringIO()
    call_command("api_token", "nurse_a", stdout=out)
    assert out.getvalue().startswith("ympa_") and ApiToken.objects.count() == 1
    with pytest.raises(CommandError):
        call_command("api_token", "nobody")
