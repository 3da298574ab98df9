from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ympa.core.synth_booking import synth_booking_release, synth_booking_sessions


class Command(BaseCommand):
    help = (
        "For the booking-surge benchmark: release slots of a public appointment type at the first synthetic "
        "unit, and create identified visitors' sessions (run `ympa synth` first)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--slots", type=int, default=10_000, help="slots to release now (default 10000)")
        parser.add_argument(
            "--sessions", type=int, default=0, help="identified visitors' sessions to create (default none)"
        )
        parser.add_argument("--json", action="store_true", help="print the result as JSON on stdout")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["slots"] < 1 and options["sessions"] < 1:
            raise CommandError("Ask for --slots or --sessions.")
        result: dict[str, Any] = {}
        try:
            if options["slots"] > 0:
                result = asdict(synth_booking_release(slots=options["slots"]))
            if options["sessions"] > 0:
                result["sessions"] = synth_booking_sessions(count=options["sessions"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if options["json"]:
            self.stdout.write(json.dumps(result, default=str))
        else:
            self.stdout.write(
                f"Released {result.get('slots', 0)} slots in {result.get('generate_seconds', 0.0):.2f} s; "
                f"{len(result.get('sessions', []))} identified sessions."
            )
