"""The distributed log: a Kafka topic keyed by case id, kept forever, stamped by the broker."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import queue
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import structlog
from eventsourcing.persistence import PersistenceError
from kafka import ConsumerRebalanceListener, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import (
    CorruptRecordError,
    InvalidRecordError,
    KafkaError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    TopicAlreadyExistsError,
)
from kafka.partitioner.abc import Partitioner
from kafka.partitioner.default import DefaultPartitioner, murmur2
from kafka.structs import OffsetAndMetadata

from ledger.breaker import Breaker
from ledger.errors import EventConflict, LedgerUnavailable
from ledger.kafka_config import client_config, open_admin, takes_connections
from ledger.log import DeadLetter, LogRecord, PendingRecord, Receipt, from_millis
from ledger.receipts import ReceiptIndex
from ledger.settings import KafkaSecurity

log = structlog.get_logger("ledger.kafka")

LOG_APPEND_TIME = 1
# How long reading the whole dead-letter topic may take.
READ_TIMEOUT = 30.0
# A producer being replaced gets this long to deliver what it holds before it is abandoned.
CLOSE_GRACE = 1.0
# Seconds between two probes of the log, and how often a waiting append looks at the breaker.
PROBE_EVERY = 0.25
WAIT_SLICE = 0.1
# Seconds a failed probe waits for a TCP connection to the bootstrap servers, to tell a log
# that is gone (refused at once) from one that is slow or a process that was stalled.
CONNECT_CHECK = 0.5
# The client's reconnect back-off doubles up to this: a returning broker is found within it.
RECONNECT_BACKOFF_MAX_MS = 1_000
# A group member that stops heartbeating (a process killed) is given up after this, and its
# partitions go to the others; the broker's floor is 6 seconds.
GROUP_SESSION_MS = 10_000
GROUP_HEARTBEAT_MS = 1_000
# The longest a group member's poll waits while it has no partitions (see KafkaGroupReader).
GROUP_JOIN_SECONDS = 3.0
# Seconds the read-ahead thread waits for records in one poll, and for the caller to take a
# batch, before it looks whether the reader is being closed.
READ_AHEAD_WAIT = 0.2
# Seconds one probe may spend reading the log for unsure records before it probes again.
SETTLE_SLICE = 1.0
# The producer generation of unsure records kept by a previous process.
PREVIOUS = -1
# Errors of a record the broker refused outright: it is certainly not on the log.
REFUSED: tuple[type[KafkaError], ...] = (
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    CorruptRecordError,
    InvalidRecordError,
)
# Case ids whose key hash the producer keeps (about 100 bytes each); past this it starts over.
KEY_HASHES = 100_000


class CaseKeyPartitioner(Partitioner):  # type: ignore[misc]
    """Kafka's default partitioner (murmur2 of the key, modulo the topic's partitions), with
    each key's hash kept: a case's events come back and forth, and kafka-python's murmur2 is
    pure Python, the dearest step of a send."""

    def __init__(self) -> None:
        self._hashes: dict[bytes, int] = {}
        self._default = DefaultPartitioner()

    def partition(
        self,
        topic: str,
        key: Any,
        serialized_key: bytes | None,
        value: Any,
        serialized_value: Any,
        cluster: Any,
    ) -> int:
        """The partition the default partitioner picks for this key (and, without a key, the
        default's choice)."""
        partitions = cluster.partitions_for_topic(topic)
        if serialized_key is None or partitions is None:
            return int(
                self._default.partition(
                    topic, key, serialized_key, value, serialized_value, cluster
                )
            )
        hashed = self._hashes.get(serialized_key)
        if hashed is None:
            if len(self._hashes) >= KEY_HASHES:
                self._hashes.clear()
            hashed = self._hashes[serialized_key] = murmur2(serialized_key) & 0x7FFFFFFF
        return int(sorted(partitions)[hashed % len(partitions)])


@dataclass(frozen=True, slots=True)
class KafkaTimeouts:
    """How long each Kafka call may block (SGL_KAFKA_*_MS), so an outage is answered in
    seconds and nothing waits forever."""

    request_ms: int = 10_000
    delivery_ms: int = 15_000
    max_block_ms: int = 1_000
    probe_ms: int = 1_000

    @property
    def append_wait(self) -> float:
        """Seconds an append waits for its acknowledgements: past the producer's delivery
        timeout, so a healthy producer has answered every record, one way or the other."""
        return self.delivery_ms / 1000 + 1.0

    @property
    def in_flight(self) -> float:
        """The longest, in seconds, a record handed to the producer may still land on the log:
        its send may wait for room or metadata, then its delivery may take this long."""
        return (self.max_block_ms + self.delivery_ms) / 1000


def client_options(bootstrap: str, timeouts: KafkaTimeouts) -> dict[str, Any]:
    """The options every Kafka client of the ledger is built with: where, and how long any
    request, first connection or reconnection may take."""
    return {
        "bootstrap_servers": bootstrap,
        "request_timeout_ms": timeouts.request_ms,
        "bootstrap_timeout_ms": timeouts.request_ms,
        "reconnect_backoff_max_ms": RECONNECT_BACKOFF_MAX_MS,
    }


def close_producer(producer: Any, grace: float) -> bool:
    """Close a producer within about grace + 1 seconds, failing the futures of whatever it has
    not delivered by then; True once its network thread has stopped (nothing more it holds
    can reach the log)."""
    # kafka-python's close() flushes first, waits per batch and raises on a timeout without
    # force-closing; its network thread is driven directly instead.
    sender = producer._sender
    sender.initiate_close()
    sender.join(grace)
    if sender.is_alive():
        sender.force_close()
        sender.join(1.0)
    with contextlib.suppress(KafkaError):
        # Nothing is left to flush: this drops the exit hook and marks the producer closed.
        producer.close(timeout=0)
    return not sender.is_alive()


@dataclass(eq=False, slots=True)
class _Unsure:
    """A record whose append was not confirmed: it may or may not be on the log. Per
    partition, it cannot be below `floor` (raised as the log is read without finding it),
    nor at or past `until` (the log's end once its producer had stopped, known when the
    first read begins)."""

    record: PendingRecord
    floor: dict[int, int]
    generation: int
    until: dict[int, int] | None = None

    @property
    def absent(self) -> bool:
        """Read from its floor to its end without being found: it is not on the log."""
        return self.until is not None and all(
            offset >= self.until[partition] for partition, offset in self.floor.items()
        )


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
    """EventLog on a Kafka topic with an idempotent, acks=all producer, behind a breaker.

    A prober thread asks the broker for the topic's end offsets every PROBE_EVERY seconds
    (at most `probe_ms`). While it gets no answer, or after an append failed, the breaker
    is open: appends answer LedgerUnavailable at once. Once the broker answers again, the
    producer is replaced by a new one (one that lived through a failure is not trusted: an
    idempotent producer guarantees nothing across sessions, and kafka-python's can stay
    stuck long after the broker returns), the old one is closed within seconds, and only
    then does the breaker close.

    A record whose append was not confirmed (the broker went away before acknowledging it,
    or the wait ran out) may or may not be on the log; it is `unsure`. A retry of it is
    refused until the producer that sent it has stopped and the log has been read from
    where it could have landed (the end offsets probed before it was sent): found, it is
    indexed and answered `duplicate`; not found, the retry appends it, once.

    Every event_id is claimed in the receipt index before it is produced, so processes that
    share an index (PostgreSQL) never both append one: an event_id another process is
    appending answers that process's receipt once it is made; one claimed by a process that
    died is unsure (its record may be on the log) and settled like the others.
    """

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        receipts: ReceiptIndex,
        *,
        dead_letter_topic: str,
        partitions: int = 3,
        replication_factor: int = 1,
        min_insync_replicas: int = 1,
        security: KafkaSecurity | None = None,
        timeouts: KafkaTimeouts | None = None,
        consumer_instance: str = "",
    ) -> None:
        self.bootstrap = bootstrap
        # This process's static member id in the groups its readers join ("" for none).
        self.consumer_instance = consumer_instance
        # TLS and SASL for every client below (one OAuth token provider shared by them all).
        self._client_config = client_config(security)
        self.topic = topic
        self.dead_letter_topic = dead_letter_topic
        self.timeouts = timeouts or KafkaTimeouts()
        self._dead_letter_lock = threading.Lock()
        # Source positions already on the dead-letter topic, read from it on first use.
        self._dead_lettered: set[tuple[str, int, int]] | None = None
        self._receipts = receipts
        self._partitions = partitions
        self._replication = replication_factor
        self._min_isr = min_insync_replicas
        self.breaker = Breaker(stale_after=PROBE_EVERY + 2 * self.timeouts.probe_ms / 1000)
        # Guards the producer, its generation, the floor and the unsure records.
        self._state = threading.Lock()
        self._generation = 0
        # Producers replaced and not yet known to have stopped, by generation.
        self._retired: dict[int, Any] = {}
        self._settled: set[int] = set()
        # A previous process's unsure records: its producer has certainly stopped.
        self._unsure: dict[str, _Unsure] = {
            r.event_id: _Unsure(r, dict(floor), PREVIOUS) for r, floor in receipts.unsure()
        }
        self._settled.add(PREVIOUS)
        # Receipts of unsure records later found on the log: a request that looked them up
        # just before they were found learns of them here, under the state lock.
        self._found: dict[str, Receipt] = {}
        # Per partition, an offset below which nothing sent from now on can land.
        self._floor: dict[int, int] = {}
        try:
            self.ensure_topics()
            self._producer = self._new_producer()
        except KafkaError as exc:
            receipts.close()  # the log owns its receipt index, built or not
            raise LedgerUnavailable(f"Kafka at {bootstrap} is unavailable: {exc}") from exc
        # One consumer, never subscribed, answers metadata and end-offset questions; KafkaConsumer
        # is not thread-safe, hence the lock. The prober has a consumer of its own.
        self._meta = self._consumer()
        self._meta_lock = threading.Lock()
        self._probe_client: Any = None
        self._topic_partitions = [TopicPartition(topic, p) for p in self.partitions()]
        # The first probe may wait as long as any request: a topic just created, a first
        # connection on a busy broker.
        self._probe(self.timeouts.request_ms, doubt=False)
        if self.breaker.is_down:
            self._close_clients(grace=0)
            receipts.close()
            raise LedgerUnavailable(f"Kafka at {bootstrap} does not answer for {topic}")
        self._stopping = threading.Event()
        self._prober = threading.Thread(target=self._watch, name=f"probe-{topic}", daemon=True)
        self._prober.start()

    def ensure_topics(self) -> None:
        """Create the ledger and dead-letter topics with their settings, if absent."""
        options = client_options(self.bootstrap, self.timeouts)
        del options["bootstrap_servers"], options["bootstrap_timeout_ms"]  # open_admin sets them
        admin = open_admin(
            self.bootstrap, {**self._client_config, **options}, client_id="sgl-admin"
        )
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

    def _new_producer(self) -> Any:
        """An idempotent acks=all producer whose every wait is bounded."""
        return KafkaProducer(
            **client_options(self.bootstrap, self.timeouts),
            client_id="sgl-ledger",
            enable_idempotence=True,
            acks="all",
            linger_ms=2,
            batch_size=512 * 1024,
            partitioner=CaseKeyPartitioner(),
            max_request_size=8 * 1024 * 1024,
            delivery_timeout_ms=self.timeouts.delivery_ms,
            max_block_ms=self.timeouts.max_block_ms,
            **self._client_config,
        )

    def begin_append(
        self, records: Sequence[PendingRecord], *, looked_up: bool = False
    ) -> KafkaPendingAppend:
        """Hand the records not yet appended to the producer in order; result() waits for
        every ack. One look-up in the receipt index for the whole batch, unless `looked_up`.
        LedgerUnavailable at once while the breaker is open or a record is unsure."""
        known = {} if looked_up else self._receipts.get({r.event_id for r in records})
        with self._state:
            self.breaker.check()
            unsure = [r.event_id for r in records if r.event_id in self._unsure]
            known.update(
                (r.event_id, self._found[r.event_id].as_duplicate())
                for r in records
                if r.event_id in self._found and r.event_id not in known
            )
            producer, generation, floor = self._producer, self._generation, dict(self._floor)
        if unsure:
            self.breaker.wake()
            raise LedgerUnavailable(
                f"{len(unsure)} event(s) of this batch are being checked against the log after "
                "an unconfirmed append; retry shortly"
            )
        claimed_at = time.monotonic()
        held = self._claim(records, known, floor)
        sent: list[PendingRecord] = []
        futures: list[Any] = []
        # Per record: its receipt if already appended, the event_id of another process's
        # append to wait for, else the index of its send (a record repeated within the batch
        # shares the send of its first occurrence).
        answers: list[Receipt | int | str] = []
        first: dict[str, int] = {}
        pending = KafkaPendingAppend(self, sent, futures, answers, floor, generation, claimed_at)
        try:
            for r in records:
                receipt = known.get(r.event_id)
                if receipt is not None:
                    answers.append(receipt)
                    continue
                if r.event_id in held:
                    answers.append(r.event_id)
                    continue
                at = first.get(r.event_id)
                if at is None:
                    future = self._send(producer, r)
                    future.add_errback(self._failed, r, floor, generation)
                    at = first[r.event_id] = len(sent)
                    sent.append(r)
                    futures.append(future)
                answers.append(at)
        except KafkaError as exc:
            # Those never queued are certainly not on the log; those queued may still land:
            # index the receipts of any that do.
            queued = {r.event_id for r in sent}
            self._receipts.release({r.event_id for r in records} - known.keys() - held - queued)
            with contextlib.suppress(LedgerUnavailable):
                KafkaPendingAppend(
                    self, sent, futures, list(range(len(sent))), floor, generation, claimed_at
                ).result()
            with self._state:
                current = generation == self._generation
            # A producer already replaced, or a record refused, says nothing of the current one.
            if current and not isinstance(exc, REFUSED):
                self.breaker.trip(f"Kafka did not take an append: {exc}")
            raise LedgerUnavailable(f"Kafka did not take the append: {exc}") from exc
        return pending

    def _claim(
        self, records: Sequence[PendingRecord], known: dict[str, Receipt], floor: Mapping[int, int]
    ) -> set[str]:
        """Claim the event_ids to append in the receipt index; `known` gains the receipts
        found meanwhile. The event_ids another process is appending are returned. Nothing is
        claimed (EventConflict) if one was taken with other content, nor (LedgerUnavailable)
        if one was claimed by a process that died (it is unsure, and checked first) or its
        claim's outcome cannot be known yet."""
        fresh: dict[str, PendingRecord] = {}
        for r in records:
            if r.event_id not in known:
                fresh.setdefault(r.event_id, r)
        if not fresh:
            return set()
        claims = self._receipts.claim(list(fresh.values()), floor)
        known.update(claims.known)
        if claims.conflicts:
            raise EventConflict(claims.conflicts)
        if claims.orphaned:
            with self._state:
                for event_id, orphan_floor in claims.orphaned.items():
                    self._unsure.setdefault(
                        event_id, _Unsure(fresh[event_id], dict(orphan_floor), PREVIOUS)
                    )
            self.breaker.wake()
            raise LedgerUnavailable(
                f"{len(claims.orphaned)} event(s) of this batch were being appended by a "
                "process that stopped; they are being checked against the log, retry shortly"
            )
        if claims.busy:
            raise LedgerUnavailable(
                f"{len(claims.busy)} event(s) of this batch were being appended by a process "
                "that stopped or lost its database, and cannot be checked against the log yet; "
                "retry shortly"
            )
        return set(claims.held)

    def wait_for_others(self, event_ids: Collection[str], deadline: float) -> dict[str, Receipt]:
        """The receipts of event_ids other processes are appending, once made."""
        return self._receipts.wait(event_ids, deadline)

    def refused(self, records: Sequence[PendingRecord]) -> None:
        """The broker refused these records: they are not on the log; free their claims."""
        self._receipts.release({r.event_id for r in records})

    def _send(self, producer: Any, record: PendingRecord) -> Any:
        """Queue one record to the producer; the future resolves to its metadata."""
        return producer.send(self.topic, key=record.key.encode(), value=record.value)

    def _failed(
        self, record: PendingRecord, floor: Mapping[int, int], generation: int, exc: Exception
    ) -> None:
        """A send failed (in the producer's thread): unless the broker refused the record, it
        may have landed, so it is unsure, and the producer is not trusted again."""
        if not isinstance(exc, REFUSED):
            self.mark_unsure([record], floor, generation, f"Kafka did not confirm an append: {exc}")

    def mark_unsure(
        self,
        records: Sequence[PendingRecord],
        floor: Mapping[int, int],
        generation: int,
        why: str,
    ) -> None:
        """These records may or may not be on the log; the producer of `generation` that sent
        them is not trusted again (the breaker trips unless it was already replaced)."""
        with self._state:
            for record in records:
                self._unsure.setdefault(record.event_id, _Unsure(record, dict(floor), generation))
            current = generation == self._generation
        if current:
            self.breaker.trip(why)

    def abandon(
        self, sent: Sequence[tuple[PendingRecord, Any]], floor: Mapping[int, int], generation: int
    ) -> None:
        """Stop waiting for these sends: they are unsure, unless acknowledged later."""
        self.mark_unsure(
            [r for r, _ in sent], floor, generation, "an append was not confirmed in time"
        )
        for record, future in sent:
            future.add_callback(self._landed_late, record)

    def _landed_late(self, record: PendingRecord, metadata: Any) -> None:
        """An unsure record was acknowledged after all: index it, and it is sure."""
        receipt = _accepted(record, metadata)
        self._receipts.put([receipt])
        with self._state:
            self._found.setdefault(record.event_id, receipt)
            self._unsure.pop(record.event_id, None)

    def acknowledged(self, future: Any, deadline: float) -> Any:
        """The record's metadata once acknowledged; KafkaError if its send failed; None if the
        wait was given up (the log stopped answering, or the deadline passed): it is unsure."""
        while True:
            # A batch's records are acknowledged together: most are done by the time they
            # are asked for, and their outcome is read without a timed wait.
            if future.is_done:
                if future.failed():
                    raise future.exception
                return future.value
            try:
                return future.get(timeout=WAIT_SLICE)
            except KafkaError:
                # The wait can run out just as the record is acknowledged (or fails): the
                # outcome is then read above, not taken for this timeout.
                if not future.is_done and (self.breaker.is_down or time.monotonic() >= deadline):
                    return None

    def append(self, records: Sequence[PendingRecord]) -> list[Receipt]:
        """Produce in order, wait for every acknowledgement, then index the receipts."""
        return self.begin_append(records).result()

    def remember(self, receipts: Sequence[Receipt], claimed_at: float) -> list[str]:
        """Index the receipts of records just acknowledged, claimed at `claimed_at`; the
        event_ids whose claim this process can no longer prove its own are not indexed, and
        returned (see ReceiptIndex.confirm)."""
        return self._receipts.confirm(receipts, claimed_at)

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
                ends = self._meta.end_offsets(tps, timeout_ms=self.timeouts.request_ms)
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

    def group_reader(
        self, group: str, starts: Callable[[Sequence[int]], Mapping[int, int]]
    ) -> KafkaGroupReader:
        """A reader in the consumer group `group`: it reads the partitions the group assigns
        it, each from the next offset `starts` gives for it when it is assigned.

        With a consumer instance, the reader is a static member: a process restarted with the
        same instance takes back its partitions without a wait, and a static member never
        leaves on close (its partitions wait GROUP_SESSION_MS for it to come back)."""
        static = {"group_instance_id": self.consumer_instance} if self.consumer_instance else {}
        consumer = self._consumer(
            group_id=group,
            client_id=group,
            session_timeout_ms=GROUP_SESSION_MS,
            heartbeat_interval_ms=GROUP_HEARTBEAT_MS,
            **static,
        )
        try:
            return KafkaGroupReader(consumer, self.topic, starts)
        except KafkaError as exc:
            consumer.close()
            raise LedgerUnavailable(f"Kafka group reader could not start: {exc}") from exc

    def ping(self) -> None:
        """Raise LedgerUnavailable unless an append can be taken now: the breaker is closed and
        the last probe (a request for the topic's end offsets, under a second old) answered.
        Never waits for the broker."""
        self.breaker.check_ready()

    def _probe(self, timeout_ms: int | None = None, *, doubt: bool = True) -> None:
        """Ask the broker for the topic's end offsets, within `probe_ms` (or timeout_ms);
        record the answer. Unless the log refuses connections, a failure is in doubt (`doubt`):
        the broker may be slow, or this process may have been stalled past the timeout."""
        try:
            if self._probe_client is None:
                self._probe_client = self._consumer()
            ends = self._probe_client.end_offsets(
                self._topic_partitions, timeout_ms=timeout_ms or self.timeouts.probe_ms
            )
        except (KafkaError, LedgerUnavailable) as exc:
            certain = not doubt or not takes_connections(self.bootstrap, CONNECT_CHECK)
            self.breaker.probed(f"{type(exc).__name__}: {exc}", certain=certain)
            return
        with self._state:
            self._floor = {tp.partition: int(offset) for tp, offset in ends.items()}
        self.breaker.probed(None)

    def _watch(self) -> None:
        """The prober: probe, and recover the append path once the log answers again."""
        failures = 0
        while not self._stopping.is_set():
            try:
                self._probe()
                if self.breaker.is_down:
                    failures += 1
                    if failures % 10 == 0:
                        # A client that has failed this long is replaced too, in case it is
                        # the one that is stuck.
                        self._renew_probe_client()
                else:
                    failures = 0
                    self._recover()
            except Exception:
                log.exception("kafka.prober_failed", topic=self.topic)
            if not self.breaker.is_suspect:
                self.breaker.wait_for_trip(PROBE_EVERY)

    def _renew_probe_client(self) -> None:
        client, self._probe_client = self._probe_client, None
        if client is not None:
            client.close(timeout_ms=self.timeouts.probe_ms)

    def _recover(self) -> None:
        """With the log answering: replace a producer that failed, settle unsure records whose
        producer has stopped, then close the breaker (unless it tripped again meanwhile)."""
        trips = self.breaker.trips
        if self.breaker.is_open and not self._replace_producer():
            return
        for generation, producer in list(self._retired.items()):
            # See close_producer: a producer whose network thread stopped sends nothing more.
            if not producer._sender.is_alive():
                del self._retired[generation]
                self._settled.add(generation)
        with self._state:
            settled = {
                event_id: unsure
                for event_id, unsure in self._unsure.items()
                if unsure.generation in self._settled
            }
        if settled:
            self._settle(settled)
        if self.breaker.is_open and self.breaker.reset(trips):
            log.warning("kafka.recovered", topic=self.topic, generation=self._generation)

    def _replace_producer(self) -> bool:
        """Swap in a new producer and close the old one within seconds; False if the new one
        could not be made (the breaker stays open, and the next probe tries again)."""
        try:
            fresh = self._new_producer()
            # Its first send would wait for the topic's metadata under the ledger's lock.
            fresh.partitions_for(self.topic)
        except KafkaError as exc:
            log.warning("kafka.producer_not_replaced", topic=self.topic, error=str(exc))
            return False
        with self._state:
            if self._stopping.is_set():
                close_producer(fresh, 0)
                return False
            old, generation = self._producer, self._generation
            self._producer = fresh
            self._generation += 1
        log.warning("kafka.producer_replaced", topic=self.topic, generation=self._generation)
        self._retired[generation] = old
        close_producer(old, CLOSE_GRACE)
        return True

    def _settle(self, settled: Mapping[str, _Unsure]) -> None:
        """Read the log on from where unsure records could have landed, for SETTLE_SLICE
        seconds at most (the next probe reads on from there): index those found; those read
        up to the log's end as it was once their producer had stopped are not on the log and
        never will be."""
        found: dict[str, Receipt] = {}
        consumer = self._consumer()
        try:
            start, until = self._to_read(consumer, settled)
            reached = self._read_for(consumer, start, until, settled, found)
        except KafkaError as exc:
            log.warning("kafka.settle_failed", topic=self.topic, error=str(exc))
            return
        finally:
            consumer.close()
        raised = []
        for unsure in settled.values():
            for partition, offset in reached.items():
                if unsure.floor.get(partition, offset) < offset:
                    unsure.floor[partition] = offset
                    raised.append(unsure)
        done = [e for e, unsure in settled.items() if e in found or unsure.absent]
        self._receipts.put(list(found.values()))
        # Their claims are given up while they are still unsure: a retry granted the claim
        # again once they are sure must not lose it to this release.
        if done:
            self._receipts.settled(done)
        with self._state:
            self._found.update(found)
            for event_id in done:
                if self._unsure.get(event_id) is settled[event_id]:
                    del self._unsure[event_id]
        # How far the log was read outlives this process (a claim's floor, a kept record's).
        self._receipts.keep_unsure(
            [(u.record, u.floor) for u in dict.fromkeys(raised) if u.record.event_id not in done]
        )
        log.warning(
            "kafka.unsure_settled" if len(done) == len(settled) else "kafka.unsure_settling",
            topic=self.topic,
            on_log=len(found),
            not_on_log=len(done) - len(found),
            unsure=len(settled) - len(done),
        )

    def _to_read(
        self, consumer: Any, settled: Mapping[str, _Unsure]
    ) -> tuple[dict[int, int], dict[int, int]]:
        """Per partition, where the unsure records are still to be looked for: from the least
        floor to the greatest end (an unsure record's end is the log's end when first read)."""
        if any(unsure.until is None for unsure in settled.values()):
            ends = consumer.end_offsets(self._topic_partitions, timeout_ms=self.timeouts.request_ms)
            end = {tp.partition: int(offset) for tp, offset in ends.items()}
            for unsure in settled.values():
                if unsure.until is None:
                    unsure.until = {p: end.get(p, o) for p, o in unsure.floor.items()}
        start: dict[int, int] = {}
        until: dict[int, int] = {}
        for unsure in settled.values():
            ends_of = unsure.until or {}
            for partition, offset in unsure.floor.items():
                if offset < ends_of[partition]:
                    start[partition] = min(offset, start.get(partition, offset))
                    until[partition] = max(ends_of[partition], until.get(partition, 0))
        return start, until

    def _read_for(
        self,
        consumer: Any,
        start: Mapping[int, int],
        until: Mapping[int, int],
        settled: Mapping[str, _Unsure],
        found: dict[str, Receipt],
    ) -> dict[int, int]:
        """Read each partition from `start` toward `until` for SETTLE_SLICE seconds at most,
        adding the unsure records met to `found`; per partition, the offset read up to."""
        tps = [TopicPartition(self.topic, p) for p in sorted(start)]
        consumer.assign(tps)
        for tp in tps:
            consumer.seek(tp, start[tp.partition])
        wanted = {unsure.record.value: unsure.record for unsure in settled.values()}
        reached = dict(start)
        deadline = time.monotonic() + SETTLE_SLICE
        while any(reached[p] < until[p] for p in start):
            for tp, batch in consumer.poll(timeout_ms=200).items():
                end = until[tp.partition]
                for m in batch:
                    if time.monotonic() >= deadline:
                        return reached
                    if m.offset >= end:
                        break
                    receipt = _found(m, wanted, settled)
                    if receipt is not None:
                        # Past its own end, it is another append of the event (after a give-up).
                        own_end = settled[receipt.event_id].until or {}
                        if m.offset < own_end.get(m.partition, 0):
                            found.setdefault(receipt.event_id, receipt)
                    reached[tp.partition] = m.offset + 1
                reached[tp.partition] = min(max(reached[tp.partition], consumer.position(tp)), end)
            if time.monotonic() >= deadline:
                break
        return reached

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
        self.breaker.check()
        try:
            self._producer.send(
                self.dead_letter_topic, key=record.key, value=record.value, headers=headers
            ).get(timeout=self.timeouts.append_wait)
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
            ends = consumer.end_offsets(tps, timeout_ms=self.timeouts.request_ms)
            letters: list[DeadLetter] = []
            deadline = time.monotonic() + READ_TIMEOUT
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
        """Stop the prober, close the producer (abandoning, within seconds, what the broker has
        not acknowledged), the consumers and the receipt index."""
        self._stopping.set()
        self.breaker.wake()
        self._prober.join(timeout=self.timeouts.probe_ms / 1000 + CLOSE_GRACE + 1)
        self._close_clients(grace=0 if self.breaker.is_down else CLOSE_GRACE)
        with self._state:
            unsure = [(u.record, u.floor) for u in self._unsure.values()]
        # Whatever is still unsure is checked by the next process before it appends again.
        self._receipts.keep_unsure(unsure)
        self._receipts.close()

    def _close_clients(self, grace: float) -> None:
        with self._state:
            producer = self._producer
        close_producer(producer, grace)
        if self._probe_client is not None:
            self._probe_client.close(timeout_ms=self.timeouts.probe_ms)
        with self._meta_lock:
            self._meta.close(timeout_ms=self.timeouts.probe_ms)

    def _consumer(self, **group: Any) -> Any:
        """A consumer outside any group, unless `group` gives its group_id and settings."""
        options: dict[str, Any] = {
            "enable_auto_commit": False,
            "group_id": None,
            "auto_offset_reset": "earliest",
            "client_id": "sgl-reader",
            "max_partition_fetch_bytes": 4 * 1024 * 1024,
            **group,
        }
        try:
            return KafkaConsumer(
                **client_options(self.bootstrap, self.timeouts), **options, **self._client_config
            )
        except KafkaError as exc:
            raise LedgerUnavailable(f"Kafka at {self.bootstrap} is unavailable: {exc}") from exc


