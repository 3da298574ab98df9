"""How `access/tests/test_route_declarations.py` calls the booking module's patient-data routes. Each part
keeps its calls in its own module; `calls()` gathers them."""

from __future__ import annotations

from typing import Any


def calls() -> dict[str, tuple[Any, ...]]:
    from ympa.booking.tests import route_calls_mass, route_calls_public, route_calls_queue

    gathered: dict[str, tuple[Any, ...]] = {}
    for module in (route_calls_public, route_calls_queue, route_calls_mass):
        gathered.update(module.calls())
    return gathered
