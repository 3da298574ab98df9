"""Subprocesses: `ympa` commands, and the gunicorn server in a process group of its own."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import httpx

REPO = Path(__file__).resolve().parent.parent
YMPA = [sys.executable, "-m", "ympa.cli"]


class BenchError(RuntimeError):
    """Something failed (as opposed to a target being missed)."""


def run_ympa(args: list[str], env: dict[str, str], *, timeout: float = 3600) -> tuple[str, float]:
    """Run `ympa ARGS`; returns (stdout, seconds). Stderr passes through (synth prints progress there)."""
    started = time.perf_counter()
    result = subprocess.run(
        [*YMPA, *args], env=env, cwd=REPO, stdout=subprocess.PIPE, text=True, timeout=timeout, check=False
    )
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise BenchError(f"`ympa {' '.join(args)}` failed with exit code {result.returncode}")
    return result.stdout, seconds


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _children(pid: int) -> list[int]:
    found: list[int] = []
    task_dir = Path(f"/proc/{pid}/task")
    with contextlib.suppress(OSError):
        for task in task_dir.iterdir():
            with contextlib.suppress(OSError):
                found.extend(int(c) for c in (task / "children").read_text().split())
    return found


def _rss_kb(pid: int) -> int:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants (gunicorn master and workers), in MiB."""
    return sum(_rss_kb(p) for p in _tree(pid)) / 1024


def _tree(pid: int) -> list[int]:
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        if current in found:
            continue
        found.append(current)
        pending.extend(_children(current))
    return found


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its descendants so far (from /proc/<pid>/stat)."""
    ticks = 0
    for current in _tree(pid):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return ticks / os.sysconf("SC_CLK_TCK")


POSTGRES_SHARED = ("checkpointer", "walwriter", "background writer", "autovacuum launcher", " -D ")
# postgres_cpu_ticks' key for the CPU of the server's exited processes (no process has pid 0).
REAPED = 0


def postgres_cpu_ticks(database: str) -> dict[int, int]:
    """CPU ticks so far of each PostgreSQL process working for `database`: its backends (and autovacuum
    workers), and the server's shared background processes (WAL writer, checkpointer, ...).

    Under `REAPED`, the ticks of the server's exited children: a backend whose connection Django closed
    during a measurement (after `conn_max_age`) is gone from /proc, and its time is added to the postmaster's
    children's times when it is reaped."""
    found: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            raw = (entry / "stat").read_text()
            if raw[raw.index("(") + 1 : raw.rindex(")")] != "postgres":
                continue
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace") + " "
            if f" {database} " not in title and not any(shared in title for shared in POSTGRES_SHARED):
                continue  # another database's backend (someone else's work)
            fields = raw.rsplit(")", 1)[1].split()
            found[int(entry.name)] = int(fields[11]) + int(fields[12])
            if int(fields[1]) == 1 or " -D " in title:  # the postmaster: cutime, cstime (fields 16, 17)
                found[REAPED] = found.get(REAPED, 0) + int(fields[13]) + int(fields[14])
    return found


def cpu_seconds_between(before: dict[int, int], after: dict[int, int]) -> float:
    """CPU used between two snapshots: by the processes alive at the second (new ones: all of theirs), and by
    those that exited meanwhile (their whole time reached the postmaster's children's times, less what the
    first snapshot had already counted)."""
    alive = sum(ticks - before.get(pid, 0) for pid, ticks in after.items())
    gone = sum(ticks for pid, ticks in before.items() if pid != REAPED and pid not in after)
    return (alive - gone) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, all cores (from /proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    total = sum(values[:8])
    hz = os.sysconf("SC_CLK_TCK")
    return (total - idle) / hz, total / hz


class Server:
    """`ympa serve` on a free port, in its own process group; killed (group and all) on exit."""

    def __init__(self, env: dict[str, str], *, workers: int, log: Path) -> None:
        self.env = env
        self.workers = workers
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Server:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self, *, timeout: float = 60.0) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    *YMPA,
                    "serve",
                    "--no-collectstatic",
                    "--port",
                    str(self.port),
                    "--workers",
                    str(self.workers),
                ],
                env=self.env,
                cwd=REPO,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    code = self.process.returncode
                    raise BenchError(f"the server exited with code {code}; see {self.log_path}")
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(f"{self.url}/healthz").status_code == 200:
                        self._wait_for_workers(deadline)
                        return
                time.sleep(0.1)
        raise BenchError(f"the server did not answer /healthz within {timeout:.0f} s; see {self.log_path}")

    def _wait_for_workers(self, deadline: float) -> None:
        # /healthz answers as soon as one worker is up; measure only once all have booted.
        assert self.process is not None
        while time.monotonic() < deadline and len(_children(self.process.pid)) < self.workers:
            time.sleep(0.05)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def rss_mb(self) -> float:
        return tree_rss_mb(self.pid) if self.process is not None else 0.0

    def cpu_seconds(self) -> float:
        return tree_cpu_seconds(self.pid) if self.process is not None else 0.0

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
        # Workers that outlived their master would still be in the group.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


def wait_for_quiet(limit: float, *, threshold: float = 0.15, window: float = 1.0) -> float:
    """Wait until the machine is mostly idle (busy < `threshold` of all cores over `window` seconds), at most
    `limit` seconds; returns the seconds waited. Between measurements our own processes are idle, so what is
    busy then is other work, which would compete with the measurement."""
    started = time.monotonic()
    while True:
        busy_before, total_before = machine_busy_seconds()
        time.sleep(window)
        busy_after, total_after = machine_busy_seconds()
        share = (busy_after - busy_before) / max(total_after - total_before, 1e-9)
        waited = time.monotonic() - started
        if share < threshold or waited >= limit:
            return waited
