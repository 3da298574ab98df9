"""Deployment checks (`ympa check --deploy`) for settings that are safe on a laptop but not in production."""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Tags, Warning, register


@register(Tags.security, deploy=True)
def check_deployment(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    if os.environ.get("YMPA_BENCH", "") not in ("", "0"):
        messages.append(
            Warning(
                "YMPA_BENCH mounts /bench/floor, which tells anyone whether a personnummer is registered.",
                hint="Unset YMPA_BENCH outside benchmarks.",
                id="ympa.W003",
            )
        )
    if settings.AUDIT_LOG_KEY == settings.SECRET_KEY:
        messages.append(
            Warning(
                "The access log is keyed with the secret key: rotating the secret key would break its "
                "verification.",
                hint="Set YMPA_AUDIT_LOG_KEY to its own long random value, kept apart from the database.",
                id="ympa.W004",
            )
        )
    return messages
