"""The demo: two care providers in two regions, four care units, staff in every role, 200 synthetic patients
in families (one with protected identity), about 1,000 vaccinations, and the test person Tolvan Tolvansson.

Both providers keep their vaccine stock in Ympa, from STOCK_DAYS ago: the history before that is recorded
first, with the inventory module still off (those doses were given before the clinics kept stock here); then
every unit receives a delivery of the batches it will use, the recent doses are recorded from those batches
(signing books each one out of stock), some doses are wasted and reorder levels are set. One correction names
a batch no delivery brought, so a stock flag shows too.

Everything is written through the same services as the product (so the audit log is real) and marked as test
data. Loading twice changes nothing.
"""

from __future__ import annotations

import hashlib
import random
from base64 import b32encode
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import TextIO

from django.core.exceptions import ValidationError
from django.core.management.base import OutputWrapper
from django.db import transaction
from django.utils import timezone

from ympa.access.services import audit_anchor_create
from ympa.authn.models import User
from ympa.catalog.models import Product
from ympa.core.actor import Actor, Channel
from ympa.core.demo_booking import demo_booking
from ympa.core.synthetic import FAMILY, given_name, organisation_number, personnummer, street_address
from ympa.inventory.models import Batch, WastageReason
from ympa.inventory.services import ReceiptLine, delivery_receive, reorder_level_set, wastage_record
from ympa.journal.models import StandingOrder, Vaccination
from ympa.journal.services import (
    Administration,
    AdverseEventReport,
    adverse_event_register,
    vaccination_correct,
    vaccination_nullify,
    vaccination_record,
)
from ympa.orgs.models import Assignment, CareProvider, CareUnit, Module, Municipality, Purpose, Region
from ympa.orgs.rights import Role
from ympa.orgs.services import care_provider_create, care_unit_create
from ympa.patients.models import Patient
from ympa.patients.services import PatientDetails, guardianship_add, patient_register

DEMO_OVERRIDE = "Demo: dosen gavs enligt tidigare lokal rutin."
DEMO_PASSWORD = "ympa-demo-2026"  # noqa: S105 - printed for everyone to use; demo accounts only
TOLVAN = "19121212-1212"
SEED = 20261125


@dataclass(frozen=True)
class UnitSpec:
    key: str
    name: str
    code: str
    municipality: str
    street: str
    postal_code: str
    city: str
    latitude: str
    longitude: str


@dataclass(frozen=True)
class ProviderSpec:
    key: str
    name: str
    org_prefix: str
    region: str
    modules: tuple[str, ...]
    units: tuple[UnitSpec, ...]


PROVIDERS = (
    ProviderSpec(
        key="clinic",
        name="Vaccinkliniken Ympa Demo AB",
        org_prefix="559900001",
        region="01",
        modules=("journal", "booking", "inventory", "reminders"),
        units=(
            UnitSpec(
                "city",
                "Vaccinkliniken City (demo)",
                "E1001",
                "0180",
                "Drottninggatan 1",
                "11151",
                "Stockholm",
                "59.332600",
                "18.064900",
            ),
            UnitSpec(
                "solna",
                "Vaccinkliniken Solna (demo)",
                "E1002",
                "0184",
                "Solna torg 3",
                "17145",
                "Solna",
                "59.359900",
                "17.999800",
            ),
        ),
    ),
    ProviderSpec(
        key="region",
        name="Region Västra Götaland, demoförvaltning",
        org_prefix="232199001",
        region="14",
        modules=("journal", "inventory", "reminders", "statistics"),
        units=(
            UnitSpec(
                "majorna",
                "Vårdcentralen Majorna (demo)",
                "E2001",
                "1480",
                "Mariaplan 5",
                "41471",
                "Göteborg",
                "57.688200",
                "11.918900",
            ),
            UnitSpec(
                "boras",
                "Barnavårdscentralen Borås (demo)",
                "E2002",
                "1490",
                "Allégatan 10",
                "50332",
                "Borås",
                "57.721000",
                "12.939800",
            ),
        ),
    ),
)

