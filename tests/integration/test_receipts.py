"""Receipts: one per event_id however many publish it at once, and they outlive a restart."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

from ledger.log import Receipt
from ledger.receipts import SQLiteReceiptIndex
from sgl.bootstrap import Container
from tests.factories import make_event


def test_concurrent_submits_of_one_event_append_it_once(container: Container) -> None:
    """Eight threads publish the same event together: one accepted, seven duplicates, one record."""
    event = make_event()
    ends = container.log.end_offsets()
    barrier = threading.Barrier(8)
    results: list[Receipt] = []
    lock = threading.Lock()

    def publish() -> None:
        barrier.wait()
        receipt = container.ledger.submit([event])[0]
        with lock:
            results.append(receipt)

    threads = [threading.Thread(target=publish) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(r.status for r in results) == ["accepted"] + ["duplicate"] * 7
    assert len({(r.partition, r.offset) for r in results}) == 1
    assert sum(container.log.end_offsets().values()) == sum(ends.values()) + 1


def test_pending_receipts_are_found_and_survive_a_restart(tmp_path: Path) -> None:
    """A receipt is found at once, kept first-wins, and is still there after close and reopen."""
    path = tmp_path / "receipts.sqlite"
    index = SQLiteReceiptIndex(path)
    first = Receipt(
        "00000000-0000-4000-8000-000000000001",
        "accepted",
        2,
        41,
        datetime(2026, 1, 1, 12, 0, 0, 123000, tzinfo=UTC),
        "d1",
    )
    later = Receipt(first.event_id, "accepted", 0, 7, datetime.now(UTC), "d2")
    index.put([first])
    index.put([later])
    assert index.get([first.event_id])[first.event_id].offset == 41
    index.close()
    reopened = SQLiteReceiptIndex(path)
    try:
        found = reopened.get([first.event_id, "00000000-0000-4000-8000-000000000002"])
        assert list(found) == [first.event_id]
        again = found[first.event_id]
        assert (again.status, again.partition, again.offset, again.digest) == (
            "duplicate",
            2,
            41,
            "d1",
        )
        assert again.appended_at == first.appended_at
    finally:
        reopened.close()
