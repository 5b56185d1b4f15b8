"""The ledger-wide decision-latency report, from the view, on the embedded store.

Loads the demo's synthetic background cases (referrals, meetings, decisions, about 15 events
a case) until the ledger holds about TOTAL events, builds the view, then times the report
grouped by clock over every case. In the same run, the baseline: reading every case's events
from the view alone.
Usage: python benchmarks/latency.py [TOTAL]   (default 100,000)
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from _common import machine, rate

from ledger.settings import Settings
from projections.clock_policy import load_clock_policy
from projections.clocks import clock_runs
from projections.latency import latency_report
from sgl.background import background_events
from sgl.bootstrap import bootstrap, tune_gc
from sgl.logs import configure_logging


def main() -> None:
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    settings = Settings.from_env(
        {}, data_dir=Path(tempfile.mkdtemp(prefix="sgl-bench-")), log_level="warning"
    )
    configure_logging(settings)
    container = bootstrap(settings)
    cases = max(1, total // 15)
    batch = list(background_events(cases))
    for start in range(0, len(batch), 5000):
        container.ledger.submit(batch[start : start + 5000])
    count = len(batch)
    del batch
    container.runner().run_until_caught_up(timeout=3600)
    view, policy = container.view, load_clock_policy()
    tune_gc()
    print(f"machine: {machine()}; {count:,} events over {cases:,} cases")
    started = time.perf_counter()
    read = sum(len(view.events(c)) for c in view.all_case_ids())
    baseline = time.perf_counter() - started
    now = datetime.now(UTC)
    started = time.perf_counter()
    rows = latency_report((c, clock_runs(view.events(c), now, policy)) for c in view.all_case_ids())
    took = time.perf_counter() - started
    assert read == count, (read, count)
    runs = sum(r["runs"] for r in rows)
    print(f"read every case's events (baseline): {rate(count, baseline)}")
    print(f"latency report by clock, {runs:,} runs: {rate(count, took)}")
    print(f"  so 1,000,000 events would take about {took * 1_000_000 / count:.1f} s")
    container.close()


if __name__ == "__main__":
    main()
