"""Background tasks of the record: thin and idempotent."""

from __future__ import annotations

from django.tasks import task
from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from ympa.journal.services import forecast_refresh_all, forecast_refresh_patient


@task()
def refresh_patient_forecasts(patient_id: str) -> int:
    return forecast_refresh_patient(patient_id=patient_id)


@task()
def refresh_all_forecasts() -> int:
    return forecast_refresh_all().patients


@db_periodic_task(crontab(hour="2", minute="30"))
def nightly_forecast_refresh() -> None:
    # Nightly, so that new supporting data in a deployment and date-dependent states (a series that ages out,
    # a new season) reach the stored forecasts even for patients whose history did not change.
    forecast_refresh_all()
