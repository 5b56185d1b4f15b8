"""The sealer: follows each partition of the ledger in offset order, appends every record's
exact bytes to the partition's Merkle tree, and signs a checkpoint every N records or T
seconds.

Per record the work is one leaf hash and, amortised, one node hash (`ledger.merkle.Frontier`).
A batch's nodes, its checkpoints and its positions commit in one transaction
(`projections/seal_view.py`); checkpoints are then published to the checkpoints topic from
there and marked published, so a crash publishes a checkpoint again at worst (same id, same
bytes: the log answers `duplicate`). A record's leaf index is its offset: a gap in a
partition's offsets stops the sealer loudly rather than seal a tree that would not match the
log's positions.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Sequence

import structlog
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from eventsourcing.persistence import Tracking

from consumers.runner import retrying
from ledger.checkpoint import origin_of, sign
from ledger.errors import LedgerError
from ledger.log import EventLog, LogReader, LogRecord, PendingRecord
from ledger.merkle import Frontier, leaf_hash
from projections.case_view import tracking_name
from projections.seal_view import SQLiteSealView

log = structlog.get_logger("consumers.sealer")


class SealGap(LedgerError):
    """A partition's offsets jumped: the tree's leaf indexes would no longer be offsets."""


def checkpoint_id(origin: str, size: int) -> str:
    """The id a checkpoint is published under (its idempotency key on the topic)."""
    return f"{origin}@{size}"


class Sealer:
    """Keeps each partition's tree and signs checkpoints."""

    def __init__(
        self,
        event_log: EventLog,
        seal: SQLiteSealView,
        key: Ed25519PrivateKey,
        checkpoints: EventLog,
        *,
        every: int = 1000,
        seconds: float = 10.0,
        batch_size: int = 5000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.log = event_log
        self.seal = seal
        self.key = key
        self.checkpoints = checkpoints
        self.every = every
        self.seconds = seconds
        self.batch_size = batch_size
        self.clock = clock
        self.name = seal.name
        self.sealed = 0
        self._frontiers: dict[int, Frontier] = {}
        self._signed_at: dict[int, int] = {}
        self._signed_when: dict[int, float] = {}

    def lag(self) -> int:
        """Records on the log not yet sealed."""
        ends = self.log.end_offsets()
        done = self.seal.positions(self.log.topic, list(ends))
        return sum(end - (done.get(p, -1) + 1) for p, end in ends.items())

    def run(self, stop: threading.Event, poll_timeout: float = 0.2) -> None:
        """Seal until stop is set; checkpoint what is new every `seconds`."""
        reader = self._open_reader()
        try:
            while not stop.is_set():
                records = reader.poll(self.batch_size, poll_timeout)
                if records:
                    self.handle(records)
                self.tick()
        finally:
            reader.close()
            log.info("sealer.stopped", sealed=self.sealed)

    def run_resilient(self, stop: threading.Event, max_delay: float = 30.0) -> None:
        """run() until stop is set, retrying after the log or a database was unavailable."""
        retrying(self.run, stop, self.name, max_delay)

    def run_until_caught_up(
        self, timeout: float = 60.0, progress: Callable[[int], object] | None = None
    ) -> int:
        """Seal everything on the log now and checkpoint it; returns records sealed."""
        ends = self.log.end_offsets()
        before = self.sealed
        deadline = time.monotonic() + timeout
        reader = self._open_reader()
        try:
            while any(self._frontiers[p].size < end for p, end in ends.items()):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the sealer did not catch up within {timeout}s")
                records = reader.poll(self.batch_size, 0.2)
                if records:
                    self.handle(records)
                    if progress is not None:
                        progress(len(records))
            self.tick(force=True)
        finally:
            reader.close()
        return self.sealed - before

    def handle(self, records: Sequence[LogRecord]) -> None:
        """Append a batch's leaves; checkpoint each partition every `every` records."""
        nodes: list[tuple[int, int, int, bytes]] = []
        signed: list[tuple[int, int, bytes, str]] = []
        last: dict[int, int] = {}
        for record in records:
            partition = record.partition
            frontier = self._frontiers.setdefault(partition, Frontier())
            if record.offset != frontier.size:
                raise SealGap(
                    f"partition {partition}: expected offset {frontier.size}, read "
                    f"{record.offset}; the seal's leaf indexes are offsets"
                )
            for level, index, node in frontier.append(leaf_hash(record.value)):
                nodes.append((partition, level, index, node))
            last[partition] = record.offset
            if frontier.size - self._signed_at.get(partition, 0) >= self.every:
                signed.append(self._sign(partition))
        tracking = [
            Tracking(tracking_name(self.name, self.log.topic, p), o) for p, o in last.items()
        ]
        self.seal.record(nodes, signed, tracking)
        self.sealed += len(records)
        if signed:
            self.publish()

    def tick(self, force: bool = False) -> None:
        """Checkpoint each partition with records sealed since its last checkpoint, once
        `seconds` have passed since that checkpoint (or now, with force)."""
        now = self.clock()
        signed = [
            self._sign(p)
            for p, frontier in self._frontiers.items()
            if frontier.size > self._signed_at.get(p, 0)
            and (force or now - self._signed_when.get(p, 0.0) >= self.seconds)
        ]
        if signed:
            self.seal.record([], signed, [])
        self.publish()

    def _sign(self, partition: int) -> tuple[int, int, bytes, str]:
        frontier = self._frontiers[partition]
        root = frontier.root()
        note = sign(self.key, origin_of(self.log.topic, partition), frontier.size, root)
        self._signed_at[partition] = frontier.size
        self._signed_when[partition] = self.clock()
        log.info("checkpoint.signed", partition=partition, size=frontier.size)
        return partition, frontier.size, root, note

    def publish(self) -> None:
        """Put the checkpoints not yet on the checkpoints topic there, in order."""
        pending = self.seal.checkpoints(unpublished=True)
        if not pending:
            return
        records = []
        for item in pending:
            origin = origin_of(self.log.topic, item["partition"])
            value = item["note"].encode()
            records.append(
                PendingRecord(
                    checkpoint_id(origin, item["size"]),
                    str(item["partition"]),
                    value,
                    hashlib.sha256(value).hexdigest(),
                )
            )
        known = self.checkpoints.lookup({r.event_id for r in records})
        fresh = [r for r in records if r.event_id not in known]
        if fresh:
            self.checkpoints.append(fresh)
        self.seal.mark_published((c["partition"], c["size"]) for c in pending)

    def _open_reader(self) -> LogReader:
        partitions = self.log.partitions()
        self._frontiers = {p: self.seal.frontier(p) for p in partitions}
        for p in partitions:
            latest = self.seal.checkpoint(p)
            self._signed_at[p] = 0 if latest is None else latest["size"]
        start = {p: f.size for p, f in self._frontiers.items()}
        log.info("sealer.started", start=start)
        return self.log.reader(start)
