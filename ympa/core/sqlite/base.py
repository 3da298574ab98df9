"""Django's SQLite backend, with writers queued on an operating-system lock instead of SQLite's busy handler.

SQLite lets one writer at a time hold the database (`BEGIN IMMEDIATE`, see `core.env.sqlite_settings`). A
writer that finds it taken waits in SQLite's busy handler, which sleeps and retries: 1, 2, 5, 10 ms and on up
to 100 ms at a time. A lock released a moment into such a sleep stays unused for the rest of it, so under
several concurrent writers (gunicorn's workers, the task worker) the cores idled while requests waited
tens of milliseconds for nothing.

Here a write transaction first takes an exclusive `flock` on a file beside the database (`<name>.writer`),
and releases it after COMMIT or ROLLBACK. The kernel wakes the next waiter as soon as the lock is free, so
SQLite's own lock is nearly always free when BEGIN IMMEDIATE asks for it, and its busy handler remains only
for writes outside a transaction (single statements in autocommit mode). The lock belongs to the open file,
so it is released if the process dies, and two threads' connections queue like two processes'. An in-memory
database (the test suite's) has no other process to queue with and takes no lock.
"""

from __future__ import annotations

import fcntl
import os
from typing import Any

from django.db.backends.sqlite3 import base


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._writer_fd: int | None = None
        self._writer_held = False

    def _writer_lock_path(self) -> str | None:
        if self.is_in_memory_db():
            return None
        return f"{self.settings_dict['NAME']}.writer"

    def _take_writer_lock(self) -> None:
        path = self._writer_lock_path()
        if path is None or self._writer_held:
            return
        if self._writer_fd is None:
            self._writer_fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fcntl.flock(self._writer_fd, fcntl.LOCK_EX)
        self._writer_held = True

    def _release_writer_lock(self) -> None:
        if self._writer_held and self._writer_fd is not None:
            self._writer_held = False
            fcntl.flock(self._writer_fd, fcntl.LOCK_UN)

    def _start_transaction_under_autocommit(self) -> None:
        self._take_writer_lock()
        try:
            super()._start_transaction_under_autocommit()  # type: ignore[misc]
        except BaseException:
            self._release_writer_lock()
            raise

    def _commit(self) -> Any:
        try:
            return super()._commit()  # type: ignore[misc]
        finally:
            self._release_writer_lock()

    def _rollback(self) -> Any:
        try:
            return super()._rollback()  # type: ignore[misc]
        finally:
            self._release_writer_lock()

    def _close(self) -> Any:
        try:
            return super()._close()  # type: ignore[misc]
        finally:
            self._release_writer_lock()
            if self._writer_fd is not None:
                os.close(self._writer_fd)
                self._writer_fd = None
