"""`sgl verify`: recompute every partition's tree from the log and check it against the
signed checkpoints, the seal and any trusted checkpoints, naming the first record that
disagrees.

Four sources, trusted differently:

- the **checkpoints**, signed with the ledger's key: each must verify against the published
  verifier key, and the root recomputed from the log at each checkpoint's size must equal it;
- the **seal** (the sealer's stored leaf hashes), which names the exact record when the log
  and the seal part ways, even between two checkpoints;
- the **log** itself, read from offset 0 of every partition: each partition's offsets must
  run 0, 1, 2... without a gap;
- the **trusted checkpoints** an auditor exported earlier and kept away from this machine
  (`sgl checkpoints export`): each must verify against the verifier key, the log recomputed at
  its size must give its root, and the latest signed checkpoint must extend it (an RFC 9162
  consistency proof from the seal).

A log altered after sealing disagrees with the seal at the altered record. A log and seal both
rewritten disagree with the first signed checkpoint after the change; the report then names
the range of offsets between the last checkpoint that holds and the first that does not.

Whoever holds the data directory can do more: delete the seal and the checkpoints, cut the
log, seal and checkpoints back together, or rewrite a record and sign everything again with a
key kept there. So a partition with records and no signed checkpoint, a seal shorter than the
checkpoints, and (given a grace) more unsigned records than the sealer ever leaves are
problems, and so is an empty log; and only a trusted checkpoint kept elsewhere catches a
rollback or a history signed again: the log is shorter than it, or gives another root at its
size.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from ledger.bundles import b64
from ledger.checkpoint import Checkpoint, CheckpointError, origin_of, parse, verify
from ledger.log import EventLog, LogRecord
from ledger.merkle import Frontier, record_leaf, sealed_bytes, verify_consistency
from projections.seal_view import SealViewStore

_CHUNK = 10_000
WHOLE = -1
"""The partition (and offset) of a problem with the ledger as a whole."""


@dataclass(frozen=True, slots=True, order=True)
class Disagreement:
    """Where the record and the proofs part ways, and how."""

    partition: int
    offset: int
    what: str

    def __str__(self) -> str:
        if self.partition == WHOLE:
            return self.what
        return f"partition {self.partition}, offset {self.offset}: {self.what}"


@dataclass
class VerifyReport:
    """What was checked, and every disagreement found (first one first)."""

    records: int = 0
    partitions: int = 0
    checkpoints: int = 0
    trusted: int = 0
    problems: list[Disagreement] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing disagrees."""
        return not self.problems

    @property
    def first(self) -> Disagreement | None:
        """The earliest disagreement by partition and offset."""
        return min(self.problems) if self.problems else None


def read_all(
    log: EventLog,
    take: Callable[[LogRecord], object],
    idle: float = 30.0,
    progress: Callable[[int], object] | None = None,
) -> int:
    """Every record of every partition up to its end offset now, in offset order per
    partition; returns how many were read. A removed record leaves a gap, so this counts
    positions reached, not records; a poll that comes back empty is waited on (a broker's
    first fetch can be slow) until `idle` seconds pass with nothing read."""
    ends = log.end_offsets()
    reached = dict.fromkeys(ends, 0)
    read = 0
    reader = log.reader({})
    last_progress = time.monotonic()
    try:
        while any(reached[p] < end for p, end in ends.items()):
            batch = reader.poll(_CHUNK, 1.0)
            if not batch:
                if time.monotonic() - last_progress > idle:
                    break
                continue
            last_progress = time.monotonic()
            read += len(batch)
            if progress is not None:
                progress(len(batch))
            for record in batch:
                if record.partition in reached:
                    take(record)
                    reached[record.partition] = record.offset + 1
    finally:
        reader.close()
    return read


