"""KafkaLogReader's read-ahead, on a stand-in consumer: what poll hands over, and how it fails
and closes."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import pytest
from eventsourcing.persistence import OperationalError
from kafka import TopicPartition
from kafka.errors import KafkaConnectionError, KafkaError

from ledger.errors import LedgerUnavailable
from ledger.kafka_log import KafkaGroupReader, KafkaLogReader

TOPIC = "sgl.test.reader"


class Message(NamedTuple):
    """The fields of a kafka-python ConsumerRecord the reader uses."""

    partition: int
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]] | None


class StandInConsumer:
    """Answers polls from a script of batches (a KafkaError in it is raised), then nothing."""

    def __init__(self, script: list[Mapping[TopicPartition, list[Message]] | Exception]) -> None:
        self.script = script
        self.polled_with: list[int] = []
        self.seeks: dict[int, int] = {}
        self.closed = False
        self.pollers: set[str] = set()

    def partitions_for_topic(self, topic: str) -> set[int]:
        """Two partitions."""
        return {0, 1}

    def assign(self, tps: list[TopicPartition]) -> None:
        assert not self.closed

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks[tp.partition] = offset

    def poll(self, timeout_ms: int, max_records: int) -> Mapping[TopicPartition, list[Message]]:
        assert not self.closed, "polled after close"
        self.pollers.add(threading.current_thread().name)
        self.polled_with.append(max_records)
        if not self.script:
            threading.Event().wait(timeout_ms / 1000)  # the broker has nothing more
            return {}
        step = self.script.pop(0)
        if isinstance(step, Exception):
            raise step
        return step

    def close(self) -> None:
        self.closed = True


def messages(partition: int, offsets: range, timestamp: int = 1_764_500_000_000) -> list[Message]:
    return [Message(partition, o, timestamp, b"CASE-R1", b"{}", None) for o in offsets]


def positions(reader: KafkaLogReader, max_records: int, want: int) -> list[tuple[int, int]]:
    got: list[tuple[int, int]] = []
    for _ in range(50):
        got.extend((r.partition, r.offset) for r in reader.poll(max_records, 1.0))
        if len(got) >= want:
            break
    return got


def test_records_come_partition_by_partition_in_offset_order_from_the_start_given() -> None:
    """Each partition is read from its given next offset (0 when none), lowest partition first."""
    consumer = StandInConsumer(
        [
            {
                TopicPartition(TOPIC, 1): messages(1, range(3)),
                TopicPartition(TOPIC, 0): messages(0, range(7, 9)),
            }
        ]
    )
    reader = KafkaLogReader(consumer, TOPIC, {0: 7})
    try:
        assert positions(reader, 100, 5) == [(0, 7), (0, 8), (1, 0), (1, 1), (1, 2)]
    finally:
        reader.close()
    assert consumer.seeks == {0: 7, 1: 0}


def test_a_poll_gives_no_more_than_asked_and_the_rest_of_a_batch_read_ahead_next() -> None:
    """A batch read ahead that is larger than a poll asks for is handed over in parts."""
    consumer = StandInConsumer([{TopicPartition(TOPIC, 0): messages(0, range(10))}])
    reader = KafkaLogReader(consumer, TOPIC, {})
    try:
        sizes = [len(reader.poll(4, 1.0)) for _ in range(3)]
        assert reader.poll(4, 0.05) == []
    finally:
        reader.close()
    assert sizes == [4, 4, 2]


def test_the_consumer_is_polled_only_by_the_read_ahead_thread() -> None:
    """KafkaConsumer is not thread-safe: the caller's thread never polls it."""
    consumer = StandInConsumer([{TopicPartition(TOPIC, 0): messages(0, range(2))}])
    reader = KafkaLogReader(consumer, TOPIC, {})
    try:
        assert len(reader.poll(10, 1.0)) == 2
    finally:
        reader.close()
    assert consumer.pollers == {f"read-{TOPIC}"}
    assert consumer.polled_with and set(consumer.polled_with) == {10}


