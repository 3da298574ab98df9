"""The planning pages: stock counts, reorder levels and the list to order, purchase orders, consumption."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from conftest import actor_of, staff_client
from ympa.authn.models import User
from ympa.catalog.models import Product
from ympa.core.errors import ConflictError, NotPermitted
from ympa.inventory.models import (
    Batch,
    Movement,
    MovementKind,
    PurchaseOrder,
    PurchaseOrderStatus,
    ReorderLevel,
    StockBalance,
    StockCount,
    StockCountLine,
    StockCountStatus,
    StorageLocation,
    WastageReason,
)
from ympa.inventory.planning_selectors import unit_consumption
from ympa.inventory.selectors import stock_verify, to_order
from ympa.inventory.services import (
    ReceiptLine,
    delivery_receive,
    purchase_order_create,
    purchase_order_send,
    reorder_level_set,
    stock_count_line_record,
    stock_count_start,
    wastage_record,
)
from ympa.journal.services import Administration, vaccination_nullify, vaccination_record
from ympa.orgs.models import CareUnit
from ympa.patients.models import Patient

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stocked")]


def unit_of(user: User) -> CareUnit:
    unit = user.assignments.get().care_unit
    assert unit is not None
    return unit


def balance(unit: CareUnit, batch_number: str = "AB1234") -> int:
    return sum(
        StockBalance.objects.filter(care_unit=unit, batch__batch_number=batch_number).values_list(
            "quantity", flat=True
        )
    )


def key(batch_number: str, location: StorageLocation | None = None) -> str:
    batch = Batch.objects.get(batch_number=batch_number)
    return f"line-{batch.pk}-{location.pk if location else 0}"


def other_product(vaccine: Product) -> Product:
    product = Product.objects.filter(active=True).exclude(pk=vaccine.pk).order_by("name").first()
    assert product is not None
    return product


# ---------------------------------------------------------------------------------------------------------
# Stock counts.


def test_a_count_books_its_differences_and_not_doses_given_while_counting(
    nurse_a: User,
    citizen: Patient,
    receive: Callable[..., Any],
    administration: Callable[..., Administration],
) -> None:
    receive(nurse_a, "AB1234", packages=10)
    receive(nurse_a, "CD5678", packages=5)
    unit = unit_of(nurse_a)
    browser = staff_client(nurse_a)

    response = browser.post(reverse("inventory:count_start"))
    count = StockCount.objects.get(care_unit=unit)
    assert response.status_code == 302 and response["Location"] == reverse(
        "inventory:count_detail", args=[count.pk]
    )
    sheet = browser.get(response["Location"])
    html = sheet.content.decode()
    assert "AB1234" in html and "CD5678" in html
    # Nothing counted yet: the expected stock is not shown, so it does not steer the count.
    assert html.count('data-testid="expected">—<') == 2

    response = browser.post(
        reverse("inventory:count_detail", args=[count.pk]), {key("AB1234"): "8", key("CD5678"): "5"}
    )
    assert response.status_code == 302
    lines = {line.batch.batch_number: line for line in StockCountLine.objects.select_related("batch")}
    assert {n: (line.expected, line.counted) for n, line in lines.items()} == {
        "AB1234": (10, 8),
        "CD5678": (5, 5),
    }
    # A dose given after the line was counted: the ledger drops to 9, the shelf to 7. Not a difference.
    vaccination_record(actor=actor_of(nurse_a), patient=citizen, data=administration(), sign=True)
    assert balance(unit) == 9

    confirm = browser.get(reverse("inventory:count_close", args=[count.pk]))
    assert confirm.status_code == 200
    assert [row.batch.batch_number for row in confirm.context["differences"]] == ["AB1234"]
    assert "-2" in confirm.content.decode()

    response = browser.post(reverse("inventory:count_close", args=[count.pk]))
    assert response.status_code == 302
    count.refresh_from_db()
    assert count.status == StockCountStatus.CLOSED and count.closed_by == nurse_a
    adjustments = list(Movement.objects.filter(kind=MovementKind.ADJUSTMENT))
    assert [(m.batch.batch_number, m.quantity, m.stock_count_id) for m in adjustments] == [
        ("AB1234", -2, count.pk)
    ]
    assert balance(unit, "AB1234") == 7 and balance(unit, "CD5678") == 5
    assert stock_verify() == []

    summary = browser.get(reverse("inventory:count_detail", args=[count.pk]))
    assert [m.quantity for m in summary.context["adjustments"]] == [-2]
    listing = browser.get(reverse("inventory:count")).content.decode()
    assert "AB1234" in listing and "-2" in listing


def test_counting_a_line_with_htmx_records_it_alone_and_returns_its_row(
    nurse_a: User, receive: Callable[..., Any]
) -> None:
    location = StorageLocation.objects.create(care_unit=unit_of(nurse_a), name="Kylskåp 1")
    receive(nurse_a, "AB1234", packages=10, location=location)
    receive(nurse_a, "CD5678", packages=5)
    count = stock_count_start(actor=actor_of(nurse_a))
    browser = staff_client(nurse_a)
    response = browser.post(
        reverse("inventory:count_detail", args=[count.pk]),
        {key("AB1234", location): "11"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count("<tr") == 1 and "AB1234" in html and "+1" in html
    line = StockCountLine.objects.get()
    assert (line.batch.batch_number, line.location, line.expected, line.counted) == (
        "AB1234",
        location,
        10,
        11,
    )

    # A value that is not a number is refused on its row, and nothing is recorded.
    response = browser.post(
        reverse("inventory:count_detail", args=[count.pk]),
        {key("CD5678"): "fem"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200 and "invalid-feedback" in response.content.decode()
    assert StockCountLine.objects.count() == 1


def test_an_unchanged_line_is_not_counted_again(
    nurse_a: User,
    citizen: Patient,
    receive: Callable[..., Any],
    administration: Callable[..., Administration],
) -> None:
    """Posting the whole sheet again keeps each line's expected stock from when it was counted."""
    receive(nurse_a, "AB1234", packages=10)
    count = stock_count_start(actor=actor_of(nurse_a))
    browser = staff_client(nurse_a)
    url = reverse("inventory:count_detail", args=[count.pk])
    browser.post(url, {key("AB1234"): "10"})
    vaccination_record(actor=actor_of(nurse_a), patient=citizen, data=administration(), sign=True)
    browser.post(url, {key("AB1234"): "10"})
    line = StockCountLine.objects.get()
    assert (line.expected, line.counted) == (10, 10)
    browser.post(reverse("inventory:count_close", args=[count.pk]))
    assert not Movement.objects.filter(kind=MovementKind.ADJUSTMENT).exists()
    assert balance(unit_of(nurse_a)) == 9


