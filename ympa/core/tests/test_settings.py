from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ympa.core.env import ConfigError, database_from_url, env_bool

REPO = Path(__file__).resolve().parents[3]


def test_database_url_postgres() -> None:
    config = database_from_url(
        "postgres://user:p%40ss@db.example:6543/ympa?sslmode=require", data_dir=Path("/x")
    )
    assert config["ENGINE"] == "ympa.core.postgresql"
    assert (config["USER"], config["PASSWORD"], config["HOST"], config["PORT"], config["NAME"]) == (
        "user",
        "p@ss",
        "db.example",
        "6543",
        "ympa",
    )
    assert config["OPTIONS"] == {"sslmode": "require", "server_side_binding": True, "prepare_threshold": 5}


def test_database_url_sqlite_uses_wal_and_immediate_transactions(tmp_path: Path) -> None:
    config = database_from_url(f"sqlite:///{tmp_path}/x.sqlite3", data_dir=tmp_path)
    assert config["NAME"] == f"{tmp_path}/x.sqlite3"
    assert config["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert "journal_mode=WAL" in config["OPTIONS"]["init_command"]


def test_unknown_database_scheme() -> None:
    with pytest.raises(ConfigError):
        database_from_url("mysql://x/y", data_dir=Path("/x"))


def test_env_bool_rejects_nonsense(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YMPA_X", "maybe")
    with pytest.raises(ConfigError):
        env_bool("YMPA_X")


def _ympa(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("YMPA_", "DATABASE_URL", "DJANGO_"))}
    return subprocess.run(  # noqa: S603
        [sys.executable, "-m", "ympa.cli", *args],
        env={**clean, **env},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_deploy_reports_no_warnings_with_production_variables(tmp_path: Path) -> None:
    certificates = {}
    for name in ("CERT_FILE", "KEY_FILE", "CA_FILE"):
        path = tmp_path / f"bankid-{name.lower()}.pem"
        path.write_text("placeholder")
        certificates[f"YMPA_BANKID_{name}"] = str(path)
    result = _ympa(
        ["check", "--deploy", "--fail-level", "WARNING"],
        {
            "YMPA_BANKID": "production",
            **certificates,
            "YMPA_SITHS_ISSUER": "https://idp.example.se",
            "YMPA_SITHS_CLIENT_ID": "ympa",
            "YMPA_SITHS_CLIENT_SECRET": "production-secret",
            "YMPA_AUDIT_LOG_KEY": "y" * 20 + "audit-log-key-that-is-long-and-random-0123456789",
            "YMPA_SECRET_KEY": "x" * 20 + "production-secret-key-that-is-long-and-random-0123456789",
            "YMPA_ALLOWED_HOSTS": "ympa.example.se",
            "YMPA_DATA_DIR": str(tmp_path),
            "DATABASE_URL": "postgres://ympa@127.0.0.1:5432/ympa",
            "YMPA_SMTP_HOST": "smtp.example.se",
        },
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_refuses_simulators_and_missing_certificates(tmp_path: Path) -> None:
    simulators = _ympa(["check", "--deploy"], {"YMPA_DATA_DIR": str(tmp_path)})
    assert "ympa.W001" in simulators.stderr and "ympa.W002" in simulators.stderr
    missing = _ympa(
        ["check", "--deploy"],
        {
            "YMPA_DATA_DIR": str(tmp_path),
            "YMPA_BANKID": "production",
            "YMPA_BANKID_CERT_FILE": "/nonexistent",
        },
    )
    assert missing.returncode != 0 and "ympa.E001" in missing.stderr


def test_check_deploy_warns_in_debug(tmp_path: Path) -> None:
    result = _ympa(["check", "--deploy"], {"YMPA_DEBUG": "1", "YMPA_DATA_DIR": str(tmp_path)})
    assert "security.W018" in result.stdout + result.stderr


def test_sqlite_connection_is_in_wal_mode(tmp_path: Path) -> None:
    result = _ympa(
        [
            "shell",
            "-c",
            "from django.db import connection; c = connection.cursor(); "
            "print(c.execute('PRAGMA journal_mode').fetchone()[0])",
        ],
        {"YMPA_DATA_DIR": str(tmp_path), "YMPA_HTTPS": "0"},
    )
    assert result.stdout.strip().endswith("wal"), result.stderr


def test_bad_configuration_is_a_clear_error(tmp_path: Path) -> None:
    result = _ympa(["check"], {"YMPA_DATA_DIR": str(tmp_path), "YMPA_TASKS_URL": "amqp://nope"})
    assert result.returncode != 0
    assert "YMPA_TASKS_URL" in result.stderr


def test_database_url_boolean_options() -> None:
    config = database_from_url("postgres://u@h/db?server_side_binding=false", data_dir=Path("/x"))
    assert config["OPTIONS"] == {"server_side_binding": False, "prepare_threshold": 5}


def test_database_url_prepared_statements_can_be_turned_off() -> None:
    config = database_from_url("postgres://u@h/db?prepare_threshold=none", data_dir=Path("/x"))
    assert config["OPTIONS"]["prepare_threshold"] is None
    config = database_from_url("postgres://u@h/db?prepare_threshold=1", data_dir=Path("/x"))
    assert config["OPTIONS"]["prepare_threshold"] == 1
