"""The health declaration (hälsodeklaration): the standard questions as data, and the services that create
forms, take a patient's answers and let the nurse confirm them.

A question's texts are kept here in Swedish and English (the form is shown in the patient's language,
whatever the site's translations hold). `flag` says which answer needs the nurse's attention:
"yes" (a yes/no answered yes) or "soon" (a date range that starts within `SOON_DAYS` days: protection
may not be in place by departure).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from ympa.access.models import Action
from ympa.access.services import audit_event_record
from ympa.booking.models import Booking, BookingStatus, DeclarationChannel, DeclarationForm, HealthDeclaration
from ympa.booking.queue import is_link_holder
from ympa.booking.staff import staff_unit_with
from ympa.core.actor import Actor, ActorKind
from ympa.core.errors import ConflictError, NotPermitted
from ympa.journal.models import Visit
from ympa.orgs.rights import Right
from ympa.patients.models import Patient

SOON_DAYS = 14
DETAILS_MAX = 500


class Kind(StrEnum):
    YES_NO = "yes_no"
    YES_NO_DETAILS = "yes_no_details"
    DATE_RANGE = "date_range"
    TEXT = "text"


@dataclass(frozen=True)
class Question:
    key: str
    kind: Kind
    text_sv: str
    text_en: str
    # What to tell, for a yes answer with details (yes_no_details only).
    details_sv: str = ""
    details_en: str = ""
    # "yes", "soon" or "" (never flagged).
    flag: str = ""
    required: bool = True

    @property
    def text(self) -> str:
        return self.text_en if _english() else self.text_sv

    @property
    def details(self) -> str:
        return self.details_en if _english() else self.details_sv


def _english() -> bool:
    return (get_language() or "sv").startswith("en")


QUESTIONS: tuple[Question, ...] = (
    Question(
        "allergies",
        Kind.YES_NO_DETAILS,
        "Har du någon allergi eller har du fått en reaktion efter en tidigare vaccination?",
        "Do you have any allergies, or have you had a reaction after an earlier vaccination?",
        "Beskriv allergin eller reaktionen.",
        "Describe the allergy or the reaction.",
        flag="yes",
    ),
    Question(
        "illness",
        Kind.YES_NO_DETAILS,
        "Är du sjuk i dag eller har du feber (38 °C eller mer)?",
        "Are you ill today, or do you have a fever (38 °C or more)?",
        "Beskriv hur du mår.",
        "Describe how you feel.",
        flag="yes",
    ),
    Question(
        "pregnancy",
        Kind.YES_NO,
        "Är du gravid eller ammar du?",
        "Are you pregnant or breastfeeding?",
        flag="yes",
    ),
    Question(
        "immunosuppression",
        Kind.YES_NO_DETAILS,
        "Har du en sjukdom eller behandling som försämrar immunförsvaret (t.ex. kortison, cytostatika)?",
        "Do you have a disease or treatment that weakens the immune system (e.g. cortisone, chemotherapy)?",
        "Vilken sjukdom eller behandling?",
        "Which disease or treatment?",
        flag="yes",
    ),
    Question(
        "bleeding",
        Kind.YES_NO_DETAILS,
        "Har du en blödningssjukdom eller tar du blodförtunnande läkemedel?",
        "Do you have a bleeding disorder, or do you take blood-thinning medicine?",
        "Vilken sjukdom eller vilket läkemedel?",
        "Which disorder or medicine?",
        flag="yes",
    ),
    Question(
        "medications",
        Kind.YES_NO_DETAILS,
        "Tar du några läkemedel regelbundet?",
        "Do you take any medicines regularly?",
        "Vilka läkemedel?",
        "Which medicines?",
    ),
    Question(
        "travel_destination",
        Kind.TEXT,
        "Om du ska resa: vart?",
        "If you are travelling: where to?",
        required=False,
    ),
    Question(
        "travel_dates",
        Kind.DATE_RANGE,
        "Om du ska resa: när (från och till)?",
        "If you are travelling: when (from and to)?",
        flag="soon",
        required=False,
    ),
)

BY_KEY: dict[str, Question] = {question.key: question for question in QUESTIONS}
STANDARD_KEYS: tuple[str, ...] = tuple(BY_KEY)


def questions_of(form: DeclarationForm | None) -> list[Question]:
    """The questions a form asks, in its order; the standard questions when there is no form."""
    keys = form.questions if form is not None else STANDARD_KEYS
    return [BY_KEY[key] for key in keys if key in BY_KEY]


def declaration_form_for(booking: Booking) -> DeclarationForm | None:
    """The form a booking's patient answers: the appointment type's, else the unit's newest in use, else
    None (the standard questions)."""
    form = booking.appointment_type.declaration_form
    if form is not None and form.retired_at is None:
        return form
    return unit_declaration_form(booking.care_unit_id)


def unit_declaration_form(care_unit_id: int) -> DeclarationForm | None:
    return (
        DeclarationForm.objects.filter(care_unit_id=care_unit_id, retired_at__isnull=True)
        .order_by("-created_at", "-pk")
        .first()
    )


@transaction.atomic
def declaration_form_create(*, actor: Actor, name: str, questions: list[str]) -> DeclarationForm:
    """A new form of the actor's unit. Forms are never edited: make a new one and retire the old."""
    unit = staff_unit_with(actor, (Right.ADMINISTER_UNIT,))
    errors: dict[str, str] = {}
    clean_name = name.strip()
    if not clean_name:
        errors["name"] = _("Enter a name.")
    elif len(clean_name) > 100:
        errors["name"] = _("The name is too long (at most 100 characters).")
    if not questions:
        errors["questions"] = _("Choose at least one question.")
    elif any(key not in BY_KEY for key in questions) or len(set(questions)) != len(questions):
        errors["questions"] = _("Choose each question at most once, from the list.")
    if errors:
        raise ValidationError(errors)
    assert actor.user is not None  # a staff actor
    return DeclarationForm.objects.create(
        care_unit=unit, name=clean_name, questions=list(questions), created_by=actor.user
    )


