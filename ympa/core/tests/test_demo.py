from __future__ import annotations

import io
from collections import Counter
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from ympa.access.models import AuditEvent
from ympa.authn.models import ApiToken, User
from ympa.booking.models import WaitingListEntry
from ympa.core.demo import STAFF, STOCK_DAYS, demo_load, demo_print_logins
from ympa.inventory.models import FlagKind, Movement, MovementKind, StockFlag
from ympa.inventory.selectors import stock_verify, to_order, unit_balances
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
    assert WaitingListEntry.objects.filter(ended_at__isnull=True).count() == 2

    counts = (Patient.objects.count(), Vaccination.objects.count(), AuditEvent.objects.count())
    assert demo_load() == (False, 200, vaccinations)
    assert (Patient.objects.count(), Vaccination.objects.count(), AuditEvent.objects.count()) == counts


def test_demo_clinics_keep_their_stock_in_ympa() -> None:
    demo_load()
    assert stock_verify() == []
    kinds = Counter(Movement.objects.values_list("kind", flat=True))
    assert kinds[MovementKind.RECEIPT] and kinds[MovementKind.ADMINISTERED] and kinds[MovementKind.WASTAGE]
    units = CareUnit.objects.filter(is_test_data=True).select_related("care_provider")
    for unit in units:
        assert "inventory" in unit.care_provider.modules
        balances = unit_balances(unit=unit)
        assert balances and all(
            row.batch.in_use_hours is None and not row.batch.multi_dose for row in balances
        )
    assert any(to_order(unit=unit) for unit in units)
    # Doses are booked from the delivered batches, only those given since the clinics kept stock in Ympa.
    since = timezone.localdate() - timedelta(days=STOCK_DAYS)
    for dose in Movement.objects.filter(kind=MovementKind.ADMINISTERED).select_related(
        "vaccination", "batch"
    ):
        assert dose.vaccination is not None and timezone.localdate(dose.occurred_at) >= since
        assert dose.care_unit_id == dose.vaccination.care_unit_id
    booked = Movement.objects.filter(kind=MovementKind.ADMINISTERED)
    assert (
        not booked.filter(batch__registered_from_dose=True)
        .exclude(batch__batch_number__endswith="X")
        .exists()
    )
    # The one flag: a correction that names a batch no delivery brought.
    flagged = StockFlag.objects.values_list("kind", "batch__batch_number")
    assert {kind for kind, _number in flagged} == {FlagKind.UNKNOWN_BATCH, FlagKind.NEGATIVE}
    assert all(number.endswith("X") for _kind, number in flagged)


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
