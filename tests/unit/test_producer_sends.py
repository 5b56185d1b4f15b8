"""The Kafka producer's side of the append path without a broker: the partition each case key
goes to, and reading an acknowledgement that arrives as a timed wait runs out."""

from __future__ import annotations

import time
from typing import Any

import pytest
from kafka.errors import KafkaTimeoutError, NotLeaderForPartitionError
from kafka.partitioner.default import DefaultPartitioner

from ledger.breaker import Breaker
from ledger.kafka_log import CaseKeyPartitioner, KafkaEventLog

TOPIC = "sgl.test.partitions"


class Cluster:
    """The metadata a partitioner asks: one topic with `count` partitions, all led."""

    def __init__(self, count: int) -> None:
        self.count = count

    def topics(self) -> set[str]:
        return {TOPIC}

    def partitions_for_topic(self, topic: str) -> set[int] | None:
        return set(range(self.count)) if topic == TOPIC else None

    def available_partitions_for_topic(self, topic: str) -> set[int] | None:
        return self.partitions_for_topic(topic)


@pytest.mark.parametrize("count", [1, 3, 7])
def test_each_case_goes_to_the_partition_the_default_partitioner_picks(count: int) -> None:
    """Asked twice (the second answer from its kept hash), every key gets the default's
    partition: consumers and other producers of the topic agree on where a case is."""
    ours, kafkas, cluster = CaseKeyPartitioner(), DefaultPartitioner(), Cluster(count)
    keys = [f"CASE-{i:06d}".encode() for i in range(500)]
    for _ in range(2):
        for key in keys:
            assert ours.partition(TOPIC, None, key, None, b"", cluster) == kafkas.partition(
                TOPIC, None, key, None, b"", cluster
            )


def test_a_kept_hash_follows_the_topic_growing_partitions() -> None:
    """A key's hash is kept, not its partition: with more partitions it moves as Kafka's does."""
    ours, kafkas = CaseKeyPartitioner(), DefaultPartitioner()
    keys = [f"CASE-{i:06d}".encode() for i in range(200)]
    for key in keys:
        ours.partition(TOPIC, None, key, None, b"", Cluster(3))
    grown = Cluster(6)
    moved = [
        key
        for key in keys
        if ours.partition(TOPIC, None, key, None, b"", grown)
        != ours.partition(TOPIC, None, key, None, b"", Cluster(3))
    ]
    assert moved
    for key in keys:
        assert ours.partition(TOPIC, None, key, None, b"", grown) == kafkas.partition(
            TOPIC, None, key, None, b"", grown
        )


class RacingFuture:
    """A send whose timed wait runs out just as the broker answers (or refuses) it."""

    def __init__(self, outcome: Any) -> None:
        self.is_done = False
        self._outcome = outcome
        self.value: Any = None
        self.exception: Exception | None = None

    def failed(self) -> bool:
        return self.is_done and self.exception is not None

    def get(self, timeout: float) -> Any:
        self.is_done = True
        if isinstance(self._outcome, Exception):
            self.exception = self._outcome
        else:
            self.value = self._outcome
        raise KafkaTimeoutError(f"Timeout after waiting for {timeout} secs.")


def _log() -> Any:
    """Just what `acknowledged` looks at of a KafkaEventLog: its breaker."""
    owner = KafkaEventLog.__new__(KafkaEventLog)
    owner.breaker = Breaker(stale_after=60.0)
    owner.breaker.probed(None)
    return owner


def test_an_acknowledgement_arriving_as_the_wait_runs_out_is_the_records_metadata() -> None:
    """The timeout of the wait is not taken for the send's failure (the append answered 503
    for a record on the log)."""
    metadata = object()
    assert _log().acknowledged(RacingFuture(metadata), time.monotonic() + 5) is metadata


def test_a_refusal_arriving_as_the_wait_runs_out_is_the_sends_own_error() -> None:
    """The error raised is the broker's answer, not the timeout of the wait."""
    with pytest.raises(NotLeaderForPartitionError):
        _log().acknowledged(RacingFuture(NotLeaderForPartitionError()), time.monotonic() + 5)