# username, first name, last name, role, (provider key, unit key) or region code
STAFF: tuple[tuple[str, str, str, Role, tuple[str, str] | str], ...] = (
    ("lisa.lakare", "Lisa", "Läkare", Role.PHYSICIAN, ("clinic", "city")),
    ("sara.ssk", "Sara", "Sjuksköterska", Role.NURSE, ("clinic", "city")),
    ("nils.ssk", "Nils", "Sjuksköterska", Role.NURSE, ("clinic", "solna")),
    ("ulla.usk", "Ulla", "Undersköterska", Role.ASSISTANT_NURSE, ("clinic", "city")),
    ("rita.reception", "Rita", "Receptionist", Role.RECEPTIONIST, ("clinic", "city")),
    ("adam.admin", "Adam", "Administratör", Role.ADMINISTRATOR, ("clinic", "city")),
    ("karin.lakare", "Karin", "Läkare", Role.PHYSICIAN, ("region", "majorna")),
    ("maria.ssk", "Maria", "Sjuksköterska", Role.NURSE, ("region", "majorna")),
    ("jonas.ssk", "Jonas", "Sjuksköterska", Role.NURSE, ("region", "boras")),
    ("bodil.barnmorska", "Bodil", "Barnmorska", Role.MIDWIFE, ("region", "boras")),
    ("smittskydd", "Sven", "Smittskyddsläkare", Role.INFECTION_CONTROL, "14"),
)
# A second assignment, so that choosing an assignment is part of the demo.
EXTRA_ASSIGNMENTS = (("lisa.lakare", Role.PHYSICIAN, ("clinic", "solna")),)
FEMALE_STAFF = frozenset({"Lisa", "Sara", "Ulla", "Rita", "Karin", "Maria", "Bodil"})
NURSES = {"clinic": ("sara.ssk", "nils.ssk"), "region": ("maria.ssk", "jonas.ssk")}

# Synthetic histories (product code, age in days at the dose, dose number). Demo data only: the
# forecasting engine, not this table, is where schedules live.
CHILD_DOSES = (
    ("rotarix", 45, 1),
    ("rotarix", 92, 2),
    ("infanrix-hexa", 92, 1),
    ("prevenar-13", 92, 1),
    ("infanrix-hexa", 152, 2),
    ("prevenar-13", 152, 2),
    ("infanrix-hexa", 365, 3),
    ("prevenar-13", 365, 3),
    ("m-m-rvaxpro", 548, 1),
    ("tetravac", 1826, 1),
    ("m-m-rvaxpro", 2557, 2),
    ("gardasil-9", 4018, 1),
    ("gardasil-9", 4200, 2),
    ("boostrix", 5300, 1),
)
TBE_DOSES = ((0, 1), (45, 2), (300, 3), (300 + 3 * 365, 4))
TRAVEL_DOSES = (("twinrix-vuxen", 0, 1), ("twinrix-vuxen", 30, 2), ("twinrix-vuxen", 180, 3))

# Stock: kept in Ympa for the last STOCK_DAYS. Every unit also stocks the products its staff give most in a
# season, and the city clinic the ones of the showcase entries. Batches are single-dose: the catalogue does
# not say which presentations are multi-dose or how long an opened vial keeps, so the demo states neither.
STOCK_DAYS = 30
STOCK_SUPPLIER = "Vaccindistributören (demo)"
STOCKED = ("vaxigriptetra", "fsme-immun-vuxen")
SHOWCASE = ("vaxigriptetra", "havrix-1440", "typhim-vi")
# (product, reorder at, order quantity) at every unit; at the city clinic also hepatitis A, whose stock is
# below its level, so that the list of what to order has a line.
REORDER = (("vaxigriptetra", 20, 100), ("fsme-immun-vuxen", 10, 50))
CITY_REORDER = (("havrix-1440", 50, 20),)


# Mobile numbers from the series the Swedish Post and Telecom Authority (PTS) set aside for fiction,
# 070-174 06 05 to 070-174 06 99 (reported at https://www.tellerreport.com/life/2020-09-07-hundreds-of-
# telephone-numbers-are-reserved-for-film--television-and-books.Symrwpm4w.html): no real subscriber gets an
# SMS meant for a demo account.
STAFF_PHONE_FIRST = 46701740605


@dataclass(frozen=True)
class StaffIdentity:
    """How a demo staff member is identified by each login method."""

    hsa_id: str
    personal_identity_number: str
    phone: str


