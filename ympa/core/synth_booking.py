"""Synthetic data for the booking-surge benchmark: a public mass-vaccination appointment type at the first
synthetic unit, slots released now, and identified visitors' sessions.

The surge's measured step is "choose a slot and confirm", so the visitors are already identified: each
gets a Django session holding what the public pages' BankID or one-time-code step would have stored
(`ympa.booking.identity`), for an adult synthetic patient. Run it just before the surge: an identification
is valid for the session's idle timeout.
"""

from __future__ import annotations

import math
import secrets
import time
from dataclasses import dataclass
from datetime import date, timedelta
from datetime import time as clock

from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.db import transaction
from django.utils import timezone

from ympa.authn.models import User
from ympa.booking.identity import SESSION_KEY
from ympa.booking.models import AppointmentType, Audience, OpeningHours, Resource, SlotRelease
from ympa.booking.schedule import _generate
from ympa.catalog.models import Product
from ympa.core.dates import SWEDEN
from ympa.core.synth import nurse_username, synth_org
from ympa.orgs.models import Module
from ympa.patients.models import IdentifierKind, Patient

TYPE_NAME = "Massvaccination influensa (syntetisk)"
# Ten vaccinators, 08:00-20:00 every day, 5-minute slots: 1,440 slots a day.
RESOURCES = 10
OPENS, CLOSES = clock(8, 0), clock(20, 0)
SLOT_MINUTES = 5


@dataclass(frozen=True)
class BookingSynth:
    unit_hsa_id: str
    appointment_type_id: int
    release_id: int
    slots: int
    first_day: date
    last_day: date
    generate_seconds: float


def _unit_set_up() -> tuple[AppointmentType, list[Resource], User]:
    org = synth_org()
    first = org.units[0]
    provider = org.provider
    if Module.BOOKING.value not in provider.modules:
        provider.modules = [*provider.modules, Module.BOOKING.value]
        provider.save(update_fields=["modules"])
    unit = first.unit
    kind, created = AppointmentType.objects.get_or_create(
        care_unit=unit,
        name=TYPE_NAME,
        defaults={
            "duration_minutes": SLOT_MINUTES,
            "audience": Audience.PUBLIC,
            "vaccine_group": "Influenza",
        },
    )
    if created:
        kind.products.add(*Product.objects.filter(code="vaxigriptetra"))
    resources = [
        Resource.objects.get_or_create(care_unit=unit, name=f"Vaccinatör {n:02d}")[0]
        for n in range(1, RESOURCES + 1)
    ]
    if not OpeningHours.objects.filter(care_unit=unit).exists():
        OpeningHours.objects.bulk_create(
            OpeningHours(care_unit=unit, weekday=day, opens=OPENS, closes=CLOSES) for day in range(7)
        )
    nurse = User.objects.get(username=nurse_username(1, 1))
    return kind, resources, nurse


def synth_booking_release(*, slots: int) -> BookingSynth:
    """Release at least `slots` slots, from tomorrow on, bookable at once by anyone."""
    per_day = RESOURCES * ((CLOSES.hour - OPENS.hour) * 60 // SLOT_MINUTES)
    with transaction.atomic():
        kind, resources, nurse = _unit_set_up()
        started = time.perf_counter()
        # After every slot generated so far, so that each run releases new slots.
        latest = kind.slots.order_by("-starts_at").values_list("starts_at", flat=True).first()
        first_day = max(
            timezone.localdate() + timedelta(days=1),
            (latest.astimezone(SWEDEN).date() + timedelta(days=1)) if latest else date.min,
        )
        last_day = first_day + timedelta(days=math.ceil(slots / per_day) - 1)
        release = SlotRelease.objects.create(
            care_unit=kind.care_unit,
            appointment_type=kind,
            release_at=timezone.now(),
            note="Synthetic surge",
            created_by=nurse,
        )
        created = _generate(kind, resources, first_day, last_day, release)
        seconds = time.perf_counter() - started
    return BookingSynth(
        unit_hsa_id=kind.care_unit.hsa_id,
        appointment_type_id=kind.pk,
        release_id=release.pk,
        slots=created,
        first_day=first_day,
        last_day=last_day,
        generate_seconds=seconds,
    )


def synth_booking_sessions(*, count: int, seed: int = 1) -> list[str]:
    """`count` sessions of identified adults (synthetic patients with a personnummer, no booking yet)."""
    adult_before = timezone.localdate().replace(month=1, day=1) - timedelta(days=365 * 18)
    people = list(
        Patient.objects.filter(
            is_test_data=True,
            identifier_kind=IdentifierKind.PERSONNUMMER,
            birth_date__lt=adult_before,
            bookings__isnull=True,
        )
        .order_by("pk")
        .values_list("identifier", "given_name", "family_name")[:count]
    )
    if len(people) < count:
        raise ValueError(
            f"only {len(people)} synthetic adults without a booking; add patients with ympa synth"
        )
    now = time.time()
    expires = timezone.now() + timedelta(hours=8)
    rows: list[Session] = []
    keys: list[str] = []
    store = SessionStore()
    for identifier, given, family in people:
        key = secrets.token_hex(16)
        data = {
            SESSION_KEY: {
                "pnr": identifier,
                "method": "bankid",
                "when": now,
                "given_name": given,
                "family_name": family,
            }
        }
        rows.append(Session(session_key=key, session_data=store.encode(data), expire_date=expires))
        keys.append(key)
    Session.objects.bulk_create(rows, batch_size=1000)
    return keys
