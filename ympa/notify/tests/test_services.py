"""Messaging through Django: queued in the caller's transaction, sent after commit to the 46elks simulator
over a real socket, delivery reports received by the live server."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.db import transaction
from django.test import Client, override_settings
from django.utils import timezone

from ympa.notify.models import Message, MessageStatus
from ympa.notify.services import email_queue, message_send, messages_requeue_due, sms_queue
from ympa.notify.sms_simulator import SmsSimulator

Capture = Callable[..., AbstractContextManager[list[Callable[[], Any]]]]


@pytest.fixture
def simulator(settings: Any) -> Iterator[SmsSimulator]:
    with SmsSimulator(delivery_delay=0.05, callback_backoff=0.05) as sim:
        settings.SMS = {
            **settings.SMS,
            "BASE_URL": f"{sim.url}/a1",
            "USERNAME": "ympa",
            "PASSWORD": "simulator",
        }
        yield sim


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


@pytest.mark.django_db
def test_sms_is_sent_only_after_commit(
    simulator: SmsSimulator, django_capture_on_commit_callbacks: Capture
) -> None:
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        message = sms_queue(to="070-123 45 67", body="Dags för dos 2 av TBE-vaccinet.", purpose="test")
        assert simulator.messages == []
    assert len(callbacks) == 1
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT and message.to == "+46701234567"
    assert message.parts == 1 and message.cost == 3500
    assert [m.to for m in simulator.messages] == ["+46701234567"]
    assert simulator.messages[0].message == "Dags för dos 2 av TBE-vaccinet."


@pytest.mark.django_db
def test_rolled_back_transaction_sends_nothing(
    simulator: SmsSimulator, django_capture_on_commit_callbacks: Capture
) -> None:
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        sms_queue(to="0701234567", body="x", purpose="test")
        raise RuntimeError("the booking failed")
    assert simulator.messages == [] and not Message.objects.exists()


@pytest.mark.django_db
def test_sending_twice_sends_once(
    simulator: SmsSimulator, django_capture_on_commit_callbacks: Capture
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        message = sms_queue(to="0701234567", body="Once", purpose="test")
    assert message_send(message_id=str(message.pk)) is None
    assert len(simulator.messages) == 1


@pytest.mark.django_db
def test_invalid_number_is_a_field_error() -> None:
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as error:
        sms_queue(to="12", body="x", purpose="test")
    assert "to" in error.value.message_dict
    assert not Message.objects.exists()


@pytest.mark.django_db
def test_provider_down_is_retried_later(settings: Any, django_capture_on_commit_callbacks: Capture) -> None:
    with SmsSimulator() as sim:
        url = sim.url
    settings.SMS = {**settings.SMS, "BASE_URL": f"{url}/a1"}
    with django_capture_on_commit_callbacks(execute=True):
        message = sms_queue(to="0701234567", body="Retry me", purpose="test")
    message.refresh_from_db()
    assert message.status == MessageStatus.QUEUED and message.attempts == 1 and message.error
    assert messages_requeue_due() == []
    with SmsSimulator(port=int(url.rsplit(":", 1)[1])) as sim:
        with time_machine.travel(timezone.now() + timedelta(minutes=5)):
            due = messages_requeue_due()
            assert due == [str(message.pk)]
            message_send(message_id=due[0])
        assert len(sim.messages) == 1
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT and message.attempts == 2


@pytest.mark.django_db
def test_email_through_django_mail(django_capture_on_commit_callbacks: Capture) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        message = email_queue(to="anna@example.se", subject="Påminnelse", body="Hej!", purpose="test")
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    assert [m.subject for m in mail.outbox] == ["Påminnelse"] and mail.outbox[0].to == ["anna@example.se"]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_delivery_report_reaches_the_live_server(
    simulator: SmsSimulator, live_server: Any, settings: Any
) -> None:
    settings.PUBLIC_URL = live_server.url
    message = sms_queue(to="0701234567", body="Levererad?", purpose="test")
    wait_for(lambda: Message.objects.get(pk=message.pk).status == MessageStatus.DELIVERED)
    assert Message.objects.get(pk=message.pk).delivered_at is not None


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_failed_delivery_is_recorded(simulator: SmsSimulator, live_server: Any, settings: Any) -> None:
    settings.PUBLIC_URL = live_server.url
    message = sms_queue(to="+46700000000", body="Fails", purpose="test")
    wait_for(lambda: Message.objects.get(pk=message.pk).status == MessageStatus.FAILED)


@pytest.mark.django_db
@override_settings(
    SMS={"CALLBACK_SECRET": "s3cret", "BASE_URL": "", "USERNAME": "", "PASSWORD": "", "SENDER": "Ympa"}
)
def test_delivery_callback_needs_the_secret_and_a_valid_report() -> None:
    client = Client()
    assert client.post("/notify/sms/delivery/wrong/", {"id": "x", "status": "delivered"}).status_code == 404
    assert client.post("/notify/sms/delivery/s3cret/", {"status": "delivered"}).status_code == 400
    assert (
        client.post("/notify/sms/delivery/s3cret/", {"id": "unknown", "status": "delivered"}).status_code
        == 404
    )