def _accepted(record: PendingRecord, metadata: Any) -> Receipt:
    """The receipt of a record from the metadata of its acknowledgement or of its read."""
    return Receipt.accepted(
        record, metadata.partition, metadata.offset, _append_time(metadata.timestamp)
    )


@functools.lru_cache(maxsize=64)
def _append_time(millis: int) -> datetime:
    """The broker's append time of a record: the same for every record of a batch."""
    return from_millis(millis)


def _found(
    message: Any, by_value: Mapping[bytes, PendingRecord], by_id: Mapping[str, _Unsure]
) -> Receipt | None:
    """The receipt of a record read from the log if it is one of the unsure: the same bytes,
    or other content under the same event_id (a claim taken over from a process that died:
    that record is the event's)."""
    record = by_value.get(message.value)
    if record is not None:
        return _accepted(record, message)
    return _same_event(message, by_id)


def _same_event(message: Any, wanted: Mapping[str, _Unsure]) -> Receipt | None:
    """The receipt of a record on the log carrying one of the wanted event_ids, whatever its
    content; None for any other record (or one that is not an event)."""
    try:
        document = orjson.loads(message.value)
        event_id = document["event_id"]
        if event_id not in wanted:
            return None
        return Receipt(
            event_id,
            "accepted",
            message.partition,
            message.offset,
            from_millis(message.timestamp),
            hashlib.sha256(message.value).hexdigest(),
            message.key.decode(),
            document["type"],
            document["schema_version"],
        )
    except (orjson.JSONDecodeError, TypeError, KeyError, AttributeError, UnicodeDecodeError):
        return None


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
        owner: KafkaEventLog,
        sent: Sequence[PendingRecord],
        futures: list[Any],
        answers: list[Receipt | int | str],
        floor: Mapping[int, int],
        generation: int,
        claimed_at: float,
    ) -> None:
        self._owner = owner
        self._sent = sent
        self._futures = futures
        self._answers = answers
        self._floor = floor
        self._generation = generation
        self._claimed_at = claimed_at
        self._deadline = time.monotonic() + owner.timeouts.append_wait
        self._receipts: list[Receipt] | None = None
        self._failure: str | None = None
        self._lock = threading.Lock()

    def result(self) -> list[Receipt]:
        """One receipt per record asked for, stamped with the broker's LogAppendTime once all
        are acknowledged; a record appended before answers its original receipt. Every
        caller gets the same outcome: the wait happens once."""
        with self._lock:
            if self._receipts is None and self._failure is None:
                try:
                    self._receipts = self._answer(self._wait())
                except LedgerUnavailable as exc:
                    self._failure = str(exc)
            if self._receipts is None:
                raise LedgerUnavailable(self._failure or "Kafka did not confirm the append")
            return self._receipts

    def _wait(self) -> list[Receipt]:
        landed: list[Receipt] = []
        failure: KafkaError | None = None
        unsure: list[tuple[PendingRecord, Any]] = []
        refused: list[PendingRecord] = []
        for record, future in zip(self._sent, self._futures, strict=True):
            try:
                metadata = self._owner.acknowledged(future, self._deadline)
            except KafkaError as exc:
                failure = failure or exc
                if isinstance(exc, REFUSED):
                    refused.append(record)
                continue
            if metadata is None:
                unsure.append((record, future))
            else:
                landed.append(_accepted(record, metadata))
        # What did not land is dealt with first: remembering what did may fail.
        if refused:
            self._owner.refused(refused)
        if unsure:
            self._owner.abandon(unsure, self._floor, self._generation)
        # Index what did land even when some did not, so a retry answers `duplicate`.
        lost = self._owner.remember(landed, self._claimed_at)
        if unsure:
            raise LedgerUnavailable(
                f"Kafka did not confirm {len(unsure)} record(s) in time; retry with the same "
                "event_ids"
            )
        if failure is not None:
            raise LedgerUnavailable(f"Kafka did not confirm the append: {failure}")
        if lost:
            # Acknowledged so late that another process may have taken the claims over and
            # found nothing on the log: it is not known to be the only record of its event.
            raise LedgerUnavailable(
                f"{len(lost)} event(s) of this batch were confirmed after their claims were "
                "taken over; retry with the same event_ids"
            )
        return landed

    def _answer(self, sent: list[Receipt]) -> list[Receipt]:
        others = [a for a in self._answers if isinstance(a, str)]
        elsewhere = self._owner.wait_for_others(others, self._deadline) if others else {}
        out: list[Receipt] = []
        answered = [False] * len(sent)
        for answer in self._answers:
            if isinstance(answer, Receipt):
                out.append(answer)
            elif isinstance(answer, str):
                out.append(elsewhere[answer].as_duplicate())
            elif answered[answer]:
                out.append(sent[answer].as_duplicate())
            else:
                answered[answer] = True
                out.append(sent[answer])
        return out


