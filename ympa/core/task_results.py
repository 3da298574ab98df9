"""Keeping the task queue's records of finished tasks for a while, not for ever.

huey's backend for `django.tasks` stores a record of every task it enqueues (its arguments, status, times
and return value) in the queue's result store, the SQLite file or a Redis hash, so that `get_result` can
answer, and nothing ever removes it: every SMS, e-mail and confirmation would leave one behind, and Redis
keeps them in memory. Records of tasks that finished longer ago than the retention are removed by a periodic
task (`ympa.core.tasks`); a task still waiting or running keeps its record.
"""

from __future__ import annotations

from datetime import datetime

from huey import Huey

# The key under which the backend stores a task's record (huey.contrib.djhuey.tasks_backend.KEY).
RECORD_PREFIX = "djt."
FINISHED = ("SUCCESSFUL", "FAILED")


def task_results_prune(*, huey: Huey, finished_before: datetime) -> int:
    """Remove the records of tasks that finished before `finished_before`; returns how many."""
    removed = 0
    for key, raw in huey.storage.result_items().items():
        if not key.startswith(RECORD_PREFIX):
            continue
        record = huey.serializer.deserialize(raw)
        if not isinstance(record, dict) or record.get("status") not in FINISHED:
            continue
        finished = record.get("finished_at")
        if finished and datetime.fromisoformat(finished) < finished_before:
            huey.storage.delete_data(key)
            removed += 1
    return removed
