from __future__ import annotations

import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ympa.core.synth import synth_fill, synth_summary
from ympa.core.synth_readers import synth_readers
from ympa.core.synth_stock import stock_summary, synth_stock


class Command(BaseCommand):
    help = (
        "Add synthetic patients (test data) and signed vaccinations in bulk, for benchmarks. "
        "Run it again to add more; progress goes to stderr."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--patients", type=int, required=True, help="patients to add")
        parser.add_argument("--vaccinations", type=int, default=0, help="signed vaccinations to add")
        parser.add_argument(
            "--movements",
            type=int,
            default=0,
            help="stock ledger movements to add at the synthetic units (turns their inventory module on)",
        )
        parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
        parser.add_argument("--json", action="store_true", help="print the figures as JSON on stdout")
        parser.add_argument(
            "--readers",
            type=int,
            default=0,
            help="also add this many other care providers that read the shared record (make bench)",
        )
        parser.add_argument(
            "--reader-patients",
            type=int,
            default=2000,
            help="patients each reader has a care relation and consent for (default 2000)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            stats = synth_fill(
                patients=options["patients"],
                vaccinations=options["vaccinations"],
                seed=options["seed"],
                progress=sys.stderr,
            )
            stock = (
                synth_stock(movements=options["movements"], seed=options["seed"], progress=sys.stderr)
                if options["movements"]
                else None
            )
            readers = (
                synth_readers(
                    count=options["readers"], patients=options["reader_patients"], seed=options["seed"]
                )
                if options["readers"]
                else None
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        summary = synth_summary(stats)
        if stock is not None:
            summary["stock"] = stock_summary(stock)
        if readers is not None:
            summary["readers"] = {"usernames": list(readers.usernames), "patients": readers.patients}
        if options["json"]:
            self.stdout.write(json.dumps(summary))
        else:
            self.stdout.write(
                f"Added {stats.patients} patients and {stats.vaccinations} signed vaccinations "
                f"({stats.rows} rows) in {stats.seconds:.1f} s."
                + (f" Booked {stock.movements} stock movements in {stock.seconds:.1f} s." if stock else "")
            )
