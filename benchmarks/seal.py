"""Sealing throughput against the append rate, and `sgl verify` over the whole log.

In one run, on the backend chosen:
  append   the ledger's append path (validate, canonical bytes, append) in batches of 1000:
           the rate the sealer has to keep up with;
  raw read the log's own reader polling every record;
  sealer   leaf hash, tree nodes, checkpoints every 1000 records, committed with positions;
  verify   recompute every tree from the log, check every checkpoint's signature and root,
           compare every record with the seal (what `sgl verify` runs).
Usage: python benchmarks/seal.py [COUNT] [sqlite|kafka]   (default 100,000 on sqlite)
"""

from __future__ import annotations

import sys
import time

from _common import rate
from consume import filled, raw_read

from consumers.verify import verify_ledger


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    container, appended, total = filled(count, sys.argv[2] if len(sys.argv) > 2 else "sqlite")
    print(f"append path (batches of 1000):  {rate(count, appended)}")
    read = raw_read(container.log, total)
    print(f"raw read of the log:            {rate(total, read)}")
    sealer = container.sealer()
    began = time.perf_counter()
    sealed = sealer.run_until_caught_up(timeout=3600)
    took = time.perf_counter() - began
    assert sealed == total, sealed
    print(
        f"sealer:                         {rate(total, took)}; "
        f"{appended / took:.2f}x the append rate, {read / took:.2f} of the raw read"
    )
    vkey = container.verifier_key()
    assert vkey is not None
    began = time.perf_counter()
    report = verify_ledger(container.log, container.checkpoints_log, vkey, container.seal)
    took = time.perf_counter() - began
    assert report.ok and report.records == total, report.first
    print(
        f"verify (sgl verify):            {rate(total, took)}; {report.checkpoints:,} "
        f"checkpoints; {took * 1_000_000 / total:.1f} s per 1,000,000 records"
    )
    container.close()


if __name__ == "__main__":
    main()