def read_checkpoints(
    checkpoints: EventLog, verifier: str, topic: str, report: VerifyReport
) -> dict[int, dict[int, bytes]]:
    """Every checkpoint on the topic, signature checked: {partition: {size: root}}. A bad
    signature, or two different roots signed for one size (a fork), is a problem."""
    found: dict[int, dict[int, bytes]] = {}

    def take(record: LogRecord) -> None:
        text = sealed_bytes(record.value).decode(errors="replace")
        try:
            checkpoint = verify(text, verifier)
        except CheckpointError as exc:
            parsed = _parsed(text)
            where = (parsed.partition, parsed.size) if parsed else (-1, record.offset)
            report.problems.append(Disagreement(*where, f"the checkpoint itself: {exc}"))
            return
        if checkpoint.origin != origin_of(topic, checkpoint.partition):
            return  # another ledger's checkpoint: not ours to check
        sizes = found.setdefault(checkpoint.partition, {})
        if sizes.get(checkpoint.size, checkpoint.root) != checkpoint.root:
            report.problems.append(
                Disagreement(
                    checkpoint.partition,
                    checkpoint.size,
                    f"two different roots are signed for size {checkpoint.size}: the log "
                    "was forked",
                )
            )
        sizes.setdefault(checkpoint.size, checkpoint.root)
        report.checkpoints += 1

    read_all(checkpoints, take)
    return found


def _parsed(text: str) -> Checkpoint | None:
    try:
        return parse(text)
    except CheckpointError:
        return None


def read_trusted(
    notes: Sequence[str], verifier: str, topic: str, ends: Mapping[int, int], report: VerifyReport
) -> dict[int, dict[int, Checkpoint]]:
    """The trusted checkpoints that verify and are of this ledger: {partition: {size:
    checkpoint}}. One signed by another key, of another ledger or partition, or at a size
    another trusted checkpoint gives a different root, is a problem."""
    found: dict[int, dict[int, Checkpoint]] = {}
    for text in notes:
        try:
            checkpoint = verify(text, verifier)
        except CheckpointError as exc:
            parsed = _parsed(text)
            where = (parsed.partition, parsed.size) if parsed else (WHOLE, WHOLE)
            report.problems.append(Disagreement(*where, f"the trusted checkpoint: {exc}"))
            continue
        name = _trusted_name(checkpoint)
        if checkpoint.origin != origin_of(topic, checkpoint.partition):
            report.problems.append(
                Disagreement(
                    WHOLE,
                    WHOLE,
                    f"{name} is not of this ledger, whose partitions are "
                    f"{origin_of(topic, 0).rsplit('/', 1)[0]}/<partition>",
                )
            )
            continue
        if checkpoint.partition not in ends:
            report.problems.append(
                Disagreement(
                    checkpoint.partition, checkpoint.size, f"{name} is of a partition the log lacks"
                )
            )
            continue
        sizes = found.setdefault(checkpoint.partition, {})
        held = sizes.setdefault(checkpoint.size, checkpoint)
        if held.root != checkpoint.root:
            report.problems.append(
                Disagreement(
                    checkpoint.partition,
                    checkpoint.size,
                    f"two trusted checkpoints at size {checkpoint.size} give different roots",
                )
            )
        elif held is checkpoint:
            report.trusted += 1
    return found


def _trusted_name(checkpoint: Checkpoint) -> str:
    return (
        f"the trusted checkpoint {checkpoint.origin} at size {checkpoint.size} "
        f"(root {b64(checkpoint.root)})"
    )


