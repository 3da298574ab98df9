"""Roles and rights: what each role may do by default is this one table; assignments adjust it."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    PHYSICIAN = "physician", _("Physician")
    NURSE = "nurse", _("Registered nurse")
    MIDWIFE = "midwife", _("Midwife")
    ASSISTANT_NURSE = "assistant_nurse", _("Assistant nurse")
    RECEPTIONIST = "receptionist", _("Receptionist")
    ADMINISTRATOR = "administrator", _("Administrator")
    INFECTION_CONTROL = "infection_control", _("Infection-control officer")


class Right(models.TextChoices):
    ORDER = "order", _("Order vaccinations")
    ADMINISTER = "administer", _("Administer vaccinations")
    SIGN = "sign", _("Sign record entries")
    CORRECT = "correct", _("Correct and nullify record entries")
    MANAGE_STOCK = "manage_stock", _("Manage stock")
    VIEW_STATISTICS = "view_statistics", _("View statistics")
    REVIEW_LOGS = "review_logs", _("Review access logs")
    ADMINISTER_UNIT = "administer_unit", _("Administer the care unit")
    MANAGE_BOOKINGS = "manage_bookings", _("Manage bookings and check-in")


R = Right
DEFAULT_RIGHTS: dict[Role, frozenset[Right]] = {
    Role.PHYSICIAN: frozenset(
        {R.ORDER, R.ADMINISTER, R.SIGN, R.CORRECT, R.VIEW_STATISTICS, R.MANAGE_BOOKINGS}
    ),
    Role.NURSE: frozenset(
        {R.ADMINISTER, R.SIGN, R.CORRECT, R.MANAGE_STOCK, R.VIEW_STATISTICS, R.MANAGE_BOOKINGS}
    ),
    Role.MIDWIFE: frozenset(
        {R.ADMINISTER, R.SIGN, R.CORRECT, R.MANAGE_STOCK, R.VIEW_STATISTICS, R.MANAGE_BOOKINGS}
    ),
    # Assistant nurses vaccinate under delegation; a nurse or physician signs what they record.
    Role.ASSISTANT_NURSE: frozenset({R.ADMINISTER, R.MANAGE_STOCK, R.MANAGE_BOOKINGS}),
    # Reception books, checks in and runs the queue; it never reads or writes the record itself.
    Role.RECEPTIONIST: frozenset({R.MANAGE_BOOKINGS}),
    Role.ADMINISTRATOR: frozenset(
        {R.MANAGE_STOCK, R.VIEW_STATISTICS, R.REVIEW_LOGS, R.ADMINISTER_UNIT, R.MANAGE_BOOKINGS}
    ),
    Role.INFECTION_CONTROL: frozenset({R.VIEW_STATISTICS, R.REVIEW_LOGS}),
}

# Roles whose assignment is to a region rather than to a care unit.
REGION_ROLES = frozenset({Role.INFECTION_CONTROL})


def effective_rights(role: str, granted: list[str], revoked: list[str]) -> frozenset[Right]:
    base = DEFAULT_RIGHTS[Role(role)]
    return frozenset((base | {Right(r) for r in granted}) - {Right(r) for r in revoked})
