"""Booking: schedules and slots, bookings and the waiting list, health declarations, check-in and the
unit's queue, and mass-vaccination sessions.

Rules live in `ympa.booking.services` and in the constraints below. The one that matters most under a
booking surge: a slot carries at most one active booking (`booking_one_active_per_slot`, a partial unique
index), so two patients racing for the last slot cannot both win whatever the application does.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ResourceKind(models.TextChoices):
    VACCINATOR = "vaccinator", _("Vaccinator")
    ROOM = "room", _("Room")


class Resource(models.Model):
    """Something a slot needs: a vaccinator's time or a room. Slots are generated per resource."""

    care_unit = models.ForeignKey("orgs.CareUnit", on_delete=models.PROTECT, related_name="booking_resources")
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=10, choices=ResourceKind.choices, default=ResourceKind.VACCINATOR)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["care_unit", "name"]
        constraints = [
            models.UniqueConstraint(fields=["care_unit", "name"], name="resource_name_unique_per_unit")
        ]

    def __str__(self) -> str:
        return self.name


class Audience(models.TextChoices):
    PUBLIC = "public", _("Anyone (public booking page)")
    STAFF = "staff", _("Staff only")


class DeclarationForm(models.Model):
    """A health declaration questionnaire of a care unit: which questions, in which order.

    `questions` is a list of question keys from `ympa.booking.declaration.QUESTIONS` (the standard
    questions with their Swedish and English texts and the answers that need the nurse's attention).
    A form in use is never edited: a change is a new form, so every stored declaration keeps the exact
    questions it answered.
    """

    care_unit = models.ForeignKey("orgs.CareUnit", on_delete=models.PROTECT, related_name="declaration_forms")
    name = models.CharField(max_length=100)
    questions = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    retired_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.name


class AppointmentType(models.Model):
    care_unit = models.ForeignKey("orgs.CareUnit", on_delete=models.PROTECT, related_name="appointment_types")
    name = models.CharField(max_length=100)
    duration_minutes = models.PositiveSmallIntegerField(default=10)
    products = models.ManyToManyField("catalog.Product", related_name="appointment_types", blank=True)
    # The forecast's vaccine group (e.g. "COVID-19", "TBE"): a second-dose booking is offered at the
    # interval the patient's stored forecast gives for it. Empty: no interval is checked.
    vaccine_group = models.CharField(max_length=40, blank=True)
    # Whole kronor; 0 is free of charge.
    price_sek = models.PositiveIntegerField(default=0)
    audience = models.CharField(max_length=6, choices=Audience.choices, default=Audience.PUBLIC)
    declaration_form = models.ForeignKey(
        DeclarationForm, on_delete=models.PROTECT, null=True, blank=True, related_name="appointment_types"
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["care_unit", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["care_unit", "name"], name="appointment_type_name_unique_per_unit"
            ),
            models.CheckConstraint(condition=Q(duration_minutes__gte=1), name="appointment_type_duration"),
        ]

    def __str__(self) -> str:
        return self.name


class OpeningHours(models.Model):
    """A weekly opening period of a unit (several per weekday are allowed, e.g. before and after lunch)."""

    care_unit = models.ForeignKey("orgs.CareUnit", on_delete=models.PROTECT, related_name="opening_hours")
    weekday = models.PositiveSmallIntegerField()  # Monday 0 … Sunday 6, as date.weekday()
    opens = models.TimeField()
    closes = models.TimeField()
    # Drop-in: the unit takes patients without a booking in this period; no slots are generated for it.
    drop_in = models.BooleanField(default=False)

    class Meta:
        ordering = ["care_unit", "weekday", "opens"]
        constraints = [
            models.CheckConstraint(condition=Q(weekday__lte=6), name="opening_hours_weekday"),
            models.CheckConstraint(condition=Q(closes__gt=F("opens")), name="opening_hours_order"),
        ]

    def __str__(self) -> str:
        return f"{self.weekday} {self.opens}-{self.closes}"