class KafkaLogReader:
    """Reads every partition of the topic from tracked positions; no group offsets are used.

    A thread of its own polls the consumer and builds the records one batch ahead of the
    caller: the next batch is fetched and unpacked (kafka-python's record parsing is pure
    Python) while the caller applies the last one, whose SQLite work runs without the GIL.
    Only that thread touches the consumer once the first poll has started it.
    """

    def __init__(self, consumer: Any, topic: str, start: Mapping[int, int]) -> None:
        self._consumer = consumer
        self._topic = topic
        partitions = sorted(consumer.partitions_for_topic(topic) or [])
        tps = [TopicPartition(topic, p) for p in partitions]
        consumer.assign(tps)
        for tp in tps:
            consumer.seek(tp, start.get(tp.partition, 0))
        # One batch waits here at most: read-ahead, not a buffer of the whole topic.
        self._ready: queue.Queue[list[LogRecord] | BaseException] = queue.Queue(maxsize=1)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        # What a batch read ahead held beyond the max_records of the poll that took it.
        self._left: list[LogRecord] = []
        self._failure: BaseException | None = None

    def poll(self, max_records: int, timeout: float) -> list[LogRecord]:
        """Up to max_records records, in offset order within each partition."""
        if self._failure is not None:
            raise self._failed(self._failure)
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._read_ahead,
                args=(max_records,),
                name=f"read-{self._topic}",
                daemon=True,
            )
            self._thread.start()
        if not self._left:
            try:
                got = self._ready.get(timeout=timeout)
            except queue.Empty:
                return []
            if isinstance(got, BaseException):
                self._failure = got
                raise self._failed(got)
            self._left = got
        out, self._left = self._left[:max_records], self._left[max_records:]
        return out

    def _failed(self, exc: BaseException) -> BaseException:
        """What poll raises for a failure of the read-ahead thread: a Kafka error is the log
        being unavailable; anything else is raised as it was."""
        if isinstance(exc, KafkaError):
            failure = LedgerUnavailable(f"Kafka read failed: {exc}")
            failure.__cause__ = exc
            return failure
        return exc

    def _read_ahead(self, max_records: int) -> None:
        """Poll batches and hand them over until closed, or until a poll fails."""
        while not self._stopping.is_set():
            try:
                batch = self._read(max_records)
            except BaseException as exc:  # handed to the caller, which raises it
                self._hand_over(exc)
                return
            if batch:
                self._hand_over(batch)

    def _hand_over(self, item: list[LogRecord] | BaseException) -> None:
        while not self._stopping.is_set():
            try:
                self._ready.put(item, timeout=READ_AHEAD_WAIT)
                return
            except queue.Full:
                continue

    def _read(self, max_records: int, timeout: float = READ_AHEAD_WAIT) -> list[LogRecord]:
        """One poll of the consumer, as LogRecords in partition then offset order."""
        batches = self._consumer.poll(timeout_ms=int(timeout * 1000), max_records=max_records)
        topic = self._topic
        # The broker stamps a producer's whole batch with one LogAppendTime: each distinct
        # stamp is converted once.
        stamps: dict[int, datetime] = {}
        out: list[LogRecord] = []
        for tp in sorted(batches, key=lambda t: t.partition):
            for m in batches[tp]:
                at = stamps.get(m.timestamp)
                if at is None:
                    at = stamps[m.timestamp] = from_millis(m.timestamp)
                out.append(
                    LogRecord(
                        topic,
                        m.partition,
                        m.offset,
                        at,
                        m.key,
                        m.value,
                        tuple(m.headers) if m.headers else (),
                    )
                )
        return out

    def close(self) -> None:
        """Stop the read-ahead thread, then close the consumer."""
        self._stopping.set()
        if self._thread is not None:
            # Its poll returns within READ_AHEAD_WAIT, or within a request's timeout.
            self._thread.join()
        self._consumer.close()


