"""`python -m bench`: fill, serve and load each database, then print and save the results."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import redis

from bench.database import Database, drop_postgres_database, postgres_database, sqlite_database
from bench.load import (
    DoseBatches,
    Measurement,
    Request,
    floor_request,
    measure,
    median_of,
    overview_request,
    record_request,
    stock_request,
)
from bench.report import print_database, print_summary
from bench.server import REPO, BenchError, Server, run_ympa, wait_for_quiet
from bench.surge import SurgeResult, run_surge

# The synth nurses (ympa.core.synth.nurse_username): one token per care unit, up to this many.
SYNTH_UNITS = 6
SECRET_KEY = "ympa-bench-not-secret-0123456789-abcdefghijklmnopqrstuvwxyz"  # noqa: S105 - loopback bench
RECORD_P99_FACTOR = 5.0
# Readers of the shared record at other care providers (`ympa synth --readers`), one client each.
READERS = 8
READER_PATIENTS = 2000
ACCESS_P99_BUDGET_MS = 2.0
POSTGRES_RECORDS_PER_SECOND = 200.0
# Stock (issue 6): a unit's balance per batch over the ledger in under 50 ms, and booking a signed dose's
# movement adding at most 1 ms at p99, on PostgreSQL.
STOCK_BALANCE_BUDGET_MS = 50.0
STOCK_BOOKING_P99_BUDGET_MS = 1.0
# The booking surge's confirmations are queued in Redis (database 9 of the local server), emptied after.
SURGE_TASKS_URL = os.environ.get("YMPA_BENCH_SURGE_TASKS_URL", "redis://127.0.0.1:6379/9")
# Measurements whose errors fail the run (and the stock ones, when measured).
MEASUREMENTS = ("floor", "record")


@dataclass(frozen=True)
class Plan:
    smoke: bool
    databases: tuple[str, ...]
    seconds: float
    clients: int
    workers: tuple[int, ...]
    threads: int
    rounds: int
    patients: int
    vaccinations: int
    movements: int
    forecast_seconds: float
    postgres_admin_url: str
    postgres_name: str
    keep: bool
    quiet_wait: float
    surge_slots: int
    surge_clients: int
    surge_seconds: float
    surge_workers: int


@dataclass
class DatabaseResult:
    vendor: str
    label: str
    migrate_seconds: float = 0.0
    synth: dict[str, Any] = field(default_factory=dict)
    forecast_refresh: dict[str, Any] = field(default_factory=dict)
    audit_verify: dict[str, Any] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)
    runs: list[dict[str, Any]] = field(default_factory=list)  # one per worker count
    phases: dict[str, float] = field(default_factory=dict)  # wall-clock seconds per step
    error: str = ""


def parse_args(argv: list[str] | None) -> Plan:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny data and 2 s measurements (CI)")
    parser.add_argument("--databases", default="sqlite,postgresql", help="comma-separated: sqlite,postgresql")
    parser.add_argument("--seconds", type=float, help="seconds per measurement (default 20; smoke 2)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent client threads (default 8)")
    parser.add_argument(
        "--workers",
        default="3",
        help="gunicorn workers; a comma-separated list measures each (default 3, see bench/README.md)",
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="threads per gunicorn worker; >1 uses gthread with keep-alive"
    )
    parser.add_argument("--rounds", type=int, default=3, help="rounds of floor + record (default 3)")
    parser.add_argument("--patients", type=int, help="synthetic patients (default 100000; smoke 200)")
    parser.add_argument(
        "--vaccinations", type=int, help="synthetic vaccinations (default 1000000; smoke 1000)"
    )
    parser.add_argument(
        "--movements", type=int, help="synthetic stock ledger movements (default 1000000; smoke 2000)"
    )
    parser.add_argument(
        "--postgres-name",
        help="the PostgreSQL database to drop and create (default ympa_bench; smoke _smoke)",
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("YMPA_BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres"),
        help="an existing database on the PostgreSQL server to run CREATE/DROP DATABASE from",
    )
    parser.add_argument(
        "--surge-slots", type=int, help="booking surge: slots released (default 10000; smoke 100; 0 skips it)"
    )
    parser.add_argument(
        "--surge-clients", type=int, help="booking surge: concurrent visitors (default 200; smoke 20)"
    )
    parser.add_argument(
        "--surge-workers",
        type=int,
        default=5,
        help="booking surge: gunicorn workers (default 5, gunicorn's 2 x cores + 1: a booking waits on "
        "commits, so more workers than cores keep the CPUs busy)",
    )
    parser.add_argument(
        "--surge-seconds", type=float, help="booking surge: time bound in seconds (default 120; smoke 10)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the data directory and the PG database")
    parser.add_argument(
        "--quiet-wait",
        type=float,
        help="before each measurement wait up to this many seconds for other work on the machine to stop "
        "(default 60; smoke 0)",
    )
    args = parser.parse_args(argv)
    databases = tuple(d.strip().lower() for d in args.databases.split(",") if d.strip())
    unknown = set(databases) - {"sqlite", "postgresql"}
    if unknown or not databases:
        parser.error(f"unknown database(s): {', '.join(sorted(unknown)) or '(none)'}")
    smoke = bool(args.smoke)
    return Plan(
        smoke=smoke,
        databases=databases,
        seconds=args.seconds if args.seconds is not None else (2.0 if smoke else 20.0),
        clients=max(1, args.clients),
        workers=tuple(int(w) for w in str(args.workers).split(",") if w.strip()),
        threads=args.threads,
        rounds=max(1, args.rounds),
        patients=args.patients if args.patients is not None else (200 if smoke else 100_000),
        vaccinations=args.vaccinations if args.vaccinations is not None else (1000 if smoke else 1_000_000),
        movements=args.movements if args.movements is not None else (2000 if smoke else 1_000_000),
        forecast_seconds=1.0 if smoke else 10.0,
        postgres_admin_url=args.postgres_url,
        postgres_name=args.postgres_name or ("ympa_bench_smoke" if smoke else "ympa_bench"),
        keep=bool(args.keep),
        quiet_wait=args.quiet_wait if args.quiet_wait is not None else (0.0 if smoke else 60.0),
        surge_slots=args.surge_slots if args.surge_slots is not None else (100 if smoke else 10_000),
        surge_clients=args.surge_clients if args.surge_clients is not None else (20 if smoke else 200),
        surge_seconds=args.surge_seconds if args.surge_seconds is not None else (10.0 if smoke else 120.0),
        surge_workers=max(1, args.surge_workers),
    )


def base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("YMPA_") and k != "DATABASE_URL"}
    env.update(
        {
            "YMPA_HTTPS": "0",
            "YMPA_DEBUG": "0",
            "YMPA_TASKS_URL": "immediate",
            "YMPA_BENCH": "1",
            "YMPA_SECRET_KEY": SECRET_KEY,
            "YMPA_LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def machine_facts() -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    models = [line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")]
    meminfo = Path("/proc/meminfo").read_text() if Path("/proc/meminfo").exists() else ""
    total_kb = next((int(line.split()[1]) for line in meminfo.splitlines() if line.startswith("MemTotal")), 0)
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_model": models[0] if models else platform.processor() or "unknown",
        "memory_gb": round(total_kb / 2**20, 1),
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


@dataclass
class Prepared:
    database: Database
    result: DatabaseResult
    env: dict[str, str]
    tokens: list[str] = field(default_factory=list)
    reader_tokens: list[str] = field(default_factory=list)
    readable: list[Any] = field(default_factory=list)
    patients: list[Any] = field(default_factory=list)
    stock: dict[str, Any] = field(default_factory=dict)  # what `ympa synth --movements` reported
    adults: list[Any] = field(default_factory=list)
    mark: float = field(default_factory=time.perf_counter)

    def phase(self, name: str) -> None:
        """Record the wall-clock time since the last phase under `name`."""
        now = time.perf_counter()
        self.result.phases[name] = round(now - self.mark, 2)
        self.mark = now


def prepare_database(vendor: str, plan: Plan, data_dir: Path, env: dict[str, str]) -> Prepared:
    """A fresh database, migrated and filled by `ympa synth`; API tokens and a sample of patients."""
    started = time.perf_counter()
    if vendor == "sqlite":
        database: Database = sqlite_database(data_dir)
        for stale in data_dir.glob("ympa.sqlite3*"):
            stale.unlink()
    else:
        database = postgres_database(plan.postgres_admin_url, plan.postgres_name, data_dir)
    prepared = Prepared(database, DatabaseResult(vendor=vendor, label=database.label), database.env(env))
    prepared.mark = started
    result, db_env = prepared.result, prepared.env
    print(
        f"\n== {database.label}: migrate, synth {plan.patients:,} patients / "
        f"{plan.vaccinations:,} vaccinations / {plan.movements:,} stock movements"
    )
    prepared.phase("create")
    _out, result.migrate_seconds = run_ympa(["migrate", "--noinput", "-v", "0"], db_env)
    prepared.phase("migrate")
    synth_out, synth_seconds = run_ympa(
        [
            "synth",
            "--patients",
            str(plan.patients),
            "--vaccinations",
            str(plan.vaccinations),
            "--seed",
            "1",
            "--readers",
            str(READERS),
            "--reader-patients",
            str(200 if plan.smoke else READER_PATIENTS),
            "--movements",
            str(plan.movements),
            "--json",
        ],
        db_env,
    )
    result.synth = json.loads(synth_out.strip().splitlines()[-1])
    result.synth["command_seconds"] = round(synth_seconds, 2)
    prepared.stock = result.synth.get("stock", {})
    prepared.phase("synth")
    # Decision support's bulk refresh: every patient's stored forecasts, engine in worker processes.
    refresh_out, refresh_seconds = run_ympa(["forecast", "refresh", "--workers", "2"], db_env)
    result.forecast_refresh = {
        "patients": plan.patients,
        "seconds": round(refresh_seconds, 2),
        "patients_per_second": round(plan.patients / refresh_seconds, 1) if refresh_seconds else 0.0,
        "output": refresh_out.strip().splitlines()[-1] if refresh_out.strip() else "",
    }
    prepared.phase("forecast refresh")
    # The whole access log, every chain and anchor (synth writes two rows per dose); fails if it is broken.
    verify_out, verify_seconds = run_ympa(["audit", "verify", "--json", "-v", "0"], db_env)
    result.audit_verify = json.loads(verify_out.strip().splitlines()[-1])
    result.audit_verify["command_seconds"] = round(verify_seconds, 2)
    prepared.phase("audit verify")
    result.facts = database.facts()
    prepared.tokens = [
        run_ympa(["api-token", f"synth.ssk.{unit:02d}.1", "--name", "bench"], db_env)[0].strip()
        for unit in range(1, (1 if plan.smoke else min(plan.clients, SYNTH_UNITS)) + 1)
    ]
    prepared.reader_tokens = [
        run_ympa(["api-token", username, "--name", "bench"], db_env)[0].strip()
        for username in result.synth["readers"]["usernames"]
    ]
    prepared.readable = database.reader_patients(READER_PATIENTS)
    prepared.patients = database.sample_patients(5000)
    # Doses are recorded for adults: an influenza dose for a child under six months would not count.
    today = datetime.now(ZoneInfo("Europe/Stockholm")).date()
    prepared.adults = database.sample_patients(5000, born_before=today.replace(year=today.year - 18, day=1))
    if not prepared.patients or not prepared.adults or not prepared.readable:
        raise BenchError("no synthetic patients found after ympa synth")
    prepared.phase("tokens and sample")
    return prepared


def measure_database(prepared: Prepared, plan: Plan, log: Path) -> None:
    prepared.mark = time.perf_counter()
    for workers in plan.workers:
        prepared.result.runs.append(run_server(prepared, plan, workers, log))
        prepared.phase(f"serve and measure, {workers} workers")


FAILURES = (BenchError, subprocess.SubprocessError, OSError, ValueError, psycopg.Error)


def prepare_all(plan: Plan, data_dir: Path, env: dict[str, str]) -> list[Prepared | DatabaseResult]:
    """Prepare every database: at once in a smoke run (time), one after the other otherwise (the synth
    timings are results)."""

    def attempt(vendor: str) -> Prepared | DatabaseResult:
        try:
            return prepare_database(vendor, plan, data_dir, env)
        except FAILURES as exc:
            print(f"   ERROR ({vendor}): {exc}")
            return DatabaseResult(vendor=vendor, label=vendor, error=str(exc))

    if plan.smoke and len(plan.databases) > 1:
        with ThreadPoolExecutor(max_workers=len(plan.databases)) as pool:
            return list(pool.map(attempt, plan.databases))
    return [attempt(vendor) for vendor in plan.databases]


def gate_percentiles(samples: list[float]) -> dict[str, float]:
    """p50 and p99 of a server-timed figure (ms: the gate's, the stock booking's) over one measurement."""
    ordered = sorted(samples)
    if not ordered:
        return {"p50_ms": 0.0, "p99_ms": 0.0}
    return {
        "p50_ms": ordered[len(ordered) // 2],
        "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
    }


@dataclass
class Step:
    """One measurement of a round: its request, tokens and clients, and the server-timed samples its
    requests collect (`timed`, emptied after each round into `timings`)."""

    request: Request
    tokens: Sequence[str] = ()
    clients: int = 0  # 0: the plan's
    timed: list[float] | None = None
    rounds: list[Measurement] = field(default_factory=list)
    timings: list[dict[str, float]] = field(default_factory=list)

    def timing(self) -> dict[str, float]:
        """The median over the rounds of the server-timed p50 and p99."""
        return {
            figure: statistics.median(r[figure] for r in self.timings) if self.timings else 0.0
            for figure in ("p50_ms", "p99_ms")
        }


def dose_batches(stock: dict[str, Any]) -> DoseBatches | None:
    found = stock.get("dose_batches") or {}
    if not found.get("batch_numbers"):
        return None
    return DoseBatches(str(found["product"]), tuple(found["batch_numbers"]), str(found["expiry"]))


def run_server(prepared: Prepared, plan: Plan, workers: int, log: Path) -> dict[str, Any]:
    database, env, tokens, stock = prepared.database, prepared.env, prepared.tokens, prepared.stock
    readers = prepared.reader_tokens
    batches = dose_batches(stock)
    # The server's own timings (`Server-Timing`) of the gate, the stock booking and the balance selectors.
    gate_ms: list[float] = []
    gate_one_ms: list[float] = []
    booking_ms: list[float] = []
    idle_booking_ms: list[float] = []
    one_booking_ms: list[float] = []
    balance_ms: list[float] = []
    ledger_ms: list[float] = []
    steps: dict[str, Step] = {
        "floor": Step(floor_request(prepared.patients)),
        "record": Step(
            record_request(prepared.adults, batches=batches, stock_ms=booking_ms), tokens, 0, booking_ms
        ),
    }
    if stock:
        # The same record+sign with the provider's inventory module off: the stock booking is all it skips.
        steps["record_nostock"] = Step(
            record_request(prepared.adults, batches=batches, stock_ms=idle_booking_ms),
            tokens,
            0,
            idle_booking_ms,
        )
        # The same by one client: the booking's own cost, without the waits for a CPU that a saturated
        # two-core machine adds to any interval measured inside a request.
        steps["record_one"] = Step(
            record_request(prepared.adults, batches=batches, stock_ms=one_booking_ms),
            tokens,
            1,
            one_booking_ms,
        )
    # The access decision and log: the same overview without and with them, 8 clients in 8 providers;
    # and with them, all 8 clients in one provider (one chain: what serialisation on the log would cost).
    gated = overview_request(prepared.readable, gated=True, gate_ms=gate_ms)
    steps["ungated"] = Step(overview_request(prepared.readable, gated=False), readers)
    steps["gated"] = Step(gated, readers, 0, gate_ms)
    steps["one_provider"] = Step(gated, readers[:1], 0, gate_ms)
    # The same by one client, with and without the gate: what it adds to a request when no other request
    # competes for the two cores (a saturated run stretches any interval measured inside a request by the
    # waits for a CPU, and its end-to-end difference is the gate's CPU cost times the queue).
    steps["ungated_one"] = Step(overview_request(prepared.readable, gated=False), readers, 1)
    steps["gated_one"] = Step(
        overview_request(prepared.readable, gated=True, gate_ms=gate_one_ms), readers, 1, gate_one_ms
    )
    if stock:
        # A unit's balance per batch: the cached balances of any unit under load, and the sum of the busiest
        # unit's ledger by one client (the query's own time, not a queue of them on two cores).
        units = [int(u) for u in stock["unit_ids"]]
        steps["stock_cached"] = Step(
            stock_request(units, ledger=False, stock_ms=balance_ms), (), 0, balance_ms
        )
        busiest = [int(stock["busiest_unit"]["id"])]
        steps["stock_ledger"] = Step(
            stock_request(busiest, ledger=True, stock_ms=ledger_ms), (), 1, ledger_ms
        )
    record = steps["record"]
    with Server({**env, "YMPA_WEB_THREADS": str(plan.threads)}, workers=workers, log=log) as server:
        idle_rss = server.rss_mb()
        # Warm-up: every worker imports its views and opens its database connection.
        warm = min(2.0, plan.seconds / 4)
        measure("warm-up floor", server, steps["floor"].request, clients=plan.clients, seconds=warm)
        measure("warm-up record", server, record.request, clients=plan.clients, seconds=warm, tokens=tokens)
        booking_ms.clear()
        for round_number in range(1, plan.rounds + 1):
            # The records of the previous round wrote rows (stored forecasts: from none) autovacuum would
            # have analyzed meanwhile in a deployment.
            database.analyze()
            for name, step in steps.items():
                if plan.quiet_wait > 0:
                    waited = wait_for_quiet(plan.quiet_wait)
                    if waited >= plan.quiet_wait:
                        print(f"   (the machine stayed busy with other work for {waited:.0f} s; measuring)")
                m = measure_step(name, step, server, plan, round_number, database, stock)
                print(
                    f"   {database.label:<10} w={workers} round {round_number} {name:<14} "
                    f"{m.throughput:8.1f} req/s  p50 {m.p50_ms:7.1f} ms  p99 {m.p99_ms:7.1f} ms  "
                    f"errors {m.errors}  server {m.server_rss_mb:4.0f} MB  CPU: app "
                    f"{m.server_cpu_percent:3.0f}% db {m.database_cpu_percent:3.0f}% client "
                    f"{m.client_cpu_percent:3.0f}% other {m.other_cpu_percent:3.0f}%"
                    + (
                        f"  server-timed p99 {step.timings[-1]['p99_ms']:.2f} ms"
                        if step.timed is not None
                        else ""
                    )
                )
                for sample in m.error_samples[:2]:
                    print(f"      error: {sample}")
    surge = booking_surge(prepared, plan, workers, log)
    floor_median, record_median = median_of(steps["floor"].rounds), median_of(record.rounds)
    access = {
        key: median_of(steps[key].rounds)
        for key in ("ungated", "gated", "one_provider", "ungated_one", "gated_one")
    }
    added_p99 = access["gated"]["p99_ms"] - access["ungated"]["p99_ms"]
    gate = {key: steps[key].timing() for key in ("gated", "one_provider", "gated_one")}
    ratio = record_median["p99_ms"] / floor_median["p99_ms"] if floor_median["p99_ms"] else float("inf")
    postgres = database.vendor == "postgresql"
    run: dict[str, Any] = {
        "workers": workers,
        "clients": plan.clients,
        "seconds": plan.seconds,
        "rounds": plan.rounds,
        "idle_rss_mb": round(idle_rss, 1),
        "floor": floor_median,
        "record": record_median,
        "floor_rounds": [m.as_dict() for m in steps["floor"].rounds],
        "record_rounds": [m.as_dict() for m in record.rounds],
        "p99_ratio": ratio,
        "access": {
            **access,
            "added_p50_ms": access["gated"]["p50_ms"] - access["ungated"]["p50_ms"],
            "added_p99_ms": added_p99,
            "added_one_client_p50_ms": access["gated_one"]["p50_ms"] - access["ungated_one"]["p50_ms"],
            "added_one_client_p99_ms": access["gated_one"]["p99_ms"] - access["ungated_one"]["p99_ms"],
            "gate": gate,
            "one_provider_throughput_ratio": (
                access["one_provider"]["throughput"] / access["gated"]["throughput"]
                if access["gated"]["throughput"]
                else 0.0
            ),
            "rounds": {key: [m.as_dict() for m in steps[key].rounds] for key in access},
        },
        "targets": {
            "access_adds_at_most_2ms_p99": gate["gated_one"]["p99_ms"] <= ACCESS_P99_BUDGET_MS
            if postgres
            else None,
            "access_adds_at_most_2ms_p99_saturated": gate["gated"]["p99_ms"] <= ACCESS_P99_BUDGET_MS
            if postgres
            else None,
            "record_p99_within_5x_floor": ratio <= RECORD_P99_FACTOR,
            "records_per_second_200": (
                record_median["throughput"] >= POSTGRES_RECORDS_PER_SECOND if postgres else None
            ),
        },
    }
    if surge is not None:
        run["surge"] = surge.as_dict()
        run["surge"]["p99_ratio"] = surge.p99_ms / floor_median["p99_ms"] if floor_median["p99_ms"] else 0.0
        run["targets"]["surge_no_double_booking_and_every_confirmation_once"] = surge.verified
    if stock:
        run["stock"] = stock_results(steps, floor_median, record_median, stock)
        booking, one, cached, ledger = (
            run["stock"][k] for k in ("booking", "booking_one_client", "cached_server", "ledger_server")
        )
        run["targets"].update(
            {
                "dose_booking_at_most_1ms_p99": one["p99_ms"] <= STOCK_BOOKING_P99_BUDGET_MS
                if postgres
                else None,
                "dose_booking_at_most_1ms_p99_saturated": booking["p99_ms"] <= STOCK_BOOKING_P99_BUDGET_MS
                if postgres
                else None,
                "cached_balance_under_50ms_p99": cached["p99_ms"] < STOCK_BALANCE_BUDGET_MS
                if postgres
                else None,
                "ledger_balance_under_50ms_p99": ledger["p99_ms"] < STOCK_BALANCE_BUDGET_MS
                if postgres
                else None,
            }
        )
    return run


def booking_surge(prepared: Prepared, plan: Plan, workers: int, log: Path) -> SurgeResult | None:
    """The booking surge on a server of its own whose tasks (the confirmations) go to Redis, as with
    several app servers and workers; the queue is emptied afterwards, since no worker sends them."""
    if plan.surge_slots <= 0:
        return None
    env = {**prepared.env, "YMPA_TASKS_URL": SURGE_TASKS_URL}
    if plan.quiet_wait > 0:
        wait_for_quiet(plan.quiet_wait)
    prepared.database.analyze()
    try:
        with Server(env, workers=plan.surge_workers, log=log) as server:
            result = run_surge(
                server,
                prepared.database,
                env,
                slots=plan.surge_slots,
                clients=plan.surge_clients,
                seconds=plan.surge_seconds,
            )
    finally:
        redis.Redis.from_url(SURGE_TASKS_URL).flushdb()
    print(
        f"   {prepared.database.label:<10} w={plan.surge_workers} booking surge: "
        f"{result.slots_released:,} slots released in {result.release_seconds:.2f} s; {result.clients} "
        f"visitors booked {result.bookings:,} in "
        f"{result.seconds:.1f} s ({result.throughput:.1f}/s), p50 {result.p50_ms:.0f} ms p99 "
        f"{result.p99_ms:.0f} ms, {result.conflicts} slots taken meanwhile, {result.errors} errors; CPU app "
        f"{result.server_cpu_percent:.0f}% db {result.database_cpu_percent:.0f}% client "
        f"{result.client_cpu_percent:.0f}%; "
        f"double-booked slots {result.double_booked_slots}, confirmations found once "
        f"{result.confirmed_found_once}/{result.bookings}, bookings in the database "
        f"{result.bookings_in_database}, flags agree {result.flags_agree}"
    )
    for sample in result.error_samples[:2]:
        print(f"      error: {sample}")
    return result


def measure_step(
    name: str,
    step: Step,
    server: Server,
    plan: Plan,
    round_number: int,
    database: Database,
    stock: dict[str, Any],
) -> Measurement:
    """One round of one measurement; record_nostock runs with the synthetic provider's inventory off."""
    provider = int(stock.get("provider_id", 0))
    if name == "record_nostock":
        database.set_inventory(provider, on=False)
    try:
        m = measure(
            name,
            server,
            step.request,
            clients=step.clients or plan.clients,
            seconds=plan.seconds,
            tokens=step.tokens,
            seed=round_number,
            database=database.name,
        )
    finally:
        if name == "record_nostock":
            database.set_inventory(provider, on=True)
    step.rounds.append(m)
    if step.timed is not None:
        step.timings.append(gate_percentiles(step.timed))
        step.timed.clear()
    return m


