"""gunicorn's hooks for `ympa serve` (passed as `--config python:ympa.core.gunicorn_conf`).

Once a worker has imported Django and the project, its heap holds well over a hundred thousand objects that
live as long as the process: modules, classes, functions, URL patterns, forms, API schemas. CPython's
cyclic garbage collector walks all of them in every full collection, and it runs one whenever a quarter as
many objects again have survived the younger collections: under load, every few hundred requests, each a
pause of 100-200 ms (measured on the bench machine) for the request in flight on that worker. Moving them to
the permanent generation once the worker is ready (`gc.freeze`) leaves the collector only what requests
create, and those pauses fall to a fifth.
"""

from __future__ import annotations

import gc
from typing import Any

from django.urls import get_resolver


def post_worker_init(worker: Any) -> None:
    # The URL patterns import every view module; done here rather than by the first request, they are frozen
    # with the rest (and the first request is not slower than the others).
    get_resolver().url_patterns  # noqa: B018
    # Collect first, so that import-time garbage is freed rather than kept for the process's life.
    gc.collect()
    gc.freeze()
