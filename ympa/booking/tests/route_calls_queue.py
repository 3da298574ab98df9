"""Calls for `access/tests/test_route_declarations.py` (see `route_calls.py`)."""

from __future__ import annotations

from typing import Any


def calls() -> dict[str, tuple[Any, ...]]:
    return {}
