"""`make bench`: Ympa's end-to-end benchmark (`python -m bench --help`).

For each database (SQLite, PostgreSQL) it creates a fresh database, fills it with `ympa synth`, serves the
app with gunicorn (production settings, DEBUG off) and loads it from concurrent keep-alive HTTP clients:

* the floor: `GET /bench/floor`, a bare Django view doing one indexed query (mounted when YMPA_BENCH=1);
* record and sign a vaccination through the API (`POST /api/v1/patients/{id}/vaccinations`, sign=true).

It reports throughput, p50/p99 latency, errors and server memory per measurement (median of rounds), the
targets (record p99 within 5x of the floor's; 200 signed records/s on PostgreSQL), the forecasting engine's
micro-benchmark and the machine; results go to var/bench/results-<timestamp>.json.
"""