def stock_results(
    steps: dict[str, Step], floor: dict[str, float], record: dict[str, float], stock: dict[str, Any]
) -> dict[str, Any]:
    """The stock measurements: medians of the rounds, the server-timed figures, the differences and the
    ratios of p99 to the floor's."""
    nostock, cached, ledger = (
        median_of(steps[k].rounds) for k in ("record_nostock", "stock_cached", "stock_ledger")
    )
    floor_p99 = floor["p99_ms"] or float("inf")
    return {
        "movements": stock.get("movements", 0),
        "busiest_unit": stock.get("busiest_unit", {}),
        "record_nostock": nostock,
        "cached": cached,
        "ledger": ledger,
        "booking": steps["record"].timing(),
        "booking_module_off": steps["record_nostock"].timing(),
        "booking_one_client": steps["record_one"].timing(),
        "cached_server": steps["stock_cached"].timing(),
        "ledger_server": steps["stock_ledger"].timing(),
        "added_p50_ms": record["p50_ms"] - nostock["p50_ms"],
        "added_p99_ms": record["p99_ms"] - nostock["p99_ms"],
        "p99_ratio": {
            "record_nostock": nostock["p99_ms"] / floor_p99,
            "cached": cached["p99_ms"] / floor_p99,
            "ledger": ledger["p99_ms"] / floor_p99,
        },
        "rounds": {
            k: [m.as_dict() for m in steps[k].rounds]
            for k in ("record_nostock", "stock_cached", "stock_ledger")
        },
    }


