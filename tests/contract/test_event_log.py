"""One contract for every EventLog adapter, run on the embedded SQLite log and on real Kafka."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

from ledger.append import digest_of
from ledger.log import EventLog, LogRecord, PendingRecord
from sgl.bootstrap import Container
from tests.factories import new_case_id


def pending(case_id: str, n: int) -> list[PendingRecord]:
    records = []
    for i in range(n):
        value = f'{{"case_id":"{case_id}","n":{i}}}'.encode()
        records.append(PendingRecord(str(uuid.uuid4()), case_id, value, digest_of(value)))
    return records


def read_all(event_log: EventLog, start: dict[int, int] | None = None) -> list[LogRecord]:
    ends = event_log.end_offsets()
    reader = event_log.reader(start or {})
    got: list[LogRecord] = []
    want = sum(ends.values()) - sum((start or {}).values())
    deadline = time.monotonic() + 20
    try:
        while len(got) < want and time.monotonic() < deadline:
            got.extend(reader.poll(1000, 0.5))
    finally:
        reader.close()
    return got


def test_append_returns_one_receipt_per_record_in_order(container: Container) -> None:
    """Receipts come back in the order sent; one case's offsets increase by one."""
    records = pending(new_case_id(), 5)
    receipts = container.log.append(records)
    assert [r.event_id for r in receipts] == [r.event_id for r in records]
    assert {r.status for r in receipts} == {"accepted"}
    assert len({r.partition for r in receipts}) == 1, "one case stays on one partition"
    offsets = [r.offset for r in receipts]
    assert offsets == list(range(offsets[0], offsets[0] + 5))


def test_appended_at_is_stamped_by_the_log_now(container: Container) -> None:
    """appended_at is the log's own clock at append, not anything the client sent."""
    before = datetime.now(UTC) - timedelta(seconds=1)
    receipt = container.log.append(pending(new_case_id(), 1))[0]
    assert before <= receipt.appended_at <= datetime.now(UTC) + timedelta(seconds=1)


def test_read_back_gives_the_exact_bytes_key_and_append_time(container: Container) -> None:
    """A reader returns what was appended, byte for byte, with the receipt's coordinates."""
    case_id = new_case_id()
    records = pending(case_id, 3)
    receipts = container.log.append(records)
    got = {(r.partition, r.offset): r for r in read_all(container.log)}
    for record, receipt in zip(records, receipts, strict=True):
        read = got[(receipt.partition, receipt.offset)]
        assert read.value == record.value
        assert read.key == case_id.encode()
        assert read.appended_at == receipt.appended_at


def test_reader_starts_at_the_given_positions(container: Container) -> None:
    """Starting from the end offsets of earlier records reads only what came later."""
    case_id = new_case_id()
    container.log.append(pending(case_id, 2))
    middle = container.log.end_offsets()
    later = container.log.append(pending(case_id, 2))
    got = read_all(container.log, middle)
    assert [(r.partition, r.offset) for r in got] == [(r.partition, r.offset) for r in later]


def test_lookup_returns_original_receipts_as_duplicates(container: Container) -> None:
    """An appended event_id is found again with its first receipt; an unknown one is not."""
    records = pending(new_case_id(), 2)
    receipts = container.log.append(records)
    found = container.log.lookup([records[0].event_id, "00000000-0000-4000-8000-000000000000"])
    assert list(found) == [records[0].event_id]
    again = found[records[0].event_id]
    assert again.status == "duplicate"
    assert (again.partition, again.offset, again.appended_at) == (
        receipts[0].partition,
        receipts[0].offset,
        receipts[0].appended_at,
    )
    assert again.digest == records[0].digest


def test_end_offsets_cover_every_partition(container: Container) -> None:
    """end_offsets names every partition and moves by the number appended."""
    before = container.log.end_offsets()
    assert sorted(before) == container.log.partitions()
    container.log.append(pending(new_case_id(), 4))
    after = container.log.end_offsets()
    assert sum(after.values()) - sum(before.values()) == 4


def test_ping_answers_when_the_log_is_up(container: Container) -> None:
    """ping does not raise on a reachable log."""
    container.log.ping()
