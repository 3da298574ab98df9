"""A few seconds' memory of this process's answers to questions a surge asks hundreds of times a second.

Unlike Django's local-memory cache, values are kept as they are (not pickled and unpickled on every read),
so they are shared by the process's requests: only immutable values (tuples, frozen dataclasses, strings)
belong here. Each app server process keeps its own; a value is at most `seconds` old.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any, cast

# Old entries are dropped when the memory holds this many (a surge asks about a few weeks of a few types).
MAX_ENTRIES = 512


class MicroCache:
    def __init__(self) -> None:
        self._values: dict[Hashable, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get_or_compute[T](self, key: Hashable, seconds: float, compute: Callable[[], T]) -> T:
        """The value kept for `key` if it is younger than `seconds`, else `compute()` (kept from now)."""
        if seconds <= 0:
            return compute()
        now = time.monotonic()
        found = self._values.get(key)
        if found is not None and now - found[0] < seconds:
            return cast(T, found[1])
        value = compute()
        with self._lock:
            if len(self._values) >= MAX_ENTRIES:
                cutoff = now - seconds
                self._values = {k: v for k, v in self._values.items() if v[0] >= cutoff}
                if len(self._values) >= MAX_ENTRIES:
                    self._values.clear()
            self._values[key] = (now, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
