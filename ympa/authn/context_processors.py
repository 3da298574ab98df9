from __future__ import annotations

from typing import Any

from django.http import HttpRequest


def staff_context(request: HttpRequest) -> dict[str, Any]:
    return {"current_assignment": getattr(request, "assignment", None)}
