"""Counties (regions) and municipalities from `data/regions.json`, loaded by data migrations."""

from __future__ import annotations

from typing import Any

from ympa.core.reference import load_reference

REGIONS_FILE = "orgs/data/regions.json"


def load_regions(region_model: Any, municipality_model: Any) -> None:
    """Insert or update every county and municipality of the file (idempotent; nothing is deleted)."""
    data = load_reference(REGIONS_FILE)
    for entry in data["regions"]:
        region, _ = region_model.objects.update_or_create(
            code=entry["code"], defaults={"county_name": entry["county_name"], "name": entry["region_name"]}
        )
        for municipality in entry["municipalities"]:
            municipality_model.objects.update_or_create(
                code=municipality["code"], defaults={"name": municipality["name"], "region": region}
            )
