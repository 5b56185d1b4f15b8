"""One contract for the receipt index (event_id -> first receipt), per backend."""

from __future__ import annotations

import time
import uuid
from collections.abc import Collection, Iterator, Sequence
from pathlib import Path
from typing import Protocol

import pytest

from ledger.log import Receipt, from_millis
from ledger.receipts import SQLiteReceiptIndex


class ReceiptIndex(Protocol):
    """The port: remember receipts, find them by event_id, keep them across restarts."""

    def put(self, receipts: Sequence[Receipt]) -> None:
        """Remember receipts; the first for an event_id wins."""
        ...

    def get(self, event_ids: Collection[str]) -> dict[str, Receipt]:
        """Known receipts, as `duplicate`."""
        ...

    def flush(self) -> None:
        """Make what was put durable now."""
        ...

    def close(self) -> None:
        """Make what was put durable and release the storage."""
        ...


def receipt(partition: int = 1, offset: int = 0, event_id: str | None = None) -> Receipt:
    # Whole milliseconds: the resolution of a log's append time.
    appended_at = from_millis(time.time_ns() // 1_000_000)
    return Receipt(
        event_id or str(uuid.uuid4()),
        "accepted",
        partition,
        offset,
        appended_at,
        "ab" * 32,
        "CASE-RI-1",
        "contact.recorded",
        2,
    )


class ReceiptIndexContract:
    """The receipt index contract; a subclass per backend supplies `create_index`."""

    tmp_path: Path

    @pytest.fixture(autouse=True)
    def _closes_its_indexes(self, tmp_path: Path) -> Iterator[None]:
        self.tmp_path = tmp_path
        self._open: list[ReceiptIndex] = []
        yield
        for index in self._open:
            index.close()

    def create_index(self) -> ReceiptIndex:
        """The backend's index on this test's storage (the same storage on each call)."""
        raise NotImplementedError

    def open_index(self) -> ReceiptIndex:
        index = self.create_index()
        self._open.append(index)
        return index

    def reopen(self, index: ReceiptIndex) -> ReceiptIndex:
        self._open.remove(index)
        index.close()
        return self.open_index()

    def test_a_receipt_put_is_found_as_duplicate_with_every_field(self) -> None:
        """get answers the whole receipt, status `duplicate`; an unknown id is absent."""
        index = self.open_index()
        kept = receipt()
        index.put([kept])
        found = index.get([kept.event_id, str(uuid.uuid4())])
        assert found == {kept.event_id: kept.as_duplicate()}

    def test_the_first_receipt_for_an_event_id_wins(self) -> None:
        """A later put for the same event_id, in the same call or another, changes nothing."""
        index = self.open_index()
        first = receipt(offset=1)
        index.put([first, receipt(offset=2, event_id=first.event_id)])
        index.put([receipt(offset=3, event_id=first.event_id)])
        assert index.get([first.event_id])[first.event_id].offset == 1
        index.flush()
        index.put([receipt(offset=4, event_id=first.event_id)])
        index.flush()
        assert index.get([first.event_id])[first.event_id].offset == 1

    def test_receipts_are_found_before_and_after_they_are_made_durable(self) -> None:
        """Whether still pending or flushed, the answer is the same."""
        index = self.open_index()
        kept = [receipt(offset=i) for i in range(3)]
        index.put(kept)
        pending = index.get([r.event_id for r in kept])
        index.flush()
        assert index.get([r.event_id for r in kept]) == pending

    def test_receipts_outlive_a_restart(self) -> None:
        """Closed and opened again on the same storage, the index answers as before."""
        index = self.open_index()
        kept = [receipt(partition=p, offset=p * 10) for p in range(3)]
        index.put(kept)
        index = self.reopen(index)
        assert index.get([r.event_id for r in kept]) == {r.event_id: r.as_duplicate() for r in kept}

    def test_a_large_look_up_finds_every_receipt(self) -> None:
        """Thousands of ids in one get (past any statement's parameter limit) are all found."""
        index = self.open_index()
        kept = [receipt(offset=i) for i in range(5000)]
        index.put(kept)
        index.flush()
        wanted = [r.event_id for r in kept] + [str(uuid.uuid4()) for _ in range(100)]
        assert len(index.get(wanted)) == 5000
        assert index.get([]) == {}


class TestSQLiteReceiptIndex(ReceiptIndexContract):
    """The contract on the SQLite file index that the Kafka log keeps."""

    def create_index(self) -> SQLiteReceiptIndex:
        return SQLiteReceiptIndex(self.tmp_path / "receipts.sqlite")
