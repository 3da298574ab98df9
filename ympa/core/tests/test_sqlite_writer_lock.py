"""SQLite write transactions queue on an operating-system lock (`ympa.core.sqlite`), not on SQLite's busy
handler. The suite's own database is in memory, so these tests open a database file of their own."""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.db.utils import ConnectionHandler

from ympa.core.env import sqlite_settings


@pytest.fixture
def handler(tmp_path: Path, django_db_blocker: Any) -> Iterator[ConnectionHandler]:
    connections = ConnectionHandler({"default": sqlite_settings(tmp_path / "db.sqlite3")})
    # A database of the test's own, beside the suite's (pytest-django guards only the suite's).
    with django_db_blocker.unblock():
        with connections["default"].cursor() as cursor:
            cursor.execute("CREATE TABLE t (n INTEGER)")
        yield connections
        connections.close_all()


def lock_is_free(tmp_path: Path) -> bool:
    fd = os.open(tmp_path / "db.sqlite3.writer", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return True
    finally:
        os.close(fd)


def test_a_write_transaction_holds_the_lock_until_commit(handler: ConnectionHandler, tmp_path: Path) -> None:
    db = handler["default"]
    with _atomic(db):
        db.cursor().execute("INSERT INTO t VALUES (1)")
        assert not lock_is_free(tmp_path)
    assert lock_is_free(tmp_path)


def test_a_rolled_back_transaction_releases_the_lock(handler: ConnectionHandler, tmp_path: Path) -> None:
    db = handler["default"]
    with pytest.raises(RuntimeError), _atomic(db):
        db.cursor().execute("INSERT INTO t VALUES (1)")
        raise RuntimeError("refused")
    assert lock_is_free(tmp_path)
    assert db.cursor().execute("SELECT count(*) FROM t").fetchone() == (0,)


def test_closing_the_connection_releases_the_lock(handler: ConnectionHandler, tmp_path: Path) -> None:
    db = handler["default"]
    db.ensure_connection()
    db._start_transaction_under_autocommit()  # type: ignore[attr-defined]
    assert not lock_is_free(tmp_path)
    db.close()
    assert lock_is_free(tmp_path)


def test_a_second_writer_waits_for_the_first_and_then_goes_on(
    handler: ConnectionHandler, tmp_path: Path
) -> None:
    first = handler["default"]
    started = threading.Event()
    finished: list[float] = []

    def second_writer() -> None:
        # Connections are per thread: this one is a second connection to the same file.
        db = handler["default"]
        started.set()
        with _atomic(db):
            db.cursor().execute("INSERT INTO t VALUES (2)")
        finished.append(time.monotonic())
        db.close()

    with _atomic(first):
        first.cursor().execute("INSERT INTO t VALUES (1)")
        thread = threading.Thread(target=second_writer)
        thread.start()
        started.wait(5)
        time.sleep(0.2)
        # The second writer is queued on the lock, not failing and not writing.
        assert finished == []
        committed_at = time.monotonic()
    thread.join(5)
    assert finished and finished[0] >= committed_at
    assert first.cursor().execute("SELECT n FROM t ORDER BY n").fetchall() == [(1,), (2,)]


def test_an_in_memory_database_takes_no_lock(db: None) -> None:
    if connection.vendor != "sqlite":
        pytest.skip("the suite runs on PostgreSQL")
    assert connection.is_in_memory_db()  # type: ignore[attr-defined]
    assert connection._writer_lock_path() is None  # type: ignore[attr-defined]


class _atomic:
    """transaction.atomic for a connection that is not in django.db.connections."""

    def __init__(self, db: object) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.ensure_connection()  # type: ignore[attr-defined]
        self.db._start_transaction_under_autocommit()  # type: ignore[attr-defined]

    def __exit__(self, kind: object, value: object, traceback: object) -> None:
        if kind is None:
            self.db.commit()  # type: ignore[attr-defined]
        else:
            self.db.rollback()  # type: ignore[attr-defined]
