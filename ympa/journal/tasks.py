"""Background tasks of the record: thin and idempotent."""

from __future__ import annotations

from django.tasks import task

from ympa.journal.services import forecast_refresh_patient


@task()
def refresh_patient_forecasts(patient_id: str) -> int:
    return forecast_refresh_patient(patient_id=patient_id)