class OpeningException(models.Model):
    """A day that differs from the weekly hours: closed (a holiday), or open at other times."""

    care_unit = models.ForeignKey(
        "orgs.CareUnit", on_delete=models.PROTECT, related_name="opening_exceptions"
    )
    day = models.DateField()
    closed = models.BooleanField(default=True)
    opens = models.TimeField(null=True, blank=True)
    closes = models.TimeField(null=True, blank=True)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["care_unit", "day"]
        constraints = [
            models.CheckConstraint(
                condition=Q(closed=True)
                | (Q(opens__isnull=False) & Q(closes__isnull=False) & Q(closes__gt=F("opens"))),
                name="opening_exception_hours",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day} {'closed' if self.closed else f'{self.opens}-{self.closes}'}"


class SlotRelease(models.Model):
    """Slots made bookable together at one moment, optionally only for an age band
    ("release 10,000 slots for ages 65-74 at 08:00"). How the public sees them:
    `ympa.booking.schedule_selectors.slots_public_filter` and `release_admits`."""

    care_unit = models.ForeignKey("orgs.CareUnit", on_delete=models.PROTECT, related_name="slot_releases")
    appointment_type = models.ForeignKey(AppointmentType, on_delete=models.PROTECT, related_name="releases")
    release_at = models.DateTimeField()
    # Age on the day of the appointment, inclusive; empty: no limit.
    min_age = models.PositiveSmallIntegerField(null=True, blank=True)
    max_age = models.PositiveSmallIntegerField(null=True, blank=True)
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["release_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(min_age__isnull=True) | Q(max_age__isnull=True) | Q(max_age__gte=F("min_age")),
                name="slot_release_age_band",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.appointment_type} {self.release_at:%Y-%m-%d %H:%M}"


class Slot(models.Model):
    """One bookable time of one resource. `booked` is claimed with a conditional UPDATE in the booking
    transaction and backed by the partial unique index on `Booking.slot`."""

    care_unit = models.ForeignKey("orgs.CareUnit", on_delete=models.PROTECT, related_name="slots")
    appointment_type = models.ForeignKey(AppointmentType, on_delete=models.PROTECT, related_name="slots")
    resource = models.ForeignKey(Resource, on_delete=models.PROTECT, related_name="slots")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    release = models.ForeignKey(
        SlotRelease, on_delete=models.PROTECT, null=True, blank=True, related_name="slots"
    )
    booked = models.BooleanField(default=False)
    # Withdrawn by staff (e.g. the vaccinator is ill); an existing booking is kept and must be rebooked.
    withdrawn_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["starts_at", "resource"]
        constraints = [
            models.UniqueConstraint(
                fields=["resource", "starts_at"], name="slot_unique_per_resource_and_time"
            ),
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="slot_ends_after_start"),
        ]
        indexes = [
            # The public page's question: the free slots of this type from now on, in time order.
            models.Index(
                fields=["appointment_type", "starts_at"],
                name="slot_free_idx",
                condition=Q(booked=False, withdrawn_at__isnull=True),
            ),
            models.Index(fields=["care_unit", "starts_at"], name="slot_unit_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.resource} {self.starts_at:%Y-%m-%d %H:%M}"


class BookingStatus(models.TextChoices):
    BOOKED = "booked", _("Booked")
    CANCELLED = "cancelled", _("Cancelled")
    ATTENDED = "attended", _("Attended")
    NO_SHOW = "no_show", _("Did not come")


class BookingChannel(models.TextChoices):
    PUBLIC = "public", _("Public booking page")
    CITIZEN = "citizen", _("Citizen app")
    STAFF = "staff", _("Staff")


class Booking(models.Model):
    """One patient's appointment in one slot. Never deleted: cancelled, attended or marked no-show.

    `token_hash` is the SHA-256 of the personal link's secret (sent in the confirmation) that lets the
    patient cancel, rebook, fill in the health declaration and check in without logging in.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    slot = models.ForeignKey(Slot, on_delete=models.PROTECT, related_name="bookings")
    care_unit = models.ForeignKey("orgs.CareUnit", on_delete=models.PROTECT, related_name="bookings")
    appointment_type = models.ForeignKey(AppointmentType, on_delete=models.PROTECT, related_name="bookings")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="bookings")
    # Bookings made together (a family in one go) share a group; the confirmation covers the group.
    group = models.UUIDField(default=uuid.uuid4)
    status = models.CharField(max_length=10, choices=BookingStatus.choices, default=BookingStatus.BOOKED)
    channel = models.CharField(max_length=8, choices=BookingChannel.choices)
    # Who made the booking: the identified person (12-digit personnummer) or the staff user.
    booked_by_identity = models.CharField(max_length=12, blank=True)
    booked_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    contact_phone = models.CharField(max_length=16, blank=True)
    contact_email = models.EmailField(blank=True)
    language = models.CharField(max_length=5, default="sv")
    token_hash = models.CharField(max_length=64, unique=True)
    idempotency_key = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    confirmation_sent_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=200, blank=True)
    # A rebooking cancels this booking and points to the new one.
    replaced_by = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    status_changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["slot__starts_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["slot"], condition=~Q(status="cancelled"), name="booking_one_active_per_slot"
            ),
            models.UniqueConstraint(
                fields=["idempotency_key", "patient"],
                condition=~Q(idempotency_key=""),
                name="booking_idempotency_unique",
            ),
            models.CheckConstraint(
                condition=~Q(status="cancelled") | Q(cancelled_at__isnull=False),
                name="booking_cancelled_has_time",
            ),
        ]
        indexes = [
            models.Index(fields=["patient", "status"], name="booking_patient_idx"),
            models.Index(fields=["care_unit", "status", "created_at"], name="booking_unit_idx"),
            models.Index(fields=["group"], name="booking_group_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.patient} {self.slot}"


class WaitingListEntry(models.Model):
    """Someone who found no free slot; told by SMS or e-mail when one is released or freed."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    care_unit = models.ForeignKey("orgs.CareUnit", on_delete=models.PROTECT, related_name="waiting_list")
    appointment_type = models.ForeignKey(
        AppointmentType, on_delete=models.PROTECT, related_name="waiting_list"
    )
    identity = models.CharField(max_length=12)
    contact_phone = models.CharField(max_length=16, blank=True)
    contact_email = models.EmailField(blank=True)
    language = models.CharField(max_length=5, default="sv")
    created_at = models.DateTimeField(default=timezone.now)
    notified_at = models.DateTimeField(null=True, blank=True)
    # Ended, never deleted: by staff (who and why, from the unit's waiting-list page), or by no one when the
    # person has booked a time of the type since joining (services.BOOKED_SINCE, found when the list is told).
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    end_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["appointment_type", "identity"],
                condition=Q(ended_at__isnull=True),
                name="waiting_list_once_per_type",
            ),
            models.CheckConstraint(
                condition=~Q(contact_phone="") | ~Q(contact_email=""), name="waiting_list_has_contact"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.appointment_type} {self.created_at:%Y-%m-%d}"


class DeclarationChannel(models.TextChoices):
    LINK = "link", _("Booking link")
    QR = "qr", _("QR code")
    TABLET = "tablet", _("Tablet at arrival")
    STAFF = "staff", _("Entered by staff")


class HealthDeclaration(models.Model):
    """A patient's answers to a declaration form before a visit. Part of the record: never deleted;
    answering again adds a new declaration and the latest one counts. The nurse confirms it at the visit."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="health_declarations"
    )
    care_unit = models.ForeignKey("orgs.CareUnit", on_delete=models.PROTECT, related_name="+")
    # Empty: the standard questions (`ympa.booking.declaration.QUESTIONS`), for a unit without a form.
    form = models.ForeignKey(
        DeclarationForm, on_delete=models.PROTECT, null=True, blank=True, related_name="declarations"
    )
    booking = models.ForeignKey(
        Booking, on_delete=models.PROTECT, null=True, blank=True, related_name="health_declarations"
    )
    visit = models.ForeignKey(
        "journal.Visit", on_delete=models.PROTECT, null=True, blank=True, related_name="health_declarations"
    )
    # {question key: answer}; the answer's shape is given by the question's kind.
    answers = models.JSONField(default=dict)
    # The question keys whose answers need the nurse's attention, decided when submitted.
    flagged = models.JSONField(default=list)
    channel = models.CharField(max_length=6, choices=DeclarationChannel.choices)
    submitted_at = models.DateTimeField(default=timezone.now)
    # Who answered: the patient, a guardian (12-digit personnummer), or a staff user.
    submitted_by_identity = models.CharField(max_length=12, blank=True)
    submitted_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    confirmed_at = models.DateTimeField(null=True, blank=True)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    confirmed_assignment = models.ForeignKey(
        "orgs.Assignment", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    confirmation_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-submitted_at"]
        indexes = [models.Index(fields=["patient", "submitted_at"], name="declaration_patient_idx")]

    def __str__(self) -> str:
        return f"{self.form or _('Health declaration')} {self.submitted_at:%Y-%m-%d %H:%M}"


class QueueStatus(models.TextChoices):
    WAITING = "waiting", _("Waiting")
    CALLED = "called", _("Called")
    IN_PROGRESS = "in_progress", _("In progress")
    DONE = "done", _("Done")
    NO_SHOW = "no_show", _("Did not come")


class CheckInChannel(models.TextChoices):
    SELF = "self", _("By the patient (link or QR code)")
    RECEPTION = "reception", _("At reception")
    WALK_IN = "walk_in", _("Walk-in")


class QueueEntry(models.Model):
    """A patient in a unit's queue on one day: checked in (with or without a booking), called, in
    progress, done, or no-show. Status changes are timestamped so waiting times can be shown."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    care_unit = models.ForeignKey("orgs.CareUnit", on_delete=models.PROTECT, related_name="queue_entries")
    day = models.DateField()
    # Shown on screens and called out instead of names: per unit and day, from 1.
    number = models.PositiveIntegerField()
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="queue_entries")
    booking = models.OneToOneField(
        Booking, on_delete=models.PROTECT, null=True, blank=True, related_name="queue_entry"
    )
    session = models.ForeignKey(
        "booking.MassSession", on_delete=models.PROTECT, null=True, blank=True, related_name="queue_entries"
    )
    status = models.CharField(max_length=12, choices=QueueStatus.choices, default=QueueStatus.WAITING)
    channel = models.CharField(max_length=10, choices=CheckInChannel.choices)
    checked_in_at = models.DateTimeField(default=timezone.now)
    called_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    called_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    vaccination = models.ForeignKey(
        "journal.Vaccination", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["day", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["care_unit", "day", "number"], name="queue_number_unique_per_day"
            ),
            models.UniqueConstraint(
                fields=["care_unit", "day", "patient"],
                condition=Q(status__in=["waiting", "called", "in_progress"]),
                name="queue_patient_once_open",
            ),
        ]
        indexes = [models.Index(fields=["care_unit", "day", "status"], name="queue_unit_day_idx")]

    def __str__(self) -> str:
        return f"{self.day} #{self.number}"


class MassSession(models.Model):
    """A mass-vaccination session at a unit: one product, batch and default site for everyone, so the desk
    registers and signs each dose in one step."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    care_unit = models.ForeignKey("orgs.CareUnit", on_delete=models.PROTECT, related_name="mass_sessions")
    name = models.CharField(max_length=100)
    product = models.ForeignKey("catalog.Product", on_delete=models.PROTECT, related_name="+")
    batch_number = models.CharField(max_length=40)
    batch_expiry = models.DateField(null=True, blank=True)
    default_site = models.CharField(max_length=16)
    appointment_type = models.ForeignKey(
        AppointmentType, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    started_at = models.DateTimeField(default=timezone.now)
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return self.name