def test_one_open_count_per_unit(nurse_a: User, nurse_a2: User, receive: Callable[..., Any]) -> None:
    browser = staff_client(nurse_a)
    browser.post(reverse("inventory:count_start"))
    response = browser.post(reverse("inventory:count_start"), follow=True)
    assert response.redirect_chain[-1][0] == reverse("inventory:count")
    assert [m.level_tag for m in response.context["messages"]] == ["error"]
    assert StockCount.objects.filter(care_unit=unit_of(nurse_a)).count() == 1
    with pytest.raises(ConflictError):
        stock_count_start(actor=actor_of(nurse_a))
    # Another unit of the same provider counts on its own.
    staff_client(nurse_a2).post(reverse("inventory:count_start"))
    assert StockCount.objects.filter(care_unit=unit_of(nurse_a2), status=StockCountStatus.OPEN).count() == 1


def test_counts_are_refused_without_the_right_or_at_another_unit(
    nurse_a: User, nurse_b: User, receptionist_a: User, receive: Callable[..., Any]
) -> None:
    receive(nurse_a, "AB1234", packages=10)
    count = stock_count_start(actor=actor_of(nurse_a))
    stock_count_line_record(actor=actor_of(nurse_a), stock_count=count, batch=Batch.objects.get(), counted=9)
    receptionist = staff_client(receptionist_a)
    assert receptionist.get(reverse("inventory:count")).status_code == 403
    assert receptionist.post(reverse("inventory:count_start")).status_code == 403
    assert receptionist.post(reverse("inventory:count_close", args=[count.pk])).status_code == 403

    other = staff_client(nurse_b)
    detail = reverse("inventory:count_detail", args=[count.pk])
    assert other.get(detail).status_code == 404
    assert other.post(detail, {key("AB1234"): "1"}).status_code == 404
    assert other.post(reverse("inventory:count_close", args=[count.pk])).status_code == 404
    with pytest.raises(NotPermitted):
        stock_count_line_record(
            actor=actor_of(nurse_b), stock_count=count, batch=Batch.objects.get(), counted=1
        )

    count.refresh_from_db()
    assert count.status == StockCountStatus.OPEN
    assert list(StockCountLine.objects.values_list("counted", flat=True)) == [9]
    assert StockCount.objects.count() == 1
    assert not Movement.objects.filter(kind=MovementKind.ADJUSTMENT).exists()


