"""Django's database sessions, with the read every request makes written out.

Every page request with a session cookie loads the session first; the ORM spent more CPU building that
one-row query than the database spent answering it. Saving, creating and deleting are Django's own.
"""

from __future__ import annotations

from typing import Any

from django.contrib.sessions.backends import db
from django.db import connections, router
from django.utils import timezone


class SessionStore(db.SessionStore):
    def _get_session_from_db(self) -> Any:
        key = self.session_key
        if key is None:
            return None
        model = self.model
        alias = router.db_for_read(model)
        connection = connections[alias]
        table = connection.ops.quote_name(model._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT session_data, expire_date FROM {table} "  # noqa: S608 (the table comes from the model)
                "WHERE session_key = %s AND expire_date > %s",
                [key, connection.ops.adapt_datetimefield_value(timezone.now())],
            )
            row = cursor.fetchone()
        if row is None:
            self._session_key = None
            return None
        # Only session_data is read by load(); the expiry as stored (a string on SQLite) is kept for show.
        return model(session_key=key, session_data=row[0], expire_date=row[1])