def staff_identity(username: str) -> StaffIdentity:
    """The demo identities of a staff member: SITHS (HSA-id), BankID (personnummer), SMS login (phone).

    The HSA-id is the employer's organisation number and the username, which is also how the local test
    identity provider (`ympa simulate idp`) names them; the personnummer is synthetic, born in the 1970s.
    """
    index = next(i for i, spec in enumerate(STAFF) if spec[0] == username)
    place = STAFF[index][4]
    if isinstance(place, tuple):
        provider = next(p for p in PROVIDERS if p.key == place[0])
        hsa_id = f"SE{organisation_number(provider.org_prefix).replace('-', '')}-{username.replace('.', '')}"
    else:
        hsa_id = ""
    female = STAFF[index][1] in FEMALE_STAFF
    birth = date(1970 + index, 1 + index % 12, 1 + (index * 7) % 28)
    return StaffIdentity(
        hsa_id=hsa_id,
        personal_identity_number=personnummer(birth, 100 + index, female=female),
        phone=f"+{STAFF_PHONE_FIRST + index}",
    )


def totp_secret_for(username: str) -> str:
    """A stable TOTP secret per demo account, so printed logins stay valid across reloads."""
    digest = hashlib.sha256(f"ympa-demo:{username}".encode()).digest()
    return b32encode(digest[:20]).decode()


@dataclass
class Demo:
    providers: dict[str, CareProvider]
    units: dict[tuple[str, str], CareUnit]
    users: dict[str, User]
    assignments: dict[tuple[str, str, str], Assignment]


def _site_for(product: Product, age_days: int) -> tuple[str, str]:
    route = product.routes[0] if product.routes else "IM"
    if route == "PO":
        return "oral", "PO"
    if route == "IN":
        return "nasal", "IN"
    return ("left_thigh" if age_days < 548 else "left_deltoid"), route


def _org_structure() -> Demo:
    providers: dict[str, CareProvider] = {}
    units: dict[tuple[str, str], CareUnit] = {}
    for spec in PROVIDERS:
        org = organisation_number(spec.org_prefix)
        # The inventory module is turned on once the history before it is recorded (`_stock`).
        provider = care_provider_create(
            hsa_id=f"SE{org.replace('-', '')}-{spec.key[:4].upper()}",
            name=spec.name,
            organisation_number=org,
            region=Region.objects.get(code=spec.region),
            modules=[m for m in spec.modules if m != Module.INVENTORY],
            is_test_data=True,
        )
        providers[spec.key] = provider
        for unit_spec in spec.units:
            units[(spec.key, unit_spec.key)] = care_unit_create(
                care_provider=provider,
                hsa_id=f"SE{org.replace('-', '')}-{unit_spec.code}",
                name=unit_spec.name,
                municipality=Municipality.objects.get(code=unit_spec.municipality),
                street_address=unit_spec.street,
                postal_code=unit_spec.postal_code,
                city=unit_spec.city,
                latitude=Decimal(unit_spec.latitude),
                longitude=Decimal(unit_spec.longitude),
                is_test_data=True,
            )
    users: dict[str, User] = {}
    assignments: dict[tuple[str, str, str], Assignment] = {}
    for username, first, last, role, place in STAFF:
        user = User.objects.filter(username=username).first()
        if user is None:
            identity = staff_identity(username)
            user = User(
                username=username,
                first_name=first,
                last_name=last,
                is_test_data=True,
                totp_secret=totp_secret_for(username),
                hsa_id=identity.hsa_id or None,
                personal_identity_number=identity.personal_identity_number,
                phone=identity.phone,
            )
            user.set_password(DEMO_PASSWORD)
            user.save()
        users[username] = user
        _assign(assignments, user, role, place, units)
    for username, role, place in EXTRA_ASSIGNMENTS:
        _assign(assignments, users[username], role, place, units)
    return Demo(providers=providers, units=units, users=users, assignments=assignments)


def _assign(
    assignments: dict[tuple[str, str, str], Assignment],
    user: User,
    role: Role,
    place: tuple[str, str] | str,
    units: dict[tuple[str, str], CareUnit],
) -> None:
    if isinstance(place, str):
        assignment, _ = Assignment.objects.get_or_create(
            user=user,
            region=Region.objects.get(code=place),
            role=role,
            defaults={"purpose": Purpose.INFECTION_CONTROL},
        )
        assignments[(user.username, "region", place)] = assignment
        return
    unit = units[place]
    assignment, _ = Assignment.objects.get_or_create(user=user, care_unit=unit, role=role)
    assignments[(user.username, *place)] = assignment


