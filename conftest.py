"""Shared test personas and helpers.

Personas: a nurse and a physician at clinic A (provider A, Stockholm), a nurse at clinic A2 of the same
provider, a nurse at clinic B of another provider (Västra Götaland), an assistant nurse and a receptionist at
clinic A, an infection-control officer of region 14, an outsider with no assignment, and the citizen Tolvan
Tolvansson (a patient).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection, connections
from django.test import Client
from django.utils import timezone

from ympa.authn.models import User
from ympa.catalog.models import Product
from ympa.core.actor import Actor, Channel
from ympa.journal.models import StandingOrder
from ympa.journal.services import Administration
from ympa.orgs.models import Assignment, CareProvider, CareUnit, Municipality, Purpose, Region
from ympa.orgs.rights import Role
from ympa.patients.models import Patient
from ympa.patients.services import PatientDetails, patient_register

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

PASSWORD = "correct horse battery staple"
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


@pytest.fixture
def provider_a(db: Any) -> CareProvider:
    return CareProvider.objects.create(
        hsa_id="SE5599000019-PRVA",
        name="Provider A",
        organisation_number="559900-0019",
        region=Region.objects.get(code="01"),
    )


@pytest.fixture
def provider_b(db: Any) -> CareProvider:
    return CareProvider.objects.create(
        hsa_id="SE2321990017-PRVB",
        name="Provider B",
        organisation_number="232199-0017",
        region=Region.objects.get(code="14"),
    )


@pytest.fixture
def unit_a(provider_a: CareProvider) -> CareUnit:
    return CareUnit.objects.create(
        hsa_id="SE5599000019-A001",
        name="Clinic A",
        care_provider=provider_a,
        municipality=Municipality.objects.get(code="0180"),
    )


@pytest.fixture
def unit_a2(provider_a: CareProvider) -> CareUnit:
    return CareUnit.objects.create(
        hsa_id="SE5599000019-A002",
        name="Clinic A2",
        care_provider=provider_a,
        municipality=Municipality.objects.get(code="0184"),
    )


@pytest.fixture
def unit_b(provider_b: CareProvider) -> CareUnit:
    return CareUnit.objects.create(
        hsa_id="SE2321990017-B001",
        name="Clinic B",
        care_provider=provider_b,
        municipality=Municipality.objects.get(code="1480"),
    )


def make_staff(
    username: str, role: Role, *, unit: CareUnit | None = None, region: Region | None = None
) -> User:
    user = User.objects.create_user(
        username=username,
        password=PASSWORD,
        first_name=username.split("_")[0].title(),
        last_name=role.label,
        totp_secret=TOTP_SECRET,
    )
    if unit is not None or region is not None:
        Assignment.objects.create(
            user=user,
            care_unit=unit,
            region=region,
            role=role,
            purpose=Purpose.INFECTION_CONTROL if region is not None else Purpose.CARE,
        )
    return user


@pytest.fixture
def nurse_a(unit_a: CareUnit) -> User:
    return make_staff("nurse_a", Role.NURSE, unit=unit_a)


@pytest.fixture
def physician_a(unit_a: CareUnit) -> User:
    return make_staff("physician_a", Role.PHYSICIAN, unit=unit_a)


@pytest.fixture
def nurse_a2(unit_a2: CareUnit) -> User:
    return make_staff("nurse_a2", Role.NURSE, unit=unit_a2)


@pytest.fixture
def assistant_a(unit_a: CareUnit) -> User:
    return make_staff("assistant_a", Role.ASSISTANT_NURSE, unit=unit_a)


@pytest.fixture
def receptionist_a(unit_a: CareUnit) -> User:
    return make_staff("receptionist_a", Role.RECEPTIONIST, unit=unit_a)


@pytest.fixture
def nurse_b(unit_b: CareUnit) -> User:
    return make_staff("nurse_b", Role.NURSE, unit=unit_b)


@pytest.fixture
def officer(db: Any) -> User:
    return make_staff("officer", Role.INFECTION_CONTROL, region=Region.objects.get(code="14"))


@pytest.fixture
def outsider(db: Any) -> User:
    return make_staff("outsider", Role.NURSE)


# The marks of a PostgreSQL race test: `pytestmark = [*POSTGRES_RACE, ...]`, then `at_once`.
POSTGRES_RACE = [
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs real concurrent connections; SQLite serialises writers, so there is no race to lose",
    ),
    # serialized_rollback like the other transactional tests: a plain flush afterwards recreates content
    # types, which a later serialized-rollback test in the same worker would then insert a second time.
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def at_once(calls: Sequence[Callable[..., object]]) -> tuple[list[object], list[BaseException]]:
    """Run each call in a thread of its own (its own database connection), all released together; what they
    returned and raised. For the PostgreSQL race tests."""
    start = threading.Barrier(len(calls))
    results: list[object] = []
    errors: list[BaseException] = []

    def run(call: Callable[..., object]) -> None:
        try:
            start.wait(timeout=10)
            results.append(call())
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    return results, errors


def actor_of(user: User, channel: Channel = Channel.UI) -> Actor:
    return Actor.staff(user, user.assignments.select_related("care_unit__care_provider").first(), channel)


@pytest.fixture
def citizen(nurse_a: User) -> Patient:
    """Tolvan Tolvansson, the well-known test person, registered by the nurse at clinic A."""
    return patient_register(
        actor=actor_of(nurse_a),
        identifier="19121212-1212",
        details=PatientDetails(
            given_name="Tolvan",
            family_name="Tolvansson",
            street_address="Testgatan 12",
            postal_code="11111",
            city="Stockholm",
            phone="070-123 45 67",
        ),
    )


@pytest.fixture
def vaccine(db: Any) -> Product:
    return Product.objects.get(code="vaxigriptetra")


@pytest.fixture
def standing_orders(unit_a: CareUnit, unit_a2: CareUnit, unit_b: CareUnit, physician_a: User) -> None:
    """Each clinic has a standing order for every product: nurses can record without an individual order."""
    products = list(Product.objects.filter(active=True))
    for unit in (unit_a, unit_a2, unit_b):
        order = StandingOrder.objects.create(
            care_unit=unit,
            title=f"Standing order {unit.name}",
            issued_by=physician_a,
            valid_from=date(2000, 1, 1),
        )
        order.products.set(products)


@pytest.fixture
def administration(vaccine: Product) -> Callable[..., Administration]:
    def build(**changes: Any) -> Administration:
        given: datetime = timezone.now().replace(microsecond=0) - timedelta(minutes=5)
        values: dict[str, Any] = {
            "administered_at": given,
            "product": vaccine,
            "batch_number": "AB1234",
            "batch_expiry": timezone.localdate() + timedelta(days=200),
            "dose_number": 1,
            "site": "left_deltoid",
            "route": "IM",
            "dose_volume_ml": Decimal("0.50"),
        }
        values.update(changes)
        return Administration(**values)

    return build


def staff_client(user: User) -> Client:
    """A browser session that has passed login and chosen the user's first assignment."""
    client = Client()
    client.force_login(user)
    session = client.session
    assignment = user.assignments.first()
    if assignment is not None:
        session["assignment_id"] = assignment.pk
    session.save()
    return client


