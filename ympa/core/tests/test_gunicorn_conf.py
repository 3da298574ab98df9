from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from io import StringIO

import pytest
from django.core.management import call_command

from ympa.core import gunicorn_conf
from ympa.core.management.commands import serve


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_a_ready_worker_freezes_what_it_imported_with_the_views(unfrozen: None) -> None:
    assert gc.get_freeze_count() == 0

    gunicorn_conf.post_worker_init(worker=None)

    # Every view module is imported by then, and its objects are out of the collector's reach.
    assert "ympa.journal.views" in sys.modules
    assert gc.get_freeze_count() > 50_000
    assert not any(obj is gunicorn_conf.post_worker_init for obj in gc.get_objects())


def test_serve_runs_gunicorn_with_the_hooks(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[list[str]] = []
    monkeypatch.setattr(serve.os, "execv", lambda _path, argv: started.append(argv))

    call_command("serve", "--no-collectstatic", "--port", "8123", stdout=StringIO())

    (argv,) = started
    assert argv[argv.index("--config") + 1] == "python:ympa.core.gunicorn_conf"
    assert argv[argv.index("--bind") + 1] == "127.0.0.1:8123"
