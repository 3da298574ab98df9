from __future__ import annotations

import os
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from ympa.forecast import cases


class Command(BaseCommand):
    help = (
        "Decision support. `forecast cases FILE.csv [--supporting-data DIR]` runs CDC CDSi test cases; "
        "`forecast refresh [--workers N]` recomputes every patient's stored forecasts."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["cases", "refresh"])
        parser.add_argument("arguments", nargs="*", help="cases: FILE.csv")
        parser.add_argument("--supporting-data", dest="supporting_data")
        parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "cases":
            argv = list(options["arguments"])
            if options["supporting_data"]:
                argv += ["--supporting-data", options["supporting_data"]]
            sys.exit(cases.main(argv))
        from ympa.journal.services import forecast_refresh_all

        def progress(done: int, total: int, seconds: float) -> None:
            rate = done / seconds if seconds else 0.0
            self.stderr.write(f"\r{done}/{total} patients, {rate:,.0f} patients/s", ending="")

        stats = forecast_refresh_all(workers=options["workers"], progress=progress)
        self.stderr.write("")
        self.stdout.write(
            f"Refreshed {stats.patients} patients ({stats.rows} stored forecasts) in {stats.seconds:.1f} s"
        )