@transaction.atomic
def declaration_form_retire(*, actor: Actor, form: DeclarationForm) -> DeclarationForm:
    unit = staff_unit_with(actor, (Right.ADMINISTER_UNIT,))
    locked = DeclarationForm.objects.select_for_update().get(pk=form.pk)
    if locked.care_unit_id != unit.pk:
        raise NotPermitted(_("This belongs to another care unit."))
    if locked.retired_at is not None:
        raise ConflictError(_("This form is already retired."), code="form_retired")
    locked.retired_at = timezone.now()
    locked.save(update_fields=["retired_at"])
    return locked


def _yes_no(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if value in ("yes", "true", "1", "on"):
        return True
    if value in ("no", "false", "0"):
        return False
    return None


def _day(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    if isinstance(value, str) and value.strip():
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def clean_answers(questions: list[Question], answers: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Validated answers in their stored shape and the keys that need attention; raises ValidationError
    with one message per field (`key`, `key_details`, `key_from`, `key_to`).

    Shapes: yes/no `{"answer": bool}`; with details `{"answer": bool, "details": str}`; date range
    `{"from": "YYYY-MM-DD", "to": "YYYY-MM-DD"}` or `{}`; text a string.
    """
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}
    flagged: list[str] = []
    today = timezone.localdate()
    unknown = set(answers) - {question.key for question in questions}
    if unknown:
        errors["__all__"] = _("The answers do not match the form's questions.")
    for question in questions:
        raw = answers.get(question.key)
        if question.kind in (Kind.YES_NO, Kind.YES_NO_DETAILS):
            given = raw.get("answer") if isinstance(raw, dict) else raw
            answer = _yes_no(given)
            if answer is None:
                errors[question.key] = _("Answer yes or no.")
                continue
            value: dict[str, Any] = {"answer": answer}
            if question.kind == Kind.YES_NO_DETAILS:
                details = (raw.get("details", "") if isinstance(raw, dict) else "") or ""
                details = str(details).strip()
                if len(details) > DETAILS_MAX:
                    errors[f"{question.key}_details"] = _("Write at most %(count)d characters.") % {
                        "count": DETAILS_MAX
                    }
                    continue
                value["details"] = details if answer else ""
            clean[question.key] = value
            if question.flag == "yes" and answer:
                flagged.append(question.key)
        elif question.kind == Kind.DATE_RANGE:
            raw = raw if isinstance(raw, dict) else {}
            start, end = raw.get("from"), raw.get("to")
            if not start and not end:
                clean[question.key] = {}
                continue
            first, last = _day(start), _day(end)
            if first is None:
                errors[f"{question.key}_from"] = _("Enter the first date, e.g. 2026-06-01.")
            if last is None:
                errors[f"{question.key}_to"] = _("Enter the last date, e.g. 2026-06-14.")
            if first is None or last is None:
                continue
            if last < first:
                errors[f"{question.key}_to"] = _("The last date is before the first date.")
                continue
            clean[question.key] = {"from": first.isoformat(), "to": last.isoformat()}
            if question.flag == "soon" and first <= today + timedelta(days=SOON_DAYS):
                flagged.append(question.key)
        else:
            text = str(raw or "").strip()
            if len(text) > DETAILS_MAX:
                errors[question.key] = _("Write at most %(count)d characters.") % {"count": DETAILS_MAX}
                continue
            if question.required and not text:
                errors[question.key] = _("Answer the question.")
                continue
            clean[question.key] = text
    if errors:
        raise ValidationError(errors)
    return clean, flagged


@transaction.atomic
def declaration_submit(
    *,
    actor: Actor,
    form: DeclarationForm | None,
    answers: dict[str, Any],
    channel: DeclarationChannel,
    booking: Booking | None = None,
    patient: Patient | None = None,
) -> HealthDeclaration:
    """Store a patient's answers (a new declaration each time; the latest counts).

    With a booking: the holder of its link (channel link or QR), or staff of its unit who manage bookings
    or vaccinate (the tablet at arrival, or entering answers given by phone). Without one: staff entering
    the answers for `patient` at their own unit. `form` None is the standard questions.
    """
    if (booking is None) == (patient is None):
        raise ValueError("give either a booking or a patient")
    if booking is not None:
        booking = Booking.objects.select_related("patient", "care_unit").get(pk=booking.pk)
        if booking.status != BookingStatus.BOOKED:
            raise ConflictError(_("This booking is not active."), code="booking_inactive")
        unit_id = booking.care_unit_id
        subject = booking.patient
    else:
        assert patient is not None
        subject = patient
        unit_id = 0
    staff_rights = (Right.MANAGE_BOOKINGS, Right.ADMINISTER, Right.SIGN)
    if actor.kind == ActorKind.STAFF:
        unit = staff_unit_with(actor, staff_rights)
        if booking is not None and unit.pk != unit_id:
            raise NotPermitted(_("This belongs to another care unit."))
        if channel in (DeclarationChannel.LINK, DeclarationChannel.QR):
            raise NotPermitted(_("Only the holder of the booking link can answer with it."))
        unit_id = unit.pk
    elif (
        booking is None
        or not is_link_holder(actor, booking)
        or channel not in (DeclarationChannel.LINK, DeclarationChannel.QR)
    ):
        raise NotPermitted(_("Only the holder of the booking link can answer with it."))
    if form is not None:
        # Read again: the caller's copy may predate a retirement.
        form = DeclarationForm.objects.get(pk=form.pk)
    if form is not None and (form.care_unit_id != unit_id or form.retired_at is not None):
        raise ValidationError({"__all__": _("This form is not in use at the care unit.")})
    clean, flagged = clean_answers(questions_of(form), answers)
    staff = actor.kind == ActorKind.STAFF
    declaration = HealthDeclaration.objects.create(
        patient=subject,
        care_unit_id=unit_id,
        form=form,
        booking=booking,
        answers=clean,
        flagged=flagged,
        channel=channel,
        # On the tablet the patient answers in the staff member's session: both are kept.
        submitted_by_identity=subject.identifier
        if channel == DeclarationChannel.TABLET
        else ("" if staff else actor.identity),
        submitted_by_user=actor.user if staff else None,
    )
    audit_event_record(
        actor=actor,
        action=Action.CREATE,
        patient=subject,
        object_type="booking.healthdeclaration",
        object_id=str(declaration.pk),
        detail={"channel": channel, "flagged": ",".join(flagged)},
    )
    return declaration


@transaction.atomic
def declaration_confirm(*, actor: Actor, declaration: HealthDeclaration, note: str = "") -> HealthDeclaration:
    """The nurse has gone through the answers with the patient. The declaration joins today's visit of the
    patient at the unit, if there is one yet (otherwise the dose's registration makes the visit later)."""
    unit = staff_unit_with(actor, (Right.ADMINISTER, Right.SIGN))
    locked = HealthDeclaration.objects.select_for_update().select_related("patient").get(pk=declaration.pk)
    if locked.care_unit_id != unit.pk:
        raise NotPermitted(_("This belongs to another care unit."))
    if locked.confirmed_at is not None:
        raise ConflictError(_("This health declaration is already confirmed."), code="declaration_confirmed")
    clean_note = note.strip()
    if len(clean_note) > 2000:
        raise ValidationError({"note": _("Write at most %(count)d characters.") % {"count": 2000}})
    visit_id = (
        Visit.objects.filter(patient_id=locked.patient_id, care_unit=unit, visit_date=timezone.localdate())
        .values_list("pk", flat=True)
        .first()
    )
    locked.confirmed_at = timezone.now()
    locked.confirmed_by = actor.user
    locked.confirmed_assignment = actor.assignment
    locked.confirmation_note = clean_note
    changed = ["confirmed_at", "confirmed_by", "confirmed_assignment", "confirmation_note"]
    if visit_id is not None and locked.visit_id is None:
        locked.visit_id = visit_id
        changed.append("visit")
    locked.save(update_fields=changed)
    audit_event_record(
        actor=actor,
        action=Action.UPDATE,
        patient=locked.patient,
        object_type="booking.healthdeclaration",
        object_id=str(locked.pk),
        detail={"event": "confirmed"},
    )
    return locked


@dataclass(frozen=True)
class AnswerRow:
    key: str
    question: str
    answer: str
    details: str
    flagged: bool


def answer_rows(declaration: HealthDeclaration) -> list[AnswerRow]:
    """The declaration's answers for reading, in the form's order, in the reader's language."""
    keys = list(declaration.form.questions) if declaration.form is not None else list(STANDARD_KEYS)
    rows = []
    for key in keys:
        question = BY_KEY.get(key)
        if question is None:
            continue
        value = declaration.answers.get(key)
        answer, details = "", ""
        if question.kind in (Kind.YES_NO, Kind.YES_NO_DETAILS) and isinstance(value, dict):
            answer = _("Yes") if value.get("answer") else _("No")
            details = str(value.get("details", ""))
        elif question.kind == Kind.DATE_RANGE and isinstance(value, dict):
            answer = f"{value['from']} - {value['to']}" if value.get("from") else ""
        elif isinstance(value, str):
            answer = value
        rows.append(AnswerRow(key, question.text, answer or "-", details, key in declaration.flagged))
    return rows
