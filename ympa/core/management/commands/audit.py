from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from ympa.access.services import audit_anchor_create
from ympa.access.verify import audit_log_verify


class Command(BaseCommand):
    help = (
        "The access log. `audit verify` checks every chain and anchor and exits non-zero naming the first "
        "broken row of each chain; `audit anchor` records and signs every chain's head now."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["verify", "anchor"])
        parser.add_argument("--json", action="store_true", help="verify: print the figures as JSON on stdout")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "anchor":
            anchor = audit_anchor_create()
            if anchor is None:
                self.stdout.write(_("Nothing to anchor: no chain has moved since the last anchor."))
            else:
                self.stdout.write(
                    _("Anchor %(seq)d: %(chains)d chains.") % {"seq": anchor.seq, "chains": len(anchor.heads)}
                )
            return

        def progress(rows: int) -> None:
            self.stderr.write(f"\r{rows:,} rows", ending="")

        result = audit_log_verify(progress=progress if options["verbosity"] >= 1 else None)
        if result.rows >= 100_000 and options["verbosity"] >= 1:
            self.stderr.write("")
        if options["json"]:
            self.stdout.write(
                json.dumps(
                    {
                        "ok": result.ok,
                        "rows": result.rows,
                        "chains": result.chains,
                        "anchors": result.anchors,
                        "seconds": round(result.seconds, 2),
                        "rows_per_second": round(result.rows / result.seconds) if result.seconds else 0,
                        "problems": [str(problem) for problem in result.problems],
                    }
                )
            )
            if not result.ok:
                raise CommandError(str(result.problems[0]))
            return
        summary = _(
            "%(rows)d rows in %(chains)d chains and %(anchors)d anchors checked in %(seconds).1f s."
        ) % {
            "rows": result.rows,
            "chains": result.chains,
            "anchors": result.anchors,
            "seconds": result.seconds,
        }
        if result.ok:
            self.stdout.write(summary + " " + _("The access log is intact."))
            return
        for problem in result.problems:
            self.stdout.write(str(problem))
        self.stdout.write(summary)
        raise CommandError(_("The access log does not verify: %(problem)s") % {"problem": result.problems[0]})
