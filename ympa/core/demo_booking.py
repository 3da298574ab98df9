"""The demo's booking: Vaccinkliniken City opens its schedule, takes bookings and runs a queue.

Built through the booking services as the clinic's own staff would (Adam the administrator sets up the
schedule and the health declaration form, Rita at reception books and checks in, Sara runs a
mass-vaccination desk), so the demo shows every page with data whatever the time of day it is loaded.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING

from django.utils import timezone

from ympa.booking.declaration import STANDARD_KEYS, declaration_form_create, declaration_submit
from ympa.booking.mass import mass_session_start
from ympa.booking.models import Audience, DeclarationChannel, ResourceKind
from ympa.booking.queue import walk_in_add
from ympa.booking.schedule import (
    AppointmentTypeDetails,
    Period,
    appointment_type_create,
    opening_exception_add,
    opening_hours_set,
    resource_create,
    slot_release_create,
    slots_generate,
)
from ympa.booking.services import BookingPerson, Contact, booking_create, waiting_list_join
from ympa.catalog.models import Product
from ympa.core.actor import Actor, Channel
from ympa.core.dates import SWEDEN
from ympa.inventory.models import Batch
from ympa.patients.models import Patient

if TYPE_CHECKING:
    from ympa.core.demo import Demo

WEEKDAYS = (
    Period(0, time(8, 0), time(12, 0)),
    Period(0, time(13, 0), time(17, 0)),
    Period(1, time(8, 0), time(12, 0)),
    Period(1, time(13, 0), time(17, 0)),
    Period(2, time(8, 0), time(12, 0)),
    Period(2, time(13, 0), time(19, 0)),
    Period(3, time(8, 0), time(12, 0)),
    Period(3, time(13, 0), time(17, 0)),
    Period(4, time(8, 0), time(14, 0)),
    # Saturday mornings are drop-in: no slots, the queue takes whoever comes.
    Period(5, time(10, 0), time(14, 0), drop_in=True),
)
DAYS = 21


def _staff(demo: Demo, username: str) -> Actor:
    return Actor.staff(demo.users[username], demo.assignments[(username, "clinic", "city")], Channel.CLI)


def demo_booking(demo: Demo, today: date) -> None:
    admin, reception, nurse = (_staff(demo, u) for u in ("adam.admin", "rita.reception", "sara.ssk"))
    opening_hours_set(actor=admin, periods=list(WEEKDAYS))
    christmas = date(today.year, 12, 24)
    if christmas > today:
        opening_exception_add(actor=admin, day=christmas, closed=True, note="Julafton")
    rooms = [resource_create(actor=admin, name=f"Rum {n}", kind=ResourceKind.ROOM) for n in (1, 2, 3, 4)]
    form = declaration_form_create(
        actor=admin, name="Hälsodeklaration vaccination", questions=list(STANDARD_KEYS)
    )
    products = {
        p.code: p
        for p in Product.objects.filter(code__in=("vaxigriptetra", "comirnaty-30", "fsme-immun-vuxen"))
    }
    flu = appointment_type_create(
        actor=admin,
        details=AppointmentTypeDetails(
            name="Influensavaccination",
            duration_minutes=10,
            products=(products["vaxigriptetra"],),
            price_sek=350,
            vaccine_group="Influenza",
            declaration_form=form,
        ),
    )
    tbe = appointment_type_create(
        actor=admin,
        details=AppointmentTypeDetails(
            name="TBE-vaccination",
            duration_minutes=15,
            products=(products["fsme-immun-vuxen"],),
            price_sek=420,
            vaccine_group="TBE",
            declaration_form=form,
        ),
    )
    covid = appointment_type_create(
        actor=admin,
        details=AppointmentTypeDetails(
            name="Covid-19-vaccination",
            duration_minutes=10,
            products=(products["comirnaty-30"],),
            vaccine_group="COVID-19",
            declaration_form=form,
        ),
    )
    appointment_type_create(
        actor=admin,
        details=AppointmentTypeDetails(
            name="Resevaccination, rådgivning", duration_minutes=30, price_sek=300, audience=Audience.STAFF
        ),
    )
    end = today + timedelta(days=DAYS)
    slots_generate(actor=admin, appointment_type=flu, resources=rooms[:2], start=today, end=end)
    slots_generate(actor=admin, appointment_type=tbe, resources=rooms[2:3], start=today, end=end)
    # Covid-19 doses for 65 and over, bookable from tomorrow morning: a release as in a campaign.
    tomorrow = today + timedelta(days=1)
    slot_release_create(
        actor=admin,
        appointment_type=covid,
        release_at=datetime.combine(tomorrow, time(8, 0), tzinfo=SWEDEN),
        min_age=65,
        max_age=None,
        note="Höstens covid-19-vaccination, 65 år och äldre",
        start=tomorrow + timedelta(days=1),
        end=end,
        resources=rooms[3:],
    )
    adults = list(
        Patient.objects.filter(is_test_data=True, birth_date__lt=today - timedelta(days=25 * 365))
        .exclude(protected_identity=True)
        .order_by("identifier")[3:12]
    )
    free = list(
        flu.slots.filter(booked=False, starts_at__gte=timezone.now() + timedelta(days=1)).order_by(
            "starts_at"
        )[:6]
    )
    for patient, slot in zip(adults[:6], free, strict=False):
        booking_create(
            actor=reception,
            appointment_type=flu,
            persons=[BookingPerson(slot_id=slot.pk, patient=patient)],
            contact=Contact(),
            idempotency_key=f"demo-{patient.pk}",
            channel="staff",
        )
    # No covid-19 time is bookable before the release: two people wait on its list (the staff's "Waiting
    # list"; the numbers are from the range kept for fiction).
    for patient, phone in zip(adults[:2], ("070-174 06 51", "070-174 06 52"), strict=False):
        waiting_list_join(
            actor=Actor.citizen(patient.identifier, patient.full_name),
            appointment_type=covid,
            contact=Contact(phone=phone),
        )
    # Today's queue: three walk-ins, one of whom declares an allergy the nurse must see before vaccinating.
    arrivals = [walk_in_add(actor=reception, identifier=p.identifier) for p in adults[6:9]]
    if arrivals:
        declaration_submit(
            actor=reception,
            form=form,
            patient=arrivals[0].patient,
            channel=DeclarationChannel.TABLET,
            answers={
                "allergies": {
                    "answer": True,
                    "details": "Svullnad i armen efter förra årets influensavaccin.",
                },
                "illness": {"answer": False},
                "pregnancy": {"answer": False},
                "immunosuppression": {"answer": False},
                "bleeding": {"answer": False},
                "medications": {"answer": False},
                "travel_destination": "",
                "travel_dates": {},
            },
        )
    flu_batch = Batch.objects.filter(product=products["vaxigriptetra"]).order_by("-expiry").first()
    if flu_batch is not None:
        mass_session_start(
            actor=nurse,
            name="Influensa drop-in",
            product=products["vaxigriptetra"],
            batch_number=flu_batch.batch_number,
            batch_expiry=flu_batch.expiry,
            default_site="left_deltoid",
            appointment_type=flu,
        )
