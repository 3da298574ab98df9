"""Background tasks of the stock: thin wrappers around the services, safe to run more than once."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from ympa.inventory.services import vials_expire


# An opened multi-dose vial's leftover doses are unusable once its in-use period is over; the balance a nurse
# sees should not count them for long. A dose from the batch also closes it, so this only catches quiet units.
@db_periodic_task(crontab(minute="*/5"))
def expire_open_vials() -> None:
    vials_expire()
