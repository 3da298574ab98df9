"""Booking personas and data: provider A uses the booking module at clinic A, with one public appointment
type, one vaccinator and a factory for slots (made directly, so tests of booking do not depend on slot
generation)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from ympa.booking.models import AppointmentType, Resource, Slot
from ympa.catalog.models import Product
from ympa.orgs.models import CareProvider, CareUnit


@pytest.fixture
def booking_provider(provider_a: CareProvider, provider_b: CareProvider, standing_orders: None) -> None:
    for provider in (provider_a, provider_b):
        provider.modules = ["journal", "booking"]
        provider.save(update_fields=["modules"])


@pytest.fixture
def appointment_type(booking_provider: None, unit_a: CareUnit, vaccine: Product) -> AppointmentType:
    kind = AppointmentType.objects.create(care_unit=unit_a, name="Vaccination", duration_minutes=10)
    kind.products.add(vaccine)
    return kind


@pytest.fixture
def vaccinator(unit_a: CareUnit) -> Resource:
    return Resource.objects.create(care_unit=unit_a, name="Rum 1")


@pytest.fixture
def make_slots(appointment_type: AppointmentType, vaccinator: Resource) -> Callable[..., list[Slot]]:
    """`count` consecutive slots of the type's duration from `start` (default: tomorrow 09:00)."""

    def build(count: int = 5, start: datetime | None = None, **changes: Any) -> list[Slot]:
        kind = changes.pop("appointment_type", appointment_type)
        resource = changes.pop("resource", vaccinator)
        first = start or timezone.localtime().replace(hour=9, minute=0, second=0, microsecond=0) + timedelta(
            days=1
        )
        step = timedelta(minutes=kind.duration_minutes)
        return Slot.objects.bulk_create(
            Slot(
                care_unit=kind.care_unit,
                appointment_type=kind,
                resource=resource,
                starts_at=first + i * step,
                ends_at=first + (i + 1) * step,
                **changes,
            )
            for i in range(count)
        )

    return build


@pytest.fixture(autouse=True)
def english(settings: Any) -> None:
    """The booking tests read the pages in English (the language a visitor may choose); Swedish, the
    default, is checked by the translation tests."""
    settings.LANGUAGE_CODE = "en"
