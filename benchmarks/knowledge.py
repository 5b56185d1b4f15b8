"""Who-knew-what-when for one long case: the knowledge matrix, on the embedded store.

Writes one case of SIZE events across 11 agencies (facts, shares, meetings with absent
invitees, alerts, acknowledgements) plus background cases, builds the view, then times 200
matrix queries as of random dates (p50, p99). In the same run, the baseline: reading the
case's rows from the view alone. Each query is timed twice: with the case's events read from
SQLite (not in the view's memory) and again (in memory). Then the ledger-wide time-to-share.
Usage: python benchmarks/knowledge.py [SIZE] [BACKGROUND_EVENTS]   (default 2,000 100,000)
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from _common import agency, events, machine, rate, register

from ledger.agency_rules import LEDGER_AGENCY
from ledger.append import Ledger
from ledger.settings import Settings
from projections.knowledge import knowledge, time_to_share
from sgl.bootstrap import bootstrap, tune_gc
from sgl.logs import configure_logging
from tests.factories import example

QUERIES = 200
# The case's agencies, with their kinds.
KINDS = {
    "bench-childrens-social-care": "childrens_social_care",
    "bench-police": "police",
    "bench-gp": "gp",
    "bench-hospital": "hospital",
    "bench-health-visiting": "community_health",
    "bench-school": "education",
    "bench-housing": "housing",
    "bench-legal": "legal",
    "bench-family-centre": "early_years",
    "bench-probation": "probation",
    "bench-ambulance": "other",
}
AGENCIES = list(KINDS)
CASE = "CASE-KNOW-1"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def long_case(size: int, rng: random.Random) -> list[dict[str, Any]]:
    start = datetime(2007, 1, 1, 9, tzinfo=UTC)
    opened = example("case.opened")
    out = [{**opened, "event_id": str(uuid.uuid4()), "case_id": CASE, "agency": AGENCIES[0]}]
    facts: list[str] = [out[0]["event_id"]]
    for i in range(1, size):
        moment = start + timedelta(hours=4 * i)
        stamp = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        a, b = rng.sample(AGENCIES, 2)
        named = rng.sample(facts[-50:], min(3, len(facts)))
        roll = rng.random()
        if roll < 0.6:
            kind = rng.choice(["contact.recorded", "injury.observed", "concern.raised"])
            event = {**example(kind), "agency": a}
        elif roll < 0.8:
            payload = {"from_agency": a, "to_agency": b, "facts": named, "channel": "email"}
            event = {**example("information.shared"), "agency": a, "payload": payload}
        elif roll < 0.9:
            invited = rng.sample(AGENCIES, 5)
            payload = {
                **example("meeting.held")["payload"],
                "invited_agencies": invited,
                "attending_agencies": invited[:3],
                "facts_tabled": named,
            }
            event = {**example("meeting.held"), "agency": AGENCIES[0], "payload": payload}
        elif roll < 0.95:
            payload = {**example("alert.raised")["payload"], "evidence": named, "sent_to": [a, b]}
            event = {**example("alert.raised"), "payload": payload}
        else:
            payload = {"acknowledges": named[0], "kind": "read"}
            event = {**example("acknowledged"), "agency": b, "payload": payload}
        event.update(event_id=str(uuid.uuid4()), case_id=CASE, occurred_at=stamp, recorded_at=stamp)
        out.append(event)
        if event["type"] != "acknowledged":
            facts.append(event["event_id"])
    return out


def main() -> None:
    size = int(sys.argv[1]) if len(sys.argv) > 1 else 2_000
    background = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
    settings = Settings.from_env(
        {}, data_dir=Path(tempfile.mkdtemp(prefix="sgl-bench-")), log_level="warning"
    )
    configure_logging(settings)
    container = bootstrap(settings)
    register(container, [agency(a, k) for a, k in KINDS.items()])
    # The alerts are the ledger's own: appended as the alerter appends them, not through the
    # adapters' append path (which refuses them).
    alerter = Ledger(container.log, container.schemas)
    rng = random.Random(11)
    print(f"machine: {machine()}; one case of {size:,} events, {background:,} others")
    batch = long_case(size, rng) + events(background, max(1, background // 100))
    for start in range(0, len(batch), 5000):
        chunk = batch[start : start + 5000]
        container.ledger.submit([e for e in chunk if e["agency"] != LEDGER_AGENCY])
        alerts = [e for e in chunk if e["agency"] == LEDGER_AGENCY]
        if alerts:
            alerter.submit(alerts)
    del batch  # a server holds no submissions: keep the heap as a server's would be
    container.runner().run_until_caught_up(timeout=3600)
    view = container.view
    tune_gc()  # as `sgl serve` does

    read, cold, warm = [], [], []
    for _ in range(QUERIES):
        moment = datetime(2007, 1, 1, tzinfo=UTC) + timedelta(days=rng.uniform(0, 340))
        view._cache.clear()  # as for a case not queried lately
        t0 = time.perf_counter()
        rows = view.events(CASE)
        t1 = time.perf_counter()
        knowledge(rows, moment).matrix()
        t2 = time.perf_counter()
        knowledge(view.events(CASE), moment).matrix()  # the same case again: in memory
        t3 = time.perf_counter()
        read.append((t1 - t0) * 1000)
        cold.append((t2 - t0) * 1000)
        warm.append((t3 - t2) * 1000)
    for label, values in (
        ("read the case's rows (baseline)", read),
        ("matrix, case not in memory", cold),
        ("matrix, case in memory", warm),
    ):
        print(
            f"{label + ':':36} p50 {statistics.median(values):.1f} ms, "
            f"p99 {percentile(values, 0.99):.1f} ms"
        )
    started = time.perf_counter()
    now = datetime.now(UTC)
    pairs = time_to_share(knowledge(view.events(c), now).delays() for c in view.all_case_ids())
    took = time.perf_counter() - started
    total = size + background
    print(f"ledger-wide time-to-share: {len(pairs)} pairs; {rate(total, took)}")
    container.close()


if __name__ == "__main__":
    main()