class KafkaGroupReader(KafkaLogReader):
    """Reads the partitions its consumer group assigns it; each partition assigned starts at
    the next offset the store gives (its tracked position + 1), never at a committed offset.

    The store's tracking is the truth; offsets are committed to Kafka after each batch only so
    that the group tools see the group and its lag. A rebalance happens inside `poll`, between
    batches, so a batch polled before it is taken in before the partitions move.
    """

    def __init__(
        self, consumer: Any, topic: str, starts: Callable[[Sequence[int]], Mapping[int, int]]
    ) -> None:
        # Not KafkaLogReader's constructor: that one assigns every partition to itself.
        self._consumer = consumer
        self._topic = topic
        self._starts = starts
        self._failure: BaseException | None = None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.assigned: frozenset[int] = frozenset()
        consumer.subscribe(topics=[topic], listener=_Seeker(self))

    def poll(self, max_records: int, timeout: float) -> list[LogRecord]:
        """Up to max_records records of the partitions assigned now, in offset order within
        each; the store's failure to give positions on a rebalance is raised here.

        No read-ahead here: a rebalance happens inside the consumer's poll, and a batch read
        ahead of one could be taken in after its partitions went to another member; the
        consumer is also committed to from the caller's thread (`commit`)."""
        # While the member has no partitions (joining, or in a rebalance) one poll is given
        # long enough to finish the join: the client restarts an unfinished join's last step
        # at each short poll, and under load never completes it.
        wait = timeout if self.assigned else max(timeout, GROUP_JOIN_SECONDS)
        try:
            records = self._read(max_records, wait)
        except KafkaError as exc:
            # The client stops a poll whose listener failed with an error of its own. The
            # store's error says why; it is raised as a new exception of the same kind, without
            # its traceback (kept, it held the client's frames and buffers: ~380 MB a test).
            failure, self._failure = self._failure, None
            if isinstance(failure, PersistenceError):
                raise type(failure)(str(failure)) from None
            raise self._failed(exc) from exc
        failure, self._failure = self._failure, None
        if failure is not None:
            raise failure
        return records

    def assign(self, partitions: Collection[TopicPartition]) -> None:
        """Seek each partition the group just assigned to the store's next offset for it."""
        self.assigned = frozenset()
        wanted = sorted(tp.partition for tp in partitions)
        try:
            starts = self._starts(wanted)
        except Exception as exc:
            # The client logs and wraps a listener's exception; the original (a database
            # unavailable) is raised from poll instead, so the loop retries it as transient.
            self._failure = exc
            raise
        for tp in partitions:
            self._consumer.seek(tp, starts.get(tp.partition, 0))
        self.assigned = frozenset(wanted)
        log.info("group.assigned", topic=self._topic, partitions=wanted, starts=dict(starts))

    def revoke(self, partitions: Collection[TopicPartition]) -> None:
        """Forget the partitions the group takes away (their batches are all taken in)."""
        self.assigned = frozenset()
        log.info(
            "group.revoked", topic=self._topic, partitions=sorted(p.partition for p in partitions)
        )

    def commit(self, last: Mapping[int, int]) -> None:
        """Commit, without waiting, the offset after each partition's last record taken in, for
        the partitions still assigned (a failed commit only delays what the tools show)."""
        offsets = {
            TopicPartition(self._topic, p): OffsetAndMetadata(offset + 1, "", -1)
            for p, offset in last.items()
            if p in self.assigned
        }
        if offsets:
            self._consumer.commit_async(offsets, callback=_committed)


def _committed(offsets: Any, response: Any) -> None:
    if isinstance(response, Exception):
        log.info("group.commit_failed", error=str(response))


class _Seeker(ConsumerRebalanceListener):  # type: ignore[misc]
    """Hands a group's rebalances to its reader."""

    def __init__(self, reader: KafkaGroupReader) -> None:
        self.reader = reader

    def on_partitions_revoked(self, revoked: Any) -> None:
        """The partitions this member gives up."""
        self.reader.revoke(revoked)

    def on_partitions_assigned(self, assigned: Any) -> None:
        """The partitions this member now reads."""
        self.reader.assign(assigned)
