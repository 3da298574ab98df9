"""Who does something, through which channel: every service takes an Actor and the audit log records it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db import models
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from ympa.authn.models import User
    from ympa.orgs.models import Assignment


class ActorKind(models.TextChoices):
    STAFF = "staff", _("Staff")
    CITIZEN = "citizen", _("Citizen")
    SYSTEM = "system", _("System")
    EXTERNAL = "external", _("External system")


class Channel(models.TextChoices):
    UI = "ui", _("Staff web app")
    API = "api", _("JSON API")
    CITIZEN_APP = "citizen_app", _("Citizen app")
    SYSTEM = "system", _("System")
    CLI = "cli", _("Command line")


@dataclass(frozen=True)
class Actor:
    kind: ActorKind
    identity: str
    display_name: str
    channel: Channel
    user: User | None = None
    assignment: Assignment | None = None
    # The login's level of assurance (ympa.authn.assurance.Assurance): reading other care providers'
    # information needs 3 (BankID, SITHS). API tokens and sessions without a recorded login count as 1.
    assurance: int = 1

    @classmethod
    def staff(
        cls, user: User, assignment: Assignment | None, channel: Channel, *, assurance: int = 1
    ) -> Actor:
        return cls(
            kind=ActorKind.STAFF,
            identity=user.hsa_id or user.get_username(),
            display_name=user.get_full_name() or user.get_username(),
            channel=channel,
            user=user,
            assignment=assignment,
            assurance=assurance,
        )

    @classmethod
    def citizen(cls, personal_number: str, name: str) -> Actor:
        """A person acting for themselves (or their children) in the citizen app, identified by BankID."""
        return cls(
            kind=ActorKind.CITIZEN,
            identity=personal_number,
            display_name=name,
            channel=Channel.CITIZEN_APP,
            # Citizens log in with BankID only.
            assurance=3,
        )

    @classmethod
    def system(cls, name: str, channel: Channel = Channel.SYSTEM) -> Actor:
        return cls(kind=ActorKind.SYSTEM, identity=name, display_name=name, channel=channel)
