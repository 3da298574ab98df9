"""The booking surge (issue 7): slots are released, then many identified visitors race to book them
through the public HTTP pages behind gunicorn, and afterwards the database must show no slot booked twice
and exactly one booking for every confirmation the visitors were given.

Each simulated visitor is one Django session already identified (`ympa synth-booking --sessions`, what the
BankID or one-time-code step leaves in the session), so the measured step is "choose a slot and confirm":
the week's free times (the htmx partial) and the confirming POST of the booking form (whose CSRF token the
client's browser holds; its idempotency key is fresh per visitor). A visitor whose whole time was taken
meanwhile gets the form back (409) with the next free time chosen, and posts it again. The load generator
is this process's closed loop of client threads (bench/load.py's style), so it can follow each visitor's
own state and keep every confirmation link to check afterwards.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import resource
import statistics
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import Any

from bench.database import Database
from bench.server import BenchError, Server, cpu_seconds_between, postgres_cpu_ticks, run_ympa
from bench.wire import Reply, WireClient

SLOT = re.compile(r'data-slot="(\d+)"')
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
SELECTED = re.compile(r'<option value="(\d+)" selected>')
LINK = re.compile(r"/boka/min-bokning/([^/]+)/")
RETRIES = 3


@dataclass
class SurgeResult:
    clients: int
    slots_released: int
    release_seconds: float
    seconds: float
    bookings: int
    conflicts: int
    errors: int
    requests: int
    throughput: float  # confirmed bookings per second
    p50_ms: float  # choose + confirm, per confirmed booking, retries included
    p99_ms: float
    max_ms: float
    server_rss_mb: float
    # % of one core over the surge: the app server, the PostgreSQL processes, this load generator.
    server_cpu_percent: float
    database_cpu_percent: float
    client_cpu_percent: float
    exhausted: bool  # every released slot was booked before the time ran out
    double_booked_slots: int = -1
    confirmed_found_once: int = -1
    bookings_in_database: int = -1
    flags_agree: bool = False
    error_samples: list[str] = field(default_factory=list)

    @property
    def verified(self) -> bool:
        return (
            self.double_booked_slots == 0
            and self.confirmed_found_once == self.bookings
            and self.bookings_in_database == self.bookings
            and self.flags_agree
        )

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "verified": self.verified}


def _week_starts(first: date, last: date) -> list[date]:
    starts, day = [], first
    while day <= last:
        starts.append(day)
        day += timedelta(days=7)
    return starts


class _Visitor:
    """One client thread: takes visitors (sessions) from the shared pool and books for each in turn."""

    def __init__(self, surge: _Surge, index: int) -> None:
        self.surge = surge
        self.rng = random.Random(f"surge:{index}")
        self.latencies: list[float] = []
        self.conflicts = 0
        self.errors = 0
        self.requests = 0
        self.links: list[str] = []
        self.csrf = ""

    def _get(self, client: WireClient, url: str, **kwargs: Any) -> Reply:
        self.requests += 1
        return client.get(url, **kwargs)

    def _post(self, client: WireClient, url: str, data: dict[str, str]) -> Reply:
        self.requests += 1
        return client.post(url, data=data)

    def _choose(self, client: WireClient) -> int | None:
        """A free slot from a random week of the release, or from the weeks after it when that one is full."""
        surge = self.surge
        weeks = surge.weeks
        first = self.rng.randrange(len(weeks))
        for offset in range(len(weeks)):
            week = weeks[(first + offset) % len(weeks)]
            response = self._get(
                client, surge.slots_url, params={"week": week.isoformat()}, headers={"HX-Request": "true"}
            )
            if response.status_code != 200:
                raise BenchError(f"slots {response.status_code}: {response.text[:200]}")
            free = SLOT.findall(response.text)
            if free:
                return int(self.rng.choice(free))
        return None

    def book(self, client: WireClient) -> bool | None:
        """Book for the client's current visitor: True when confirmed, None when no slot is left."""
        surge = self.surge
        slot = self._choose(client)
        if slot is None:
            return None
        # The idempotency key is the form's: any fresh value per rendered form; the CSRF token is the
        # browser's (the cookie and its form value), fetched once per client.
        key = uuid.uuid4().hex
        for _attempt in range(RETRIES):
            response = self._post(
                client,
                surge.confirm_url,
                {
                    "csrfmiddlewaretoken": self.csrf,
                    "idempotency_key": key,
                    "slot": str(slot),
                    "phone": "070-174 06 50",
                },
            )
            if response.status_code == 303:
                link = LINK.search(response.headers.get("location", ""))
                if not link:
                    raise BenchError(f"confirmed without a personal link: {response.headers.get('location')}")
                self.links.append(link.group(1))
                return True
            if response.status_code != 409:
                raise BenchError(f"confirm {response.status_code}: {response.text[:300]}")
            # The whole time was taken meanwhile: the form comes back with the next free time chosen.
            self.conflicts += 1
            chosen = SELECTED.search(response.text)
            if not chosen:
                return self.book(client)
            slot = int(chosen.group(1))
        return False

    def fetch_csrf(self, client: WireClient) -> None:
        page = self._get(client, self.surge.book_url, params={"slot": "0"})
        found = CSRF.search(page.text)
        if not found:
            raise BenchError(f"no CSRF token on the booking form ({page.status_code})")
        self.csrf = found.group(1)


