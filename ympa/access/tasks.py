"""Background tasks of the access log: thin wrappers around the services, safe to run more than once."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from ympa.access.services import audit_anchor_create


# Rows written since the last anchor are the ones whose removal would go unnoticed: anchor often. An anchor
# is only written when a chain moved, so a quiet log gains none.
@db_periodic_task(crontab(minute="*/5"))
def anchor_audit_log() -> None:
    audit_anchor_create()
