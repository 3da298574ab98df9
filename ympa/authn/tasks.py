"""Background tasks for authentication: thin wrappers around the services, safe to run more than once."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from ympa.authn.services import one_time_codes_purge


@db_periodic_task(crontab(minute="17"))
def purge_one_time_codes() -> None:
    one_time_codes_purge()