@dataclass
class _Surge:
    server: Server
    type_id: int
    weeks: list[date]
    sessions: list[str]
    deadline: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)
    exhausted: bool = False

    @property
    def slots_url(self) -> str:
        return f"/boka/typ/{self.type_id}/"

    @property
    def book_url(self) -> str:
        return f"/boka/typ/{self.type_id}/boka/"

    @property
    def confirm_url(self) -> str:
        return f"/boka/typ/{self.type_id}/bekrafta/"

    def next_session(self) -> str | None:
        with self.lock:
            if self.exhausted or not self.sessions:
                return None
            return self.sessions.pop()


def _client_thread(surge: _Surge, visitor: _Visitor, start: threading.Barrier, samples: list[str]) -> None:
    client = WireClient("127.0.0.1", surge.server.port)
    client.cookies["sessionid"] = surge.sessions[-1] if surge.sessions else ""
    visitor.fetch_csrf(client)
    start.wait(timeout=120)
    while time.perf_counter() < surge.deadline:
        session = surge.next_session()
        if session is None:
            return
        client.cookies["sessionid"] = session
        began = time.perf_counter()
        try:
            outcome = visitor.book(client)
        except Exception as exc:  # a failed visitor is counted, never fatal to the thread
            visitor.errors += 1
            if len(samples) < 5:
                samples.append(f"{type(exc).__name__}: {exc}")
            continue
        if outcome is None:
            surge.exhausted = True
            return
        if outcome:
            visitor.latencies.append(time.perf_counter() - began)


def _own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _percentile(ordered: list[float], fraction: float) -> float:
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] if ordered else 0.0


