"""The PostgreSQL backend's health check (ympa.core.postgresql): a persistent connection is checked before
a request's first query by polling its socket, with no round trip, and one the server has ended is
replaced. Each test uses a connection of its own beside the test database's."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection

from ympa.core.postgresql.base import socket_healthy

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's backend"),
]


def _backend_pid(wrapper: Any) -> int:
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return int(cursor.fetchone()[0])


def _request_starts(wrapper: Any) -> None:
    # What Django does around every request (close_old_connections) and then before its first query.
    wrapper.close_if_unusable_or_obsolete()
    wrapper.close_if_health_check_failed()


@pytest.fixture
def persistent() -> Iterator[Any]:
    """A persistent connection with health checks on, as an app server's worker has."""
    wrapper: Any = connection.copy()
    wrapper.settings_dict = {**wrapper.settings_dict, "CONN_MAX_AGE": 60, "CONN_HEALTH_CHECKS": True}
    wrapper.health_check_enabled = True
    wrapper.ensure_connection()
    yield wrapper
    wrapper.close()


def test_a_healthy_connection_is_kept_and_the_check_sends_nothing(
    persistent: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid = _backend_pid(persistent)
    assert socket_healthy(persistent.connection)
    # Django's own check would run `SELECT 1` through is_usable: it must not be needed.
    monkeypatch.setattr(persistent, "is_usable", lambda: pytest.fail("a round trip was made"))
    _request_starts(persistent)
    assert persistent.connection is not None
    assert _backend_pid(persistent) == pid


def test_a_connection_the_server_ended_is_replaced_before_the_first_query(persistent: Any) -> None:
    pid = _backend_pid(persistent)
    # Ended from another connection, as a server restart or an administrator would.
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    deadline = time.monotonic() + 5
    while socket_healthy(persistent.connection) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not socket_healthy(persistent.connection)
    _request_starts(persistent)
    # The request's first query runs on a new connection instead of failing on the dead one.
    assert _backend_pid(persistent) != pid


def test_a_closed_connection_is_not_healthy(persistent: Any) -> None:
    raw = persistent.connection
    persistent.close()
    assert not socket_healthy(raw)
    assert not socket_healthy(None)
