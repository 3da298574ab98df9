"""The printed report: one table per database, then targets, the forecast engine and the machine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

FLOOR_LABEL = "floor (GET /bench/floor)"
# Issue 7's target for the booking surge on this 2-core machine.
SURGE_BOOKINGS_PER_SECOND = 300.0
SURGE_P99_MS = 500.0
RECORD_LABEL = "record+sign (POST vaccinations)"
STOCK_ROWS = (
    ("record_nostock", "record+sign, inventory module off"),
    ("cached", "stock balance, cached"),
    ("ledger", "stock balance, ledger (1 client)"),
)


def _verdict(value: bool | None) -> str:
    return "n/a" if value is None else ("met" if value else "MISSED")


def print_database(result: dict[str, Any], smoke: bool) -> None:
    label = result["label"]
    print(f"\n{'=' * 100}\n{label}")
    if result.get("error"):
        print(f"  ERROR: {result['error']}")
        return
    synth = result.get("synth", {})
    facts = result.get("facts", {})
    print(
        f"  {facts.get('version', '?')}, {facts.get('size_mb', '?')} MB after the fill"
        + (f"; {facts['settings']}" if facts.get("settings") else "")
    )
    print(
        f"  migrate {result.get('migrate_seconds', 0):.1f} s; synth {synth.get('patients', 0):,} patients, "
        f"{synth.get('vaccinations', 0):,} vaccinations, {synth.get('rows', 0):,} rows in "
        f"{synth.get('seconds', 0):.1f} s ({synth.get('rows_per_second', 0):,} rows/s; "
        f"command {synth.get('command_seconds', 0):.1f} s)"
    )
    refresh = result.get("forecast_refresh", {})
    if refresh:
        print(
            f"  stored forecasts refreshed for {refresh.get('patients', 0):,} patients in "
            f"{refresh.get('seconds', 0):.1f} s ({refresh.get('patients_per_second', 0):,.0f} patients/s, "
            "2 processes)"
        )
    verify = result.get("audit_verify", {})
    if verify:
        print(
            f"  access log verified: {verify.get('rows', 0):,} rows in {verify.get('chains', 0)} chains and "
            f"{verify.get('anchors', 0)} anchors in {verify.get('seconds', 0):.1f} s "
            f"({verify.get('rows_per_second', 0):,} rows/s; target: 1,000,000 rows in under 30 s)"
        )
    phases = result.get("phases", {})
    if phases:
        print("  wall clock: " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in phases.items()))
    for run in result.get("runs", []):
        print(
            f"\n  {run['workers']} gunicorn workers, {run['clients']} clients, median of {run['rounds']} "
            f"rounds x {run['seconds']:g} s (server idle RSS {run['idle_rss_mb']:.0f} MB)"
        )
        header = (
            f"  {'measurement':<33}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}"
            f"{'errors':>8}{'server MB':>11}{'CPU app/db/client/other':>25}{'CPU ms/req':>12}"
        )
        print(header)
        print(f"  {'-' * (len(header) - 2)}")
        for key, name in (("floor", FLOOR_LABEL), ("record", RECORD_LABEL)):
            m = run[key]
            cpu = (
                f"{m['server_cpu_percent']:.0f}/{m.get('database_cpu_percent', 0):.0f}/"
                f"{m['client_cpu_percent']:.0f}/{m.get('other_cpu_percent', 0):.0f}%"
            )
            app_and_db = m["server_cpu_percent"] + m.get("database_cpu_percent", 0)
            per_request = 10 * app_and_db / m["throughput"] if m["throughput"] else 0.0
            print(
                f"  {name:<33}{m['throughput']:>9.1f}{m['p50_ms']:>9.1f}{m['p99_ms']:>9.1f}"
                f"{m['max_ms']:>9.1f}{m['errors']:>8.0f}{m['server_rss_mb']:>11.0f}{cpu:>25}"
                f"{per_request:>12.1f}"
            )
        print(
            "  CPU: % of one core for the app server (gunicorn), the database server (postgres processes; "
            "SQLite runs inside the app), the load generator, and anything else on the machine (other: "
            "not this benchmark; it competes for the same cores). CPU ms/req: app + database."
        )
        access = run.get("access")
        if access:
            for key, name in (
                ("ungated", "overview without access layer"),
                ("gated", "overview, 8 readers, 8 providers"),
                ("one_provider", "overview, 8 readers, 1 provider"),
                ("ungated_one", "overview without access, 1 client"),
                ("gated_one", "overview, 1 client"),
            ):
                m = access[key]
                print(
                    f"  {name:<33}{m['throughput']:>9.1f}{m['p50_ms']:>9.1f}{m['p99_ms']:>9.1f}"
                    f"{m['max_ms']:>9.1f}{m['errors']:>8.0f}{m['server_rss_mb']:>11.0f}"
                )
            gate = access.get("gate", {})
            eight, one = gate.get("gated", {}), gate.get("one_provider", {})
            alone = gate.get("gated_one", {})
            verdict = _verdict(run["targets"].get("access_adds_at_most_2ms_p99"))
            print(
                f"  the gate itself (facts with the chain head, decision, log row committed; server-timed; "
                f"target p99 ≤ 2 ms on PostgreSQL): one client p50 {alone.get('p50_ms', 0):.2f} ms, p99 "
                f"{alone.get('p99_ms', 0):.2f} ms ({verdict}), "
                f"end to end {access.get('added_one_client_p50_ms', 0):+.1f} ms at p50 and "
                f"{access.get('added_one_client_p99_ms', 0):+.1f} ms at p99; saturated, 8 providers p50 "
                f"{eight.get('p50_ms', 0):.2f} ms, p99 {eight.get('p99_ms', 0):.2f} ms "
                f"({_verdict(run['targets'].get('access_adds_at_most_2ms_p99_saturated'))}); "
                f"p50 {one.get('p50_ms', 0):.2f} ms, p99 {one.get('p99_ms', 0):.2f} ms with one provider"
            )
            print(
                f"  end to end, the saturated closed loop: the overview with the gate is "
                f"{access['added_p50_ms']:+.1f} ms at p50 and {access['added_p99_ms']:+.1f} ms at p99 "
                f"from the one without; one provider / eight providers throughput = "
                f"{access['one_provider_throughput_ratio']:.2f}"
            )
        stock = run.get("stock")
        if stock:
            print_stock(stock, run["targets"])
        surge = run.get("surge")
        if surge:
            print_surge(surge, run["floor"])
        targets = run["targets"]
        print(
            f"  record p99 / floor p99 = {run['p99_ratio']:.2f} (target ≤ 5: "
            f"{_verdict(targets['record_p99_within_5x_floor'])}); signed records/s = "
            f"{run['record']['throughput']:.1f} (target ≥ 200 on PostgreSQL: "
            f"{_verdict(targets['records_per_second_200'])})"
        )
    if smoke:
        print("  (smoke run: tiny data and short measurements; the figures are not meaningful)")


def _row(name: str, m: dict[str, Any]) -> str:
    return (
        f"  {name:<33}{m['throughput']:>9.1f}{m['p50_ms']:>9.1f}{m['p99_ms']:>9.1f}"
        f"{m['max_ms']:>9.1f}{m['errors']:>8.0f}{m['server_rss_mb']:>11.0f}"
    )


def print_stock(stock: dict[str, Any], targets: dict[str, bool | None]) -> None:
    for key, name in STOCK_ROWS:
        print(_row(name, stock[key]) + f"   p99 / floor p99 {stock['p99_ratio'][key]:.2f}")
    booking, idle, one = stock["booking"], stock["booking_module_off"], stock["booking_one_client"]
    cached, ledger = stock["cached_server"], stock["ledger_server"]
    busiest = stock.get("busiest_unit", {})
    booking_verdict = _verdict(targets.get("dose_booking_at_most_1ms_p99"))
    saturated_verdict = _verdict(targets.get("dose_booking_at_most_1ms_p99_saturated"))
    print(
        "  booking the dose out of stock (stock_dose_book in the signing transaction, server-timed; target "
        f"p99 ≤ 1 ms on PostgreSQL): one client p50 {one['p50_ms']:.2f} ms, p99 {one['p99_ms']:.2f} ms "
        f"({booking_verdict}); saturated p50 {booking['p50_ms']:.2f} ms, p99 {booking['p99_ms']:.2f} ms "
        f"({saturated_verdict}); with the module off {idle['p99_ms']:.3f} ms; end to end, saturated, "
        f"record+sign is {stock['added_p50_ms']:+.1f} ms at p50 and {stock['added_p99_ms']:+.1f} ms at p99 "
        "from the same without stock"
    )
    cached_verdict = _verdict(targets.get("cached_balance_under_50ms_p99"))
    ledger_verdict = _verdict(targets.get("ledger_balance_under_50ms_p99"))
    print(
        f"  a unit's balance per batch over {stock.get('movements', 0):,} movements (the selector, "
        "server-timed; target < 50 ms on PostgreSQL): cached (unit_balances, any unit, saturated) p50 "
        f"{cached['p50_ms']:.1f} ms, p99 {cached['p99_ms']:.1f} ms ({cached_verdict}); summed from the "
        f"ledger (ledger_balances, the busiest unit's {busiest.get('movements', 0):,} movements, one "
        f"client) p50 {ledger['p50_ms']:.1f} ms, p99 {ledger['p99_ms']:.1f} ms ({ledger_verdict})"
    )


def print_surge(surge: dict[str, Any], floor: dict[str, Any]) -> None:
    rate = 2 * surge["throughput"]  # two requests per booking: the week's times and the confirmation
    share = rate / floor["throughput"] if floor["throughput"] else 0.0
    met = (
        surge["throughput"] >= SURGE_BOOKINGS_PER_SECOND and surge["p99_ms"] < SURGE_P99_MS and share >= 1 / 3
    )
    print(
        f"  booking surge ({surge['clients']} identified visitors, {surge['slots_released']:,} slots "
        f"released in {surge['release_seconds']:.2f} s; choose a time and confirm, through gunicorn): "
        f"{surge['bookings']:,} bookings in {surge['seconds']:.1f} s = {surge['throughput']:.1f}/s, p50 "
        f"{surge['p50_ms']:.0f} ms, p99 {surge['p99_ms']:.0f} ms (p99 / floor p99 {surge['p99_ratio']:.1f}), "
        f"{rate:.0f} req/s = {share:.2f} of the floor's rate; {surge['conflicts']} times taken meanwhile, "
        f"{surge['errors']} errors; CPU app {surge['server_cpu_percent']:.0f}% db "
        f"{surge['database_cpu_percent']:.0f}% client {surge['client_cpu_percent']:.0f}% "
        f"(target ≥ {SURGE_BOOKINGS_PER_SECOND:.0f}/s, p99 < {SURGE_P99_MS:.0f} ms, ≥ 1/3 of the floor: "
        f"{_verdict(met)})"
    )
    print(
        f"  after the surge: double-booked slots {surge['double_booked_slots']}, confirmations found once "
        f"{surge['confirmed_found_once']}/{surge['bookings']}, bookings in the release "
        f"{surge['bookings_in_database']}, slot flags agree {surge['flags_agree']} "
        f"({'verified' if surge['verified'] else 'FAILED'})"
    )


def print_summary(document: dict[str, Any], path: Path) -> None:
    machine = document["machine"]
    print(f"\n{'=' * 100}\nSummary ({document['mode']} run, {document['seconds']:.0f} s)")
    print(
        f"  machine: {machine['nproc']} CPUs ({machine['cpu_model']}), {machine['memory_gb']} GB, "
        f"Python {machine['python']}, Linux {machine['kernel']}"
    )
    for result in document["databases"]:
        for run in result.get("runs", []):
            floor, record = run["floor"], run["record"]
            print(
                f"  {result['label']:<10} w={run['workers']}: floor {floor['throughput']:7.1f} req/s "
                f"p99 {floor['p99_ms']:6.1f} ms | record+sign {record['throughput']:6.1f} req/s "
                f"p99 {record['p99_ms']:6.1f} ms | ratio {run['p99_ratio']:.2f}"
            )
            stock = run.get("stock")
            if stock:
                print(
                    f"  {'':<10}       stock booking p99 {stock['booking_one_client']['p99_ms']:.2f} ms one "
                    f"client, {stock['booking']['p99_ms']:.2f} ms saturated (server-timed); "
                    f"balance p99 {stock['cached_server']['p99_ms']:.1f} ms cached, "
                    f"{stock['ledger_server']['p99_ms']:.1f} ms from the ledger"
                )
            surge = run.get("surge")
            if surge:
                print(
                    f"  {'':<10}       booking surge {surge['throughput']:.1f} bookings/s, p99 "
                    f"{surge['p99_ms']:.0f} ms, {surge['clients']} visitors; double bookings "
                    f"{surge['double_booked_slots']}, confirmations found once "
                    f"{surge['confirmed_found_once']}/{surge['bookings']}"
                )
            access = run.get("access")
            if access:
                gate = access.get("gate", {}).get("gated", {})
                alone = access.get("gate", {}).get("gated_one", {})
                print(
                    f"  {'':<10}       overview {access['gated']['throughput']:7.1f} req/s p99 "
                    f"{access['gated']['p99_ms']:6.1f} ms; the gate itself p99 "
                    f"{alone.get('p99_ms', 0):.2f} ms one client, {gate.get('p99_ms', 0):.2f} ms saturated; "
                    f"end to end +{access['added_p99_ms']:.1f} ms p99 under saturation"
                )
    forecast = document.get("forecast") or {}
    if forecast:
        shown = ", ".join(
            f"{key} {value:,.2f}" if isinstance(value, float) else f"{key} {value}"
            for key, value in forecast.items()
        )
        print(f"  forecast engine (ympa.forecast.bench): {shown}")
    for error in document["errors"]:
        print(f"  ERROR: {error}")
    print(f"  results: {path}")
