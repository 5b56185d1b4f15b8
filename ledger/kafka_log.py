"""The distributed log: a Kafka topic keyed by case id, kept forever, stamped by the broker."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import structlog
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from ledger.errors import LedgerUnavailable
from ledger.log import LogRecord, PendingRecord, Receipt, from_millis
from ledger.receipts import SQLiteReceiptIndex

log = structlog.get_logger("ledger.kafka")

# The producer gives up on a record (delivery.timeout.ms) before the ledger stops waiting for
# it, so every future has resolved, one way or the other, when the ledger answers the client.
DELIVERY_TIMEOUT_MS = 20_000
REQUEST_TIMEOUT_MS = 15_000
MAX_BLOCK_MS = 10_000
APPEND_TIMEOUT = 30.0
LOG_APPEND_TIME = 1


def topic_configs(min_insync_replicas: int) -> dict[str, str]:
    """The ledger topic's settings: kept forever, never compacted, stamped by the broker."""
    return {
        "retention.ms": "-1",
        "retention.bytes": "-1",
        "cleanup.policy": "delete",
        "message.timestamp.type": "LogAppendTime",
        "min.insync.replicas": str(min_insync_replicas),
    }


class KafkaEventLog:
    """EventLog on a Kafka topic with an idempotent, acks=all producer."""

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        receipts: SQLiteReceiptIndex,
        *,
        dead_letter_topic: str,
        partitions: int = 3,
        replication_factor: int = 1,
        min_insync_replicas: int = 1,
    ) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.dead_letter_topic = dead_letter_topic
        self._receipts = receipts
        self._partitions = partitions
        self._replication = replication_factor
        self._min_isr = min_insync_replicas
        try:
            self.ensure_topics()
            self._producer = KafkaProducer(
                bootstrap_servers=bootstrap,
                client_id="sgl-ledger",
                enable_idempotence=True,
                acks="all",
                linger_ms=2,
                batch_size=512 * 1024,
                max_request_size=8 * 1024 * 1024,
                delivery_timeout_ms=DELIVERY_TIMEOUT_MS,
                request_timeout_ms=REQUEST_TIMEOUT_MS,
                max_block_ms=MAX_BLOCK_MS,
            )
        except KafkaError as exc:
            raise LedgerUnavailable(f"Kafka at {bootstrap} is unavailable: {exc}") from exc
        # One consumer, never subscribed, answers metadata and end-offset questions; KafkaConsumer
        # is not thread-safe, hence the lock.
        self._meta = self._consumer()
        self._meta_lock = threading.Lock()

    def ensure_topics(self) -> None:
        """Create the ledger and dead-letter topics with their settings, if absent."""
        admin = KafkaAdminClient(bootstrap_servers=self.bootstrap, client_id="sgl-admin")
        try:
            for name in (self.topic, self.dead_letter_topic):
                try:
                    admin.create_topics(
                        [
                            NewTopic(
                                name,
                                self._partitions,
                                self._replication,
                                topic_configs=topic_configs(self._min_isr),
                            )
                        ]
                    )
                    log.info("topic.created", topic=name, partitions=self._partitions)
                except TopicAlreadyExistsError:
                    pass
        finally:
            admin.close()

    def begin_append(self, records: Sequence[PendingRecord]) -> KafkaPendingAppend:
        """Hand the records to the producer in order; result() waits for every ack."""
        futures: list[Any] = []
        try:
            for r in records:
                futures.append(self._producer.send(self.topic, key=r.key.encode(), value=r.value))
        except KafkaError as exc:
            # Those already queued may still land: index the receipts of any that do.
            with contextlib.suppress(LedgerUnavailable):
                KafkaPendingAppend(records[: len(futures)], futures, self._receipts).result()
            raise LedgerUnavailable(f"Kafka did not take the append: {exc}") from exc
        return KafkaPendingAppend(records, futures, self._receipts)

    def append(self, records: Sequence[PendingRecord]) -> list[Receipt]:
        """Produce in order, wait for every acknowledgement, then index the receipts."""
        return self.begin_append(records).result()

    def lookup(self, event_ids: Collection[str]) -> dict[str, Receipt]:
        """Receipts of event_ids this ledger has appended before."""
        return self._receipts.get(event_ids)

    def partitions(self) -> list[int]:
        """The topic's partitions."""
        with self._meta_lock:
            try:
                found = self._meta.partitions_for_topic(self.topic)
            except KafkaError as exc:
                raise LedgerUnavailable(f"Kafka metadata unavailable: {exc}") from exc
        return sorted(found or [])

    def end_offsets(self) -> dict[int, int]:
        """Per partition, the offset the next record will take (a request to the broker)."""
        with self._meta_lock:
            try:
                tps = [
                    TopicPartition(self.topic, p)
                    for p in sorted(self._meta.partitions_for_topic(self.topic) or [])
                ]
                ends = self._meta.end_offsets(tps)
            except KafkaError as exc:
                raise LedgerUnavailable(f"Kafka end offsets unavailable: {exc}") from exc
        return {tp.partition: int(offset) for tp, offset in ends.items()}

    def reader(self, start: Mapping[int, int]) -> KafkaLogReader:
        """A reader assigned to every partition, each from its given next offset."""
        consumer = self._consumer()
        try:
            return KafkaLogReader(consumer, self.topic, start)
        except KafkaError as exc:
            consumer.close()
            raise LedgerUnavailable(f"Kafka reader could not start: {exc}") from exc

    def ping(self) -> None:
        """Raise LedgerUnavailable unless a broker answers a real request for the topic."""
        self.end_offsets()

    def dead_letter(self, record: LogRecord, reason: str, detail: str) -> None:
        """Produce the refused record's exact bytes to the dead-letter topic, reason in headers."""
        headers = [
            ("sgl.reason", reason.encode()),
            ("sgl.detail", detail.encode()[:4000]),
            ("sgl.source", f"{record.topic}:{record.partition}:{record.offset}".encode()),
        ]
        try:
            self._producer.send(
                self.dead_letter_topic, key=None, value=record.value, headers=headers
            ).get(timeout=APPEND_TIMEOUT)
        except KafkaError as exc:
            raise LedgerUnavailable(f"Kafka did not take the dead letter: {exc}") from exc

    def close(self) -> None:
        """Flush and close the producer, the metadata consumer and the receipt index."""
        self._producer.close(timeout=APPEND_TIMEOUT)
        with self._meta_lock:
            self._meta.close()
        self._receipts.close()

    def _consumer(self) -> Any:
        try:
            return KafkaConsumer(
                bootstrap_servers=self.bootstrap,
                enable_auto_commit=False,
                group_id=None,
                auto_offset_reset="earliest",
                client_id="sgl-reader",
                max_partition_fetch_bytes=4 * 1024 * 1024,
            )
        except KafkaError as exc:
            raise LedgerUnavailable(f"Kafka at {self.bootstrap} is unavailable: {exc}") from exc


