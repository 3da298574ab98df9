from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from ympa.notify import sms_simulator


class Command(BaseCommand):
    help = "Run a local simulator of an external system on loopback: sms (46elks)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("system", choices=["sms"])
        parser.add_argument("--port", type=int, default=8025)

    def handle(self, *args: Any, **options: Any) -> None:
        if options["system"] == "sms":
            sms_simulator.run(
                options["port"], username=settings.SMS["USERNAME"], password=settings.SMS["PASSWORD"]
            )