def run_surge(
    server: Server, database: Database, env: dict[str, str], *, slots: int, clients: int, seconds: float
) -> SurgeResult:
    """Release `slots` slots, let `clients` visitors at a time race to book them for at most `seconds`,
    then check the database."""
    out, _took = run_ympa(
        ["synth-booking", "--slots", str(slots), "--sessions", str(slots + clients * 2), "--json"], env
    )
    synth = json.loads(out.strip().splitlines()[-1])
    # A release is made ahead of its opening time, and autovacuum analyzes its slots meanwhile.
    database.analyze()
    first, last = date.fromisoformat(synth["first_day"]), date.fromisoformat(synth["last_day"])
    surge = _Surge(
        server=server,
        type_id=int(synth["appointment_type_id"]),
        weeks=_week_starts(first, last),
        sessions=list(synth["sessions"]),
    )
    visitors = [_Visitor(surge, i) for i in range(clients)]
    samples: list[str] = []
    start = threading.Barrier(clients + 1)
    threads = [
        threading.Thread(target=_client_thread, args=(surge, v, start, samples), daemon=True)
        for v in visitors
    ]
    for thread in threads:
        thread.start()
    rss = [server.rss_mb()]
    server_before, client_before = server.cpu_seconds(), _own_cpu_seconds()
    database_before = postgres_cpu_ticks(database.name) if database.name else {}
    began = time.perf_counter()
    surge.deadline = began + seconds
    start.wait(timeout=120)
    while any(t.is_alive() for t in threads):
        rss[0] = max(rss[0], server.rss_mb())
        time.sleep(0.25)
    elapsed = time.perf_counter() - began
    server_cpu, client_cpu = server.cpu_seconds() - server_before, _own_cpu_seconds() - client_before
    database_cpu = (
        cpu_seconds_between(database_before, postgres_cpu_ticks(database.name)) if database.name else 0.0
    )
    ordered = sorted(x for v in visitors for x in v.latencies)
    links = [link for v in visitors for link in v.links]
    result = SurgeResult(
        clients=clients,
        slots_released=int(synth["slots"]),
        release_seconds=round(float(synth["generate_seconds"]), 3),
        seconds=round(elapsed, 2),
        bookings=len(links),
        conflicts=sum(v.conflicts for v in visitors),
        errors=sum(v.errors for v in visitors),
        requests=sum(v.requests for v in visitors),
        throughput=len(links) / elapsed if elapsed else 0.0,
        p50_ms=statistics.median(ordered) * 1000 if ordered else 0.0,
        p99_ms=_percentile(ordered, 0.99) * 1000,
        max_ms=ordered[-1] * 1000 if ordered else 0.0,
        server_rss_mb=rss[0],
        server_cpu_percent=round(100 * server_cpu / elapsed, 1) if elapsed else 0.0,
        database_cpu_percent=round(100 * database_cpu / elapsed, 1) if elapsed else 0.0,
        client_cpu_percent=round(100 * client_cpu / elapsed, 1) if elapsed else 0.0,
        exhausted=surge.exhausted,
        error_samples=samples,
    )
    _verify(result, database, int(synth["release_id"]), links)
    return result


def _verify(result: SurgeResult, database: Database, release_id: int, links: list[str]) -> None:
    """No slot of the release holds two active bookings; every confirmation's booking exists once; the
    release holds no booking nobody was told about; and the slots' booked flags agree with the bookings."""
    digests = [hashlib.sha256(link.encode()).hexdigest() for link in links]
    found = 0
    with database.connect() as conn:
        double = conn.execute(
            "SELECT COUNT(*) FROM (SELECT b.slot_id FROM booking_booking b "
            "JOIN booking_slot s ON s.id = b.slot_id WHERE s.release_id = ? AND b.status <> 'cancelled' "
            "GROUP BY b.slot_id HAVING COUNT(*) > 1) d",
            (release_id,),
        ).fetchone()[0]
        for chunk in range(0, len(digests), 500):
            part = digests[chunk : chunk + 500]
            marks = ", ".join("?" * len(part))
            found += conn.execute(
                f"SELECT COUNT(*) FROM booking_booking WHERE token_hash IN ({marks})",  # noqa: S608
                part,
            ).fetchone()[0]
        in_database = conn.execute(
            "SELECT COUNT(*) FROM booking_booking b JOIN booking_slot s ON s.id = b.slot_id "
            "WHERE s.release_id = ? AND b.status <> 'cancelled'",
            (release_id,),
        ).fetchone()[0]
        flagged = conn.execute(
            "SELECT COUNT(*) FROM booking_slot WHERE release_id = ? AND booked", (release_id,)
        ).fetchone()[0]
    result.double_booked_slots = int(double)
    result.confirmed_found_once = int(found)
    result.bookings_in_database = int(in_database)
    result.flags_agree = int(flagged) == int(in_database)
