"""Loading versioned reference-data files (JSON under each app's data/) from data migrations."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

PACKAGE_DIR = Path(__file__).resolve().parent.parent


@cache
def load_reference(relative_path: str) -> dict[str, Any]:
    with (PACKAGE_DIR / relative_path).open(encoding="utf-8") as handle:
        data: dict[str, Any] = json.load(handle)
    return data
