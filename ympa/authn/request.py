from __future__ import annotations

from django.http import HttpRequest

from ympa.authn.models import User
from ympa.core.actor import Actor
from ympa.orgs.models import Assignment


class StaffRequest(HttpRequest):
    """The request a staff view receives after `staff_view`: logged in, with an assignment and an Actor."""

    user: User
    assignment: Assignment
    actor: Actor
