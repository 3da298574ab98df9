"""Closed-loop load: C client threads, each with its own lean HTTP client (bench.wire), for a fixed time."""

from __future__ import annotations

import os
import random
import resource
import statistics
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.server import Server, cpu_seconds_between, machine_busy_seconds, postgres_cpu_ticks
from bench.wire import Reply, WireClient


@dataclass(frozen=True)
class Patient:
    id: str
    identifier: str


@dataclass
class Measurement:
    name: str
    seconds: float
    requests: int
    errors: int
    throughput: float  # successful requests per second
    p50_ms: float
    p99_ms: float
    max_ms: float
    server_rss_mb: float  # peak during the measurement
    client_cpu_percent: float  # of one core, for the load generator itself
    server_cpu_percent: float  # of one core: gunicorn master and workers
    database_cpu_percent: float  # of one core: the PostgreSQL processes of `database` (SQLite is in-process)
    machine_cpu_percent: float  # of all cores: everything (server, client, database, anything else)
    load_average: float  # 1-minute load average at the end
    other_cpu_percent: float  # of one core: machine CPU used by none of the above (other work on the machine)
    error_samples: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# One request: given a client and a random generator, returns (ok, description of a failure).
Request = Callable[[WireClient, random.Random], tuple[bool, str]]


def floor_request(patients: Sequence[Patient]) -> Request:
    def call(client: WireClient, rng: random.Random) -> tuple[bool, str]:
        patient = rng.choice(patients)
        response = client.get("/bench/floor", params={"identifier": patient.identifier})
        if response.status_code == 200 and response.json().get("found") is True:
            return True, ""
        return False, f"floor {response.status_code}: {response.text[:200]}"

    return call


@dataclass(frozen=True)
class DoseBatches:
    """Batches in stock at every synthetic unit (`ympa synth --movements`), for the doses recorded."""

    product: str
    batch_numbers: tuple[str, ...]
    expiry: str


def server_timing(response: Reply, name: str) -> float | None:
    """The duration (ms) the server reported for `name` in `Server-Timing`, if any."""
    for metric in response.headers.get("server-timing", "").split(","):
        parts = [part.strip() for part in metric.split(";")]
        if parts[0] == name:
            for part in parts[1:]:
                if part.startswith("dur="):
                    return float(part[4:])
    return None


