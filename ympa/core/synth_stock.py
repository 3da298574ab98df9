"""Stock for `make bench` (`ympa synth --movements N`): batches and N ledger movements over the synthetic care
provider's units, with the cached balances equal to the ledger.

The rows are in their final state, as the services would have left them. The synthetic provider keeps its
stock in Ympa (its inventory module is turned on). Its most recent signed doses, newest first and as many as
fit, were booked out of stock when they were signed: one `administered` movement per dose, at the unit that
gave it, of the batch its version names, dated when it was given, booked when it was signed, by the signer.
Each unit received every batch it used in one delivery line, on the Monday of a week one to fourteen days
before its first dose of it there (one delivery per unit and week), enough for all that left it. A unit used
up each batch, except its latest of each product while still in date (a few doses on the shelf) and some that
expired with a few doses left, wasted the next morning. Besides doses there is other wastage (broken, cold
chain, other), transfers of a few doses to another unit that uses the same batch (received a day or two later,
before its first dose of it, so its own delivery was smaller; or to stock it keeps), and count adjustments of
one dose, each a line of a closed stock count at the unit that day (a dose too many only where stock stays).
So a unit's balance page lists a few dozen batches, as a clinic's would, not every batch it ever had. Every
unit has also just received a delivery of three influenza batches: the stock that `make bench` records new
doses from (the summary names them).

Proportions: administered doses and their receipts take 90 % of the movements (one receipt per unit and batch,
so their share follows from the data: about 6 % of the full benchmark's), wastage 5 %, transfers 3 % (out and
in), adjustments 2 %. With fewer unbooked signed doses than that, the other kinds make up the number. There
are no returned doses (every synthetic dose stays signed), storage locations or multi-dose vials.

Balances never go below zero, so nothing is flagged. The movements are written in booking order (their ids
follow time) with the synth's writers (COPY on PostgreSQL, executemany on SQLite) in one transaction, and the
synth units' `StockBalance` rows are then set to the ledger's sums in one statement, so `stock_verify()` holds
by construction. This is the one writer of the ledger besides `ympa.inventory.services`, for volume data only.
Running it again books N more movements, for doses not booked yet.
"""

from __future__ import annotations

import itertools
import math
import random
import re
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Model
from django.utils import timezone

from ympa.catalog.models import Product
from ympa.core.synth import Row, _defaults, _progress_printer, _writer, synth_org
from ympa.inventory.models import (
    Batch,
    Delivery,
    Movement,
    MovementKind,
    StockBalance,
    StockCount,
    StockCountLine,
    StockCountStatus,
    Transfer,
    TransferStatus,
    WastageReason,
)
from ympa.journal.models import EntryStatus, Vaccination, VaccinationVersion
from ympa.orgs.models import Module

DOSE_SHARE = 0.9  # of all movements: administered doses and the receipts of their batches
WASTAGE_SHARE = 0.5  # of the other movements
TRANSFER_SHARE = 0.3  # of the other movements (half out, half in); adjustments take the rest
EXPIRED_SHARE = 0.4  # of wastage: what was left of a batch when it expired
SUPPLIER = "Syntetisk Vaccindistribution AB (synth)"
# The stock `make bench` books its record+sign doses from: batches of the product it records, at every unit.
CURRENT_PRODUCT = "vaxigriptetra"
CURRENT_LETTERS = "XYZ"  # the history's batch numbers end in A, B or C
CURRENT_DOSES = 20_000
CURRENT_EXPIRY_DAYS = 270
CHUNK = 50_000
HOUR = 3600.0
DAY = 86400.0

