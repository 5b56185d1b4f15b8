"""Load the demo: the Child A case and synthetic background cases, through the append path."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from itertools import chain, islice
from typing import Any

from ledger.append import Ledger
from ledger.log import Receipt
from sgl.background import background_events
from sgl.child_a import CASE as DEMO_CASE
from sgl.child_a import REGISTERED_AT, REGISTRY, agency_payloads, child_a
from sgl.registry import registration, registration_id

__all__ = ["DEMO_CASE", "demo_events", "load_demo"]

BATCH = 500


def demo_events(background_cases: int = 0, seed: int = 2007) -> Iterator[dict[str, Any]]:
    """The demo agencies' registrations, Child A's events, then the background cases'
    (deterministic for a seed)."""
    registrations = (registration(p, REGISTERED_AT) for p in agency_payloads())
    return chain(registrations, child_a(), background_events(background_cases, seed))


def load_demo(
    ledger: Ledger,
    background_cases: int = 0,
    seed: int = 2007,
    progress: Callable[[int], None] = lambda _: None,
) -> list[Receipt]:
    """Append the demo; events already present come back as duplicates (stable ids), and a
    demo agency registered already (by other means) is not registered again."""
    receipts: list[Receipt] = []
    registered = set(REGISTRY) - (ledger.agencies.unknown(REGISTRY) if ledger.agencies else set())
    # Registered by the demo before (its events come back as duplicates), or by other means.
    found = ledger.log.lookup({registration_id(a) for a in REGISTRY})
    ours = {a for a in REGISTRY if registration_id(a) in found}
    known = registered - ours
    events = (
        e
        for e in demo_events(background_cases, seed)
        if not (e["type"] == "agency.registered" and e["payload"]["agency_id"] in known)
    )
    for batch in _batches(events, BATCH):
        receipts += ledger.submit(batch)
        progress(len(batch))
    return receipts


def _batches(events: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    iterator = iter(events)
    while batch := list(islice(iterator, size)):
        yield batch
