"""Load the demo through the append path: the demo agencies' registrations, the Child A and
Child B cases, and synthetic background cases."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from itertools import chain, islice
from typing import Any

from ledger.append import Ledger
from ledger.log import Receipt
from sgl.demo.agencies import demo_registry
from sgl.demo.background import background_events
from sgl.demo.child_a import CASE as DEMO_CASE
from sgl.demo.child_a import child_a
from sgl.demo.child_b import CASE as CHILD_B_CASE
from sgl.demo.child_b import child_b

__all__ = ["CHILD_B_CASE", "DEMO_CASE", "demo_events", "load_demo"]

BATCH = 500


def demo_events(background_cases: int = 0, seed: int = 2007) -> Iterator[dict[str, Any]]:
    """The registry's events, Child A's, Child B's, then the background cases' (deterministic
    for a seed): every agency is registered before an event names it."""
    return chain(demo_registry(), _cases(background_cases, seed))


def _cases(background_cases: int, seed: int) -> Iterator[dict[str, Any]]:
    return chain(child_a(), child_b(), background_events(background_cases, seed))


def load_demo(
    ledger: Ledger,
    background_cases: int = 0,
    seed: int = 2007,
    progress: Callable[[int], None] = lambda _: None,
) -> list[Receipt]:
    """Append the demo; events already present come back as duplicates (stable ids), and a
    demo agency registered already by other means is not registered again."""
    receipts: list[Receipt] = []
    registry = demo_registry()
    ids = {e["payload"]["agency_id"] for e in registry}
    registered = ids - ledger.agencies.unknown(ids) if ledger.agencies else set()
    # Registered by the demo before (its events come back as duplicates), or by other means.
    ours = ledger.log.lookup({e["event_id"] for e in registry})
    elsewhere = {e["payload"]["agency_id"] for e in registry if e["event_id"] not in ours}
    registry = [e for e in registry if e["payload"]["agency_id"] not in registered & elsewhere]
    # The registry goes in its own batches, appended before any event that names its agencies.
    for events in (registry, _cases(background_cases, seed)):
        for batch in _batches(events, BATCH):
            receipts += ledger.submit(batch)
            progress(len(batch))
    return receipts


def _batches(events: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    iterator = iter(events)
    while batch := list(islice(iterator, size)):
        yield batch