MOVEMENT_COLUMNS = (
    "care_unit_id",
    "batch_id",
    "location_id",
    "kind",
    "quantity",
    "wastage_reason",
    "vaccination_id",
    "delivery_id",
    "transfer_id",
    "stock_count_id",
    "vial_id",
    "note",
    "occurred_at",
    "created_at",
    "created_by_id",
)
DELIVERY_COLUMNS = (
    "id",
    "care_unit_id",
    "supplier",
    "delivery_note",
    "purchase_order_id",
    "received_at",
    "received_by_id",
    "note",
    "idempotency_key",
)
TRANSFER_COLUMNS = (
    "id",
    "from_unit_id",
    "to_unit_id",
    "batch_id",
    "quantity",
    "status",
    "sent_at",
    "sent_by_id",
    "received_at",
    "received_by_id",
    "note",
)
LINE_COLUMNS = (
    "stock_count_id",
    "batch_id",
    "location_id",
    "slot",
    "expected",
    "counted",
    "counted_at",
    "counted_by_id",
)
TABLES: tuple[tuple[type[Model], tuple[str, ...]], ...] = (
    (Delivery, DELIVERY_COLUMNS),
    (Transfer, TRANSFER_COLUMNS),
    (StockCountLine, LINE_COLUMNS),
    (Movement, MOVEMENT_COLUMNS),
)

# Plain strings: the rows are joined as text.
RECEIPT, ADMINISTERED, WASTAGE = (
    MovementKind.RECEIPT.value,
    MovementKind.ADMINISTERED.value,
    MovementKind.WASTAGE.value,
)
TRANSFER_OUT, TRANSFER_IN = MovementKind.TRANSFER_OUT.value, MovementKind.TRANSFER_IN.value
ADJUSTMENT = MovementKind.ADJUSTMENT.value
EXPIRED = WastageReason.EXPIRED.value
REASONS = (WastageReason.BROKEN.value, WastageReason.COLD_CHAIN.value, WastageReason.OTHER.value)

BatchKey = tuple[int, str]  # (product id, batch number)
StockKey = tuple[int, BatchKey]  # (care unit id, batch)


@dataclass
class StockStats:
    movements: int = 0
    kinds: dict[str, int] = field(default_factory=dict)
    doses_booked: int = 0
    batches_created: int = 0
    deliveries: int = 0
    transfers: int = 0
    stock_counts: int = 0
    balances: int = 0
    busiest_unit: int = 0
    busiest_unit_movements: int = 0
    unit_ids: list[int] = field(default_factory=list)
    provider_id: int = 0
    current_product: str = ""
    current_batches: list[str] = field(default_factory=list)
    current_expiry: str = ""
    seconds: float = 0.0


def stock_summary(stats: StockStats) -> dict[str, Any]:
    return {
        "movements": stats.movements,
        "kinds": stats.kinds,
        "doses_booked": stats.doses_booked,
        "batches_created": stats.batches_created,
        "deliveries": stats.deliveries,
        "transfers": stats.transfers,
        "stock_counts": stats.stock_counts,
        "balances": stats.balances,
        "busiest_unit": {"id": stats.busiest_unit, "movements": stats.busiest_unit_movements},
        "unit_ids": stats.unit_ids,
        "provider_id": stats.provider_id,
        "dose_batches": {
            "product": stats.current_product,
            "batch_numbers": stats.current_batches,
            "expiry": stats.current_expiry,
        },
        "seconds": round(stats.seconds, 2),
    }


@dataclass
class _Use:
    """One unit's use of one batch: received once, then given, wasted, sent away or counted."""

    unit: int
    batch: BatchKey
    doses: int = 0
    first: float = math.inf
    last: float = 0.0
    received: float = 0.0
    delivery: str = ""
    receiver: int = 0
    extra_out: int = 0  # doses out other than given ones: wastage, transfers, a count's missing dose
    transferred_in: int = 0  # doses another unit sent before the first dose, so fewer were delivered
    leftover: int = 0
    # Whether the balance is meant to stay above zero (stock on the shelf, or wasted once expired): only
    # then may a count find a dose too many; elsewhere it would stay on the books for ever.
    keeps: bool = False


@dataclass
class _Event:
    """A movement to be: `quantity` None for an expired batch's wastage (the balance left), which, like an
    adjustment's expected count, is known only in booking order."""

    booked: float
    kind: str
    key: StockKey
    quantity: int | None
    occurred: float
    user: int
    reason: str = ""
    note: str = ""
    vaccination: str | None = None
    delivery: str | None = None
    transfer: str | None = None
    count: tuple[int, date] | None = None


@dataclass(frozen=True)
class _Transfer:
    pk: str
    use: _Use
    to_unit: int
    quantity: int
    sent: float
    sender: int
    received: float
    receiver: int


