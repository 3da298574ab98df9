"""The vaccine catalogue from `data/products.json`, loaded by data migrations.

Each product fact in the file is `{"value": ..., "source": "<id>"}`; a null value means "not sourced". The
loader stores the value and, in `Product.sources`, the source id of every filled fact.
"""

from __future__ import annotations

from typing import Any

from ympa.core.reference import load_reference

CATALOG_FILE = "catalog/data/products.json"
TEXT_FACTS = ("name", "manufacturer", "atc_code", "npl_id", "cvx_code", "min_age", "max_age", "form")
LIST_FACTS = ("dose_volumes_ml", "routes")


def fact_value(product: dict[str, Any], name: str) -> Any:
    fact = product.get(name) or {}
    return fact.get("value")


def load_catalog(disease_model: Any, product_model: Any) -> None:
    """Insert or update diseases and products (idempotent). Products missing from the file are deactivated."""
    data = load_reference(CATALOG_FILE)
    diseases = {}
    for entry in data["diseases"]:
        disease, _ = disease_model.objects.update_or_create(
            code=entry["code"], defaults={"name_sv": entry["name_sv"], "name_en": entry["name_en"]}
        )
        diseases[disease.code] = disease
    seen = []
    for entry in data["products"]:
        defaults: dict[str, Any] = {
            "vaccine_group": entry["vaccine_group"],
            "local_code": entry.get("local_code") or "",
            "catalog_version": data["version"],
            "active": True,
        }
        for name in TEXT_FACTS:
            value = fact_value(entry, name)
            defaults[name] = "" if value is None else str(value)
        for name in LIST_FACTS:
            defaults[name] = fact_value(entry, name) or []
        defaults["sources"] = {
            name: fact["source"]
            for name, fact in entry.items()
            if isinstance(fact, dict) and fact.get("value") not in (None, [], "") and fact.get("source")
        }
        product, _ = product_model.objects.update_or_create(code=entry["code"], defaults=defaults)
        product.target_diseases.set([diseases[code] for code in fact_value(entry, "target_diseases") or []])
        seen.append(product.code)
    product_model.objects.exclude(code__in=seen).update(active=False)
