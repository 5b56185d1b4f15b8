"""The ledger-wide decision-latency report, from the clock view, on the embedded store.

Loads the demo's synthetic background cases (referrals, meetings, decisions, about 15 events
a case) until the ledger holds about TOTAL events, builds the case-state view and the clock
view with their consumers, then times the report grouped by clock over every case, as of now.
In the same run, the baselines: reading the clock view's rows alone (the floor), and the
report folded from every case's events (what the clock view saves).
Usage: python benchmarks/latency.py [TOTAL]   (default 100,000)
"""

from __future__ import annotations

import statistics
import sys
import time
from datetime import UTC, datetime

from _common import background_ledger, machine, rate

from consumers.follower import CaseFollower
from projections.clocks import clock_runs
from projections.latency import latency_report
from sgl.bootstrap import tune_gc


def main() -> None:
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    cases = max(1, total // 15)
    container, count = background_ledger(cases)
    print(f"machine: {machine()}; {count:,} events over {cases:,} cases")
    started = time.perf_counter()
    container.runner().run_until_caught_up(timeout=7200)
    print(f"case-state consumer: {rate(count, time.perf_counter() - started)}")
    follower = CaseFollower(container.log, container.views, container.clocks)
    started = time.perf_counter()
    follower.run_until_caught_up(timeout=7200)
    print(
        f"clock view consumer (sweep of every case): {rate(count, time.perf_counter() - started)}"
    )
    view, clocks, policy = container.view, container.clocks.current(), container.clock_policy
    registry = container.agencies
    tune_gc()
    now = datetime.now(UTC)

    def floor() -> int:
        with clocks.datastore.transaction(commit=False) as cursor:
            cursor.execute("SELECT * FROM clocks_runs")
            return len(cursor.fetchall())

    def stored() -> int:
        rows = latency_report(clocks.ledger_runs(view, now), "clock")
        return sum(r["runs"] for r in rows)

    timings: dict[str, list[float]] = {"floor": [], "stored": []}
    for _ in range(5):
        for name, work in (("floor", floor), ("stored", stored)):
            started = time.perf_counter()
            runs = work()
            timings[name].append(time.perf_counter() - started)
    started = time.perf_counter()
    folded = latency_report(
        (
            (c, [r.row() for r in clock_runs(view.events(c), now, policy, agencies=registry)])
            for c in view.all_case_ids()
        ),
        "clock",
    )
    fold_took = time.perf_counter() - started
    assert folded == latency_report(clocks.ledger_runs(view, now), "clock")
    floor_s, stored_s = (statistics.median(timings[k]) for k in ("floor", "stored"))
    print(f"read the clock view's {runs:,} rows (baseline): {floor_s:.2f} s")
    print(
        f"latency report by clock from the clock view, median of 5: {stored_s:.2f} s "
        f"({rate(count, stored_s)}); ratio to the baseline {floor_s / stored_s:.2f}"
    )
    print(
        f"latency report folded from every case's events: {fold_took:.2f} s "
        f"({fold_took / stored_s:.1f}x the clock view)"
    )
    container.close()


if __name__ == "__main__":
    main()
