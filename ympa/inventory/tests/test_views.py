"""The stock pages of the staff web app, and the batch picker of the journal's record form."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from conftest import actor_of
from conftest import staff_client as logged_in
from ympa.authn.models import User
from ympa.catalog.models import Product
from ympa.inventory.models import (
    Delivery,
    FlagKind,
    Movement,
    MovementKind,
    StockBalance,
    StockFlag,
    StorageLocation,
    Transfer,
    TransferStatus,
    Vial,
)
from ympa.inventory.services import transfer_send
from ympa.inventory.tests.conftest import days_from_today
from ympa.journal.services import Administration, vaccination_record
from ympa.patients.models import Patient

pytestmark = pytest.mark.django_db

Receive = Callable[..., Delivery]
EMPTY_LINE = {"doses_per_package": "1", "doses_per_vial": "1"}


def staff_client(user: User) -> Client:
    """A logged-in staff browser that reads the pages in English, so that texts can be asserted on."""
    client = logged_in(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def stock(user: User, batch_number: str = "AB1234") -> int:
    unit_id = user.assignments.get().care_unit_id
    return sum(
        StockBalance.objects.filter(care_unit_id=unit_id, batch__batch_number=batch_number).values_list(
            "quantity", flat=True
        )
    )


def line(**changes: str) -> dict[str, str]:
    values = {
        "product": "vaxigriptetra",
        "batch_number": "NEW1",
        "expiry": days_from_today(300).isoformat(),
        "packages": "4",
        "doses_per_package": "10",
        "doses_per_vial": "1",
        "in_use_hours": "",
        "location": "",
    }
    values.update(changes)
    return values


def delivery_data(lines: list[dict[str, str]], key: str = "key-1", **changes: str) -> dict[str, str]:
    data = {
        "supplier": "Apoteket",
        "delivery_note": "FS-77",
        "purchase_order": "",
        "note": "",
        "idempotency_key": key,
        "action": "receive",
        "lines-TOTAL_FORMS": str(len(lines)),
        "lines-INITIAL_FORMS": "0",
        "lines-MIN_NUM_FORMS": "1",
        "lines-MAX_NUM_FORMS": "50",
    }
    for index, values in enumerate(lines):
        data.update({f"lines-{index}-{name}": value for name, value in values.items()})
    data.update(changes)
    return data


def query_count(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured.captured_queries)


# ---------------------------------------------------------------------------------------------------------
# Pages and who may see them


PAGES = (
    "/inventory/",
    "/inventory/deliveries/",
    "/inventory/deliveries/new/",
    "/inventory/ledger/",
    "/inventory/wastage/new/",
    "/inventory/transfers/",
    "/inventory/transfers/new/",
    "/inventory/locations/",
)


def test_every_page_renders_for_the_nurse(nurse_a: User, nurse_a2: User, receive: Receive) -> None:
    delivery = receive(nurse_a)
    client = staff_client(nurse_a)
    for url in (*PAGES, f"/inventory/deliveries/{delivery.pk}/"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert response["Cache-Control"] == "no-store"
    page = client.get("/inventory/").content.decode()
    assert "AB1234" in page
    assert 'href="/inventory/"' in page  # the "Stock" link in the menu


def test_statistics_right_sees_stock_but_cannot_change_it(
    physician_a: User, nurse_a: User, receive: Receive
) -> None:
    receive(nurse_a)
    client = staff_client(physician_a)
    page = client.get("/inventory/").content.decode()
    assert "AB1234" in page
    assert "/inventory/deliveries/new/" not in page
    assert client.get("/inventory/ledger/").status_code == 200
    assert client.get("/inventory/deliveries/new/").status_code == 403
    response = client.post("/inventory/deliveries/new/", delivery_data([line()]))
    assert response.status_code == 403
    assert Delivery.objects.count() == 1


def test_a_receptionist_is_refused_and_nothing_happens(
    receptionist_a: User, nurse_a: User, receive: Receive
) -> None:
    receive(nurse_a)
    client = staff_client(receptionist_a)
    assert 'href="/inventory/"' not in client.get("/").content.decode()
    for url in PAGES:
        assert client.get(url).status_code == 403, url
    assert client.post("/inventory/deliveries/new/", delivery_data([line()])).status_code == 403
    slot = f"{Movement.objects.get().batch_id}-0"
    response = client.post(
        "/inventory/wastage/new/", {"slot": slot, "quantity": "2", "reason": "broken", "note": ""}
    )
    assert response.status_code == 403
    assert client.post("/inventory/locations/", {"name": "Kyl 1"}).status_code == 403
    assert Delivery.objects.count() == 1
    assert stock(nurse_a) == 10
    assert not StorageLocation.objects.exists()


def test_a_provider_without_the_inventory_module_gets_a_message(nurse_a: User, standing_orders: None) -> None:
    client = staff_client(nurse_a)
    assert 'href="/inventory/"' not in client.get("/").content.decode()
    response = client.get("/inventory/")
    assert response.status_code == 403
    assert "does not keep its vaccine stock in Ympa" in response.content.decode()
    assert client.post("/inventory/deliveries/new/", delivery_data([line()])).status_code == 403
    assert client.post("/inventory/locations/", {"name": "Kyl 1"}).status_code == 403
    assert not Delivery.objects.exists()
    assert not StorageLocation.objects.exists()


def test_a_region_assignment_has_no_stock(officer: User, stocked: None) -> None:
    response = staff_client(officer).get("/inventory/")
    assert response.status_code == 403
    assert "care unit" in response.content.decode()


# ---------------------------------------------------------------------------------------------------------
# Deliveries


def test_a_received_delivery_shows_on_the_balance_page(nurse_a: User, stocked: None) -> None:
    client = staff_client(nurse_a)
    form = client.get("/inventory/deliveries/new/").content.decode()
    assert 'name="idempotency_key"' in form
    response = client.post("/inventory/deliveries/new/", delivery_data([line(), EMPTY_LINE, EMPTY_LINE]))
    delivery = Delivery.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/inventory/deliveries/{delivery.pk}/"
    assert (delivery.supplier, delivery.delivery_note) == ("Apoteket", "FS-77")
    assert stock(nurse_a, "NEW1") == 40
    detail = client.get(response["Location"]).content.decode()
    assert "NEW1" in detail and "40" in detail
    page = client.get("/inventory/").content.decode()
    assert "NEW1" in page
    assert "Apoteket" in client.get("/inventory/deliveries/").content.decode()


def test_a_double_submit_yields_one_delivery(nurse_a: User, stocked: None) -> None:
    client = staff_client(nurse_a)
    data = delivery_data([line()], key="same-key")
    first = client.post("/inventory/deliveries/new/", data)
    second = client.post("/inventory/deliveries/new/", data)
    assert Delivery.objects.count() == 1
    assert first["Location"] == second["Location"]
    assert stock(nurse_a, "NEW1") == 40


def test_service_errors_land_on_the_line_they_name(nurse_a: User, stocked: None) -> None:
    client = staff_client(nurse_a)
    # The first row is left empty: the service's "lines-0-expiry" is the form's second row.
    data = delivery_data([EMPTY_LINE, line(expiry=days_from_today(-1).isoformat())])
    response = client.post("/inventory/deliveries/new/", data)
    assert response.status_code == 200
    formset = response.context["formset"]
    assert not formset.forms[0].errors
    assert "expired" in str(formset.forms[1].errors["expiry"])
    assert 'id="id_lines-1-expiry_error"' in response.content.decode()
    assert not Delivery.objects.exists()


def test_a_delivery_needs_a_supplier_and_a_line(nurse_a: User, stocked: None) -> None:
    response = staff_client(nurse_a).post(
        "/inventory/deliveries/new/", delivery_data([EMPTY_LINE, EMPTY_LINE], supplier="")
    )
    assert response.context["form"].errors["supplier"]
    response = staff_client(nurse_a).post("/inventory/deliveries/new/", delivery_data([EMPTY_LINE]))
    assert "Add at least one line" in str(response.context["form"].non_field_errors())
    assert not Delivery.objects.exists()


def test_the_service_error_on_a_line_shows_when_the_form_itself_was_valid(
    nurse_a: User, stocked: None
) -> None:
    response = staff_client(nurse_a).post(
        "/inventory/deliveries/new/", delivery_data([line(doses_per_package="1", doses_per_vial="5")])
    )
    assert response.context["formset"].forms[0].errors["doses_per_vial"]
    assert not Delivery.objects.exists()


def test_adding_a_line_keeps_what_was_typed(nurse_a: User, stocked: None) -> None:
    data = delivery_data([line(batch_number="KEEP1")], action="more")
    response = staff_client(nurse_a).post("/inventory/deliveries/new/", data)
    assert response.status_code == 200
    assert len(response.context["formset"].forms) == 2
    page = response.content.decode()
    assert 'value="KEEP1"' in page
    assert "invalid-feedback" not in page
    assert not Delivery.objects.exists()


def test_a_delivery_against_a_sent_purchase_order(nurse_a: User, stocked: None, vaccine: Product) -> None:
    from ympa.inventory.models import PurchaseOrderStatus
    from ympa.inventory.services import purchase_order_create, purchase_order_send

    order = purchase_order_create(actor=actor_of(nurse_a), supplier="Apoteket", lines=[(vaccine, 40)])
    purchase_order_send(actor=actor_of(nurse_a), order=order)
    client = staff_client(nurse_a)
    assert str(order.pk) in client.get("/inventory/deliveries/new/").content.decode()
    # Opened from the order: it is chosen, its supplier filled in, and what was ordered is shown.
    form = client.get(f"/inventory/deliveries/new/?purchase_order={order.pk}").content.decode()
    assert f'<option value="{order.pk}" selected>' in form
    assert 'value="Apoteket"' in form
    assert "VaxigripTetra: 40 doses" in form
    client.post("/inventory/deliveries/new/", delivery_data([line()], purchase_order=str(order.pk)))
    order.refresh_from_db()
    assert order.status == PurchaseOrderStatus.RECEIVED
    assert Delivery.objects.get().purchase_order == order


# ---------------------------------------------------------------------------------------------------------
# Balance page: expiry, open vials, flags


def test_expiry_bands_are_written_out(nurse_a: User, receive: Receive) -> None:
    receive(nurse_a, batch_number="SOON", expiry=days_from_today(20))
    receive(nurse_a, batch_number="LATER", expiry=days_from_today(75))
    receive(nurse_a, batch_number="FAR", expiry=days_from_today(300))
    page = staff_client(nurse_a).get("/inventory/").content.decode()
    assert "Expires within 30 days" in page
    assert 'data-band="30"' in page and 'data-band="90"' in page
    assert 'data-band="60"' not in page


def test_opening_a_vial_from_the_balance_page(nurse_a: User, receive: Receive) -> None:
    location = StorageLocation.objects.create(care_unit=nurse_a.assignments.get().care_unit, name="Kyl 1")
    receive(
        nurse_a,
        batch_number="MULTI",
        packages=2,
        doses_per_package=10,
        doses_per_vial=10,
        in_use_hours=6,
        location=location,
    )
    client = staff_client(nurse_a)
    page = client.get("/inventory/").content.decode()
    assert 'action="/inventory/vials/open/"' in page
    batch_id = Movement.objects.get().batch_id
    response = client.post("/inventory/vials/open/", {"batch": batch_id, "location": location.pk})
    assert response.status_code == 302
    vial = Vial.objects.get()
    assert vial.location == location and vial.doses == 10
    page = client.get("/inventory/").content.decode()
    assert 'data-testid="open-vials"' in page


def test_a_vial_of_a_batch_the_unit_does_not_hold_is_not_opened(
    nurse_a: User, nurse_b: User, receive: Receive
) -> None:
    receive(nurse_b, batch_number="MULTI", packages=1, doses_per_package=10, doses_per_vial=10)
    batch_id = Movement.objects.get().batch_id
    assert staff_client(nurse_a).post("/inventory/vials/open/", {"batch": batch_id}).status_code == 404
    assert not Vial.objects.exists()


def test_a_flag_is_shown_and_resolved(
    nurse_a: User,
    citizen: Patient,
    receive: Receive,
    administration: Callable[..., Administration],
) -> None:
    receive(nurse_a)
    vaccination_record(
        actor=actor_of(nurse_a), patient=citizen, data=administration(batch_number="NEVER1"), sign=True
    )
    # A batch nobody received: flagged as unknown, and its stock is below zero.
    flags = list(StockFlag.objects.order_by("kind"))
    assert [f.kind for f in flags] == [FlagKind.NEGATIVE, FlagKind.UNKNOWN_BATCH]
    client = staff_client(nurse_a)
    page = client.get("/inventory/").content.decode()
    assert 'data-testid="flags"' in page and "NEVER1" in page
    assert "Tolvan" not in page
    client.post(f"/inventory/flags/{flags[0].pk}/resolve/", {"resolution": "   "})
    flags[0].refresh_from_db()
    assert flags[0].resolved_at is None
    for flag in flags:
        response = client.post(f"/inventory/flags/{flag.pk}/resolve/", {"resolution": "Typing error"})
        assert response.status_code == 302
        flag.refresh_from_db()
        assert flag.resolved_at is not None and flag.resolution == "Typing error"
    assert 'data-testid="flags"' not in client.get("/inventory/").content.decode()


def test_another_units_flag_cannot_be_resolved(
    nurse_a: User,
    nurse_a2: User,
    citizen: Patient,
    receive: Receive,
    administration: Callable[..., Administration],
) -> None:
    vaccination_record(
        actor=actor_of(nurse_a), patient=citizen, data=administration(batch_number="NEVER1"), sign=True
    )
    flag = StockFlag.objects.filter(kind=FlagKind.UNKNOWN_BATCH).get()
    response = staff_client(nurse_a2).post(f"/inventory/flags/{flag.pk}/resolve/", {"resolution": "Mine now"})
    assert response.status_code == 403
    flag.refresh_from_db()
    assert flag.resolved_at is None


def test_the_balance_page_reads_a_constant_number_of_queries(
    nurse_a: User, receive: Receive, django_assert_max_num_queries: Any
) -> None:
    receive(nurse_a, batch_number="B0", doses_per_package=10, doses_per_vial=10, packages=1)
    client = staff_client(nurse_a)
    Vial.objects.create(
        care_unit=nurse_a.assignments.get().care_unit,
        batch=Movement.objects.get().batch,
        doses=10,
        opened_by=nurse_a,
    )
    few = query_count(client, "/inventory/")
    for index in range(1, 12):
        receive(nurse_a, batch_number=f"B{index}", expiry=days_from_today(20 + index * 10))
    assert query_count(client, "/inventory/") == few
    with django_assert_max_num_queries(12):
        client.get("/inventory/")


# ---------------------------------------------------------------------------------------------------------
# Wastage, transfers, storage locations


def test_wastage_lowers_the_balance(nurse_a: User, receive: Receive) -> None:
    receive(nurse_a)
    client = staff_client(nurse_a)
    slot = f"{Movement.objects.get().batch_id}-0"
    assert slot in client.get(f"/inventory/wastage/new/?slot={slot}").content.decode()
    response = client.post(
        "/inventory/wastage/new/", {"slot": slot, "quantity": "3", "reason": "broken", "note": ""}
    )
    assert response.status_code == 302
    assert stock(nurse_a) == 7
    wasted = Movement.objects.get(kind=MovementKind.WASTAGE)
    assert (wasted.quantity, wasted.wastage_reason) == (-3, "broken")


def test_wastage_for_another_reason_needs_a_note(nurse_a: User, receive: Receive) -> None:
    receive(nurse_a)
    slot = f"{Movement.objects.get().batch_id}-0"
    response = staff_client(nurse_a).post(
        "/inventory/wastage/new/", {"slot": slot, "quantity": "3", "reason": "other", "note": ""}
    )
    assert response.status_code == 200
    assert response.context["form"].errors["note"]
    assert stock(nurse_a) == 10


def test_a_transfer_is_sent_and_received(nurse_a: User, nurse_a2: User, receive: Receive) -> None:
    receive(nurse_a)
    sender = staff_client(nurse_a)
    unit_a2 = nurse_a2.assignments.get().care_unit
    slot = f"{Movement.objects.get().batch_id}-0"
    form = sender.get("/inventory/transfers/new/").content.decode()
    assert "Clinic A2" in form
    response = sender.post(
        "/inventory/transfers/new/", {"slot": slot, "to_unit": unit_a2.pk, "quantity": "4", "note": ""}
    )
    assert response.status_code == 302
    transfer = Transfer.objects.get()
    assert stock(nurse_a) == 6 and stock(nurse_a2) == 0
    assert "Clinic A2" in sender.get("/inventory/transfers/").content.decode()

    receiver = staff_client(nurse_a2)
    page = receiver.get("/inventory/transfers/").content.decode()
    assert f'action="/inventory/transfers/{transfer.pk}/receive/"' in page
    location = StorageLocation.objects.create(care_unit=unit_a2, name="Kyl A2")
    response = receiver.post(f"/inventory/transfers/{transfer.pk}/receive/", {"location": location.pk})
    assert response.status_code == 302
    transfer.refresh_from_db()
    assert transfer.status == TransferStatus.RECEIVED
    assert stock(nurse_a2) == 4
    assert StockBalance.objects.get(care_unit=unit_a2).location == location
    # A second press of the button does not book it in twice.
    assert receiver.post(f"/inventory/transfers/{transfer.pk}/receive/", {}).status_code == 409
    assert stock(nurse_a2) == 4


def test_another_provider_cannot_receive_a_transfer(
    nurse_a: User, nurse_a2: User, nurse_b: User, receive: Receive
) -> None:
    receive(nurse_a)
    transfer = transfer_send(
        actor=actor_of(nurse_a),
        batch=Movement.objects.get().batch,
        to_unit=nurse_a2.assignments.get().care_unit,
        quantity=2,
    )
    response = staff_client(nurse_b).post(f"/inventory/transfers/{transfer.pk}/receive/", {})
    assert response.status_code == 403
    transfer.refresh_from_db()
    assert transfer.status == TransferStatus.SENT
    assert not Movement.objects.filter(kind=MovementKind.TRANSFER_IN).exists()


def test_a_transfer_goes_only_to_units_of_the_same_provider(
    nurse_a: User, nurse_b: User, receive: Receive
) -> None:
    receive(nurse_a)
    slot = f"{Movement.objects.get().batch_id}-0"
    unit_b = nurse_b.assignments.get().care_unit
    response = staff_client(nurse_a).post(
        "/inventory/transfers/new/", {"slot": slot, "to_unit": unit_b.pk, "quantity": "1", "note": ""}
    )
    assert response.status_code == 200
    assert response.context["form"].errors["to_unit"]
    assert not Transfer.objects.exists()


def test_storage_locations_are_listed_and_added(nurse_a: User, stocked: None) -> None:
    client = staff_client(nurse_a)
    assert client.post("/inventory/locations/", {"name": "Kylskåp 1"}).status_code == 302
    response = client.post("/inventory/locations/", {"name": "kylskåp 1"})
    assert response.context["form"].errors["name"]
    assert "Kylskåp 1" in client.get("/inventory/locations/").content.decode()
    assert StorageLocation.objects.count() == 1


# ---------------------------------------------------------------------------------------------------------
# Ledger and lists


def test_the_ledger_shows_a_dose_without_the_patient(
    nurse_a: User,
    citizen: Patient,
    receive: Receive,
    administration: Callable[..., Administration],
) -> None:
    delivery = receive(nurse_a)
    vaccination = vaccination_record(
        actor=actor_of(nurse_a), patient=citizen, data=administration(), sign=True
    )
    page = staff_client(nurse_a).get("/inventory/ledger/").content.decode()
    assert f'href="/vaccinations/{vaccination.pk}/"' in page
    assert f'href="/inventory/deliveries/{delivery.pk}/"' in page
    assert "-1" in page and "+10" in page
    assert "Tolvan" not in page and "19121212" not in page


def test_the_ledger_filters_by_batch_and_pages(nurse_a: User, receive: Receive) -> None:
    receive(nurse_a, batch_number="ONE")
    for _index in range(55):
        receive(nurse_a, batch_number="TWO", packages=1)
    client = staff_client(nurse_a)
    two = Movement.objects.filter(batch__batch_number="TWO").first()
    assert two is not None
    page = client.get(f"/inventory/ledger/?batch={two.batch_id}")
    assert len(page.context["page"].object_list) == 50
    assert page.context["page"].paginator.count == 55
    assert f"batch={two.batch_id}&amp;page=2" in page.content.decode()
    one = Movement.objects.get(batch__batch_number="ONE")
    filtered = client.get(f"/inventory/ledger/?batch={one.batch_id}").context["page"]
    assert [m.pk for m in filtered] == [one.pk]


def test_list_pages_read_a_constant_number_of_queries(
    nurse_a: User, nurse_a2: User, receive: Receive, django_assert_max_num_queries: Any
) -> None:
    unit_a2 = nurse_a2.assignments.get().care_unit
    client = staff_client(nurse_a)
    urls = (
        "/inventory/ledger/",
        "/inventory/deliveries/",
        "/inventory/transfers/",
        "/inventory/wastage/new/",
    )

    def add(n: int) -> None:
        for index in range(n):
            delivery = receive(nurse_a, batch_number=f"L{Delivery.objects.count()}-{index}")
            transfer_send(
                actor=actor_of(nurse_a), batch=delivery.movements.get().batch, to_unit=unit_a2, quantity=1
            )

    add(1)
    few = [query_count(client, url) for url in urls]
    add(8)
    assert [query_count(client, url) for url in urls] == few
    for url in urls:
        with django_assert_max_num_queries(12):
            client.get(url)


# ---------------------------------------------------------------------------------------------------------
# The journal's record form


def test_the_record_form_offers_the_batches_in_stock(
    nurse_a: User,
    citizen: Patient,
    receive: Receive,
    administration: Callable[..., Administration],
) -> None:
    receive(nurse_a, batch_number="LATE", expiry=days_from_today(300))
    receive(nurse_a, batch_number="EARLY", expiry=days_from_today(100))
    receive(nurse_a, batch_number="GONE", expiry=days_from_today(100), packages=1)
    vaccination_record(
        actor=actor_of(nurse_a), patient=citizen, data=administration(batch_number="GONE"), sign=True
    )
    client = staff_client(nurse_a)
    response = client.get(f"/patients/{citizen.pk}/vaccinations/new/?product=vaxigriptetra")
    page = response.content.decode()
    assert 'data-testid="batch-choices"' in page
    assert page.index('data-batch-number="EARLY"') < page.index('data-batch-number="LATE"')
    assert 'data-batch-number="GONE"' not in page
    assert f'data-batch-expiry="{days_from_today(100).isoformat()}"' in page
    # The default stays the batch last used at the unit.
    assert response.context["form"].initial["batch_number"] == "GONE"


def test_the_record_form_puts_an_open_vial_first(nurse_a: User, citizen: Patient, receive: Receive) -> None:
    receive(nurse_a, batch_number="SINGLE", expiry=days_from_today(60))
    receive(
        nurse_a,
        batch_number="MULTI",
        expiry=days_from_today(300),
        packages=1,
        doses_per_package=10,
        doses_per_vial=10,
        in_use_hours=6,
    )
    multi = Movement.objects.get(batch__batch_number="MULTI").batch
    Vial.objects.create(
        care_unit=nurse_a.assignments.get().care_unit,
        batch=multi,
        doses=10,
        opened_by=nurse_a,
        use_before=timezone.now() + timedelta(hours=6),
    )
    page = (
        staff_client(nurse_a)
        .get(f"/patients/{citizen.pk}/vaccinations/new/?product=vaxigriptetra")
        .content.decode()
    )
    assert page.index('data-batch-number="MULTI"') < page.index('data-batch-number="SINGLE"')
    assert "10 doses left in the open vial" in page


def test_the_record_form_has_no_picker_without_the_inventory_module(
    nurse_a: User, citizen: Patient, standing_orders: None
) -> None:
    page = (
        staff_client(nurse_a)
        .get(f"/patients/{citizen.pk}/vaccinations/new/?product=vaxigriptetra")
        .content.decode()
    )
    assert 'data-testid="batch-choices"' not in page


def test_another_units_delivery_is_not_shown(nurse_a: User, nurse_a2: User, receive: Receive) -> None:
    delivery = receive(nurse_a)
    assert staff_client(nurse_a2).get(f"/inventory/deliveries/{delivery.pk}/").status_code == 404