def _standing_orders(demo: Demo) -> None:
    products = list(Product.objects.filter(active=True))
    for (provider_key, _unit_key), unit in demo.units.items():
        physician = "lisa.lakare" if provider_key == "clinic" else "karin.lakare"
        if StandingOrder.objects.filter(care_unit=unit).exists():
            continue
        order = StandingOrder.objects.create(
            care_unit=unit,
            title=f"Generellt direktiv vaccinationer, {unit.name}",
            issued_by=demo.users[physician],
            valid_from=date(2000, 1, 1),
            text="Demo: vaccinationer enligt gällande program och produktresuméer.",
        )
        order.products.set(products)


class _Recorder:
    def __init__(self, demo: Demo, rng: random.Random, today: date) -> None:
        self.demo = demo
        self.rng = rng
        self.today = today
        self.products = {p.code: p for p in Product.objects.filter(active=True)}
        self.count = 0
        self.overrides = 0
        # Signed doses from this day on wait until the units have received their stock (`_stock`).
        self.stock_since: date | None = today - timedelta(days=STOCK_DAYS)
        self.waiting: list[tuple[Patient, Administration, Actor]] = []
        # The batch (number, expiry) each unit gives of a product, once it keeps stock.
        self.batches: dict[tuple[int, int], tuple[str, date]] = {}

    def actor(self, provider_key: str) -> Actor:
        username = self.rng.choice(NURSES[provider_key])
        user = self.demo.users[username]
        assignment = next(a for (u, *_rest), a in self.demo.assignments.items() if u == username)
        return Actor.staff(user, assignment, Channel.CLI)

    def give(
        self,
        patient: Patient,
        provider_key: str,
        code: str,
        day: date,
        dose: int,
        *,
        sign: bool = True,
        actor: Actor | None = None,
    ) -> Vaccination | None:
        product = self.products.get(code)
        if product is None or day >= self.today or patient.birth_date is None or day < patient.birth_date:
            return None
        hour = self.rng.randint(8, 16)
        given_at = timezone.make_aware(datetime.combine(day, time(hour, self.rng.choice((0, 15, 30, 45)))))
        age_days = (day - patient.birth_date).days
        site, route = _site_for(product, age_days)
        volume = Decimal(str(product.dose_volumes_ml[0])) if product.dose_volumes_ml else None
        batch = f"{code[:3].upper()}{day.year % 100:02d}{(day.month - 1) // 4}{self.rng.choice('ABC')}"
        data = Administration(
            administered_at=given_at,
            product=product,
            batch_number=batch,
            dose_number=dose,
            site=site,
            route=route,
            batch_expiry=day + timedelta(days=400),
            dose_volume_ml=volume,
        )
        self.count += 1
        chosen = actor or self.actor(provider_key)
        if sign and self.stock_since is not None and day >= self.stock_since:
            self.waiting.append((patient, data, chosen))
            return None
        return self.record(patient, data, chosen, sign=sign)

    def record(
        self, patient: Patient, data: Administration, actor: Actor, *, sign: bool = True
    ) -> Vaccination:
        """Record (and sign) a dose; from the unit's stocked batch of the product when it has one."""
        assert actor.assignment is not None and actor.assignment.care_unit_id is not None
        stocked = self.batches.get((actor.assignment.care_unit_id, data.product.pk))
        if stocked is not None:
            data = replace(data, batch_number=stocked[0], batch_expiry=stocked[1])
        try:
            return vaccination_record(actor=actor, patient=patient, data=data, sign=sign)
        except ValidationError as exc:
            if "override_reason" not in getattr(exc, "error_dict", {}):
                raise
        # The synthetic histories do not follow every schedule rule; such doses are signed with a reason,
        # as a clinic would have to.
        self.overrides += 1
        return vaccination_record(
            actor=actor, patient=patient, data=replace(data, override_reason=DEMO_OVERRIDE), sign=sign
        )


def _register(
    actor: Actor,
    identifier: str,
    given: str,
    family: str,
    rng: random.Random,
    *,
    protected: bool = False,
    address: tuple[str, str, str] | None = None,
) -> Patient:
    street, postal, city = address or (street_address(rng), f"{rng.randint(11100, 98999)}", "Demostad")
    return patient_register(
        actor=actor,
        identifier=identifier,
        is_test_data=True,
        details=PatientDetails(
            given_name=given,
            family_name=family,
            street_address=street,
            postal_code=postal,
            city=city,
            phone=f"+4670{rng.randint(1000000, 9999999)}",
            email=f"{given.lower()}.{rng.randint(1, 999)}@example.se",
            protected_identity=protected,
        ),
    )


