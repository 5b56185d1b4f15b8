"""The append path's steps on their own: classify a batch, then answer it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from ledger.append import Plan, answer, classify, digest_of
from ledger.errors import EventConflict
from ledger.log import DoneAppend, PendingAppend, PendingRecord, Receipt

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def record(event_id: str | None = None, content: bytes = b"{}") -> PendingRecord:
    return PendingRecord(event_id or str(uuid.uuid4()), "CASE-AP-1", content, digest_of(content))


def receipt_of(item: PendingRecord, offset: int, digest: str | None = None) -> Receipt:
    """The receipt a log looks up for the record, as status `duplicate`."""
    kept = item.digest if digest is None else digest
    return Receipt(item.event_id, "duplicate", 0, offset, NOW, kept)


def test_a_batch_sorts_into_known_in_flight_and_fresh() -> None:
    """Known ids stay known, ids another append has in flight wait, the rest go once."""
    old, moving, new = record(), record(), record()
    known = {old.event_id: receipt_of(old, 3)}
    inflight: dict[str, tuple[PendingRecord, PendingAppend]] = {
        moving.event_id: (moving, DoneAppend())
    }
    plan = classify([old, moving, new, new], known, inflight)
    assert plan.known == known
    assert list(plan.waiting) == [moving.event_id]
    assert plan.fresh == [new]


@pytest.mark.parametrize("where", ["known", "in flight"])
def test_an_event_id_with_other_content_is_a_conflict(where: str) -> None:
    """Other content under an id already appended, or being appended, raises EventConflict."""
    first = record(content=b'{"a":1}')
    again = record(first.event_id, b'{"a":2}')
    known = {first.event_id: receipt_of(first, 0)} if where == "known" else {}
    inflight: dict[str, tuple[PendingRecord, PendingAppend]] = (
        {first.event_id: (first, DoneAppend())} if where == "in flight" else {}
    )
    with pytest.raises(EventConflict) as caught:
        classify([record(), again], known, inflight)
    assert caught.value.event_ids == [first.event_id]


def test_a_receipt_without_a_digest_is_no_conflict() -> None:
    """A receipt kept without a digest (an older log) cannot show a conflict: known."""
    item = record()
    plan = classify([item], {item.event_id: receipt_of(item, 1, digest="")}, {})
    assert plan.fresh == [] and item.event_id in plan.known


def test_the_answer_is_one_receipt_per_record_in_batch_order() -> None:
    """Appended receipts answer as they are; a known one as duplicate; a repeat as duplicate."""
    old, new = record(), record()
    appended = {new.event_id: Receipt.accepted(new, 0, 9, NOW)}
    plan = Plan({old.event_id: receipt_of(old, 2)}, {}, [new])
    receipts = answer([new, old, new], appended, plan.known)
    assert [(r.event_id, r.status, r.offset) for r in receipts] == [
        (new.event_id, "accepted", 9),
        (old.event_id, "duplicate", 2),
        (new.event_id, "duplicate", 9),
    ]
