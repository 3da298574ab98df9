"""Micro-benchmark of the forecasting engine, for ``make bench``.

Each iteration forecasts every vaccine group for a synthetic patient with a ten-dose history;
patients are varied (birth date, gender) so caches keyed on the patient do not flatter the result.
"""

from __future__ import annotations

import gc
import statistics
import time
import tracemalloc
from datetime import date, timedelta

from ympa.forecast.engine import forecast
from ympa.forecast.loader import DEFAULT_DATA_DIR, _load
from ympa.forecast.types import AdministeredDose, Patient

__all__ = ["bench"]

# A typical first-year-and-a-half history: (age in days, CVX).
_HISTORY = (
    (0, "08"),
    (61, "110"),
    (61, "49"),
    (61, "133"),
    (61, "116"),
    (122, "110"),
    (122, "49"),
    (183, "110"),
    (365, "03"),
    (365, "21"),
)


def _case(i: int) -> tuple[Patient, list[AdministeredDose], date]:
    birth = date(2020, 1, 1) + timedelta(days=i % 730)
    patient = Patient(birth, "F" if i % 2 else "M")
    doses = [AdministeredDose(birth + timedelta(days=age), cvx) for age, cvx in _HISTORY]
    return patient, doses, birth + timedelta(days=500 + i % 300)


def data_memory_bytes() -> int:
    """Bytes allocated while parsing the packaged supporting data (tracemalloc, uncached load)."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        data = _load.__wrapped__(DEFAULT_DATA_DIR.resolve())
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    del data
    return after - before


def bench(seconds: float) -> dict[str, float]:
    """Run forecasts for about ``seconds`` seconds and report throughput, latency and data memory."""
    forecast(*_case(0))  # load and cache the supporting data outside the timed loop
    timings: list[float] = []
    deadline = time.perf_counter() + seconds
    i = 0
    while time.perf_counter() < deadline or i == 0:
        patient, doses, assessment = _case(i)
        start = time.perf_counter()
        forecast(patient, doses, assessment)
        timings.append(time.perf_counter() - start)
        i += 1
    total = sum(timings)
    ordered = sorted(timings)
    return {
        "forecasts": float(len(timings)),
        "forecasts_per_second": len(timings) / total if total else 0.0,
        "p50_ms": statistics.median(ordered) * 1000,
        "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
        "data_memory_mb": data_memory_bytes() / (1024 * 1024),
    }


if __name__ == "__main__":
    for key, value in bench(3.0).items():
        print(f"{key}: {value:.2f}")  # noqa: T201 - command-line report
