"""The background worker for real: a task queued on commit in one process is run by `ympa worker` in another,
through the SQLite queue (the default) and through Redis (several workers)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


def _env(data_dir: Path, tasks_url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("YMPA_", "DATABASE_URL", "DJANGO_"))}
    env.update({"YMPA_DATA_DIR": str(data_dir), "YMPA_HTTPS": "0", "YMPA_EMAIL_BACKEND": "file"})
    if tasks_url:
        env["YMPA_TASKS_URL"] = tasks_url
    return env


def _ympa(args: list[str], env: dict[str, str]) -> str:
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "ympa.cli", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.mark.parametrize("queue", ["sqlite", "redis"])
def test_worker_runs_a_task_queued_on_commit(tmp_path: Path, queue: str) -> None:
    env = _env(tmp_path, "redis://127.0.0.1:6379/15" if queue == "redis" else None)
    _ympa(["migrate", "-v", "0"], env)
    queued = _ympa(
        [
            "shell",
            "-v",
            "0",
            "-c",
            "from ympa.notify.services import email_queue; "
            "print(email_queue(to='anna@example.se', subject='Hej', body='Från kön', purpose='test').pk)",
        ],
        env,
    ).strip()
    mail_dir = tmp_path / "mail"
    assert not mail_dir.exists() or not any(mail_dir.iterdir()), "sent before a worker ran"
    worker = subprocess.Popen(
        [sys.executable, "-m", "ympa.cli", "worker"],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not (mail_dir.exists() and any(mail_dir.iterdir())):
            assert worker.poll() is None, worker.stdout.read().decode() if worker.stdout else ""
            assert time.monotonic() < deadline, "the worker did not send the e-mail"
            time.sleep(0.2)
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=20)
    sent = "".join(p.read_text() for p in mail_dir.iterdir())
    assert "Subject: Hej" in sent and "anna@example.se" in sent
    status = _ympa(
        [
            "shell",
            "-v",
            "0",
            "-c",
            f"from ympa.notify.models import Message; print(Message.objects.get(pk='{queued}').status)",
        ],
        env,
    )
    assert status.strip() == "sent"
