"""The periodic task closes expired multi-dose vials and wastes what is left in them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from conftest import actor_of
from ympa.authn.models import User
from ympa.inventory.models import Batch, Movement, MovementKind, Vial, WastageReason
from ympa.inventory.selectors import stock_verify
from ympa.inventory.services import vial_open
from ympa.inventory.tasks import expire_open_vials

pytestmark = pytest.mark.django_db


def test_the_task_closes_expired_vials_once(nurse_a: User, receive: Callable[..., Any]) -> None:
    receive(nurse_a, packages=2, doses_per_package=10, doses_per_vial=10, in_use_hours=6)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        vial = vial_open(actor=actor_of(nurse_a), batch=Batch.objects.get())
    with time_machine.travel(start + timedelta(hours=5), tick=False):
        expire_open_vials.call_local()
        assert Vial.objects.get().closed_at is None
    with time_machine.travel(start + timedelta(hours=6), tick=False):
        expire_open_vials.call_local()
        expire_open_vials.call_local()
    vial.refresh_from_db()
    assert vial.closed_at == start + timedelta(hours=6)
    wasted = Movement.objects.get(kind=MovementKind.WASTAGE)
    assert (wasted.quantity, wasted.wastage_reason, wasted.vial_id) == (
        -10,
        WastageReason.OPENED_VIAL,
        vial.pk,
    )
    assert stock_verify() == []


def test_the_task_runs_every_five_minutes() -> None:
    task = expire_open_vials.task_class()
    minutes = [m for m in range(15) if task.validate_datetime(datetime(2026, 1, 1, 8, m, tzinfo=UTC))]
    assert minutes == [0, 5, 10]
