"""The task queue keeps a finished task's record for a week, not for ever: on the SQLite queue, in Redis, and
through django.tasks itself."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from django.tasks.exceptions import TaskResultDoesNotExist
from huey import Huey, MemoryHuey, RedisHuey, SqliteHuey

from ympa.booking.tasks import notify_waiting_list
from ympa.core import tasks
from ympa.core.task_results import task_results_prune

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "redis", "memory"])
def huey(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Huey]:
    queue: Huey
    if request.param == "sqlite":
        queue = SqliteHuey(name="prune-test", filename=str(tmp_path / "tasks.sqlite3"))
    elif request.param == "redis":
        queue = RedisHuey(name=f"prune-test-{uuid.uuid4().hex}", url="redis://127.0.0.1:6379/14")
    else:
        queue = MemoryHuey(name="prune-test")
    yield queue
    queue.storage.flush_results()


def _record(status: str, finished: datetime | None) -> dict[str, object]:
    return {"status": status, "finished_at": finished.isoformat() if finished else None, "args": ["x"]}


def test_records_of_tasks_finished_before_the_cutoff_are_removed(huey: Huey) -> None:
    week_ago = NOW - timedelta(days=7)
    huey.put_result("djt.old-done", _record("SUCCESSFUL", week_ago - timedelta(minutes=1)))
    huey.put_result("djt.old-failed", _record("FAILED", week_ago - timedelta(days=3)))
    huey.put_result("djt.recent", _record("SUCCESSFUL", week_ago + timedelta(minutes=1)))
    # Still waiting or running, however old: kept.
    huey.put_result("djt.waiting", _record("READY", None))
    huey.put_result("djt.running", _record("RUNNING", None))
    # Not a django.tasks record: not ours to remove.
    huey.put_result("something-else", {"status": "SUCCESSFUL", "finished_at": "2000-01-01T00:00:00+00:00"})

    assert task_results_prune(huey=huey, finished_before=week_ago) == 2

    assert set(huey.storage.result_items()) == {"djt.recent", "djt.waiting", "djt.running", "something-else"}
    assert task_results_prune(huey=huey, finished_before=week_ago) == 0


@pytest.mark.django_db
def test_a_task_run_through_django_tasks_is_forgotten_a_week_after_it_finished() -> None:
    with time_machine.travel(NOW, tick=False):
        result = notify_waiting_list.enqueue(0)
        assert notify_waiting_list.get_result(result.id).return_value == 0
    with time_machine.travel(NOW + timedelta(days=6), tick=False):
        assert tasks.prune_task_results.call_local() == 0
        assert notify_waiting_list.get_result(result.id).status == "SUCCESSFUL"
    with time_machine.travel(NOW + timedelta(days=7, minutes=1), tick=False):
        assert tasks.prune_task_results.call_local() >= 1
        with pytest.raises(TaskResultDoesNotExist):
            notify_waiting_list.get_result(result.id)
