"""As-of replay latency for one long case in a large ledger, on the embedded store.

Fills a ledger with TOTAL events over CASES cases, one of which has LONG events, lets the
consumer build the view, then times the view's as-of query (snapshots plus the events known
after the latest usable one) for the long case at random dates (p50, p99), and for a short
case. In the same run, the baselines: reading all the long case's rows from the view, and the
full replay (those rows folded from scratch) that the query replaces.
Usage: python benchmarks/as_of.py [TOTAL] [CASES] [LONG]   (default 1,000,000 10,000 10,000)
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _common import events, machine, rate, register

from ledger.settings import Settings
from projections.as_of import state_as_of
from sgl.bootstrap import bootstrap
from sgl.logs import configure_logging

QUERIES = 200


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    cases = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000
    long = int(sys.argv[3]) if len(sys.argv) > 3 else 10_000
    settings = Settings.from_env(
        {}, data_dir=Path(tempfile.mkdtemp(prefix="sgl-bench-")), log_level="warning"
    )
    configure_logging(settings)
    container = bootstrap(settings)
    register(container)
    print(f"machine: {machine()}; {total:,} events over {cases:,} cases, one of {long:,}")
    started = time.perf_counter()
    long_case = events(long, 1)
    for i, event in enumerate(long_case):  # spread its recorded_at over 2007
        moment = datetime(2007, 1, 1, tzinfo=UTC) + timedelta(minutes=50 * i)
        event["case_id"] = "CASE-LONG-1"
        event["occurred_at"] = event["recorded_at"] = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    rest = events(total - long, cases - 1)
    batch = long_case + rest
    for start in range(0, total, 5000):
        container.ledger.submit(batch[start : start + 5000])
    print(f"append (embedded): {rate(total, time.perf_counter() - started)}")
    started = time.perf_counter()
    container.runner().run_until_caught_up(timeout=3600)
    print(f"consume into the view: {rate(total, time.perf_counter() - started)}")

    rng = random.Random(7)
    view = container.view
    read, replay, query = [], [], []
    for _ in range(QUERIES):
        moment = datetime(2007, 1, 1, tzinfo=UTC) + timedelta(days=rng.uniform(0, 365))
        view._cache.clear()  # the baseline reads the rows from SQLite, not from memory
        t0 = time.perf_counter()
        history = view.events("CASE-LONG-1")
        t1 = time.perf_counter()
        expected = state_as_of(history, moment)
        t2 = time.perf_counter()
        got = view.state_as_of("CASE-LONG-1", moment)
        t3 = time.perf_counter()
        assert got == expected, moment
        read.append((t1 - t0) * 1000)
        replay.append((t2 - t0) * 1000)
        query.append((t3 - t2) * 1000)
    short = []
    for _ in range(QUERIES):
        t0 = time.perf_counter()
        view.state_as_of("CASE-B000001", datetime.now(UTC))
        short.append((time.perf_counter() - t0) * 1000)
    print(
        f"read the long case's rows (baseline): p50 {statistics.median(read):.1f} ms, "
        f"p99 {percentile(read, 0.99):.1f} ms"
    )
    print(
        f"full replay of the long case:         p50 {statistics.median(replay):.1f} ms, "
        f"p99 {percentile(replay, 0.99):.1f} ms"
    )
    print(
        f"as-of for the long case (snapshots):  p50 {statistics.median(query):.2f} ms, "
        f"p99 {percentile(query, 0.99):.2f} ms  "
        f"(p50 {statistics.median(replay) / statistics.median(query):.0f}x faster than replay)"
    )
    print(
        f"as-of for a short case:               p50 {statistics.median(short):.2f} ms, "
        f"p99 {percentile(short, 0.99):.2f} ms"
    )
    container.close()


if __name__ == "__main__":
    main()