@pytest.fixture
def sms_simulator(settings: Any) -> Any:
    """The local 46elks simulator, with settings.SMS pointing at it; `.messages` lists what was sent.

    Messages go out after commit: wrap the sending call in `django_capture_on_commit_callbacks(execute=True)`.
    Delivery reports are held back (a long delay), so nothing calls back to an app server that is not there.
    """
    from ympa.notify.sms_simulator import SmsSimulator

    with SmsSimulator(delivery_delay=600) as simulator:
        settings.SMS = {
            **settings.SMS,
            "BASE_URL": f"{simulator.url}/a1",
            "USERNAME": "ympa",
            "PASSWORD": "simulator",
        }
        yield simulator


@pytest.fixture
def bankid(settings: Any, tmp_path: Any) -> Any:
    """The BankID simulator (mutual TLS on loopback) with settings.BANKID pointing at it.

    The QR tolerance is generous: a browser test reads the code from the page and scans it a moment later.
    """
    from ympa.authn.bankid.simulator import BankIdSimulator

    with BankIdSimulator("127.0.0.1", 0, tmp_path / "bankid-pki", qr_tolerance=5.0) as simulator:
        pki = simulator.pki
        settings.BANKID = {
            **settings.BANKID,
            "URL": simulator.url,
            "CERT_FILE": str(pki.client_cert),
            "KEY_FILE": str(pki.client_key),
            "CA_FILE": str(pki.server_ca),
        }
        yield simulator


# --- browser tests (Playwright on Debian's Chromium, never `playwright install`) ----------------------------
# Defined once here: every browser test folder shares the one browser of a test process, because Playwright's
# sync API refuses a second instance while the first one's event loop runs in the thread.


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    import os

    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package (.ci/run does)")
    # Playwright's sync API keeps an event loop in this thread; the test body still talks to the database
    # synchronously, which Django otherwise refuses while a loop is running.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(locale="sv-SE", timezone_id="Europe/Stockholm")
    context.set_default_timeout(15_000)
    tab = context.new_page()
    yield tab
    context.close()


def load_reference_data() -> None:
    """Regions and the catalogue, as the data migrations load them.

    A live-server test is transactional, and the database is emptied after each one; the serialized
    rollback that would restore migration data does not survive Playwright's event loop in this thread.
    """
    from django.apps import apps

    from ympa.catalog.reference import load_catalog
    from ympa.orgs.reference import load_regions

    if not apps.get_model("orgs", "Region").objects.exists():
        load_regions(apps.get_model("orgs", "Region"), apps.get_model("orgs", "Municipality"))
        load_catalog(apps.get_model("catalog", "Disease"), apps.get_model("catalog", "Product"))


def browser_log_in(page: Any, base: str, username: str) -> None:
    """A staff member logs in with password and authenticator code through the login pages (fields by name,
    so the pages may be in either language)."""
    import re

    import pyotp
    from playwright.sync_api import expect

    page.goto(f"{base}/")
    page.locator("[name=username]").fill(username)
    page.locator("[name=password]").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    User.objects.filter(username=username).update(totp_last_step=0)
    page.locator("[name=code]").fill(pyotp.TOTP(TOTP_SECRET).now())
    page.locator("main form button[type=submit]").click()
    expect(page).not_to_have_url(re.compile(r"/login/"))