def record_request(
    patients: Sequence[Patient], *, batches: DoseBatches | None = None, stock_ms: list[float] | None = None
) -> Request:
    """Record and sign an influenza dose through the API's view (`/bench/record`, which adds the stock
    booking's own time as `Server-Timing: stock;dur=…`, collected in `stock_ms`), from one of `batches` when
    given, else from batches no delivery brought."""

    def call(client: WireClient, rng: random.Random) -> tuple[bool, str]:
        patient = rng.choice(patients)
        given = datetime.now(UTC) - timedelta(minutes=rng.randint(1, 30))
        body = {
            "administered_at": given.isoformat(),
            "product": batches.product if batches else "vaxigriptetra",
            "batch_number": rng.choice(batches.batch_numbers)
            if batches
            else f"BENCH{rng.randint(1, 99):02d}",
            "batch_expiry": batches.expiry if batches else (given + timedelta(days=200)).date().isoformat(),
            "dose_number": 1,
            "dose_volume_ml": "0.5",
            "site": rng.choice(("left_deltoid", "right_deltoid")),
            "route": "IM",
            "sign": True,
            # Random adults get several doses in a run; a second within weeks is (rightly) warned about.
            "override_reason": "Benchmark: synthetic dose",
        }
        response = client.post(
            f"/bench/record/{patient.id}",
            json=body,
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        if response.status_code == 201:
            booked = server_timing(response, "stock")
            if stock_ms is not None and booked is not None:
                stock_ms.append(booked)
            return True, ""
        return False, f"record {response.status_code}: {response.text[:200]}"

    return call


def stock_request(units: Sequence[int], *, ledger: bool, stock_ms: list[float] | None = None) -> Request:
    """A unit's stock per batch (`/bench/stock`): from the cached balances, or summed from the ledger.
    `stock_ms` collects the server's own timing of the selector."""
    source = "ledger" if ledger else "cache"

    def call(client: WireClient, rng: random.Random) -> tuple[bool, str]:
        response = client.get(f"/bench/stock/{rng.choice(units)}", params={"source": source})
        if response.status_code == 200 and isinstance(response.json(), list):
            took = server_timing(response, "stock")
            if stock_ms is not None and took is not None:
                stock_ms.append(took)
            return True, ""
        return False, f"stock {response.status_code}: {response.text[:200]}"

    return call


def overview_request(
    patients: Sequence[Patient], *, gated: bool, gate_ms: list[float] | None = None
) -> Request:
    """A patient's vaccinations as a reader at another care provider sees them (`/bench/overview`): with the
    access decision and the log row (gated), or the same reads without them. `gate_ms` collects the
    server's own timing of the gate (`Server-Timing: access;dur=…`)."""
    flag = "1" if gated else "0"

    def call(client: WireClient, rng: random.Random) -> tuple[bool, str]:
        patient = rng.choice(patients)
        response = client.get(f"/bench/overview/{patient.id}", params={"gated": flag})
        if response.status_code == 200 and isinstance(response.json(), list):
            took = server_timing(response, "access")
            if gate_ms is not None and took is not None:
                gate_ms.append(took)
            return True, ""
        return False, f"overview {response.status_code}: {response.text[:200]}"

    return call


def _percentile(ordered: list[float], fraction: float) -> float:
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def measure(
    name: str,
    server: Server,
    request: Request,
    *,
    clients: int,
    seconds: float,
    tokens: Sequence[str] = (),
    seed: int = 0,
    database: str = "",
) -> Measurement:
    """Run `request` in a closed loop from `clients` threads for `seconds`; latency is per request."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors: list[int] = [0] * clients
    samples: list[str] = []
    start_line = threading.Barrier(clients + 1)
    stop_at = [0.0]
    rss_peak = [0.0]
    sampling = threading.Event()

    def client_thread(index: int) -> None:
        headers = {"Authorization": f"Bearer {tokens[index % len(tokens)]}"} if tokens else {}
        rng = random.Random(f"{seed}:{name}:{index}")
        mine = latencies[index]
        client = WireClient("127.0.0.1", server.port, headers=headers)
        # One request outside the clock: the server's worker has answered once before the measurement.
        _safe(request, client, rng)
        start_line.wait(timeout=120)
        deadline = stop_at[0]
        while (now := time.perf_counter()) < deadline:
            ok, problem = _safe(request, client, rng)
            if ok:
                mine.append(time.perf_counter() - now)
            else:
                errors[index] += 1
                if len(samples) < 5:
                    samples.append(problem)

    def sampler() -> None:
        while not sampling.is_set():
            rss_peak[0] = max(rss_peak[0], server.rss_mb())
            sampling.wait(0.25)

    threads = [threading.Thread(target=client_thread, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    watcher = threading.Thread(target=sampler, daemon=True)
    # Every client has connected when the barrier opens; each reads the deadline after it.
    cpu_before = _cpu_seconds()
    server_before = server.cpu_seconds()
    database_before = postgres_cpu_ticks(database) if database else {}
    busy_before, total_before = machine_busy_seconds()
    started = time.perf_counter()
    stop_at[0] = started + seconds
    start_line.wait(timeout=120)
    watcher.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    sampling.set()
    watcher.join()
    cpu = _cpu_seconds() - cpu_before
    server_cpu = server.cpu_seconds() - server_before
    database_cpu = cpu_seconds_between(database_before, postgres_cpu_ticks(database)) if database else 0.0
    busy_after, total_after = machine_busy_seconds()
    machine = (busy_after - busy_before) / (total_after - total_before) if total_after > total_before else 0.0
    ordered = sorted(x for per_client in latencies for x in per_client)
    ok = len(ordered)
    return Measurement(
        name=name,
        seconds=elapsed,
        requests=ok + sum(errors),
        errors=sum(errors),
        throughput=ok / elapsed if elapsed else 0.0,
        p50_ms=statistics.median(ordered) * 1000 if ordered else 0.0,
        p99_ms=_percentile(ordered, 0.99) * 1000,
        max_ms=(ordered[-1] * 1000) if ordered else 0.0,
        server_rss_mb=rss_peak[0],
        client_cpu_percent=100 * cpu / elapsed if elapsed else 0.0,
        server_cpu_percent=100 * server_cpu / elapsed if elapsed else 0.0,
        database_cpu_percent=100 * database_cpu / elapsed if elapsed else 0.0,
        machine_cpu_percent=100 * machine,
        load_average=os.getloadavg()[0],
        other_cpu_percent=max(
            0.0,
            100 * machine * (os.cpu_count() or 1)
            - 100 * (server_cpu + database_cpu + cpu) / (elapsed or 1.0),
        ),
        error_samples=samples,
    )


def _safe(request: Request, client: WireClient, rng: random.Random) -> tuple[bool, str]:
    try:
        return request(client, rng)
    except Exception as exc:  # a failed request is counted, never fatal to the client thread
        return False, f"{type(exc).__name__}: {exc}"


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def median_of(measurements: Sequence[Measurement]) -> dict[str, float]:
    """The median of each figure over the rounds (errors: the total)."""
    keys = (
        "throughput",
        "p50_ms",
        "p99_ms",
        "max_ms",
        "server_rss_mb",
        "client_cpu_percent",
        "server_cpu_percent",
        "database_cpu_percent",
        "machine_cpu_percent",
        "load_average",
        "other_cpu_percent",
    )
    result = {key: statistics.median(getattr(m, key) for m in measurements) for key in keys}
    result["errors"] = float(sum(m.errors for m in measurements))
    result["requests"] = float(sum(m.requests for m in measurements))
    return result