def _patients_and_history(
    demo: Demo, rng: random.Random, today: date, target_patients: int
) -> tuple[int, int]:
    recorder = _Recorder(demo, rng, today)
    registrar = {key: recorder.actor(key) for key in NURSES}
    serials: dict[date, int] = {}

    def new_person(min_days: int, max_days: int, female: bool) -> tuple[str, date]:
        birth = date.fromordinal(today.toordinal() - rng.randint(min_days, max_days))
        serial = serials.get(birth, rng.randint(0, 400))
        serials[birth] = serial + 1
        return personnummer(birth, serial, female=female), birth

    patients = 0
    tolvan = _register(registrar["clinic"], TOLVAN, "Tolvan", "Tolvansson", rng)
    patients += 1
    # Tolvan's history spans both providers and leaves his TBE primary series open, so the demo shows a dose
    # that is due (dose 3, five to twelve months after dose 2).
    for day, code, provider, dose in (
        (date(2021, 10, 15), "pneumovax", "clinic", 1),
        (date(2023, 10, 16), "vaxigriptetra", "region", 1),
        (date(2024, 10, 17), "vaxigriptetra", "region", 1),
        (date(2025, 10, 18), "vaxigriptetra", "region", 1),
        (date(2025, 10, 21), "comirnaty-30", "clinic", 1),
        (date(2026, 3, 2), "fsme-immun-vuxen", "clinic", 1),
        (date(2026, 4, 6), "fsme-immun-vuxen", "clinic", 2),
    ):
        recorder.give(tolvan, provider, code, day, dose)
    protected_done = False
    while patients < target_patients:
        provider = rng.choice(("clinic", "region"))
        family = rng.choice(FAMILY)
        address = (street_address(rng), f"{rng.randint(11100, 98999)}", "Demostad")
        protected = not protected_done and patients > 20
        adults: list[Patient] = []
        for index in range(min(rng.choice((1, 2, 2)), target_patients - patients)):
            female = index == 0
            pnr, _birth = new_person(25 * 365, 80 * 365, female)
            adult = _register(
                registrar[provider],
                pnr,
                given_name(rng, female=female),
                family,
                rng,
                protected=protected,
                address=address,
            )
            adults.append(adult)
            patients += 1
            _adult_history(recorder, adult, provider, rng)
        children_count = rng.choice((0, 0, 1, 2))
        for _ in range(min(children_count, target_patients - patients)):
            female = rng.random() < 0.5
            pnr, _birth = new_person(30, 17 * 365, female)
            child = _register(
                registrar[provider],
                pnr,
                given_name(rng, female=female),
                family,
                rng,
                protected=protected,
                address=address,
            )
            patients += 1
            for adult in adults:
                guardianship_add(actor=registrar[provider], child=child, guardian=adult)
            for code, age_days, dose in CHILD_DOSES:
                assert child.birth_date is not None
                recorder.give(child, provider, code, child.birth_date + timedelta(days=age_days), dose)
        protected_done = protected_done or protected
    _stock(recorder, demo, rng, today)
    _showcase(recorder, demo, rng, today)
    return patients, recorder.count


def _adult_history(recorder: _Recorder, adult: Patient, provider: str, rng: random.Random) -> None:
    assert adult.birth_date is not None
    today = recorder.today
    age = (today - adult.birth_date).days // 365
    if rng.random() < 0.35:
        start = today - timedelta(days=rng.randint(200, 2500))
        for offset, dose in TBE_DOSES:
            recorder.give(adult, provider, "fsme-immun-vuxen", start + timedelta(days=offset), dose)
    if rng.random() < 0.15:
        start = today - timedelta(days=rng.randint(200, 3000))
        for code, offset, dose in TRAVEL_DOSES:
            recorder.give(adult, provider, code, start + timedelta(days=offset), dose)
    if age >= 65:
        for year in range(today.year - 3, today.year + 1):
            recorder.give(adult, provider, "vaxigriptetra", date(year, 10, rng.randint(10, 30)), 1)


