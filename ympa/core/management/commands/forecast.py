from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from ympa.forecast import cases


class Command(BaseCommand):
    help = "Decision support. `forecast cases FILE.csv [--supporting-data DIR]` runs CDC CDSi test cases."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["cases"])
        parser.add_argument("arguments", nargs="*", help="FILE.csv [--supporting-data DIR]")
        parser.add_argument("--supporting-data", dest="supporting_data")

    def handle(self, *args: Any, **options: Any) -> None:
        argv = list(options["arguments"])
        if options["supporting_data"]:
            argv += ["--supporting-data", options["supporting_data"]]
        sys.exit(cases.main(argv))
