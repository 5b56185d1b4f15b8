"""`sgl rebuild` throughput against the raw read rate of the log, measured in the same run.

Fills a log with COUNT events over 1,000 cases and builds the live view, then measures:
  raw read   the log's own reader polling every record (no decoding, no view);
  rebuild    a new generation of the case-state view from offset 0, then the swap.
Usage: python benchmarks/rebuild.py [COUNT] [sqlite|kafka]   (default 100,000 on sqlite)
"""

from __future__ import annotations

import sys
import time

from _common import rate
from consume import filled, raw_read


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    container, _, total = filled(count, sys.argv[2] if len(sys.argv) > 2 else "sqlite")
    container.runner().run_until_caught_up(timeout=3600)

    read = raw_read(container.log, total)
    print(f"raw read of the log:  {rate(total, read)}")
    started = time.perf_counter()
    report = container.rebuild()
    took = time.perf_counter() - started
    assert report.applied == total, report
    print(f"rebuild and swap:     {rate(total, took)}  ratio {read / took:.2f}")
    container.close()


if __name__ == "__main__":
    main()
