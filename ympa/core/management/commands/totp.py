from __future__ import annotations

from typing import Any

import pyotp
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ympa.authn.models import User


class Command(BaseCommand):
    help = (
        "Print the current TOTP code of a demo (test-data) account, so the demo can be used without a phone."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(username=options["username"]).first()
        if user is None or not user.totp_secret:
            raise CommandError(f"No user {options['username']!r} with two-step login set up.")
        if not user.is_test_data:
            # Real accounts' second factor must stay on the user's own device.
            raise CommandError("Only demo accounts (test data) can have their code printed.")
        self.stdout.write(pyotp.TOTP(user.totp_secret).now())