# ---------------------------------------------------------------------------------------------------------
# Reorder levels, the list to order, purchase orders.


def test_reorder_levels_and_what_to_order(
    nurse_a: User, vaccine: Product, receive: Callable[..., Any]
) -> None:
    unit = unit_of(nurse_a)
    browser = staff_client(nurse_a)
    response = browser.post(
        reverse("inventory:reorder"), {"product": vaccine.code, "reorder_at": "20", "order_quantity": "50"}
    )
    assert response.status_code == 302
    level = ReorderLevel.objects.get(care_unit=unit)
    assert (level.product, level.reorder_at, level.order_quantity) == (vaccine, 20, 50)

    receive(nurse_a, "AB1234", packages=10)
    page = browser.get(reverse("inventory:reorder"))
    rows = page.context["draft"].suggestions
    assert [(r.product, r.usable, r.on_order, r.suggested) for r in rows] == [(vaccine, 10, 0, 50)]

    # Doses on an open order count: 10 in stock + 15 ordered is above 20.
    order = purchase_order_create(actor=actor_of(nurse_a), supplier="Apoteket", lines=[(vaccine, 15)])
    assert to_order(unit=unit) == []
    assert 'data-testid="nothing-to-order"' in browser.get(reverse("inventory:reorder")).content.decode()
    purchase_order_send(actor=actor_of(nurse_a), order=order)
    assert to_order(unit=unit) == []
    # A cancelled order brings nothing: the product is back on the list.
    browser.post(reverse("inventory:purchase_order_cancel", args=[order.pk]))
    assert [r.on_order for r in to_order(unit=unit)] == [0]
    # Expired stock is not usable.
    expiry = Batch.objects.get().expiry
    assert expiry is not None
    level.reorder_at = 5
    level.save()
    assert to_order(unit=unit) == []
    assert [r.usable for r in to_order(unit=unit, today=expiry + timedelta(days=1))] == [0]

    # An invalid level is refused with the form's message and changes nothing.
    response = browser.post(
        reverse("inventory:reorder"), {"product": vaccine.code, "reorder_at": "-1", "order_quantity": "0"}
    )
    assert response.status_code == 200 and response.context["form"].errors
    level.refresh_from_db()
    assert (level.reorder_at, level.order_quantity) == (5, 50)


def test_drafting_a_purchase_order_from_the_list(
    nurse_a: User, vaccine: Product, receive: Callable[..., Any]
) -> None:
    unit = unit_of(nurse_a)
    second = other_product(vaccine)
    reorder_level_set(actor=actor_of(nurse_a), product=vaccine, reorder_at=20, order_quantity=50)
    reorder_level_set(actor=actor_of(nurse_a), product=second, reorder_at=5, order_quantity=30)
    browser = staff_client(nurse_a)
    response = browser.post(
        reverse("inventory:reorder_draft"),
        {
            "supplier": "Apoteket",
            f"include-{vaccine.pk}": "on",
            f"quantity-{vaccine.pk}": "60",
            f"quantity-{second.pk}": "30",
        },
    )
    order = PurchaseOrder.objects.get(care_unit=unit)
    assert response.status_code == 302
    assert response["Location"] == reverse("inventory:purchase_order_detail", args=[order.pk])
    assert order.status == PurchaseOrderStatus.DRAFT and order.supplier == "Apoteket"
    assert [(line.product, line.quantity) for line in order.lines.all()] == [(vaccine, 60)]
    # The ordered product is off the list; the one left unticked is still on it.
    assert [r.product for r in to_order(unit=unit)] == [second]
    # Supplier missing: refused, nothing drafted.
    response = browser.post(
        reverse("inventory:reorder_draft"),
        {"supplier": "", f"include-{second.pk}": "on", f"quantity-{second.pk}": "30"},
    )
    assert response.status_code == 200 and response.context["draft"].errors
    assert PurchaseOrder.objects.count() == 1