def run_errors(run: dict[str, Any]) -> dict[str, float]:
    """Failed requests per measurement that fails the run."""
    found = {kind: run[kind]["errors"] for kind in MEASUREMENTS}
    for kind in ("record_nostock", "cached", "ledger"):
        if kind in run.get("stock", {}):
            found[kind] = run["stock"][kind]["errors"]
    for kind in ("ungated", "gated", "one_provider", "ungated_one", "gated_one"):
        if kind in run.get("access", {}):
            found[f"overview_{kind}"] = run["access"][kind]["errors"]
    surge = run.get("surge")
    if surge:
        found["booking surge"] = surge["errors"]
        found["booking surge verification"] = 0 if surge["verified"] else 1
    return found


def run_forecast(seconds: float, env: dict[str, str]) -> dict[str, Any]:
    code = (
        "import json, sys; from ympa.forecast.bench import bench; "
        "print(json.dumps(bench(float(sys.argv[1]))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(seconds)],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode != 0:
        raise BenchError(f"ympa.forecast.bench failed: {result.stderr.strip()[-500:]}")
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def _raise_on_signal(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    plan = parse_args(argv)
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(line_buffering=True)  # progress interleaves with the commands' stderr
    signal.signal(signal.SIGTERM, _raise_on_signal)
    # Client threads wait on sockets; a short switch interval keeps the GIL from adding milliseconds of
    # queueing to the measured latency.
    sys.setswitchinterval(0.0005)
    started = time.perf_counter()
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")  # noqa: DTZ005 - a local file name
    out_dir = REPO / "var" / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    data_dir = Path(tempfile.mkdtemp(prefix="ympa-bench-"))
    log = data_dir / "server.log"
    env = base_env()
    results: list[DatabaseResult] = []
    forecast: dict[str, Any] = {}
    errors: list[str] = []
    mode = "smoke" if plan.smoke else "full"
    print(
        f"Ympa bench ({mode}): {', '.join(plan.databases)}; {plan.clients} clients, workers "
        f"{','.join(map(str, plan.workers))}, {plan.rounds} rounds x {plan.seconds:g} s; data in {data_dir}"
    )
    try:
        # Production settings serve static files through the manifest storage: collect them once.
        run_ympa(["collectstatic", "--noinput", "-v", "0"], {**env, "YMPA_DATA_DIR": str(data_dir)})
        for prepared in prepare_all(plan, data_dir, env):
            if isinstance(prepared, DatabaseResult):
                results.append(prepared)
                continue
            results.append(prepared.result)
            try:
                measure_database(prepared, plan, log)
            except FAILURES as exc:
                prepared.result.error = str(exc)
                print(f"   ERROR ({prepared.result.label}): {exc}")
        try:
            forecast = run_forecast(plan.forecast_seconds, {**env, "YMPA_DATA_DIR": str(data_dir)})
        except (BenchError, subprocess.SubprocessError) as exc:
            errors.append(str(exc))
    finally:
        failed = any(r.error or any(any(run_errors(run).values()) for run in r.runs) for r in results)
        if plan.keep or failed:
            print(f"Kept {data_dir} (server log: {log})")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)
            if "postgresql" in plan.databases:
                with contextlib.suppress(Exception):
                    drop_postgres_database(plan.postgres_admin_url, plan.postgres_name)
    for result in results:
        if result.error:
            errors.append(f"{result.label}: {result.error}")
        for run in result.runs:
            for kind, count in run_errors(run).items():
                if count:
                    errors.append(f"{result.label} w={run['workers']}: {count:.0f} {kind} errors")
    document = {
        "mode": mode,
        "started_at": stamp,
        "seconds": round(time.perf_counter() - started, 1),
        "plan": {k: v for k, v in plan.__dict__.items() if k != "postgres_admin_url"},
        "machine": machine_facts(),
        "databases": [r.__dict__ for r in results],
        "forecast": forecast,
        "errors": errors,
    }
    path = out_dir / f"results-{stamp}.json"
    path.write_text(json.dumps(document, indent=2, default=str))
    for result in results:
        print_database(result.__dict__, plan.smoke)
    print_summary(document, path)
    return 1 if errors else 0
