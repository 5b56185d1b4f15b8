"""One contract for every EventLog adapter, run on the bare adapters: SQLite and real Kafka.

`EventLogContract` holds the tests; each backend subclasses it once and says how to build its
log (`create_log`) and a log whose appends fail at a given record (`create_faulty_log`), in
the manner of eventsourcing.tests.persistence.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import pytest
from kafka import KafkaProducer, TopicPartition
from kafka.errors import KafkaTimeoutError, NotEnoughReplicasError
from kafka.producer.future import FutureProduceResult, FutureRecordMetadata

from ledger import receipts as receipts_module
from ledger.append import digest_of
from ledger.errors import LedgerUnavailable
from ledger.kafka_log import KafkaEventLog
from ledger.log import DeadLetter, DeadLetterSink, EventLog, LogRecord, PendingRecord
from ledger.postgres import PostgresLocation
from ledger.receipts import PostgresReceiptIndex, SQLiteReceiptIndex
from ledger.sqlite_log import SQLiteEventLog
from tests.conftest import wait_for
from tests.factories import new_case_id


class ContractLog(EventLog, DeadLetterSink, Protocol):
    """What the contract drives: the log port, the dead-letter port, and reading letters back."""

    def dead_letters(self) -> list[DeadLetter]:
        """Every dead letter kept."""
        ...


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


def size(event_log: EventLog) -> int:
    """How many records the log holds."""
    return sum(event_log.end_offsets().values())


class EventLogContract:
    """The EventLog contract; a subclass per backend supplies the factories."""

    tmp_path: Path

    @pytest.fixture(autouse=True)
    def _closes_its_logs(self, tmp_path: Path) -> Iterator[None]:
        self.tmp_path = tmp_path
        self._open: list[ContractLog] = []
        yield
        for event_log in self._open:
            event_log.close()

    def create_log(self) -> ContractLog:
        """The backend's log on this test's storage (the same storage on each call)."""
        raise NotImplementedError

    def create_faulty_log(self, fail_at: str) -> ContractLog:
        """The log on this test's storage, whose appends fail from the record with that id."""
        raise NotImplementedError

    def open_log(self) -> ContractLog:
        """A log closed when the test ends."""
        return self._opened(self.create_log())

    def _opened(self, event_log: ContractLog) -> ContractLog:
        self._open.append(event_log)
        return event_log

    def reopen(self, event_log: ContractLog) -> ContractLog:
        """Close the log and open it again on the same storage."""
        self._open.remove(event_log)
        event_log.close()
        return self.open_log()

    def test_append_returns_one_receipt_per_record_in_order(self) -> None:
        """Receipts come back in the order sent; one case's offsets increase by one."""
        event_log = self.open_log()
        records = pending(new_case_id(), 5)
        receipts = event_log.append(records)
        assert [r.event_id for r in receipts] == [r.event_id for r in records]
        assert {r.status for r in receipts} == {"accepted"}
        assert len({r.partition for r in receipts}) == 1, "one case stays on one partition"
        offsets = [r.offset for r in receipts]
        assert offsets == list(range(offsets[0], offsets[0] + 5))

    def test_begin_append_gives_the_same_receipts_on_result(self) -> None:
        """The pipelined form answers what append answers, repeats included."""
        event_log = self.open_log()
        first = event_log.append(pending(new_case_id(), 1))[0]
        records = pending(new_case_id(), 2)
        already = event_log.lookup([first.event_id])[first.event_id]
        handle = event_log.begin_append([records[0], already_record(first), records[1]])
        receipts = handle.result()
        assert [r.status for r in receipts] == ["accepted", "duplicate", "accepted"]
        assert receipts[1] == already
        assert handle.result() == receipts, "result() can be asked again"

    def test_appended_at_is_stamped_by_the_log_now(self) -> None:
        """appended_at is the log's own clock at append, not anything the client sent."""
        event_log = self.open_log()
        before = datetime.now(UTC) - timedelta(seconds=1)
        receipt = event_log.append(pending(new_case_id(), 1))[0]
        assert before <= receipt.appended_at <= datetime.now(UTC) + timedelta(seconds=1)

    def test_read_back_gives_the_exact_bytes_key_and_append_time(self) -> None:
        """A reader returns what was appended, byte for byte, with the receipt's coordinates."""
        event_log = self.open_log()
        case_id = new_case_id()
        records = pending(case_id, 3)
        receipts = event_log.append(records)
        got = {(r.partition, r.offset): r for r in read_all(event_log)}
        for record, receipt in zip(records, receipts, strict=True):
            read = got[(receipt.partition, receipt.offset)]
            assert read.value == record.value
            assert read.key == case_id.encode()
            assert read.appended_at == receipt.appended_at
            assert read.topic == event_log.topic

    def test_reader_starts_at_the_given_positions(self) -> None:
        """Starting from the end offsets of earlier records reads only what came later."""
        event_log = self.open_log()
        case_id = new_case_id()
        event_log.append(pending(case_id, 2))
        middle = event_log.end_offsets()
        later = event_log.append(pending(case_id, 2))
        got = read_all(event_log, middle)
        assert [(r.partition, r.offset) for r in got] == [(r.partition, r.offset) for r in later]

    def test_lookup_returns_original_receipts_as_duplicates(self) -> None:
        """An appended event_id is found again with its first receipt; an unknown one is not."""
        event_log = self.open_log()
        records = pending(new_case_id(), 2)
        receipts = event_log.append(records)
        found = event_log.lookup([records[0].event_id, "00000000-0000-4000-8000-000000000000"])
        assert list(found) == [records[0].event_id]
        again = found[records[0].event_id]
        assert again.status == "duplicate"
        assert (again.partition, again.offset, again.appended_at) == (
            receipts[0].partition,
            receipts[0].offset,
            receipts[0].appended_at,
        )
        assert again.digest == records[0].digest
        assert event_log.lookup([]) == {}

    def test_appending_an_event_id_again_answers_its_original_receipt(self) -> None:
        """A repeat is answered `duplicate` with the first partition, offset and append time,
        and the log does not grow by it; the new record beside it is appended."""
        event_log = self.open_log()
        case_id = new_case_id()
        records = pending(case_id, 3)
        first = event_log.append(records)
        before = size(event_log)
        fresh = pending(case_id, 1)[0]
        again = event_log.append([records[0], fresh, records[2]])
        assert [r.status for r in again] == ["duplicate", "accepted", "duplicate"]
        for receipt, original in ((again[0], first[0]), (again[2], first[2])):
            assert receipt == original.as_duplicate()
        assert size(event_log) == before + 1
        assert len(read_all(event_log)) == before + 1

    def test_a_repeat_within_one_batch_is_appended_once(self) -> None:
        """The second copy in a batch answers the first copy's receipt as `duplicate`."""
        event_log = self.open_log()
        a, b = pending(new_case_id(), 2)
        receipts = event_log.append([a, b, a])
        assert [r.status for r in receipts] == ["accepted", "accepted", "duplicate"]
        assert receipts[2] == receipts[0].as_duplicate()
        assert size(event_log) == 2

    def test_an_event_id_with_other_content_is_not_appended_again(self) -> None:
        """The log answers the original receipt, whose digest shows the content differs (the
        ledger refuses such a batch as a conflict before it reaches the log)."""
        event_log = self.open_log()
        original = pending(new_case_id(), 1)[0]
        first = event_log.append([original])[0]
        value = original.value + b" "
        other = PendingRecord(original.event_id, original.key, value, digest_of(value))
        answer = event_log.append([other])[0]
        assert answer == first.as_duplicate()
        assert answer.digest == original.digest != other.digest
        assert size(event_log) == 1
        assert [r.value for r in read_all(event_log)] == [original.value]

    def test_receipts_outlive_the_process(self) -> None:
        """Closed and opened again, the log still answers a repeat with its first receipt."""
        event_log = self.open_log()
        records = pending(new_case_id(), 2)
        first = event_log.append(records)
        event_log = self.reopen(event_log)
        assert event_log.append(records) == [r.as_duplicate() for r in first]
        assert size(event_log) == 2

    def test_dead_letters_keep_the_record_reason_detail_and_key(self) -> None:
        """Each dead letter is read back with its source, exact bytes, key, reason and detail."""
        event_log = self.open_log()
        now = datetime.now(UTC)
        bad = LogRecord(event_log.topic, 0, 7, now, b"CASE-DL-1", b"\xffnot json")
        keyless = LogRecord(event_log.topic, 0, 8, now, None, b"{}")
        event_log.dead_letter(bad, "not-json", "byte 0: invalid start")
        event_log.dead_letter(keyless, "schema", "/type: required")
        letters = event_log.dead_letters()
        assert [
            (d.source_topic, d.source_partition, d.source_offset, d.key, d.value) for d in letters
        ] == [
            (event_log.topic, 0, 7, b"CASE-DL-1", b"\xffnot json"),
            (event_log.topic, 0, 8, None, b"{}"),
        ]
        assert [(d.reason, d.detail) for d in letters] == [
            ("not-json", "byte 0: invalid start"),
            ("schema", "/type: required"),
        ]
        assert all(now - timedelta(seconds=5) <= d.dead_lettered_at for d in letters)
        assert size(event_log) == 0, "dead letters are not in the log itself"

    def test_a_record_is_dead_lettered_once_whoever_letters_it_again(self) -> None:
        """A second letter for the same source position, from this adapter or from another
        process's (a consumer on a new data directory, a rebuild), adds nothing."""
        event_log = self.open_log()
        now = datetime.now(UTC)
        bad = LogRecord(event_log.topic, 0, 3, now, b"CASE-DL-2", b"{broken")
        other = LogRecord(event_log.topic, 0, 4, now, b"CASE-DL-2", b"{broken too")
        assert event_log.dead_letter(bad, "not-json", "first")
        assert not event_log.dead_letter(bad, "not-json", "again")
        second = self.open_log()
        assert not second.dead_letter(bad, "not-json", "from another process")
        assert second.dead_letter(other, "not-json", "a new one")
        letters = second.dead_letters()
        assert [(d.source_offset, d.detail) for d in letters] == [(3, "first"), (4, "a new one")]
        assert event_log.dead_letters() == letters

    def test_a_batch_that_fails_part_way_leaves_nothing_half_recorded(self) -> None:
        """What landed is in the log and answers lookup; what did not is in neither; a retry
        of the whole batch answers `duplicate` for what landed and appends only the rest."""
        records = pending(new_case_id(), 5)
        faulty = self._opened(self.create_faulty_log(records[2].event_id))
        with pytest.raises(LedgerUnavailable):
            faulty.append(records)
        landed = faulty.lookup([r.event_id for r in records])
        assert records[2].event_id not in landed
        in_log = {(r.partition, r.offset): r.value for r in read_all(faulty)}
        assert len(in_log) == len(landed), "a receipt for each record in the log, no more"
        for event_id, receipt in landed.items():
            record = next(r for r in records if r.event_id == event_id)
            assert in_log[(receipt.partition, receipt.offset)] == record.value

        event_log = self.reopen(faulty)
        retry = event_log.append(records)
        for record, receipt in zip(records, retry, strict=True):
            if record.event_id in landed:
                assert receipt == landed[record.event_id]
            else:
                assert receipt.status == "accepted"
        assert sorted(r.value for r in read_all(event_log)) == sorted(r.value for r in records)

    def test_end_offsets_cover_every_partition(self) -> None:
        """end_offsets names every partition and moves by the number appended."""
        event_log = self.open_log()
        before = event_log.end_offsets()
        assert sorted(before) == event_log.partitions()
        event_log.append(pending(new_case_id(), 4))
        after = event_log.end_offsets()
        assert sum(after.values()) - sum(before.values()) == 4

    def test_ping_answers_when_the_log_is_up(self) -> None:
        """ping does not raise on a reachable log."""
        self.open_log().ping()


