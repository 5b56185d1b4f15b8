"""What an embedded ledger of COUNT events costs: each consumer's rate, each file's size on disk,
and the process's peak memory, for sizing (docs/operations.md).

Fills an embedded ledger with COUNT events over CASES cases (the append path, batches of 1000),
then brings each consumer up to date in turn, as one process running everything would, against
the raw read of the same log in the same run.
Usage: python benchmarks/footprint.py [COUNT] [CASES]   (default 200,000 over 10,000)
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

from _common import events, machine, rate, register
from consume import raw_read

from ledger.settings import Settings
from sgl.bootstrap import bootstrap
from sgl.logs import configure_logging


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    cases = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000
    data_dir = Path(tempfile.mkdtemp(prefix="sgl-bench-"))
    settings = Settings.from_env({}, data_dir=data_dir, log_level="warning", alerter="on")
    configure_logging(settings)
    container = bootstrap(settings)
    total = len(register(container)) + count
    print(f"machine: {machine()}; {count:,} events over {cases:,} cases, embedded")
    appending = 0.0
    for chunk in range(0, count, 100_000):
        batch = events(min(100_000, count - chunk), cases)
        started = time.perf_counter()
        for start in range(0, len(batch), 1000):
            container.ledger.submit(batch[start : start + 1000])
        appending += time.perf_counter() - started
    print(f"append path (in process):      {rate(count, appending)}")
    read = raw_read(container.log, total)
    print(f"raw read of the log:           {rate(total, read)}")
    for loop in [container.runner(), *container.followers(), container.sealer()]:
        started = time.perf_counter()
        loop.run_until_caught_up(timeout=3600)
        took = time.perf_counter() - started
        print(f"{loop.name + ':':30} {rate(total, took)}  ratio {read / took:.2f}")
    container.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory:          {peak:,.0f} MiB")
    files = sorted(p for p in data_dir.rglob("*") if p.is_file())
    size = sum(p.stat().st_size for p in files)
    for path in files:
        mib = path.stat().st_size / 2**20
        if mib >= 0.1:
            print(f"  {path.relative_to(data_dir)!s:40} {mib:9,.1f} MiB")
    per_million = size / 2**30 * 1_000_000 / count
    print(f"on disk: {size / 2**20:,.0f} MiB in all, {per_million:.2f} GiB per 1,000,000 events")


if __name__ == "__main__":
    main()