def _stock(recorder: _Recorder, demo: Demo, rng: random.Random, today: date) -> None:
    """The clinics start keeping stock in Ympa: deliveries first, then the doses given since, from the
    delivered batches (signing books each out of stock); a broken dose and reorder levels."""
    for spec in PROVIDERS:
        provider = demo.providers[spec.key]
        provider.modules = list(spec.modules)
        provider.save(update_fields=["modules"])
    # The assignments in memory hold their care provider as it was before: read them again.
    fresh = {a.pk: a for a in Assignment.objects.select_related("care_unit__care_provider", "user")}
    demo.assignments = {key: fresh[a.pk] for key, a in demo.assignments.items()}
    waiting = []
    needed: dict[tuple[int, str], int] = {}  # doses waiting per unit and product
    for patient, data, actor in recorder.waiting:
        assert actor.assignment is not None and actor.assignment.care_unit_id is not None
        waiting.append((patient, data, replace(actor, assignment=fresh[actor.assignment.pk])))
        key = (actor.assignment.care_unit_id, data.product.code)
        needed[key] = needed.get(key, 0) + 1
    recorder.waiting, recorder.stock_since = [], None
    # One batch of each product for the whole demo, as a distributor would ship it to every clinic.
    batches: dict[str, tuple[str, date]] = {}
    for (provider_key, unit_key), unit in demo.units.items():
        codes = {code for unit_id, code in needed if unit_id == unit.pk}
        codes |= set(STOCKED) | (set(SHOWCASE) if (provider_key, unit_key) == ("clinic", "city") else set())
        lines = []
        for code in sorted(codes & set(recorder.products)):
            product = recorder.products[code]
            number, expiry = batches.setdefault(
                code,
                (
                    f"{code[:3].upper()}{today.year % 100:02d}{rng.choice('ABC')}{rng.randint(100, 999)}",
                    today + timedelta(days=rng.randint(150, 500)),
                ),
            )
            doses = needed.get((unit.pk, code), 0) + rng.randint(8, 30)
            packages = -(-doses // 10) * 10  # whole boxes of ten
            lines.append(ReceiptLine(product=product, batch_number=number, expiry=expiry, packages=packages))
            recorder.batches[(unit.pk, product.pk)] = (number, expiry)
        nurse = _unit_nurse(demo, provider_key, unit_key)
        delivery_receive(
            actor=nurse, supplier=STOCK_SUPPLIER, lines=lines, delivery_note=f"DEMO-{unit.hsa_id[-5:]}"
        )
    for patient, data, actor in sorted(waiting, key=lambda w: w[1].administered_at):
        recorder.record(patient, data, actor)
    flu = Batch.objects.get(product__code="vaxigriptetra", batch_number=batches["vaxigriptetra"][0])
    for provider_key, unit_key in demo.units:
        nurse = _unit_nurse(demo, provider_key, unit_key)
        wastage_record(actor=nurse, batch=flu, quantity=1, reason=WastageReason.BROKEN)
        city = (provider_key, unit_key) == ("clinic", "city")
        for code, reorder_at, order_quantity in REORDER + (CITY_REORDER if city else ()):
            reorder_level_set(
                actor=nurse,
                product=recorder.products[code],
                reorder_at=reorder_at,
                order_quantity=order_quantity,
            )


def _unit_nurse(demo: Demo, provider_key: str, unit_key: str) -> Actor:
    username = next(u for u in NURSES[provider_key] if (u, provider_key, unit_key) in demo.assignments)
    return Actor.staff(
        demo.users[username], demo.assignments[(username, provider_key, unit_key)], Channel.CLI
    )


def _showcase(recorder: _Recorder, demo: Demo, rng: random.Random, today: date) -> None:
    """Entries that show the record's features: a draft, a correction, a nullification, an adverse event."""
    nurse = Actor.staff(demo.users["sara.ssk"], demo.assignments[("sara.ssk", "clinic", "city")], Channel.CLI)
    people = list(
        Patient.objects.filter(is_test_data=True, birth_date__lt=today - timedelta(days=30 * 365)).order_by(
            "identifier"
        )[:3]
    )
    if len(people) < 3:
        return
    recorder.give(people[0], "clinic", "vaxigriptetra", today - timedelta(days=1), 1, sign=False, actor=nurse)
    corrected = recorder.give(people[1], "clinic", "havrix-1440", today - timedelta(days=20), 1, actor=nurse)
    if corrected is not None and corrected.current_version is not None:
        old = Administration.of_version(corrected.current_version)
        vaccination_correct(
            actor=nurse,
            vaccination=corrected,
            data=Administration(
                **{**old.__dict__, "batch_number": old.batch_number + "X", "site": "right_deltoid"}
            ),
            reason="Fel batchnummer och sida registrerades; rättat enligt förpackningen.",
        )
        adverse_event_register(
            actor=nurse,
            vaccination=corrected,
            report=AdverseEventReport(
                symptoms=["local_reaction", "fever"],
                severity="mild",
                onset_at=corrected.current_version.administered_at + timedelta(hours=8),
                description="Rodnad och svullnad runt stickstället, 38,2 °C i ett dygn.",
            ),
        )
    mistaken = recorder.give(people[2], "clinic", "typhim-vi", today - timedelta(days=3), 1, actor=nurse)
    if mistaken is not None:
        vaccination_nullify(actor=nurse, vaccination=mistaken, reason="Registrerad på fel patient.")


def demo_load(*, patients: int = 200) -> tuple[bool, int, int]:
    """Load the demo if it is not there yet. Returns (created, patients, vaccinations)."""
    with transaction.atomic():
        if CareProvider.objects.filter(name=PROVIDERS[0].name, is_test_data=True).exists():
            return False, Patient.objects.filter(is_test_data=True).count(), Vaccination.objects.count()
        demo = _org_structure()
        _standing_orders(demo)
        rng = random.Random(SEED)
        count_patients, count_vaccinations = _patients_and_history(demo, rng, timezone.localdate(), patients)
        demo_booking(demo, timezone.localdate())
    # Anchored now rather than at the worker's next run: the demo's log verifies completely from the start.
    audit_anchor_create()
    return True, count_patients, count_vaccinations


def demo_print_logins(out: OutputWrapper | TextIO, *, base_url: str) -> None:
    out.write(f"\nDemo logins (password for all: {DEMO_PASSWORD})\n")
    out.write("The second step asks for a TOTP code: add the key to an authenticator app, or run\n")
    out.write("  ympa totp USERNAME\nto print the current code.\n\n")
    out.write(f"  {'username':<18} {'role':<26} {'where':<44} TOTP key\n")
    for username, _first, _last, role, place in STAFF:
        where = f"{place[0]}/{place[1]}" if isinstance(place, tuple) else f"region {place}"
        unit = next(
            (
                u.name
                for p in PROVIDERS
                for u in p.units
                if isinstance(place, tuple) and (p.key, u.key) == place
            ),
            where,
        )
        out.write(f"  {username:<18} {role.label!s:<26} {unit:<44} {totp_secret_for(username)}\n")
    out.write(
        "\nThe same staff can log in with BankID, SITHS or mobile number + password + SMS code, against the\n"
        "local simulators that `ympa demo` starts (or run them yourself: ympa simulate bankid | idp | sms):\n"
        "  BankID: choose 'Logga in med BankID', then paste the QR text at the BankID simulator's page\n"
        "          and approve as the staff member's personnummer.\n"
        "  SITHS:  choose 'Logga in med SITHS-kort' and pick the staff member at the test IdP's page.\n"
        "  SMS:    the code appears on the SMS simulator's page.\n\n"
    )
    out.write(f"  {'username':<18} {'personnummer (BankID)':<22} {'HSA-id (SITHS)':<30} mobile (SMS login)\n")
    for username, *_rest in STAFF:
        identity = staff_identity(username)
        out.write(
            f"  {username:<18} {identity.personal_identity_number:<22} {identity.hsa_id or '-':<30} "
            f"{identity.phone}\n"
        )
    out.write(
        f"\nCitizens log in with BankID at {base_url}/citizen/ (e.g. Tolvan Tolvansson, 191212121212).\n"
        f"Open {base_url}/ and search for {TOLVAN} (Tolvan Tolvansson). The Patient Data Act needs a care\n"
        "relation: register one (e.g. 'Vaccination') on the patient's page before the record opens.\n"
        f"Public booking (no login): {base_url}/boka/ . Vaccinkliniken City's schedule, queue, reception,\n"
        "waiting list and mass-vaccination desk are under the menu 'Bokning' (adam.admin, rita.reception,\n"
        "sara.ssk).\n"
    )
