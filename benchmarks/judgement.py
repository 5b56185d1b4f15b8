"""The cost of judgement: consumers and the rule policy over synthetic cases, embedded store.

Loads the demo's synthetic background cases (or the events of EVENTS, one JSON document a
line, so two versions of the code can be measured on the same events; with EVENTS named and
absent, the generated events are written there first), then in one run measures:
  raw read      the log's own reader polling every record (baseline of the consumers);
  case state    the case-state consumer into its view;
  clock view    the clock view's consumer (a sweep of every case);
  fold          every case's events folded into its state (`project_all`; baseline of rules);
  rules         the bundled rule policy evaluated over every case as the alerter does
                (`evaluate_with_due`, as known now), from the same events in memory.
The fold and the rules are timed REPEATS times each, in turn; medians are printed.
Usage: python benchmarks/judgement.py [CASES] [EVENTS]   (default 1,100 cases)
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from _common import machine, rate

from consumers.follower import CaseFollower
from ledger.settings import Settings
from projections.case_state import project_all
from projections.rules import evaluate_with_due
from sgl.bootstrap import bootstrap, tune_gc
from sgl.demo.agencies import demo_registry
from sgl.demo.background import background_events
from sgl.logs import configure_logging

REPEATS = 3


def documents(cases: int, path: Path | None) -> list[dict[str, Any]]:
    """The events to load: read from `path` if it exists, else generated (and written there)."""
    if path is not None and path.exists():
        return [orjson.loads(line) for line in path.read_bytes().splitlines()]
    made = list(background_events(cases))
    if path is not None:
        path.write_bytes(b"".join(orjson.dumps(d) + b"\n" for d in made))
    return made


def main() -> None:
    cases = int(sys.argv[1]) if len(sys.argv) > 1 else 1_100
    made = documents(cases, Path(sys.argv[2]) if len(sys.argv) > 2 else None)
    settings = Settings.from_env(
        {}, data_dir=Path(tempfile.mkdtemp(prefix="sgl-bench-")), log_level="warning"
    )
    configure_logging(settings)
    container = bootstrap(settings)
    registry = demo_registry()
    container.ledger.submit(registry)  # the agencies the background cases name
    for start in range(0, len(made), 5000):
        container.ledger.submit(made[start : start + 5000])
    total = len(registry) + len(made)
    ids = sorted({d["case_id"] for d in made})
    print(f"machine: {machine()}; {len(made):,} events over {len(ids):,} cases")

    reader = container.log.reader({})
    started = time.perf_counter()
    seen = 0
    while seen < total:
        seen += len(reader.poll(2000, 1.0))
    read = time.perf_counter() - started
    reader.close()
    print(f"raw read of the log (baseline): {rate(total, read)}")
    started = time.perf_counter()
    container.runner().run_until_caught_up(timeout=3600)
    took = time.perf_counter() - started
    print(f"case-state consumer: {rate(total, took)}; ratio to the raw read {read / took:.3f}")
    follower = CaseFollower(container.log, container.views, container.clocks)
    started = time.perf_counter()
    follower.run_until_caught_up(timeout=3600)
    took = time.perf_counter() - started
    print(f"clock view consumer: {rate(total, took)}; ratio to the raw read {read / took:.3f}")

    view, policy, agencies = container.view, container.rule_policy, container.agencies
    events = {c: view.events(c) for c in ids}
    count = sum(len(e) for e in events.values())
    tune_gc()
    now = datetime.now(UTC)

    def fold() -> int:
        return sum(project_all(None, e).events for e in events.values())

    def rules() -> int:
        return sum(
            len(evaluate_with_due(e, now, policy, agencies=agencies)[0]) for e in events.values()
        )

    timings: dict[str, list[float]] = {"fold": [], "rules": []}
    for _ in range(REPEATS):
        for name, work in (("fold", fold), ("rules", rules)):
            started = time.perf_counter()
            work()
            timings[name].append(time.perf_counter() - started)
    fold_s, rules_s = (statistics.median(timings[k]) for k in ("fold", "rules"))
    print(f"fold of every case (baseline), median of {REPEATS}: {rate(count, fold_s)}")
    print(
        f"rule policy ({len(policy.rules)} rules) over every case, median of {REPEATS}: "
        f"{rate(count, rules_s)}; {rules_s / len(ids) * 1000:.2f} ms a case; "
        f"ratio to the fold {fold_s / rules_s:.3f}; {rules():,} findings"
    )
    container.close()


if __name__ == "__main__":
    main()