def already_record(receipt: Any) -> PendingRecord:
    """The record a receipt was given for, as a repeat of it would arrive."""
    value = b"repeat of " + receipt.event_id.encode()
    return PendingRecord(receipt.event_id, receipt.case_id, value, receipt.digest)


class FaultySQLiteEventLog(SQLiteEventLog):
    """The embedded log whose database refuses to insert one event_id (as a full disk would)."""

    def __init__(self, path: Path, fail_at: str) -> None:
        super().__init__(path)
        # A temporary trigger lives on this connection only; uuid4 text needs no quoting.
        self._conn.execute(
            f"CREATE TEMP TRIGGER refuse BEFORE INSERT ON main.log WHEN NEW.event_id = '{fail_at}'"
            " BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
        )


class TestSQLiteEventLog(EventLogContract):
    """The contract on the embedded SQLite log."""

    def create_log(self) -> SQLiteEventLog:
        return SQLiteEventLog(self.tmp_path / "log.sqlite")

    def create_faulty_log(self, fail_at: str) -> SQLiteEventLog:
        return FaultySQLiteEventLog(self.tmp_path / "log.sqlite", fail_at)


def _refused(topic: str) -> FutureRecordMetadata:
    """A producer future the broker answered with an error."""
    answer = FutureProduceResult(TopicPartition(topic, 0))
    future = FutureRecordMetadata(answer, 0, None, None, -1, -1, -1)
    return future.failure(NotEnoughReplicasError("injected failure"))


