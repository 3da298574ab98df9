"""`make bench`: Ympa's end-to-end benchmark (`python -m bench --help`).

For each database (SQLite, PostgreSQL) it creates a fresh database, fills it with `ympa synth`, serves the
app with gunicorn (production settings, DEBUG off) and loads it from concurrent keep-alive HTTP clients:

* the floor: `GET /bench/floor`, a bare Django view doing one indexed query (mounted when YMPA_BENCH=1);
* record and sign a vaccination through the API's view (`POST /bench/record/{id}`, sign=true), which books the
  dose out of stock, and the same with the provider's inventory module off;
* the patient overview through the access gate and without it;
* a unit's stock per batch from the cached balances, and summed from the ledger (`GET /bench/stock/{unit}`).

It reports throughput, p50/p99 latency, errors and server memory per measurement (median of rounds), the
server-timed parts (the access gate, the stock booking, the balance selectors), the targets (record p99 within
5x of the floor's; 200 signed records/s, the gate ≤ 2 ms and the stock booking ≤ 1 ms at p99, a unit's balance
in under 50 ms, on PostgreSQL), the forecasting engine's micro-benchmark and the machine; results go to
var/bench/results-<timestamp>.json.
"""