@dataclass
class _Count:
    unit: int
    user: int
    key: tuple[int, date]  # (unit, local day)
    started: float = math.inf
    closed: float = 0.0
    pk: int = 0
    lines: list[tuple[BatchKey, int, float]] = field(default_factory=list)  # batch, ±1, counted at


class _Ids:
    """Time-ordered UUIDs (v7, a counter in rand_a, as the synth's): every id of a run is at least `first`."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.base_ms = time.time_ns() // 1_000_000
        self.sequence = 0
        self.first = f"{(self.base_ms << 80) | (0x7 << 76) | (0b10 << 62):032x}"

    def next(self) -> str:
        sequence = self.sequence
        self.sequence += 1
        value = (
            ((self.base_ms + (sequence >> 12)) << 80)
            | (0x7 << 76)
            | ((sequence & 0xFFF) << 64)
            | (0b10 << 62)
            | self.rng.getrandbits(62)
        )
        return f"{value:032x}"


def _unbooked_doses(units: list[int], limit: int) -> list[tuple[Any, ...]]:
    """Signed doses of the units without a movement, newest first: (vaccination id, unit, product, batch
    number, batch expiry as ISO text or None, given and signed as epoch seconds, signer)."""
    q = connection.ops.quote_name
    marks = ", ".join(["%s"] * len(units))
    # The id as text: PostgreSQL's canonical form, SQLite's 32 hex digits; either is what its column takes.
    sql = (
        f"SELECT CAST(v.id AS TEXT), v.care_unit_id, ver.product_id, ver.batch_number, "  # noqa: S608
        "CAST(ver.batch_expiry AS TEXT), ver.administered_at, ver.signed_at, ver.signed_by_id "
        f"FROM {q(Vaccination._meta.db_table)} v "
        f"JOIN {q(VaccinationVersion._meta.db_table)} ver ON ver.id = v.current_version_id "
        f"WHERE v.care_unit_id IN ({marks}) AND v.status = %s AND ver.signed_by_id IS NOT NULL "
        f"AND NOT EXISTS (SELECT 1 FROM {q(Movement._meta.db_table)} m WHERE m.vaccination_id = v.id) "
        "ORDER BY ver.administered_at DESC, v.id DESC LIMIT %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*units, EntryStatus.SIGNED.value, limit])
        # Datetimes come back aware from PostgreSQL and naive UTC from SQLite.
        return [(*row[:5], _epoch(row[5]), _epoch(row[6]), row[7]) for row in cursor.fetchall()]


def _epoch(moment: datetime) -> float:
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _first_id(model: type[Model]) -> int:
    with connection.cursor() as cursor:
        table = connection.ops.quote_name(model._meta.db_table)
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {table}")  # noqa: S608
        return int(cursor.fetchone()[0])


def synth_stock(*, movements: int, seed: int = 1, progress: TextIO | None = sys.stderr) -> StockStats:
    """Book `movements` ledger movements at the synthetic provider's units (see the module docstring)."""
    if movements < 0:
        raise ValueError("counts must not be negative")
    emit = _progress_printer(progress)
    started = time.perf_counter()
    stats = StockStats()
    with transaction.atomic():
        org = synth_org()
        provider = org.provider
        if Module.INVENTORY.value not in provider.modules:
            provider.modules = [*provider.modules, Module.INVENTORY.value]
            provider.save(update_fields=["modules"])
        stats.provider_id = provider.pk
        stats.unit_ids = [u.unit.pk for u in org.units]
        nurses = {u.unit.pk: [user for user, _assignment in u.nurses] for u in org.units}
        minimum = len(CURRENT_LETTERS) * len(org.units)
        if movements and movements < minimum:
            raise ValueError(f"movements: none, or at least {minimum} (the current deliveries)")
        if movements:
            ledger = _Ledger(movements, seed, nurses, emit)
            ledger.plan(stats)
            ledger.write(stats)
            stats.balances = _balances_from_ledger(stats.unit_ids)
            stats.busiest_unit, stats.busiest_unit_movements = _busiest_unit(stats.unit_ids)
    if movements:
        emit("analyzing tables")
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                tables = [Batch, Delivery, Transfer, StockCount, StockCountLine, Movement, StockBalance]
                # VACUUM as autovacuum would soon after a bulk load: it marks the pages all-visible, so a sum
                # over a unit's ledger reads the covering index alone, as it would in steady state. It cannot
                # run in a transaction (a test's): there, statistics only.
                names = ", ".join(connection.ops.quote_name(m._meta.db_table) for m in tables)
                vacuum = "ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)"
                cursor.execute(f"{vacuum} {names}")
            else:
                cursor.execute("PRAGMA optimize")
    stats.seconds = time.perf_counter() - started
    if movements:
        kinds = ", ".join(f"{kind} {count}" for kind, count in stats.kinds.items())
        emit(
            f"stock done: {stats.movements} movements ({kinds}), {stats.deliveries} deliveries, "
            f"{stats.transfers} transfers, {stats.stock_counts} stock counts, "
            f"{stats.balances} balances in {stats.seconds:.1f} s"
        )
    return stats