def test_records_of_one_append_time_share_their_converted_stamp() -> None:
    """One LogAppendTime is converted to a datetime once for the records stamped with it."""
    consumer = StandInConsumer([{TopicPartition(TOPIC, 0): messages(0, range(3))}])
    reader = KafkaLogReader(consumer, TOPIC, {})
    try:
        records = reader.poll(10, 1.0)
    finally:
        reader.close()
    assert records[0].appended_at.timestamp() == 1_764_500_000.0
    assert {id(r.appended_at) for r in records} == {id(records[0].appended_at)}


def test_a_failed_read_is_the_log_unavailable_on_every_later_poll() -> None:
    """A Kafka error in the read-ahead thread is raised by poll as LedgerUnavailable, then again."""
    consumer = StandInConsumer(
        [{TopicPartition(TOPIC, 0): messages(0, range(2))}, KafkaConnectionError("broker gone")]
    )
    reader = KafkaLogReader(consumer, TOPIC, {})
    try:
        assert len(reader.poll(10, 1.0)) == 2
        for _ in range(2):
            with pytest.raises(LedgerUnavailable, match=r"Kafka read failed: .*broker gone"):
                reader.poll(10, 1.0)
    finally:
        reader.close()


def test_a_bug_in_reading_is_raised_as_it_is() -> None:
    """Anything but a Kafka error reaches the caller unchanged (the loop stops loudly on it)."""
    consumer = StandInConsumer([ValueError("not a Kafka error")])
    reader = KafkaLogReader(consumer, TOPIC, {})
    try:
        with pytest.raises(ValueError, match="not a Kafka error"):
            reader.poll(10, 1.0)
    finally:
        reader.close()


def test_close_stops_the_read_ahead_before_closing_the_consumer() -> None:
    """close() ends the thread, even one waiting to hand a batch over, then closes the consumer."""
    # More batches than the read-ahead holds: its thread is waiting to hand one over.
    script: list[Any] = [{TopicPartition(TOPIC, 0): messages(0, range(i, i + 1))} for i in range(5)]
    consumer = StandInConsumer(script)
    reader = KafkaLogReader(consumer, TOPIC, {})
    assert len(reader.poll(10, 1.0)) == 1
    reader.close()
    assert consumer.closed
    assert not any(t.name == f"read-{TOPIC}" for t in threading.enumerate())


class StandInGroupConsumer:
    """A subscribed consumer whose first poll assigns both partitions through the listener,
    and, as kafka-python does, stops the poll with an error of its own if the listener fails."""

    def __init__(self) -> None:
        self.listener: Any = None
        self.seeks: dict[int, int] = {}

    def subscribe(self, topics: list[str], listener: Any) -> None:
        self.listener = listener

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks[tp.partition] = offset

    def poll(self, timeout_ms: int, max_records: int) -> Mapping[TopicPartition, list[Message]]:
        try:
            self.listener.on_partitions_assigned(
                [TopicPartition(TOPIC, 0), TopicPartition(TOPIC, 1)]
            )
        except Exception as exc:
            raise KafkaError("User rebalance callback throws an error") from exc
        return {}


def test_a_group_member_whose_store_fails_on_assignment_raises_the_store_failure() -> None:
    """The store's error (a database down: retried by the loop as a PersistenceError), not the
    client's word for it, which would blame Kafka."""

    def starts(partitions: Sequence[int]) -> Mapping[int, int]:
        raise OperationalError("the database does not answer")

    reader = KafkaGroupReader(StandInGroupConsumer(), TOPIC, starts)
    with pytest.raises(OperationalError, match="the database does not answer"):
        reader.poll(10, 0.01)
    assert reader.assigned == frozenset()


def test_a_group_member_seeks_each_assigned_partition_to_the_start_given() -> None:
    """A partition the store gives no start for starts at 0."""
    consumer = StandInGroupConsumer()
    reader = KafkaGroupReader(consumer, TOPIC, lambda partitions: {0: 7})
    assert reader.poll(10, 0.01) == []
    assert consumer.seeks == {0: 7, 1: 0}
    assert reader.assigned == frozenset({0, 1})