def append_when_settled(event_log: EventLog, records: list[PendingRecord]) -> list[Any]:
    """Retry an append while the log answers that some of its records are being checked."""
    answered: list[Any] = []

    def retry() -> bool:
        try:
            answered[:] = event_log.append(records)
        except LedgerUnavailable:
            return False
        return True

    wait_for(retry, timeout=20, every=0.1, what="the retry to be answered")
    return answered


def _lost(topic: str) -> FutureRecordMetadata:
    """A producer future that timed out: the record may or may not have landed."""
    answer = FutureProduceResult(TopicPartition(topic, 0))
    future = FutureRecordMetadata(answer, 0, None, None, -1, -1, -1)
    return future.failure(KafkaTimeoutError("injected lost acknowledgement"))


class FaultyKafkaEventLog(KafkaEventLog):
    """The Kafka log whose producer fails at one record: from it on at `send` (the client
    gives up), or for it alone at acknowledgement (the broker refuses it), or, with
    `landed`, its acknowledgement is lost though the record is on the log."""

    def __init__(
        self, *args: Any, fail_at: str, at_ack: bool, landed: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fail_at = fail_at
        self.at_ack = at_ack
        self.landed = landed
        self.failing = False

    def _send(self, producer: Any, record: PendingRecord) -> Any:
        if record.event_id == self.fail_at:
            if self.landed:
                super()._send(producer, record).get(timeout=30)
                self.fail_at = ""
                return _lost(self.topic)
            if self.at_ack:
                return _refused(self.topic)
            self.failing = True
        if self.failing:
            raise KafkaTimeoutError("injected failure")
        return super()._send(producer, record)


@pytest.mark.kafka
class TestKafkaEventLog(EventLogContract):
    """The contract on a real Kafka topic with its receipt index."""

    @pytest.fixture(autouse=True)
    def _private_topics(self, kafka_bootstrap: str) -> None:
        self.bootstrap = kafka_bootstrap
        self.topic = f"sgl.test.{uuid.uuid4().hex[:12]}"

    def _arguments(self) -> tuple[tuple[Any, ...], dict[str, Any]]:
        index = SQLiteReceiptIndex(self.tmp_path / "receipts.sqlite")
        return (self.bootstrap, self.topic, index), {"dead_letter_topic": self.topic + ".dlq"}

    def create_log(self) -> KafkaEventLog:
        args, kwargs = self._arguments()
        return KafkaEventLog(*args, **kwargs)

    def create_faulty_log(
        self, fail_at: str, at_ack: bool = False, landed: bool = False
    ) -> KafkaEventLog:
        args, kwargs = self._arguments()
        return FaultyKafkaEventLog(*args, fail_at=fail_at, at_ack=at_ack, landed=landed, **kwargs)

    def test_a_record_whose_acknowledgement_was_lost_is_never_appended_twice(self) -> None:
        """The record landed but its ack was lost: a retry is refused while the log is read
        for it, then answered `duplicate` with where it really is; the log holds it once."""
        records = pending(new_case_id(), 3)
        faulty = self._opened(self.create_faulty_log(records[1].event_id, landed=True))
        with pytest.raises(LedgerUnavailable):
            faulty.append(records)
        retried = append_when_settled(faulty, records)
        assert [r.status for r in retried] == ["duplicate"] * 3
        where = {(r.partition, r.offset): r.value for r in read_all(faulty)}
        assert len(where) == 3
        assert where[(retried[1].partition, retried[1].offset)] == records[1].value

    def test_an_unconfirmed_record_is_checked_by_the_next_process(self) -> None:
        """Closed while a record is still unsure, the log is read for it by the next process
        on the same receipt index before a retry can append it."""
        records = pending(new_case_id(), 2)
        faulty = self._opened(self.create_faulty_log(records[0].event_id, landed=True))
        # Its prober stopped, this log settles nothing: the record stays unsure.
        faulty._stopping.set()
        faulty.breaker.wake()
        faulty._prober.join(timeout=10)
        with pytest.raises(LedgerUnavailable):
            faulty.append(records)
        event_log = self.reopen(faulty)
        retried = append_when_settled(event_log, records)
        assert [r.status for r in retried] == ["duplicate", "duplicate"]
        assert size(event_log) == 2

    def test_a_message_on_the_dead_letter_topic_without_a_source_is_skipped(self) -> None:
        """Something else written to the dead-letter topic (no `sgl.source` header) is not a
        dead letter: reading the letters and lettering a record both go on past it."""
        event_log = self.open_log()
        producer = KafkaProducer(bootstrap_servers=self.bootstrap)
        try:
            producer.send(self.topic + ".dlq", value=b"by hand", headers=[("note", b"x")]).get(
                timeout=30
            )
        finally:
            producer.close()
        bad = LogRecord(event_log.topic, 0, 5, datetime.now(UTC), b"CASE-DL-3", b"{broken")
        assert event_log.dead_letter(bad, "not-json", "after a stray message")
        assert [d.source_offset for d in event_log.dead_letters()] == [5]

    def test_a_record_the_broker_refuses_is_the_only_one_a_retry_appends(self) -> None:
        """Records after the refused one still land and are indexed; the retry sends one."""
        records = pending(new_case_id(), 4)
        faulty = self._opened(self.create_faulty_log(records[1].event_id, at_ack=True))
        with pytest.raises(LedgerUnavailable):
            faulty.append(records)
        landed = faulty.lookup([r.event_id for r in records])
        assert set(landed) == {r.event_id for r in records} - {records[1].event_id}
        event_log = self.reopen(faulty)
        # Refused with an error the broker may also give after appending, the record is
        # unsure: the next process reads the log for it before the retry appends it.
        retry = append_when_settled(event_log, records)
        assert [r.status for r in retry] == ["duplicate", "accepted", "duplicate", "duplicate"]
        assert size(event_log) == 4

    def test_a_record_not_confirmed_in_time_is_unsure_though_the_others_receipts_fail(
        self,
    ) -> None:
        """The receipt index fails to remember the batch's acknowledged records, and the wait
        for one record gave up: that record is still unsure (and indexed when it lands), so a
        retry of it answers `duplicate` instead of appending it again."""
        records = pending(new_case_id(), 2)
        event_log = self.open_log()
        assert isinstance(event_log, KafkaEventLog)
        acknowledged = event_log.acknowledged
        waits: list[Any] = []

        def gives_up_on_the_second(future: Any, deadline: float) -> Any:
            waits.append(future)
            return None if len(waits) == 2 else acknowledged(future, deadline)

        def unavailable(*args: Any) -> list[str]:
            raise LedgerUnavailable("injected: the receipt index failed")

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(event_log, "acknowledged", gives_up_on_the_second)
            patch.setattr(event_log, "remember", unavailable)
            with pytest.raises(LedgerUnavailable, match="injected"):
                event_log.append(records)
        assert [r.status for r in append_when_settled(event_log, [records[1]])] == ["duplicate"]
        assert [r.value for r in read_all(event_log)].count(records[1].value) == 1


@pytest.mark.kafka
class TestKafkaEventLogOnPostgres(TestKafkaEventLog):
    """The same contract with the receipt index that API processes share in PostgreSQL: an
    unsure record is then a claim that outlives its process and is settled by the next."""

    @pytest.fixture(autouse=True)
    def _closes_its_logs(
        self, tmp_path: Path, postgres: PostgresLocation, monkeypatch: pytest.MonkeyPatch
    ) -> Iterator[None]:
        # A log here is reopened only once its producer has stopped: its claims may be taken
        # over as soon as its session ends.
        monkeypatch.setattr(receipts_module, "TAKEOVER_MARGIN", 0.0)
        # The logs close (and flush their receipts) before the test's schema is dropped.
        self.tmp_path = tmp_path
        self.location = postgres
        self._open = []
        yield
        for event_log in self._open:
            event_log.close()

    def _arguments(self) -> tuple[tuple[Any, ...], dict[str, Any]]:
        index = PostgresReceiptIndex.open(self.location, self.topic, in_flight=0.0)
        return (self.bootstrap, self.topic, index), {"dead_letter_topic": self.topic + ".dlq"}
