"""Background tasks for messaging: thin wrappers around the services, safe to run more than once."""

from __future__ import annotations

from django.tasks import task
from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from ympa.notify.services import message_send, messages_requeue_due


@task()
def send_message(message_id: str) -> str | None:
    message = message_send(message_id=message_id)
    return message.status if message is not None else None


@db_periodic_task(crontab(minute="*"))
def requeue_due_messages() -> None:
    for message_id in messages_requeue_due():
        send_message.enqueue(message_id)
