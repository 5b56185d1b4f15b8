"""The distributed log: a Kafka topic keyed by case id, kept forever, stamped by the broker."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import structlog
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from ledger.errors import LedgerUnavailable
from ledger.log import DeadLetter, LogRecord, PendingRecord, Receipt, from_millis
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
        self._dead_letter_lock = threading.Lock()
        # Source positions already on the dead-letter topic, read from it on first use.
        self._dead_lettered: set[tuple[str, int, int]] | None = None
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

    def begin_append(
        self, records: Sequence[PendingRecord], *, looked_up: bool = False
    ) -> KafkaPendingAppend:
        """Hand the records not yet appended to the producer in order; result() waits for
        every ack. One look-up in the receipt index for the whole batch, unless `looked_up`."""
        known = {} if looked_up else self._receipts.get({r.event_id for r in records})
        sent: list[PendingRecord] = []
        futures: list[Any] = []
        # Per record: its receipt if already appended, else the index of its send (a record
        # repeated within the batch shares the send of its first occurrence).
        answers: list[Receipt | int] = []
        first: dict[str, int] = {}
        try:
            for r in records:
                receipt = known.get(r.event_id)
                if receipt is not None:
                    answers.append(receipt)
                    continue
                at = first.get(r.event_id)
                if at is None:
                    future = self._send(r)
                    at = first[r.event_id] = len(sent)
                    sent.append(r)
                    futures.append(future)
                answers.append(at)
        except KafkaError as exc:
            # Those already queued may still land: index the receipts of any that do.
            with contextlib.suppress(LedgerUnavailable):
                KafkaPendingAppend(sent, futures, list(range(len(sent))), self._receipts).result()
            raise LedgerUnavailable(f"Kafka did not take the append: {exc}") from exc
        return KafkaPendingAppend(sent, futures, answers, self._receipts)

    def _send(self, record: PendingRecord) -> Any:
        """Queue one record to the producer; the future resolves to its metadata."""
        return self._producer.send(self.topic, key=record.key.encode(), value=record.value)

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

    def dead_letter(self, record: LogRecord, reason: str, detail: str) -> bool:
        """Produce the refused record's exact bytes and key to the dead-letter topic, reason in
        headers; once per source position, so a second consumer of the topic (a new data
        directory, a rebuild) does not letter again what is already there; whether it wrote."""
        source = (record.topic, record.partition, record.offset)
        with self._dead_letter_lock:
            if self._dead_lettered is None:
                self._dead_lettered = {
                    (d.source_topic, d.source_partition, d.source_offset)
                    for d in self.dead_letters()
                }
            if source in self._dead_lettered:
                return False
            self._send_dead_letter(record, reason, detail)
            self._dead_lettered.add(source)
            return True

    def _send_dead_letter(self, record: LogRecord, reason: str, detail: str) -> None:
        headers = [
            ("sgl.reason", reason.encode()),
            ("sgl.detail", detail.encode()[:4000]),
            ("sgl.source", f"{record.topic}:{record.partition}:{record.offset}".encode()),
        ]
        try:
            self._producer.send(
                self.dead_letter_topic, key=record.key, value=record.value, headers=headers
            ).get(timeout=APPEND_TIMEOUT)
        except KafkaError as exc:
            raise LedgerUnavailable(f"Kafka did not take the dead letter: {exc}") from exc

    def dead_letters(self) -> list[DeadLetter]:
        """Every dead letter on the dead-letter topic, in the order the broker stamped them (a
        message without an `sgl.source` header was not sent by a ledger and is skipped)."""
        consumer = self._consumer()
        try:
            partitions = consumer.partitions_for_topic(self.dead_letter_topic) or []
            tps = [TopicPartition(self.dead_letter_topic, p) for p in sorted(partitions)]
            consumer.assign(tps)
            consumer.seek_to_beginning(*tps)
            ends = consumer.end_offsets(tps)
            letters: list[DeadLetter] = []
            deadline = time.monotonic() + APPEND_TIMEOUT
            while any(consumer.position(tp) < ends[tp] for tp in tps):
                if time.monotonic() > deadline:
                    raise LedgerUnavailable("Kafka did not return the whole dead-letter topic")
                for batch in consumer.poll(timeout_ms=500).values():
                    letters.extend(d for m in batch if (d := _dead_letter(m)) is not None)
        except KafkaError as exc:
            raise LedgerUnavailable(f"Kafka dead-letter topic unreadable: {exc}") from exc
        finally:
            consumer.close()
        # Letters stamped in the same millisecond come in the order of their source positions.
        return sorted(
            letters,
            key=lambda d: (d.dead_lettered_at, d.source_topic, d.source_partition, d.source_offset),
        )

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


def _dead_letter(message: Any) -> DeadLetter | None:
    """A dead letter from its record on the dead-letter topic and the headers it was sent with;
    None for a message without the `sgl.source` header (not sent by a ledger)."""
    # The detail was cut at 4000 bytes, perhaps inside a character.
    headers = {name: value.decode(errors="replace") for name, value in message.headers or ()}
    if "sgl.source" not in headers:
        return None
    topic, partition, offset = headers["sgl.source"].rsplit(":", 2)
    return DeadLetter(
        topic,
        int(partition),
        int(offset),
        message.key,
        message.value,
        headers["sgl.reason"],
        headers["sgl.detail"],
        from_millis(message.timestamp),
    )


class KafkaPendingAppend:
    """Records handed to the producer; result() waits for the broker and indexes receipts."""

    def __init__(
        self,
        sent: Sequence[PendingRecord],
        futures: list[Any],
        answers: list[Receipt | int],
        receipts: SQLiteReceiptIndex,
    ) -> None:
        self._sent = sent
        self._futures = futures
        self._answers = answers
        self._index = receipts
        self._receipts: list[Receipt] | None = None
        self._lock = threading.Lock()

    def result(self) -> list[Receipt]:
        """One receipt per record asked for, stamped with the broker's LogAppendTime once all
        are acknowledged; a record appended before answers its original receipt."""
        with self._lock:
            if self._receipts is None:
                self._receipts = self._answer(self._wait())
            return self._receipts

    def _wait(self) -> list[Receipt]:
        landed: list[Receipt] = []
        failure: KafkaError | None = None
        for record, future in zip(self._sent, self._futures, strict=True):
            try:
                m = future.get(timeout=APPEND_TIMEOUT)
            except KafkaError as exc:
                failure = failure or exc
                continue
            landed.append(Receipt.accepted(record, m.partition, m.offset, from_millis(m.timestamp)))
        # Index what did land even when some did not, so a retry answers `duplicate`.
        self._index.put(landed)
        if failure is not None:
            raise LedgerUnavailable(f"Kafka did not confirm the append: {failure}")
        return landed

    def _answer(self, sent: list[Receipt]) -> list[Receipt]:
        out: list[Receipt] = []
        answered = [False] * len(sent)
        for answer in self._answers:
            if isinstance(answer, Receipt):
                out.append(answer)
            elif answered[answer]:
                out.append(sent[answer].as_duplicate())
            else:
                answered[answer] = True
                out.append(sent[answer])
        return out


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
