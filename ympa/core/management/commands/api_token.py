from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ympa.authn.models import User
from ympa.authn.selectors import active_assignments
from ympa.authn.services import api_token_create


class Command(BaseCommand):
    help = "Create a bearer token for the JSON API, acting as one of the user's assignments. Prints it once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument(
            "--assignment", type=int, help="assignment id (default: the user's only or first one)"
        )
        parser.add_argument("--name", default="")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(username=options["username"], is_active=True).first()
        if user is None:
            raise CommandError(f"No active user {options['username']!r}.")
        assignments = active_assignments(user)
        if options["assignment"] is not None:
            assignments = assignments.filter(pk=options["assignment"])
        assignment = assignments.first()
        if assignment is None:
            raise CommandError("The user has no such active assignment.")
        _record, token = api_token_create(user=user, assignment=assignment, name=options["name"])
        self.stdout.write(token)
