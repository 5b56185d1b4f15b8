"""What the embedded log adds to the EventLog contract: it cannot hold one event_id twice."""

from __future__ import annotations

from pathlib import Path

from ledger.append import digest_of
from ledger.log import PendingRecord
from ledger.sqlite_log import SQLiteEventLog


def record(event_id: str, case_id: str = "CASE-S1") -> PendingRecord:
    value = f'{{"id":"{event_id}"}}'.encode()
    return PendingRecord(event_id, case_id, value, digest_of(value))


def test_a_batch_meeting_an_existing_event_id_keeps_the_original(tmp_path: Path) -> None:
    """Appending an id another writer already appended answers with its original receipt."""
    log = SQLiteEventLog(tmp_path / "ledger.sqlite")
    try:
        first = log.append([record("00000000-0000-4000-8000-000000000001")])[0]
        mixed = log.append(
            [
                record("00000000-0000-4000-8000-000000000002"),
                record("00000000-0000-4000-8000-000000000001"),
                record("00000000-0000-4000-8000-000000000003"),
            ]
        )
        assert [r.status for r in mixed] == ["accepted", "duplicate", "accepted"]
        assert mixed[1].offset == first.offset == 0
        assert [mixed[0].offset, mixed[2].offset] == [1, 2]
        assert log.end_offsets() == {0: 3}
    finally:
        log.close()


def test_positions_survive_reopening_the_file(tmp_path: Path) -> None:
    """Positions continue from where the file left off after a restart."""
    path = tmp_path / "ledger.sqlite"
    log = SQLiteEventLog(path)
    log.append([record("00000000-0000-4000-8000-000000000001")])
    log.close()
    reopened = SQLiteEventLog(path)
    try:
        receipt = reopened.append([record("00000000-0000-4000-8000-000000000002")])[0]
        assert receipt.offset == 1
        assert reopened.lookup(["00000000-0000-4000-8000-000000000001"])
    finally:
        reopened.close()