def test_purchase_order_lifecycle(nurse_a: User, vaccine: Product, receive: Callable[..., Any]) -> None:
    browser = staff_client(nurse_a)
    second = other_product(vaccine)
    response = browser.post(
        reverse("inventory:purchase_order_new"),
        {
            "supplier": "Apoteket",
            "note": "Leverans till bakdörren",
            "lines-TOTAL_FORMS": "5",
            "lines-INITIAL_FORMS": "0",
            "lines-0-product": vaccine.code,
            "lines-0-quantity": "100",
            "lines-1-product": second.code,
            "lines-1-quantity": "20",
        },
    )
    order = PurchaseOrder.objects.get()
    assert response["Location"] == reverse("inventory:purchase_order_detail", args=[order.pk])
    assert order.status == PurchaseOrderStatus.DRAFT
    assert sorted((line.product.code, line.quantity) for line in order.lines.all()) == sorted(
        [(vaccine.code, 100), (second.code, 20)]
    )
    detail = reverse("inventory:purchase_order_detail", args=[order.pk])
    assert "Leverans till bakdörren" in browser.get(detail).content.decode()

    browser.post(reverse("inventory:purchase_order_send", args=[order.pk]))
    order.refresh_from_db()
    sent_at = order.sent_at
    assert order.status == PurchaseOrderStatus.SENT and order.sent_by == nurse_a and sent_at is not None
    # A sent order is received through the stock pages' delivery form, which it links to.
    assert f"?purchase_order={order.pk}" in browser.get(detail).content.decode()
    # Sending twice is refused with a message; the order is as it was.
    response = browser.post(reverse("inventory:purchase_order_send", args=[order.pk]), follow=True)
    assert response.status_code == 200 and [m.level_tag for m in response.context["messages"]][-1] == "error"
    order.refresh_from_db()
    assert order.status == PurchaseOrderStatus.SENT and order.sent_at == sent_at

    delivery_receive(
        actor=actor_of(nurse_a),
        supplier="Apoteket",
        purchase_order=order,
        lines=[
            ReceiptLine(
                product=vaccine,
                batch_number="AB1234",
                expiry=timezone.localdate() + timedelta(days=200),
                packages=100,
            )
        ],
    )
    order.refresh_from_db()
    assert order.status == PurchaseOrderStatus.RECEIVED
    assert "Apoteket" in browser.get(detail).content.decode()
    # A received order cannot be cancelled.
    browser.post(reverse("inventory:purchase_order_cancel", args=[order.pk]))
    order.refresh_from_db()
    assert order.status == PurchaseOrderStatus.RECEIVED

    # A draft can be cancelled, and a cancelled order cannot be sent.
    draft = purchase_order_create(actor=actor_of(nurse_a), supplier="Apoteket", lines=[(vaccine, 5)])
    browser.post(reverse("inventory:purchase_order_cancel", args=[draft.pk]))
    browser.post(reverse("inventory:purchase_order_send", args=[draft.pk]))
    draft.refresh_from_db()
    assert draft.status == PurchaseOrderStatus.CANCELLED and draft.sent_at is None

    listing = browser.get(reverse("inventory:purchase_orders"))
    assert [o.pk for o in listing.context["page"].object_list] == [draft.pk, order.pk]