class _Ledger:
    """Plans the movements (see the module docstring), then writes them in booking order."""

    def __init__(
        self, movements: int, seed: int, nurses: dict[int, list[int]], emit: Callable[[str], None]
    ) -> None:
        self.movements = movements
        self.nurses = nurses
        self.units = sorted(nurses)
        self.emit = emit
        self.rng = random.Random(f"ympa-synth-stock:{seed}:{_first_id(Movement)}")
        self.zone = ZoneInfo(settings.TIME_ZONE)
        self.now = timezone.now().timestamp()
        self.today = timezone.localdate()
        self.ids = _Ids(self.rng)
        self.uses: dict[StockKey, _Use] = {}
        self.expiries: dict[BatchKey, str | None] = {}  # ISO date: the latest any dose of the batch named
        self.doses: list[tuple[Any, ...]] = []
        self.events: list[_Event] = []
        self.transfers: list[_Transfer] = []
        self.counts: dict[tuple[int, date], _Count] = {}
        self.deliveries: dict[tuple[int, float], tuple[str, int]] = {}
        self.pool: list[_Use] = []
        self.weights: list[int] = []

    # time

    def local_day(self, t: float) -> date:
        return datetime.fromtimestamp(t, self.zone).date()

    def at(self, day: date, hour: int, minute: int = 0) -> float:
        return datetime.combine(day, clock(hour, minute), tzinfo=self.zone).timestamp()

    def window(self, use: _Use) -> tuple[float, float]:
        """When something other than a dose may happen to the unit's stock of the batch."""
        end = use.last if use.doses else self.now - HOUR
        return use.received + HOUR, min(end, self.now - HOUR)

    # choices

    def pick(self) -> _Use:
        """A unit's batch, the busier the likelier."""
        return self.rng.choices(self.pool, cum_weights=self.weights)[0]

    def nurse(self, unit: int) -> int:
        return self.rng.choice(self.nurses[unit])

    # planning

    def plan(self, stats: StockStats) -> None:
        self.current_deliveries(stats)
        self.book_doses(stats)
        self.pool = list(self.uses.values())
        self.weights = list(itertools.accumulate(u.doses + 1 for u in self.pool))
        rest = self.movements - len(self.doses) - len(self.uses)
        transfers = int(rest * TRANSFER_SHARE) // 2
        wastage = int(rest * WASTAGE_SHARE)
        adjustments = rest - 2 * transfers - wastage
        self.shelf_stock()
        wastage -= self.expired_wastage(round(wastage * EXPIRED_SHARE))
        missed = self.transfer(transfers) + self.adjust(adjustments)
        # Movements that found no place (see transfer and adjust) become wastage, so that the total stays N.
        self.waste(wastage + missed)
        self.receipts()
        if len(self.events) != self.movements:
            raise RuntimeError(f"ympa synth planned {len(self.events)} movements instead of {self.movements}")

    def current_deliveries(self, stats: StockStats) -> None:
        """Three influenza batches at every unit, received yesterday morning: what `make bench` books from."""
        product = Product.objects.filter(code=CURRENT_PRODUCT, active=True).first()
        if product is None:
            return
        prefix = re.sub(r"[^A-Z0-9]", "", product.code.upper())[:3]
        quarter = f"{self.today.year % 100:02d}{(self.today.month - 1) // 3 + 1}"
        batches = [(product.pk, f"{prefix}{quarter}{letter}") for letter in CURRENT_LETTERS]
        expiry = (self.today + timedelta(days=CURRENT_EXPIRY_DAYS)).isoformat()
        received = self.at(self.today - timedelta(days=1), 7, 30)
        for unit in self.units:
            for batch in batches:
                self.uses[(unit, batch)] = _Use(
                    unit, batch, last=self.now - HOUR, received=received, leftover=CURRENT_DOSES, keeps=True
                )
                self.expiries[batch] = expiry
        stats.current_product = product.code
        stats.current_batches = [number for _product, number in batches]
        stats.current_expiry = expiry

    def book_doses(self, stats: StockStats) -> None:
        """The newest unbooked doses, as many as fit beside a receipt for each new unit and batch."""
        budget = round(DOSE_SHARE * self.movements)
        doses = _unbooked_doses(self.units, max(budget - len(self.uses), 0))
        self.emit(
            f"stock: {self.movements} movements at {len(self.units)} care units; "
            f"{len(doses)} unbooked signed doses read"
        )
        used = len(self.uses)
        taken = 0
        for _vaccination, unit, product, number, expiry, given, _signed, _signer in doses:
            batch: BatchKey = (product, number)
            use = self.uses.get((unit, batch))
            if used + (1 if use is not None else 2) > budget:
                break
            if use is None:
                use = self.uses[(unit, batch)] = _Use(unit, batch)
                used += 1
            used += 1
            taken += 1
            use.doses += 1
            use.first = min(use.first, given)
            use.last = max(use.last, given)
            known = self.expiries.get(batch)
            if expiry is not None and (known is None or known < expiry):
                self.expiries[batch] = expiry
            else:
                self.expiries.setdefault(batch, None)
        del doses[taken:]
        self.doses = doses
        stats.doses_booked = taken
        # Received on the Monday of a week one to fourteen days before the unit's first dose of the batch.
        for use in self.uses.values():
            if use.doses:
                day = self.local_day(use.first) - timedelta(days=self.rng.randint(1, 14))
                use.received = self.at(day - timedelta(days=day.weekday()), 7, 30)

    def expired_wastage(self, count: int) -> int:
        """What was left of a batch when it expired, wasted the next morning. Its quantity is the balance
        then, known only in booking order. Returns how many were planned."""
        expired: list[tuple[_Use, date]] = []
        for use in self.pool:
            text = self.expiries.get(use.batch)
            if use.doses and text is not None:
                day = date.fromisoformat(text) + timedelta(days=1)
                if self.at(day, 10) < self.now - HOUR:
                    expired.append((use, day))
        chosen = self.rng.sample(expired, min(len(expired), count))
        for use, day in chosen:
            use.leftover = self.rng.randint(1, 10)
            use.keeps = True
            occurred = self.at(day, 9, self.rng.randrange(0, 60, 5))
            key = (use.unit, use.batch)
            self.events.append(
                _Event(occurred + 300, WASTAGE, key, None, occurred, self.nurse(use.unit), EXPIRED)
            )
        return len(chosen)

    def shelf_stock(self) -> None:
        """A few doses left of each unit's latest batch of a product, when it is still in date; the unit used
        up the batches before it."""
        latest: dict[tuple[int, int], _Use] = {}
        for use in self.pool:
            known = latest.get((use.unit, use.batch[0]))
            if use.doses and (known is None or known.last < use.last):
                latest[(use.unit, use.batch[0])] = use
        today = self.today.isoformat()
        for use in latest.values():
            expiry = self.expiries.get(use.batch)
            if expiry is None or expiry >= today:
                use.leftover = self.rng.randint(1, 20)
                use.keeps = True

    def waste(self, count: int) -> None:
        for _ in range(count):
            use = self.pick()
            low, high = self.window(use)
            occurred = self.rng.uniform(low, high)
            reason = self.rng.choices(REASONS, weights=(60, 25, 15))[0]
            quantity = self.rng.randint(1, 10) if reason == WastageReason.COLD_CHAIN else 1
            use.extra_out += quantity
            self.events.append(
                _Event(
                    min(occurred + self.rng.uniform(60, 1800), self.now - 60),
                    WASTAGE,
                    (use.unit, use.batch),
                    -quantity,
                    occurred,
                    self.nurse(use.unit),
                    reason,
                    "Syntetiska data: annan orsak." if reason == WastageReason.OTHER else "",
                )
            )

    def transfer(self, count: int) -> int:
        """Doses sent to another unit that uses the same batch, received a day or two later: before its first
        dose of it (so its delivery was that much smaller), or any time when it keeps stock of the batch;
        sent at least three days before the batch expires. Returns how many movements that left unplanned
        (two for each transfer that found no such pair of units)."""
        users: dict[BatchKey, list[_Use]] = defaultdict(list)
        for use in self.pool:
            users[use.batch].append(use)
        missed = 0
        for _ in range(count):
            for _attempt in range(10):
                use = self.pick()
                low, high = self.window(use)
                expiry = self.expiries.get(use.batch)
                if expiry is not None:
                    high = min(high, self.at(date.fromisoformat(expiry), 0) - 3 * DAY)
                targets = [
                    u
                    for u in users[use.batch]
                    if u.unit != use.unit
                    and (u.keeps or (u.first - 2 * DAY > low and u.doses - u.transferred_in > 1))
                ]
                if targets:
                    target = self.rng.choice(targets)
                    if not target.keeps:
                        high = min(high, target.first - 2 * DAY)
                    if high > low:
                        break
            else:
                missed += 1
                continue
            sent = self.rng.uniform(low, high)
            room = 10 if target.keeps else min(10, target.doses - target.transferred_in - 1)
            quantity = self.rng.randint(1, room)
            use.extra_out += quantity
            if not target.keeps:
                target.transferred_in += quantity
            received = sent + self.rng.uniform(DAY, 2 * DAY)
            move = _Transfer(
                self.ids.next(),
                use,
                target.unit,
                quantity,
                sent,
                self.nurse(use.unit),
                received,
                self.nurse(target.unit),
            )
            self.transfers.append(move)
            self.events.append(
                _Event(
                    sent, TRANSFER_OUT, (use.unit, use.batch), -quantity, sent, move.sender, transfer=move.pk
                )
            )
            self.events.append(
                _Event(
                    received,
                    TRANSFER_IN,
                    (target.unit, use.batch),
                    quantity,
                    received,
                    move.receiver,
                    transfer=move.pk,
                )
            )
        return 2 * missed

    def adjust(self, count: int) -> int:
        """Count adjustments of one dose, each a line of the unit's stock count that day (one line per
        batch), booked when the count closed. Returns how many found no free line."""
        missed = 0
        for _ in range(count):
            for _attempt in range(10):
                use = self.pick()
                counted = self.rng.uniform(*self.window(use))
                key = (use.unit, self.local_day(counted))
                stock_count = self.counts.get(key)
                if stock_count is None or all(line[0] != use.batch for line in stock_count.lines):
                    break
            else:
                missed += 1
                continue
            if stock_count is None:
                stock_count = self.counts[key] = _Count(use.unit, self.nurse(use.unit), key)
            change = 1 if use.keeps and self.rng.random() < 0.3 else -1
            if change < 0:
                use.extra_out += 1
            stock_count.lines.append((use.batch, change, counted))
            stock_count.started = min(stock_count.started, counted - 600)
            stock_count.closed = max(stock_count.closed, counted + 600)
        for stock_count in self.counts.values():
            for batch, change, counted in stock_count.lines:
                self.events.append(
                    _Event(
                        stock_count.closed,
                        ADJUSTMENT,
                        (stock_count.unit, batch),
                        change,
                        counted,
                        stock_count.user,
                        count=stock_count.key,
                    )
                )
        return missed

    def receipts(self) -> None:
        """One line per unit and batch, enough for all that leaves it; one delivery per unit and week."""
        for use in self.pool:
            delivery = self.deliveries.get((use.unit, use.received))
            if delivery is None:
                delivery = self.deliveries[(use.unit, use.received)] = (self.ids.next(), self.nurse(use.unit))
            quantity = use.doses + use.extra_out + use.leftover - use.transferred_in
            self.events.append(
                _Event(
                    use.received,
                    RECEIPT,
                    (use.unit, use.batch),
                    quantity,
                    use.received,
                    delivery[1],
                    delivery=delivery[0],
                )
            )
        for vaccination, unit, product, number, _expiry, given, signed, signer in self.doses:
            self.events.append(
                _Event(
                    signed,
                    ADMINISTERED,
                    (unit, (product, number)),
                    -1,
                    given,
                    signer,
                    vaccination=vaccination,
                )
            )
        self.doses = []

    # writing

    def batch_ids(self, stats: StockStats) -> dict[BatchKey, int]:
        """The batches' ids; the ones not there yet are created, in order of first receipt."""
        products = {product for product, _number in self.expiries}
        ids: dict[BatchKey, int] = {
            (product, number): pk
            for product, number, pk in Batch.objects.filter(product_id__in=products).values_list(
                "product_id", "batch_number", "id"
            )
        }
        first_receipt: dict[BatchKey, float] = {}
        for use in self.pool:
            first_receipt[use.batch] = min(first_receipt.get(use.batch, math.inf), use.received)
        new = [
            Batch(
                product_id=product,
                batch_number=number,
                expiry=date.fromisoformat(expiry) if expiry else None,
                supplier=SUPPLIER,
                created_at=datetime.fromtimestamp(first_receipt[(product, number)], UTC),
            )
            for (product, number), expiry in sorted(self.expiries.items(), key=lambda i: first_receipt[i[0]])
            if (product, number) not in ids
        ]
        for batch in Batch.objects.bulk_create(new, batch_size=2000):
            ids[(batch.product_id, batch.batch_number)] = batch.pk
        stats.batches_created = len(new)
        return ids

    def stock_counts(self, stats: StockStats) -> None:
        ordered = sorted(self.counts.values(), key=lambda c: c.started)
        created = StockCount.objects.bulk_create(
            [
                StockCount(
                    care_unit_id=c.unit,
                    status=StockCountStatus.CLOSED,
                    started_at=datetime.fromtimestamp(c.started, UTC),
                    started_by_id=c.user,
                    closed_at=datetime.fromtimestamp(c.closed, UTC),
                    closed_by_id=c.user,
                )
                for c in ordered
            ],
            batch_size=2000,
        )
        for stock_count, row in zip(ordered, created, strict=True):
            stock_count.pk = row.pk
        stats.stock_counts = len(created)

    def write(self, stats: StockStats) -> None:
        writer = _writer()
        writer.skip_row_triggers()
        extras = _defaults(writer, TABLES)
        first_ids: dict[type[Model], str | int] = {
            Batch: _first_id(Batch),
            StockCount: _first_id(StockCount),
            StockCountLine: _first_id(StockCountLine),
            Movement: _first_id(Movement),
            Delivery: self.ids.first,
            Transfer: self.ids.first,
        }
        null, suffix = writer.null, writer.ts_suffix

        def stamp(t: float) -> str:
            return datetime.fromtimestamp(t, UTC).replace(tzinfo=None).isoformat(" ") + suffix

        def write(model: type[Model], columns: tuple[str, ...], rows: list[Row]) -> None:
            if model in extras:
                names, values = extras[model]
                columns, rows = columns + names, [row + values for row in rows]
            writer.write(model, columns, rows)

        batch_ids = self.batch_ids(stats)
        self.stock_counts(stats)
        self.emit(f"stock: {stats.batches_created} new batches, {stats.stock_counts} stock counts")
        write(
            Delivery,
            DELIVERY_COLUMNS,
            [
                (
                    pk,
                    str(unit),
                    SUPPLIER,
                    f"SYN-{unit}-{self.local_day(at):%Y%m%d}",
                    null,
                    stamp(at),
                    str(user),
                    "",
                    "",
                )
                for (unit, at), (pk, user) in sorted(self.deliveries.items(), key=lambda item: item[0][1])
            ],
        )
        stats.deliveries = len(self.deliveries)
        received = TransferStatus.RECEIVED.value
        write(
            Transfer,
            TRANSFER_COLUMNS,
            [
                (
                    t.pk,
                    str(t.use.unit),
                    str(t.to_unit),
                    str(batch_ids[t.use.batch]),
                    str(t.quantity),
                    received,
                    stamp(t.sent),
                    str(t.sender),
                    stamp(t.received),
                    str(t.receiver),
                    "",
                )
                for t in self.transfers
            ],
        )
        stats.transfers = len(self.transfers)
        # Booking order; each unit's balance of each batch is followed for what depends on it.
        self.events.sort(key=lambda e: (e.booked, e.kind != RECEIPT))
        balance: dict[StockKey, int] = defaultdict(int)
        lines: list[Row] = []
        kinds: Counter[str] = Counter()
        rows: list[Row] = []
        for event in self.events:
            key = event.key
            quantity = -balance[key] if event.quantity is None else event.quantity
            stock_count = self.counts[event.count].pk if event.count is not None else None
            if stock_count is not None:
                expected = balance[key]
                lines.append(
                    (
                        str(stock_count),
                        str(batch_ids[key[1]]),
                        null,
                        "0",
                        str(expected),
                        str(expected + quantity),
                        stamp(event.occurred),
                        str(event.user),
                    )
                )
            balance[key] += quantity
            if balance[key] < 0 or quantity == 0:
                raise RuntimeError(
                    f"ympa synth: the stock of {key} would be {balance[key]} after {event.kind}"
                )
            kinds[event.kind] += 1
            rows.append(
                (
                    str(key[0]),
                    str(batch_ids[key[1]]),
                    null,
                    event.kind,
                    str(quantity),
                    event.reason,
                    event.vaccination or null,
                    event.delivery or null,
                    event.transfer or null,
                    str(stock_count) if stock_count is not None else null,
                    null,
                    event.note,
                    stamp(event.occurred),
                    stamp(event.booked),
                    str(event.user),
                )
            )
            if len(rows) >= CHUNK:
                write(Movement, MOVEMENT_COLUMNS, rows)
                rows = []
                self.emit(f"stock: {sum(kinds.values())}/{self.movements} movements written")
        write(Movement, MOVEMENT_COLUMNS, rows)
        write(StockCountLine, LINE_COLUMNS, lines)
        stats.movements = sum(kinds.values())
        stats.kinds = dict(sorted(kinds.items()))
        self.emit("stock: checking foreign keys, setting the cached balances")
        writer.finish(first_ids, {})


