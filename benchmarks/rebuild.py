"""`sgl rebuild` throughput against the raw read rate of the log, measured in the same run.

Fills a log with COUNT events over 1,000 cases and builds the live view, then measures:
  raw read   the log's own reader polling every record (no decoding, no view);
  rebuild    a new generation of the case-state view from offset 0, then the swap.
Usage: python benchmarks/rebuild.py [COUNT] [sqlite|kafka]   (default 100,000 on sqlite)
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

from _common import events, machine, rate
from consume import CASES, raw_read

from ledger.settings import Settings
from sgl.bootstrap import bootstrap
from sgl.logs import configure_logging


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    backend = sys.argv[2] if len(sys.argv) > 2 else "sqlite"
    run = uuid.uuid4().hex[:8]
    settings = Settings.from_env(
        os.environ,
        backend=backend,
        data_dir=Path(tempfile.mkdtemp(prefix="sgl-bench-")),
        topic=f"sgl.bench.{run}.r",
        dead_letter_topic=f"sgl.bench.{run}.d",
        log_level="warning",
    )
    configure_logging(settings)
    container = bootstrap(settings)
    print(f"machine: {machine()}; {count:,} events over {CASES:,} cases on {backend}")
    batch = events(count, CASES)
    for start in range(0, count, 1000):
        container.ledger.submit(batch[start : start + 1000])
    container.runner().run_until_caught_up(timeout=3600)

    read = raw_read(container.log, count)
    print(f"raw read of the log:  {rate(count, read)}")
    started = time.perf_counter()
    report = container.rebuild()
    took = time.perf_counter() - started
    assert report.applied == count, report
    print(f"rebuild and swap:     {rate(count, took)}  ratio {read / took:.2f}")
    container.close()


if __name__ == "__main__":
    main()
