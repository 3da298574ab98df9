"""Who on the staff may act in the booking module: an active assignment at a care unit with a right."""

from __future__ import annotations

from django.utils.translation import gettext as _

from ympa.core.actor import Actor, ActorKind
from ympa.core.errors import NotPermitted
from ympa.orgs.models import CareUnit
from ympa.orgs.rights import Right


def staff_unit_with(actor: Actor, rights: tuple[Right, ...]) -> CareUnit:
    """The care unit of the actor's assignment, which must be active and hold one of `rights`."""
    assignment = actor.assignment
    if (
        actor.kind != ActorKind.STAFF
        or assignment is None
        or assignment.care_unit is None
        or not assignment.is_active()
    ):
        raise NotPermitted(_("Choose an active assignment at a care unit first."))
    if not any(assignment.has_right(right) for right in rights):
        raise NotPermitted(
            _("Your assignment does not include the right: %(right)s.") % {"right": rights[0].label}
        )
    return assignment.care_unit
