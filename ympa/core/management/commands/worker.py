from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Run the background-task worker (huey consumer with its periodic schedules)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--workers", type=int, default=settings.HUEY["consumer"]["workers"])

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.HUEY.get("immediate"):
            self.stderr.write(
                "YMPA_TASKS_URL=immediate runs tasks inline; there is nothing for a worker to do."
            )
            return
        call_command("run_huey", workers=options["workers"], worker_type="thread")
