"""Periodic housekeeping of the task queue itself."""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import HUEY, db_periodic_task

from ympa.core.task_results import task_results_prune


@db_periodic_task(crontab(minute="41"))
def prune_task_results() -> int:
    return task_results_prune(huey=HUEY, finished_before=timezone.now() - settings.TASK_RESULTS_KEEP)
