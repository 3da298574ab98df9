"""The databases under test: a fresh SQLite file or a dropped-and-recreated PostgreSQL database."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from bench.load import Patient


@dataclass(frozen=True)
class Database:
    vendor: str  # "sqlite" or "postgresql"
    label: str
    data_dir: Path
    url: str | None  # DATABASE_URL, or None for SQLite in the data directory

    @property
    def name(self) -> str:
        """The PostgreSQL database's name ("" for SQLite)."""
        return urlsplit(self.url).path.lstrip("/") if self.url else ""

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "ympa.sqlite3"

    def env(self, base: dict[str, str]) -> dict[str, str]:
        env = {k: v for k, v in base.items() if k != "DATABASE_URL"}
        env["YMPA_DATA_DIR"] = str(self.data_dir)
        if self.url:
            env["DATABASE_URL"] = self.url
        return env

    def sample_patients(self, count: int, *, born_before: date | None = None) -> list[Patient]:
        """Random synthetic patients (id and personnummer), read straight from the database."""
        query = (
            "SELECT id, identifier FROM patients_patient WHERE is_test_data AND birth_date < ? "
            "ORDER BY random() LIMIT ?"
        )
        params = ((born_before or date.max).isoformat(), count)
        if self.vendor == "sqlite":
            with sqlite3.connect(self.sqlite_path) as conn:
                rows = conn.execute(query, params).fetchall()
        else:
            assert self.url is not None
            with psycopg.connect(self.url) as conn:
                rows = conn.execute(query.replace("?", "%s"), params).fetchall()
        return [Patient(id=str(uuid.UUID(str(pk))), identifier=str(identifier)) for pk, identifier in rows]

    def reader_patients(self, count: int) -> list[Patient]:
        """Patients the synthetic readers (`ympa synth --readers`) have a care relation and consent for."""
        query = (
            "SELECT DISTINCT p.id, p.identifier FROM patients_patient p "
            "JOIN access_carerelation r ON r.patient_id = p.id WHERE r.purpose = 'Vaccination (synth)' "
            "LIMIT ?"
        )
        if self.vendor == "sqlite":
            with sqlite3.connect(self.sqlite_path) as conn:
                rows = conn.execute(query, (count,)).fetchall()
        else:
            assert self.url is not None
            with psycopg.connect(self.url) as conn:
                rows = conn.execute(query.replace("?", "%s"), (count,)).fetchall()
        return [Patient(id=str(uuid.UUID(str(pk))), identifier=str(identifier)) for pk, identifier in rows]

    def set_inventory(self, provider_id: int, *, on: bool) -> None:
        """Turn a care provider's inventory module on or off (the server reads it on every request), so that
        the same data is measured with and without the stock booking."""
        select = "SELECT modules FROM orgs_careprovider WHERE id = ?"
        update = "UPDATE orgs_careprovider SET modules = ? WHERE id = ?"
        if self.vendor == "sqlite":
            with sqlite3.connect(self.sqlite_path) as conn:
                row = conn.execute(select, (provider_id,)).fetchone()
                conn.execute(update, (json.dumps(_modules(row, on)), provider_id))
            return
        assert self.url is not None
        with psycopg.connect(self.url) as conn:
            row = conn.execute(select.replace("?", "%s"), (provider_id,)).fetchone()
            conn.execute(
                update.replace("= ?", "= %s::jsonb", 1).replace("?", "%s"),
                (json.dumps(_modules(row, on)), provider_id),
            )

    def analyze(self) -> None:
        """Refresh the planner's statistics of every table, as autovacuum would in a deployment (it is off on
        these machines; see bench/README.md)."""
        if self.vendor == "sqlite":
            with contextlib.closing(sqlite3.connect(self.sqlite_path)) as conn:
                conn.execute("PRAGMA optimize")
            return
        assert self.url is not None
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute("ANALYZE")

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """A connection to run `?`-parameter SQL on either database (bench checks after a run)."""
        if self.vendor == "sqlite":
            with contextlib.closing(sqlite3.connect(self.sqlite_path)) as conn:
                yield Connection(conn.execute)
            return
        assert self.url is not None
        with psycopg.connect(self.url) as pg:
            yield Connection(lambda query, params=(): pg.execute(query.replace("?", "%s"), params))

    def facts(self) -> dict[str, object]:
        """Version and size of the database (after the fill)."""
        if self.vendor == "sqlite":
            size = sum(p.stat().st_size for p in self.data_dir.glob("ympa.sqlite3*"))
            return {"version": sqlite3.sqlite_version, "size_mb": round(size / 2**20, 1)}
        assert self.url is not None
        with psycopg.connect(self.url) as conn:
            version = conn.execute("SHOW server_version").fetchone()
            size = conn.execute("SELECT pg_database_size(current_database())").fetchone()
            settings = dict(
                conn.execute(
                    "SELECT name, setting || COALESCE(unit, '') FROM pg_settings WHERE name IN "
                    "('shared_buffers', 'max_connections', 'synchronous_commit', 'work_mem')"
                ).fetchall()
            )
        return {
            "version": version[0] if version else "?",
            "size_mb": round(int(size[0]) / 2**20, 1) if size else 0,
            "settings": settings,
        }


@dataclass(frozen=True)
class Connection:
    """`execute(sql, params)` with `?` placeholders, returning a cursor (fetchone/fetchall)."""

    execute: Callable[..., Any]


def _modules(row: tuple[object, ...] | None, on: bool) -> list[str]:
    """The provider's modules with "inventory" added or removed (SQLite returns the JSON as text)."""
    if row is None:
        raise ValueError("no such care provider")
    stored = json.loads(row[0]) if isinstance(row[0], str) else row[0]
    modules = [str(m) for m in stored] if isinstance(stored, list) else []
    others = [m for m in modules if m != "inventory"]
    return [*others, "inventory"] if on else others


def sqlite_database(data_dir: Path) -> Database:
    return Database(vendor="sqlite", label="SQLite", data_dir=data_dir, url=None)


def postgres_database(admin_url: str, name: str, data_dir: Path) -> Database:
    """Drop and recreate database `name` on the server of `admin_url` (a URL to any existing database)."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    parts = urlsplit(admin_url)
    url = urlunsplit((parts.scheme, parts.netloc, f"/{name}", "", ""))
    return Database(vendor="postgresql", label="PostgreSQL", data_dir=data_dir, url=url)


def drop_postgres_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
