"""Outgoing messages: created in the caller's transaction, sent by a task after commit.

A message that was never committed is never sent; a committed one is sent at least once (a periodic task
picks up anything a crashed worker left behind).
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.core.validators import validate_email
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from ympa.core.validation import current_language
from ympa.identifiers import IdentifierError, parse_phone_number
from ympa.notify.elks import ElksClient, SmsError, parse_delivery_report
from ympa.notify.models import Message, MessageChannel, MessageStatus
from ympa.patients.models import Patient

MAX_ATTEMPTS = 6
ERASED_BODY = "[erased after sending: the message held a one-time code]"
# A message stuck in "sending" this long belongs to a worker that died mid-send.
STALE_SENDING = timedelta(minutes=10)


def _enqueue_after_commit(message: Message) -> None:
    from ympa.notify.tasks import send_message

    transaction.on_commit(lambda: send_message.enqueue(str(message.pk)))


@transaction.atomic
def sms_queue(
    *, to: str, body: str, purpose: str, patient: Patient | None = None, secret: bool = False
) -> Message:
    try:
        number = parse_phone_number(to)
    except IdentifierError as exc:
        raise ValidationError({"to": exc.message(current_language())}) from exc
    if not body.strip():
        raise ValidationError({"body": _("The message is empty.")})
    message = Message.objects.create(
        channel=MessageChannel.SMS, to=number.e164, body=body, purpose=purpose, patient=patient, secret=secret
    )
    _enqueue_after_commit(message)
    return message


@transaction.atomic
def email_queue(
    *,
    to: str,
    subject: str,
    body: str,
    purpose: str,
    patient: Patient | None = None,
    secret: bool = False,
    attachment: tuple[str, str, str] | None = None,
) -> Message:
    """Queue an e-mail; `attachment` is (file name, MIME type, text content), e.g. a calendar file."""
    try:
        validate_email(to)
    except ValidationError as exc:
        raise ValidationError({"to": _("Enter a valid e-mail address, e.g. name@example.se.")}) from exc
    message = Message.objects.create(
        channel=MessageChannel.EMAIL,
        to=to,
        subject=subject,
        body=body,
        purpose=purpose,
        patient=patient,
        secret=secret,
        **(
            {
                "attachment_name": attachment[0],
                "attachment_mime": attachment[1],
                "attachment_content": attachment[2],
            }
            if attachment
            else {}
        ),
    )
    _enqueue_after_commit(message)
    return message


def sms_client() -> ElksClient:
    config = settings.SMS
    return ElksClient(base_url=config["BASE_URL"], username=config["USERNAME"], password=config["PASSWORD"])


def delivery_callback_url() -> str:
    path = reverse("notify:sms_delivery", args=[settings.SMS["CALLBACK_SECRET"]])
    return f"{settings.PUBLIC_URL}{path}"


def _claim(message_id: str) -> Message | None:
    """Take a due message for sending; None if another worker has it or it is already done."""
    with transaction.atomic():
        message = (
            Message.objects.select_for_update(skip_locked=True)
            .filter(pk=message_id, status=MessageStatus.QUEUED, next_attempt_at__lte=timezone.now())
            .first()
        )
        if message is None:
            return None
        message.status = MessageStatus.SENDING
        message.attempts += 1
        message.save(update_fields=["status", "attempts"])
        return message


def message_send(*, message_id: str) -> Message | None:
    """Send one queued message (idempotent: a message already sent or being sent is left alone)."""
    message = _claim(message_id)
    if message is None:
        return None
    now = timezone.now()
    try:
        if message.channel == MessageChannel.SMS:
            with sms_client() as client:
                sent = client.send_sms(
                    sender=settings.SMS["SENDER"],
                    to=message.to,
                    message=message.body,
                    when_delivered=delivery_callback_url(),
                )
            message.provider_id = sent.id or ""
            message.parts = sent.parts
            message.cost = sent.cost
        else:
            email = EmailMessage(subject=message.subject, body=message.body, to=[message.to])
            if message.attachment_name:
                email.attach(message.attachment_name, message.attachment_content, message.attachment_mime)
            email.send()
    except SmsError as exc:
        message.error = str(exc)
        if exc.retryable and message.attempts < MAX_ATTEMPTS:
            message.status = MessageStatus.QUEUED
            message.next_attempt_at = now + timedelta(seconds=30 * 2**message.attempts)
        else:
            message.status = MessageStatus.FAILED
    except OSError as exc:
        # SMTP or network trouble: worth another try.
        message.error = str(exc)
        message.status = MessageStatus.QUEUED if message.attempts < MAX_ATTEMPTS else MessageStatus.FAILED
        message.next_attempt_at = now + timedelta(seconds=30 * 2**message.attempts)
    else:
        message.status = MessageStatus.SENT
        message.sent_at = now
        message.error = ""
    if message.secret and message.status in (MessageStatus.SENT, MessageStatus.FAILED):
        message.body = ERASED_BODY
    message.save()
    return message


@transaction.atomic
def sms_delivery_report_apply(*, form: dict[str, str]) -> Message | None:
    report = parse_delivery_report(form)
    message = Message.objects.select_for_update().filter(provider_id=report.id).first()
    if message is None:
        # The report can overtake the worker saving the provider id; 46elks retries a non-2xx answer.
        return None
    if report.status == "delivered":
        message.status = MessageStatus.DELIVERED
        message.delivered_at = report.delivered_at or timezone.now()
    elif report.status == "failed":
        message.status = MessageStatus.FAILED
        message.error = "46elks reported the message as failed"
    else:
        # "sent" only confirms hand-over to the operator; a later delivered/failed report may already be here.
        return message
    message.save(update_fields=["status", "delivered_at", "error"])
    return message


def messages_requeue_due() -> list[str]:
    """Message ids that are due: queued past their time, or left 'sending' by a worker that died."""
    now = timezone.now()
    Message.objects.filter(status=MessageStatus.SENDING, next_attempt_at__lt=now - STALE_SENDING).update(
        status=MessageStatus.QUEUED
    )
    return [
        str(pk)
        for pk in Message.objects.filter(status=MessageStatus.QUEUED, next_attempt_at__lte=now).values_list(
            "pk", flat=True
        )[:500]
    ]


def callback_secret_matches(candidate: str) -> bool:
    return secrets.compare_digest(candidate, settings.SMS["CALLBACK_SECRET"])
