"""Reading configuration from environment variables (the only source of settings)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit


class ConfigError(ValueError):
    pass


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name}={raw!r} is not a boolean (use 1/0, true/false, yes/no)")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name}={raw!r} is not an integer") from exc


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return [part.strip() for part in raw.split(",") if part.strip()]


def sqlite_settings(path: Path) -> dict[str, Any]:
    # WAL lets readers proceed while one writer commits; IMMEDIATE takes the write lock at BEGIN so two
    # writers queue on busy_timeout instead of failing with "database is locked" on lock upgrade.
    return {
        "ENGINE": "ympa.core.sqlite",
        "NAME": str(path),
        "OPTIONS": {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": (
                "PRAGMA journal_mode=WAL;"
                "PRAGMA synchronous=NORMAL;"
                "PRAGMA foreign_keys=ON;"
                "PRAGMA busy_timeout=20000;"
            ),
        },
    }


PREPARE_THRESHOLD = 5


def database_from_url(url: str, *, data_dir: Path) -> dict[str, Any]:
    """DATABASE_URL (postgres://user:pass@host:port/name?opt=v or sqlite:///path) as Django settings."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "sqlite":
        raw_path = unquote(parts.path)
        if raw_path in {"", "/"}:
            return sqlite_settings(data_dir / "ympa.sqlite3")
        # sqlite:///relative/path and sqlite:////absolute/path, as dj-database-url reads them.
        path = Path(raw_path[1:]) if raw_path.startswith("/") else Path(raw_path)
        return sqlite_settings(path)
    if scheme in {"postgres", "postgresql", "pgsql"}:
        # Some PostgreSQL options are booleans (e.g. server_side_binding); a URL carries them as text.
        booleans = {"true": True, "false": False}
        options: dict[str, Any] = {
            k: booleans.get(v[-1].lower(), v[-1]) for k, v in parse_qs(parts.query).items()
        }
        conn_max_age = int(options.pop("conn_max_age", "60"))
        # Server-side binding lets psycopg prepare a statement after PREPARE_THRESHOLD runs on a connection:
        # the hot statements (token lookup, PDL facts, log rows, stock booking) are then neither quoted in
        # Python nor planned again; their planning cost more than their execution. Behind a pooler in
        # transaction mode (PgBouncer < 1.21) prepared statements break: `?prepare_threshold=none` turns
        # them off, `?server_side_binding=false` goes back to client-side binding.
        options.setdefault("server_side_binding", True)
        threshold = str(options.pop("prepare_threshold", PREPARE_THRESHOLD)).lower()
        options["prepare_threshold"] = None if threshold in {"", "none", "off"} else int(threshold)
        return {
            "ENGINE": "ympa.core.postgresql",
            "NAME": unquote(parts.path.lstrip("/")) or "ympa",
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
            "CONN_MAX_AGE": conn_max_age,
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": options,
        }
    raise ConfigError(f"DATABASE_URL scheme {scheme!r} is not supported (use postgres:// or sqlite:///)")
