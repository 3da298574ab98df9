"""Doses for the recall tests (the care provider's list here, the officer's in `ympa.reporting`).

Provider A (region 01) has clinics A and A2, provider B (region 14) clinic B. `RecallWorld` gives doses of
batch XY123 at each, one of them at A2 to a patient who has blocked A2's information from the provider's
other units, one to a patient with protected identity, and doses that no recall of XY123 lists: another
batch, a nullified dose, and one given long before the others (outside a period).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from conftest import actor_of
from ympa.access.pdl_models import BlockType
from ympa.access.pdl_services import BlockRequest, block_register
from ympa.authn.models import User
from ympa.catalog.models import Product
from ympa.identifiers._common import luhn_check_digit
from ympa.journal.models import Vaccination
from ympa.journal.services import Administration, vaccination_nullify, vaccination_record
from ympa.orgs.models import CareUnit
from ympa.patients.models import Patient
from ympa.patients.services import PatientDetails, patient_register

STOCKHOLM = ZoneInfo("Europe/Stockholm")
NOW = datetime(2025, 6, 15, 12, 0, tzinfo=STOCKHOLM)
BATCH = "XY123"
OTHER_BATCH = "ZZ999"
PRODUCT = "vaxigriptetra"
REASON = "Ärende IVO-2025/88"
SECRET_PHONE, SECRET_ADDRESS, SECRET_POSTAL_CODE = "070-9998877", "Gömda gränd 7", "11199"


def at(year: int, month: int, day: int = 10) -> datetime:
    return datetime(year, month, day, 10, 0, tzinfo=STOCKHOLM)


def identifier(serial: int) -> str:
    payload = f"750101{serial:03d}"
    return f"19750101-{serial:03d}{luhn_check_digit(payload)}"


def displayed(patient: Patient) -> str:
    return f"{patient.identifier[:8]}-{patient.identifier[8:]}"


def register(nurse: User, serial: int, **details: Any) -> Patient:
    values: dict[str, Any] = {
        "given_name": f"Recall{serial}",
        "family_name": "Batchsson",
        "phone": "070-1112233",
    }
    return patient_register(
        actor=actor_of(nurse), identifier=identifier(serial), details=PatientDetails(**{**values, **details})
    )


def give(
    nurse: User, patient: Patient, given: datetime, batch: str = BATCH, sign: bool = True
) -> Vaccination:
    """A dose given by `nurse` at her unit, under its standing order (the `standing_orders` fixture)."""
    data = Administration(
        administered_at=given,
        product=Product.objects.get(code=PRODUCT),
        batch_number=batch,
        batch_expiry=given.date() + timedelta(days=365),
        dose_number=1,
        site="left_deltoid",
        route="IM",
        dose_volume_ml=Decimal("0.50"),
        override_reason="Decision support is not what this test is about",
    )
    return vaccination_record(actor=actor_of(nurse), patient=patient, data=data, sign=sign)


class RecallWorld:
    """Doses of XY123: at A (`at_a`, and `protected`, and `long_ago` in 2023), at A2 (`at_a2`, unsigned, and
    `blocked`, whose patient has an inner block on A2's information), at B (`at_b`). Not XY123: `other_batch`
    (at A, ZZ999) and `nullified` (at A, nullified)."""

    def __init__(self, nurse_a: User, nurse_a2: User, nurse_b: User, unit_a2: CareUnit) -> None:
        self.at_a = register(nurse_a, 11)
        self.protected = register(
            nurse_a,
            12,
            given_name="Hemlig",
            phone=SECRET_PHONE,
            street_address=SECRET_ADDRESS,
            postal_code=SECRET_POSTAL_CODE,
            city="Solna",
            protected_identity=True,
        )
        self.long_ago = register(nurse_a, 13)
        self.at_a2 = register(nurse_a2, 14, phone="070-4445566")
        self.blocked = register(nurse_a2, 15)
        self.at_b = register(nurse_b, 16)
        self.other_batch = register(nurse_a, 17)
        self.nullified = register(nurse_a, 18)
        give(nurse_a, self.at_a, at(2025, 4))
        give(nurse_a, self.at_a, at(2025, 5))
        give(nurse_a, self.protected, at(2025, 4))
        give(nurse_a, self.long_ago, at(2023, 1))
        give(nurse_a2, self.at_a2, at(2025, 4), sign=False)
        give(nurse_a2, self.blocked, at(2025, 4))
        give(nurse_b, self.at_b, at(2025, 4))
        give(nurse_a, self.other_batch, at(2025, 5), batch=OTHER_BATCH)
        vaccination_nullify(
            actor=actor_of(nurse_a),
            vaccination=give(nurse_a, self.nullified, at(2025, 4)),
            reason="Fel patient",
        )
        self.block = block_register(
            actor=actor_of(nurse_a2), patient=self.blocked, request=BlockRequest(BlockType.INNER, unit_a2)
        )

    @property
    def everyone(self) -> list[Patient]:
        return [
            self.at_a,
            self.protected,
            self.long_ago,
            self.at_a2,
            self.blocked,
            self.at_b,
            self.other_batch,
            self.nullified,
        ]
