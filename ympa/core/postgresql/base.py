"""Django's PostgreSQL backend, with the per-request health check done on the socket instead of by a query.

With CONN_HEALTH_CHECKS, Django checks a persistent connection before a request's first query by running
`SELECT 1`: a round trip on every request, as long as a cheap request's own query. A connection that went
bad while idle (the server restarted or shut down, the backend was terminated, an idle timeout ended it) is
one the server has written to or closed: it sent its error message and closed the socket, so the socket is
readable. A healthy idle connection has nothing to read, because the server speaks only when asked (Ympa
never LISTENs). So the check here is a non-blocking poll of the socket, plus what libpq already knows about
the connection. Data that is there for a harmless reason only costs a new connection. A connection cut
without a word (a network partition) passes, as it would pass no check until a timeout; its first query
fails, and Django closes a connection that raised errors at the end of the request.
"""

from __future__ import annotations

import select

from django.db.backends.postgresql import base
from psycopg import pq

_WAITING = frozenset({pq.TransactionStatus.IDLE, pq.TransactionStatus.INTRANS})


def socket_healthy(connection: object) -> bool:
    """Whether an idle psycopg connection is still open, without a round trip to the server."""
    conn = getattr(connection, "pgconn", None)
    if conn is None or getattr(connection, "closed", True) or getattr(connection, "broken", False):
        return False
    # Inside a transaction is as good as idle; an aborted one would fail `SELECT 1` too.
    if conn.status != pq.ConnStatus.OK or conn.transaction_status not in _WAITING:
        return False
    poller = select.poll()
    try:
        poller.register(conn.socket, select.POLLIN)
        events = poller.poll(0)
    except (OSError, ValueError):
        return False
    return not events


class DatabaseWrapper(base.DatabaseWrapper):
    def close_if_health_check_failed(self) -> None:
        # Django's own flags (not in django-stubs): checks are on, and this request has done its check.
        enabled = getattr(self, "health_check_enabled", False)
        if self.pool or self.connection is None or not enabled or getattr(self, "health_check_done", False):
            return
        if not socket_healthy(self.connection):
            self.close()
        self.health_check_done = True