def _busiest_unit(units: list[int]) -> tuple[int, int]:
    """The unit with the most movements, and how many (the benchmark sums its ledger)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT care_unit_id, COUNT(*) FROM {connection.ops.quote_name(Movement._meta.db_table)} "  # noqa: S608
            f"WHERE care_unit_id IN ({', '.join(['%s'] * len(units))}) GROUP BY care_unit_id "
            "ORDER BY COUNT(*) DESC, care_unit_id LIMIT 1",
            units,
        )
        unit, count = cursor.fetchone()
        return int(unit), int(count)


def _balances_from_ledger(units: list[int]) -> int:
    """Set the units' cached balances to the sums of their movements; returns how many rows they have."""
    q = connection.ops.quote_name
    table, ledger = q(StockBalance._meta.db_table), q(Movement._meta.db_table)
    marks = ", ".join(["%s"] * len(units))
    with connection.cursor() as cursor:
        # The SELECT has a WHERE: without one SQLite would read ON CONFLICT as a join constraint.
        cursor.execute(
            f"INSERT INTO {table} (care_unit_id, batch_id, location_id, slot, quantity) "  # noqa: S608
            "SELECT care_unit_id, batch_id, location_id, COALESCE(location_id, 0), SUM(quantity) "
            f"FROM {ledger} WHERE care_unit_id IN ({marks}) GROUP BY care_unit_id, batch_id, location_id "
            "ON CONFLICT (care_unit_id, batch_id, slot) DO UPDATE SET quantity = excluded.quantity",
            units,
        )
        cursor.execute(f"SELECT COUNT(*) FROM {table} WHERE care_unit_id IN ({marks})", units)  # noqa: S608
        return int(cursor.fetchone()[0])
