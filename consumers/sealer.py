"""The sealer: follows each partition of the ledger in offset order, appends every record's
exact bytes to the partition's Merkle tree (a record with no value, a Kafka tombstone, as
the empty string: `ledger.merkle.record_leaf`), and signs a checkpoint every N records or T
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

from consumers.loop import TrackedLoop
from ledger.checkpoint import origin_of, sign
from ledger.errors import LedgerError
from ledger.log import EventLog, LogRecord, PendingRecord
from ledger.merkle import Frontier, record_leaf
from projections.seal_view import SealViewStore

log = structlog.get_logger("consumers.sealer")


class SealGap(LedgerError):
    """A partition's offsets jumped: the tree's leaf indexes would no longer be offsets."""


def checkpoint_id(origin: str, size: int) -> str:
    """The id a checkpoint is published under (its idempotency key on the topic)."""
    return f"{origin}@{size}"


class Sealer(TrackedLoop[SealViewStore]):
    """Keeps each partition's tree and signs checkpoints. `applied` counts records sealed."""

    def __init__(
        self,
        event_log: EventLog,
        seal: SealViewStore,
        key: Ed25519PrivateKey,
        checkpoints: EventLog,
        *,
        every: int = 1000,
        seconds: float = 10.0,
        batch_size: int = 5000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # Ticks at every poll: each partition's checkpoint timer is its own (`tick`).
        super().__init__(event_log, seal, batch_size, tick_seconds=0.0)
        self.seal = seal
        self.key = key
        self.checkpoints = checkpoints
        self.every = every
        self.seconds = seconds
        self.clock = clock
        self._frontiers: dict[int, Frontier] = {}
        self._signed_at: dict[int, int] = {}
        self._signed_when: dict[int, float] = {}
        # Checkpoints this loop signed and committed, per partition.
        self.signed: dict[int, int] = {}

    def start(self) -> dict[int, int]:
        """Each partition's tree as sealed so far; read on from its size (offsets are leaf
        indexes)."""
        partitions = self.log.partitions()
        self._frontiers = {p: self.seal.frontier(p) for p in partitions}
        for p in partitions:
            latest = self.seal.checkpoint(p)
            self._signed_at[p] = 0 if latest is None else latest["size"]
        return {p: f.size for p, f in self._frontiers.items()}

    def caught_up(self) -> None:
        """Checkpoint everything sealed."""
        self.tick(force=True)

    def take(
        self, records: Sequence[LogRecord], stop: threading.Event, deadline: float | None
    ) -> None:
        """Seal the batch."""
        self.handle(records)

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
            for level, index, node in frontier.append(record_leaf(record.value)):
                nodes.append((partition, level, index, node))
            last[partition] = record.offset
            if frontier.size - self._signed_at.get(partition, 0) >= self.every:
                signed.append(self._sign(partition))
        self.seal.record(nodes, signed, self.tracking(last))
        self._count(signed)
        self.applied += len(records)
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
            self._count(signed)
        self.publish()

    def _count(self, signed: Sequence[tuple[int, int, bytes, str]]) -> None:
        """Count committed checkpoints by partition."""
        for partition, *_ in signed:
            self.signed[partition] = self.signed.get(partition, 0) + 1

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