class KafkaPendingAppend:
    """Records handed to the producer; result() waits for the broker and indexes receipts."""

    def __init__(
        self, records: Sequence[PendingRecord], futures: list[Any], receipts: SQLiteReceiptIndex
    ) -> None:
        self._records = records
        self._futures = futures
        self._index = receipts
        self._receipts: list[Receipt] | None = None
        self._lock = threading.Lock()

    def result(self) -> list[Receipt]:
        """Receipts stamped with the broker's LogAppendTime, once all are acknowledged."""
        with self._lock:
            return self._result()

    def _result(self) -> list[Receipt]:
        if self._receipts is None:
            receipts: list[Receipt] = []
            failure: KafkaError | None = None
            for record, future in zip(self._records, self._futures, strict=True):
                try:
                    m = future.get(timeout=APPEND_TIMEOUT)
                except KafkaError as exc:
                    failure = failure or exc
                    continue
                receipts.append(
                    Receipt.accepted(record, m.partition, m.offset, from_millis(m.timestamp))
                )
            # Index what did land even when some did not, so a retry answers `duplicate`.
            self._index.put(receipts)
            if failure is not None:
                raise LedgerUnavailable(f"Kafka did not confirm the append: {failure}")
            self._receipts = receipts
        return self._receipts


class KafkaLogReader:
    """Reads every partition of the topic from tracked positions; no group offsets are used."""

    def __init__(self, consumer: Any, topic: str, start: Mapping[int, int]) -> None:
        self._consumer = consumer
        self._topic = topic
        partitions = sorted(consumer.partitions_for_topic(topic) or [])
        tps = [TopicPartition(topic, p) for p in partitions]
        consumer.assign(tps)
        for tp in tps:
            consumer.seek(tp, start.get(tp.partition, 0))

    def poll(self, max_records: int, timeout: float) -> list[LogRecord]:
        """Up to max_records records, in offset order within each partition."""
        try:
            batches = self._consumer.poll(timeout_ms=int(timeout * 1000), max_records=max_records)
        except KafkaError as exc:
            raise LedgerUnavailable(f"Kafka read failed: {exc}") from exc
        out = []
        for tp in sorted(batches, key=lambda t: t.partition):
            for m in batches[tp]:
                out.append(
                    LogRecord(
                        self._topic,
                        m.partition,
                        m.offset,
                        from_millis(m.timestamp),
                        m.key,
                        m.value,
                        tuple(m.headers or ()),
                    )
                )
        return out

    def close(self) -> None:
        """Close the consumer."""
        self._consumer.close()
