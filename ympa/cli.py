"""The `ympa` console script: every Django management command, with `api-token` style names accepted."""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv if argv is None else argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ympa.settings")
    if len(args) > 1:
        # Management command modules cannot contain hyphens; accept the readable spelling too.
        args[1] = args[1].replace("-", "_") if not args[1].startswith("-") else args[1]
        if args[1] == "demo":
            # The demo listens on loopback over plain HTTP, so cookies cannot require HTTPS.
            os.environ.setdefault("YMPA_HTTPS", "0")
    from django.core.management import execute_from_command_line

    execute_from_command_line(args)


if __name__ == "__main__":
    main()