def test_a_purchase_order_form_with_errors_saves_nothing(nurse_a: User, vaccine: Product) -> None:
    response = staff_client(nurse_a).post(
        reverse("inventory:purchase_order_new"),
        {
            "supplier": "",
            "lines-TOTAL_FORMS": "5",
            "lines-INITIAL_FORMS": "0",
            "lines-0-product": vaccine.code,
            "lines-0-quantity": "",
        },
    )
    assert response.status_code == 200
    assert response.context["form"].errors and response.context["lines"].errors[0]
    assert not PurchaseOrder.objects.exists()


def test_purchase_orders_are_refused_without_the_right_or_at_another_unit(
    nurse_a: User, nurse_b: User, receptionist_a: User, vaccine: Product
) -> None:
    order = purchase_order_create(actor=actor_of(nurse_a), supplier="Apoteket", lines=[(vaccine, 5)])
    receptionist = staff_client(receptionist_a)
    assert receptionist.get(reverse("inventory:purchase_orders")).status_code == 403
    assert receptionist.get(reverse("inventory:reorder")).status_code == 403
    assert receptionist.post(reverse("inventory:purchase_order_send", args=[order.pk])).status_code == 403
    new = {"supplier": "X", "lines-TOTAL_FORMS": "1", "lines-INITIAL_FORMS": "0"}
    new |= {"lines-0-product": vaccine.code, "lines-0-quantity": "5"}
    assert receptionist.post(reverse("inventory:purchase_order_new"), new).status_code == 403
    assert (
        receptionist.post(
            reverse("inventory:reorder"), {"product": vaccine.code, "reorder_at": "1", "order_quantity": "1"}
        ).status_code
        == 403
    )

    other = staff_client(nurse_b)
    assert other.get(reverse("inventory:purchase_order_detail", args=[order.pk])).status_code == 404
    assert other.post(reverse("inventory:purchase_order_send", args=[order.pk])).status_code == 403
    assert other.post(reverse("inventory:purchase_order_cancel", args=[order.pk])).status_code == 403
    assert order.pk not in [o.pk for o in other.get(reverse("inventory:purchase_orders")).context["page"]]

    order.refresh_from_db()
    assert order.status == PurchaseOrderStatus.DRAFT and order.sent_at is None
    assert PurchaseOrder.objects.count() == 1 and not ReorderLevel.objects.exists()


# ---------------------------------------------------------------------------------------------------------
# Consumption and wastage.


def test_consumption_counts_doses_returns_and_wastage(
    nurse_a: User,
    physician_a: User,
    citizen: Patient,
    vaccine: Product,
    receive: Callable[..., Any],
    administration: Callable[..., Administration],
) -> None:
    receive(nurse_a, "AB1234", packages=10)
    doses = [
        vaccination_record(
            actor=actor_of(nurse_a), patient=citizen, data=administration(dose_number=n + 1), sign=True
        )
        for n in range(3)
    ]
    # A nullified entry gives its dose back: two doses given.
    vaccination_nullify(actor=actor_of(nurse_a), vaccination=doses[0], reason="Wrong patient")
    wastage_record(
        actor=actor_of(nurse_a), batch=Batch.objects.get(), quantity=2, reason=WastageReason.BROKEN
    )

    # Statistics without the right to manage stock is enough to see it.
    browser = staff_client(physician_a)
    response = browser.get(reverse("inventory:consumption"))
    assert response.status_code == 200
    data = response.context["data"]
    assert len(data.months) == 12 and data.months[-1] == timezone.localdate().replace(day=1)
    (row,) = data.products
    assert row.row.product == vaccine
    assert (row.row.total_administered, row.row.total_wasted) == (2, 2)
    assert row.administered[-1] == 2 and row.wasted[-1] == 2 and sum(row.administered[:-1]) == 0
    assert row.wastage_percent == 50.0
    html = response.content.decode()
    assert 'data-testid="chart"' in html and '<title id="chart-title">' in html and "<desc" in html
    assert html.count("<rect ") == 2 + 2  # one month's two bars, and the legend's two swatches
    # Swedish first: a decimal comma.
    assert "50,0 %" in html

    csv = browser.get(reverse("inventory:consumption_csv")).content.decode("utf-8-sig")
    lines = csv.splitlines()
    assert len(lines) == 1 + 2 + 2
    given = lines[1].split(";")
    assert given[0] == vaccine.name and given[-2:] == ["2", "50,0"]
    assert lines[2].split(";")[-2:] == ["2", ""]


