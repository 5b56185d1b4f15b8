"""The ledger-wide per-run audit, from the views, on the embedded store.

Loads the demo's synthetic background cases (a referral, its decision, visits, assessments,
conferences, other agencies' entries: about 18 events a case) until the ledger holds about
TOTAL events, builds the case-state view and the clock view with their consumers, then times
the ledger-wide audit as the API answers it (every clock run, one row each, as JSON bytes; as
of now, so open runs are measured to where the data end) and the latency report grouped by
responsible agency. The baseline, in the same run: reading the clock view's rows alone into
tuples (`SELECT * FROM clocks_runs`).
Usage: python benchmarks/audit.py [TOTAL]   (default 100,000)
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable

import orjson
from _common import background_ledger, machine, rate

from consumers.follower import CaseFollower
from sgl import queries
from sgl.bootstrap import tune_gc

EVENTS_PER_CASE = 18
REPEATS = 5


def main() -> None:
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    cases = max(1, total // EVENTS_PER_CASE)
    started = time.perf_counter()
    container, count = background_ledger(cases)
    print(f"machine: {machine()}; {count:,} events over {cases:,} cases")
    print(f"open the ledger and append: {rate(count, time.perf_counter() - started)}")
    started = time.perf_counter()
    container.runner().run_until_caught_up(timeout=7200)
    print(f"case-state consumer: {rate(count, time.perf_counter() - started)}")
    started = time.perf_counter()
    CaseFollower(container.log, container.views, container.clocks).run_until_caught_up(7200)
    print(f"clock view consumer: {rate(count, time.perf_counter() - started)}")
    stores = queries.ContainerStores(container)
    clocks = container.clocks.current()
    tune_gc()

    def baseline() -> int:
        with clocks.datastore.transaction(commit=False) as cursor:
            cursor.sqlite_cursor.row_factory = None
            cursor.execute("SELECT * FROM clocks_runs")
            return len(cursor.fetchall())

    def audit() -> int:
        document = queries.audit(stores)
        orjson.dumps(document)
        return len(document["runs"])

    def latency() -> int:
        return sum(g["runs"] for g in queries.latency(stores, by="agency")["groups"])

    work: dict[str, Callable[[], int]] = {"baseline": baseline, "audit": audit, "latency": latency}
    timings: dict[str, list[float]] = {name: [] for name in work}
    sizes: dict[str, int] = {}
    for _ in range(REPEATS):
        for name, run in work.items():
            started = time.perf_counter()
            sizes[name] = run()
            timings[name].append(time.perf_counter() - started)
    assert sizes["baseline"] == sizes["audit"] == sizes["latency"], sizes
    floor, audit_s, latency_s = (statistics.median(timings[k]) for k in work)
    spread = {k: f"{min(v):.2f} to {max(v):.2f} s" for k, v in timings.items()}
    print(f"read the clock view's {sizes['baseline']:,} runs (baseline), median of {REPEATS}: "
          f"{floor:.2f} s ({spread['baseline']})")  # fmt: skip
    print(f"ledger-wide audit as JSON, median of {REPEATS}: {audit_s:.2f} s "
          f"({spread['audit']}); ratio to the baseline {floor / audit_s:.2f}")  # fmt: skip
    print(f"latency by responsible agency, median of {REPEATS}: {latency_s:.2f} s "
          f"({spread['latency']}); ratio to the baseline {floor / latency_s:.2f}")  # fmt: skip
    container.close()


if __name__ == "__main__":
    main()
