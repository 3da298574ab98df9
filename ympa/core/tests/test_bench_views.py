"""The benchmark's stock views (mounted with YMPA_BENCH=1; here through this module's URLs)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import path
from django.utils import timezone

from ympa.authn.models import User
from ympa.authn.services import api_token_create
from ympa.core import bench_views
from ympa.core.synth import nurse_username, synth_fill
from ympa.core.synth_stock import StockStats, synth_stock
from ympa.inventory.models import Movement, MovementKind
from ympa.inventory.selectors import stock_verify
from ympa.journal import services as journal_services
from ympa.orgs.models import Assignment
from ympa.patients.models import Patient
from ympa.urls import urlpatterns as ympa_urlpatterns

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]

urlpatterns = [
    *ympa_urlpatterns,
    path("bench/record/<uuid:patient_id>", bench_views.record),
    path("bench/stock/<int:unit_id>", bench_views.stock),
]


@pytest.fixture
def stock() -> StockStats:
    synth_fill(patients=30, vaccinations=200, seed=1, progress=None)
    return synth_stock(movements=300, seed=1, progress=None)


def test_stock_answers_a_units_balances_cached_or_from_the_ledger(stock: StockStats) -> None:
    answers = {}
    for source in ("cache", "ledger"):
        response = Client().get(f"/bench/stock/{stock.busiest_unit}", {"source": source})
        assert response.status_code == 200 and response["Cache-Control"] == "no-store"
        assert response["Server-Timing"].startswith("stock;dur=")
        answers[source] = json.loads(response.content)
    assert answers["cache"] and {row["batch"] for row in answers["cache"]} >= set(stock.current_batches)
    assert sum(row["quantity"] for row in answers["cache"]) == sum(
        row["quantity"] for row in answers["ledger"]
    )
    assert Client().get("/bench/stock/999999").status_code == 404


def test_record_is_the_apis_record_with_the_stock_bookings_own_time(stock: StockStats) -> None:
    nurse = User.objects.get(username=nurse_username(1, 1))
    _record, token = api_token_create(user=nurse, assignment=Assignment.objects.get(user=nurse))
    adult = Patient.objects.filter(birth_date__lt=timezone.localdate() - timedelta(days=20 * 365)).first()
    assert adult is not None
    body = {
        "administered_at": (timezone.now() - timedelta(minutes=5)).isoformat(),
        "product": stock.current_product,
        "batch_number": stock.current_batches[0],
        "batch_expiry": stock.current_expiry,
        "dose_number": 1,
        "dose_volume_ml": "0.5",
        "site": "left_deltoid",
        "route": "IM",
        "sign": True,
    }
    original = journal_services.stock_dose_book
    try:
        response = Client().post(
            f"/bench/record/{adult.pk}",
            body,
            content_type="application/json",
            headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "bench-1"},
        )
    finally:
        journal_services.stock_dose_book = original
    assert response.status_code == 201, response.content
    assert float(response["Server-Timing"].removeprefix("stock;dur=")) > 0
    dose = Movement.objects.get(vaccination_id=response.json()["id"])
    assert dose.kind == MovementKind.ADMINISTERED and dose.batch.batch_number == stock.current_batches[0]
    assert stock_verify() == []
