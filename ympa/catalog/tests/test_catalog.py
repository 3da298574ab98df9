"""The catalogue's promise: every filled fact names a public source; nothing is guessed."""

from __future__ import annotations

from typing import Any

import pytest

from ympa.catalog.models import Product
from ympa.catalog.reference import CATALOG_FILE, LIST_FACTS, TEXT_FACTS
from ympa.core.reference import load_reference

FACTS = (*TEXT_FACTS, *LIST_FACTS, "target_diseases")


@pytest.fixture(scope="module")
def catalog() -> dict[str, Any]:
    return load_reference(CATALOG_FILE)


def test_every_filled_fact_has_an_existing_source(catalog: dict[str, Any]) -> None:
    sources = catalog["sources"]
    unsourced = []
    for product in catalog["products"]:
        for name in FACTS:
            fact = product.get(name)
            assert isinstance(fact, dict), f"{product['code']}.{name} must be a fact object"
            if fact.get("value") not in (None, [], ""):
                source = fact.get("source")
                if source not in sources:
                    unsourced.append(f"{product['code']}.{name}")
    assert unsourced == []


def test_sources_are_public_pages(catalog: dict[str, Any]) -> None:
    for key, source in catalog["sources"].items():
        assert source["url"].startswith(("https://", "http://")), key
        assert source["title"] and source["publisher"], key


def test_products_without_cvx_have_a_documented_local_code(catalog: dict[str, Any]) -> None:
    for product in catalog["products"]:
        if not product["cvx_code"].get("value"):
            assert product["local_code"] == f"YMPA-{product['code'].upper()}", product["code"]


def test_codes_are_unique_and_diseases_known(catalog: dict[str, Any]) -> None:
    codes = [p["code"] for p in catalog["products"]]
    assert len(codes) == len(set(codes))
    diseases = {d["code"] for d in catalog["diseases"]}
    for product in catalog["products"]:
        assert set(product["target_diseases"]["value"]) <= diseases


@pytest.mark.django_db
def test_migration_loaded_the_catalogue_with_its_sources(catalog: dict[str, Any]) -> None:
    assert Product.objects.filter(active=True).count() == len(catalog["products"])
    product = Product.objects.get(code="rotarix")
    assert product.routes == ["PO"]
    assert product.sources["routes"] in catalog["sources"]
    assert {d.code for d in product.target_diseases.all()} == {"rotavirus"}
    for stored in Product.objects.all():
        for name in (*TEXT_FACTS, *LIST_FACTS):
            if getattr(stored, name) not in ("", []):
                assert name in stored.sources, f"{stored.code}.{name} stored without a source"


@pytest.mark.parametrize(
    "group",
    [
        "dtap-ipv-hib-hepb",
        "pcv",
        "rotavirus",
        "mmr",
        "hpv",
        "dtap",
        "tbe",
        "hepa",
        "hepb",
        "hepab",
        "influenza",
        "ppv",
        "covid19",
        "yellow-fever",
        "typhoid",
        "je",
        "rabies",
        "cholera",
        "menacwy",
        "menb",
    ],
)
@pytest.mark.django_db
def test_the_issue_lists_these_product_groups(group: str) -> None:
    assert Product.objects.filter(vaccine_group=group, active=True).exists()


@pytest.mark.django_db
def test_tbe_has_adult_and_junior_forms_of_both_brands() -> None:
    forms = set(Product.objects.filter(vaccine_group="tbe").values_list("code", "form"))
    assert {code for code, _form in forms} >= {
        "fsme-immun-vuxen",
        "fsme-immun-junior",
        "encepur",
        "encepur-barn",
    }
