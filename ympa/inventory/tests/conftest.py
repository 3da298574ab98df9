"""Inventory personas: providers A and B keep their stock in Ympa; helpers to receive and record."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from django.utils import timezone

from conftest import actor_of
from ympa.authn.models import User
from ympa.catalog.models import Product
from ympa.inventory.models import Delivery
from ympa.inventory.services import ReceiptLine, delivery_receive
from ympa.orgs.models import CareProvider


@pytest.fixture
def stocked(provider_a: CareProvider, provider_b: CareProvider, standing_orders: None) -> None:
    for provider in (provider_a, provider_b):
        provider.modules = ["journal", "inventory"]
        provider.save(update_fields=["modules"])


@pytest.fixture
def receive(stocked: None, vaccine: Product) -> Callable[..., Delivery]:
    """Receive `packages` of a batch at the user's unit (one dose per package unless told)."""

    def build(user: User, batch_number: str = "AB1234", packages: int = 10, **changes: Any) -> Delivery:
        line: dict[str, Any] = {
            "product": vaccine,
            "batch_number": batch_number,
            "expiry": timezone.localdate() + timedelta(days=200),
            "packages": packages,
        }
        line.update(changes)
        return delivery_receive(actor=actor_of(user), supplier="Apoteket", lines=[ReceiptLine(**line)])

    return build


def days_from_today(days: int) -> date:
    return timezone.localdate() + timedelta(days=days)
