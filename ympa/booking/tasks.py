"""Background tasks of booking: thin wrappers around the services, safe to run more than once."""

from __future__ import annotations

from django.tasks import task
from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from ympa.booking.models import AppointmentType, WaitingListEntry
from ympa.booking.services import booking_confirmation_send, waiting_list_notify


@task()
def send_booking_confirmation(group: str) -> int:
    return booking_confirmation_send(group=group)


@task()
def notify_waiting_list(appointment_type_id: int) -> int:
    kind = AppointmentType.objects.select_related("care_unit").filter(pk=appointment_type_id).first()
    return waiting_list_notify(appointment_type=kind) if kind is not None else 0


@db_periodic_task(crontab(minute="*/5"))
def notify_waiting_lists() -> None:
    """Released slots free up times without a cancellation: look at every type someone waits for."""
    waited = WaitingListEntry.objects.filter(ended_at__isnull=True, notified_at__isnull=True)
    for kind_id in set(waited.values_list("appointment_type_id", flat=True)):
        notify_waiting_list.enqueue(kind_id)