def verify_ledger(
    event_log: EventLog,
    checkpoints: EventLog,
    verifier: str,
    seal: SealViewStore | None = None,
    progress: Callable[[int], object] | None = None,
    *,
    trusted: Sequence[str] = (),
    grace: int | None = None,
    may_be_empty: bool = False,
) -> VerifyReport:
    """Recompute every partition's tree from the log; check the checkpoints, the seal and
    the trusted checkpoints (signed notes), and, given a grace, that no partition holds more
    than that many records after its latest signed checkpoint. An empty log is a problem
    unless it `may_be_empty` (the access log of a ledger nobody has read yet)."""
    report = VerifyReport()
    signed = read_checkpoints(checkpoints, verifier, event_log.topic, report)
    ends = event_log.end_offsets()
    report.partitions = len(ends)
    pinned = read_trusted(trusted, verifier, event_log.topic, ends, report)
    sealed = _SealedLeaves(seal)
    walks = {p: _Walk(p, signed.get(p, {}), sealed, pinned.get(p, {})) for p in ends}

    def take(record: LogRecord) -> None:
        walks[record.partition].take(record.offset, record.value)

    report.records = read_all(event_log, take, progress=progress)
    for p, walk in walks.items():
        walk.finish(seal.size(p) if seal is not None else 0)
        report.problems += walk.problems
    if seal is not None:
        report.problems += _unpublished(seal, signed)
    report.problems += _coverage(ends, signed, seal, grace)
    report.problems += _extensions(pinned, signed, seal)
    if not any(ends.values()) and not may_be_empty:
        report.problems.append(
            Disagreement(WHOLE, WHOLE, "nothing to verify: the log holds no records")
        )
    return report


def _coverage(
    ends: Mapping[int, int],
    signed: Mapping[int, Mapping[int, bytes]],
    seal: SealViewStore | None,
    grace: int | None,
) -> list[Disagreement]:
    """Records no signed checkpoint covers: a partition with records and no checkpoint, a
    seal shorter than the checkpoints, and (given a grace) more records after the latest
    checkpoint than the grace allows."""
    found = []
    for partition, records in ends.items():
        sizes = signed.get(partition, {})
        if not sizes:
            if records:
                found.append(
                    Disagreement(
                        partition,
                        0,
                        f"no signed checkpoint covers the partition's {records} records: the "
                        "checkpoints were removed, or the sealer has never run",
                    )
                )
            continue
        latest = max(sizes)
        held = seal.size(partition) if seal is not None else latest
        if held < latest:
            found.append(
                Disagreement(
                    partition,
                    held,
                    f"the seal holds {held} records, the signed checkpoints cover {latest}: "
                    "the seal was removed or cut short",
                )
            )
        if grace is not None and records - latest > grace:
            found.append(
                Disagreement(
                    partition,
                    latest,
                    f"{records - latest} records after the latest signed checkpoint (size "
                    f"{latest}) are unsigned, more than the {grace} allowed: the sealer is "
                    "behind or stopped, or checkpoints were removed",
                )
            )
    return found


def _extensions(
    pinned: Mapping[int, Mapping[int, Checkpoint]],
    signed: Mapping[int, Mapping[int, bytes]],
    seal: SealViewStore | None,
) -> list[Disagreement]:
    """Does each partition's latest signed checkpoint extend each trusted one? Proved with a
    consistency proof from the seal (RFC 9162 2.1.4), checked against both roots."""
    found = []
    for partition, trusted in pinned.items():
        sizes = signed.get(partition)
        if not sizes:
            continue  # no signed checkpoint at all: `_coverage` names it
        latest = max(sizes)
        for size, checkpoint in sorted(trusted.items()):
            name = _trusted_name(checkpoint)
            if latest < size:
                found.append(
                    Disagreement(
                        partition,
                        latest,
                        f"the latest signed checkpoint is at size {latest}, before {name}: "
                        "the checkpoints were rolled back",
                    )
                )
                continue
            if seal is None:
                continue
            try:
                proof = seal.consistency(partition, size, latest)
            except KeyError:
                found.append(
                    Disagreement(
                        partition,
                        size,
                        f"the seal cannot prove that the latest signed checkpoint (size "
                        f"{latest}) extends {name}: its tree lacks nodes",
                    )
                )
                continue
            if not verify_consistency(size, latest, proof, checkpoint.root, sizes[latest]):
                found.append(
                    Disagreement(
                        partition,
                        size,
                        f"the latest signed checkpoint (size {latest}) does not extend {name}: "
                        "the consistency proof fails",
                    )
                )
    return found