def test_consumption_period_is_chosen_and_checked(nurse_a: User, receive: Callable[..., Any]) -> None:
    receive(nurse_a, "AB1234", packages=10)
    browser = staff_client(nurse_a)
    today = timezone.localdate()
    response = browser.get(
        reverse("inventory:consumption"), {"start": today.isoformat(), "end": today.isoformat()}
    )
    assert len(response.context["data"].months) == 1
    response = browser.get(
        reverse("inventory:consumption"),
        {"start": today.isoformat(), "end": (today - timedelta(days=1)).isoformat()},
    )
    assert response.status_code == 200 and response.context["data"] is None
    assert response.context["form"].errors["end"]
    response = browser.get(
        reverse("inventory:consumption"), {"start": "2000-01-01", "end": today.isoformat()}
    )
    assert response.context["data"] is None and response.context["form"].errors["start"]


def test_consumption_is_refused_without_a_right(
    receptionist_a: User, officer: User, nurse_b: User, nurse_a: User, receive: Callable[..., Any]
) -> None:
    assert staff_client(receptionist_a).get(reverse("inventory:consumption")).status_code == 403
    assert staff_client(receptionist_a).get(reverse("inventory:consumption_csv")).status_code == 403
    assert staff_client(officer).get(reverse("inventory:consumption")).status_code == 403
    today = timezone.localdate()
    with pytest.raises(NotPermitted):
        unit_consumption(actor=actor_of(receptionist_a), start=today, end=today)
    # Another unit's nurse sees her own unit only.
    receive(nurse_a, "AB1234", packages=10)
    wastage_record(
        actor=actor_of(nurse_a), batch=Batch.objects.get(), quantity=1, reason=WastageReason.BROKEN
    )
    assert staff_client(nurse_b).get(reverse("inventory:consumption")).context["data"].products == ()


# ---------------------------------------------------------------------------------------------------------
# Query counts: the list pages do not make a query per row.


def queries(browser: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as context:
        assert browser.get(url).status_code == 200
    return len(context.captured_queries)


def test_list_pages_make_the_same_number_of_queries_for_more_rows(
    nurse_a: User,
    vaccine: Product,
    receive: Callable[..., Any],
    django_assert_max_num_queries: Any,
) -> None:
    second = other_product(vaccine)
    browser = staff_client(nurse_a)
    actor = actor_of(nurse_a)

    def add_rows(n: int, offset: int) -> None:
        for i in range(offset, offset + n):
            receive(nurse_a, f"B{i:04d}", packages=3)
            purchase_order_create(actor=actor, supplier=f"S{i}", lines=[(vaccine, 5), (second, 2)])
            count = stock_count_start(actor=actor)
            stock_count_line_record(
                actor=actor, stock_count=count, batch=Batch.objects.get(batch_number=f"B{i:04d}"), counted=2
            )
            staff_client(nurse_a).post(reverse("inventory:count_close", args=[count.pk]))
        reorder_level_set(actor=actor, product=vaccine, reorder_at=10_000, order_quantity=10)
        reorder_level_set(actor=actor, product=second, reorder_at=10_000, order_quantity=10)

    urls = [
        reverse("inventory:count"),
        reverse("inventory:purchase_orders"),
        reverse("inventory:reorder"),
        reverse("inventory:consumption"),
        reverse("inventory:purchase_order_new"),
    ]
    add_rows(2, 0)
    few = {url: queries(browser, url) for url in urls}
    add_rows(6, 2)
    many = {url: queries(browser, url) for url in urls}
    assert many == few
    for url in urls:
        with django_assert_max_num_queries(12):
            browser.get(url)

    # The counting sheet: three queries for its lines, whatever their number.
    count = stock_count_start(actor=actor)
    sheet = reverse("inventory:count_detail", args=[count.pk])
    before = queries(browser, sheet)
    for i in range(8, 14):
        receive(nurse_a, f"B{i:04d}", packages=3)
    assert queries(browser, sheet) == before