def _unpublished(seal: SealViewStore, signed: dict[int, dict[int, bytes]]) -> list[Disagreement]:
    """Checkpoints the sealer published that the checkpoints topic no longer holds, or holds
    with another root."""
    found = []
    for checkpoint in seal.checkpoints():
        if not checkpoint["published"]:
            continue
        partition, size = checkpoint["partition"], checkpoint["size"]
        root = signed.get(partition, {}).get(size)
        if root is None:
            what = f"the checkpoint at size {size} is missing from the checkpoints topic"
        elif root != checkpoint["root"]:
            what = f"the checkpoint at size {size} on the topic differs from the one sealed"
        else:
            continue
        found.append(Disagreement(partition, size, what))
    return found


class _Walk:
    """One partition's records in offset order against its checkpoints and seal."""

    def __init__(
        self,
        partition: int,
        signed: dict[int, bytes],
        sealed: _SealedLeaves,
        trusted: Mapping[int, Checkpoint],
    ) -> None:
        self.partition = partition
        self.signed = signed
        self.sealed = sealed
        self.trusted = trusted
        self.frontier = Frontier()
        self.last_good = 0
        self.last_trusted = 0
        self.problems: list[Disagreement] = []

    def take(self, offset: int, value: bytes | None) -> None:
        """The next record read from the partition; stops at the first disagreement."""
        if self.problems:
            return
        size = self.frontier.size
        if offset != size:
            self._found(size, f"missing from the log (the next record read is at offset {offset})")
            return
        leaf = record_leaf(value)
        stored = self.sealed.get(self.partition, offset)
        if stored is not None and stored != leaf:
            self._found(offset, "differs from the record as sealed")
            return
        self.frontier.append(leaf)
        pinned = self.trusted.get(size + 1)
        if pinned is not None:
            self._check_trusted(pinned)
            if self.problems:
                return
        root = self.signed.get(size + 1)
        if root is None:
            return
        if root != self.frontier.root():
            self._found(
                self.last_good,
                f"offsets {self.last_good} to {size} do not match the signed checkpoint at "
                f"size {size + 1}",
            )
        else:
            self.last_good = size + 1

    def _check_trusted(self, pinned: Checkpoint) -> None:
        """The tree just reached a trusted checkpoint's size: it must have its root."""
        root = self.frontier.root()
        if root != pinned.root:
            self._found(
                self.last_trusted,
                f"offsets {self.last_trusted} to {pinned.size - 1} do not give "
                f"{_trusted_name(pinned)}: they give root {b64(root)}; this history was "
                "rewritten after that checkpoint was taken",
            )
        else:
            self.last_trusted = pinned.size

    def finish(self, sealed_size: int) -> None:
        """After the last record: was more signed, sealed or trusted than the log now holds?"""
        if self.problems:
            return
        size = self.frontier.size
        claimed = max([sealed_size, *self.signed])
        if claimed > size:
            self._found(
                size, f"missing from the log: it ends at {size} records, {claimed} were sealed"
            )
        beyond = [c for s, c in sorted(self.trusted.items()) if s > size]
        if beyond:
            self._found(
                size,
                f"missing from the log: it ends at {size} records, before "
                f"{_trusted_name(beyond[-1])}; the log was rolled back",
            )

    def _found(self, offset: int, what: str) -> None:
        self.problems.append(Disagreement(self.partition, offset, what))


class _SealedLeaves:
    """The seal's leaf hashes, read a chunk at a time as the log is walked in order."""

    def __init__(self, seal: SealViewStore | None) -> None:
        self.seal = seal
        self._chunks: dict[int, tuple[int, list[bytes]]] = {}

    def get(self, partition: int, offset: int) -> bytes | None:
        """The leaf hash sealed for the record, or None if not sealed (or no seal)."""
        if self.seal is None:
            return None
        base = offset - offset % _CHUNK
        held = self._chunks.get(partition)
        if held is None or held[0] != base:
            held = (base, self.seal.leaves(partition, base, base + _CHUNK))
            self._chunks[partition] = held
        chunk = held[1]
        return chunk[offset - base] if offset - base < len(chunk) else None
