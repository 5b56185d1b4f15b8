"""Proof bundles from this ledger's log and seal (the API and `sgl proof get` use them)."""

from __future__ import annotations

from typing import Any

from ledger.bundles import CONSISTENCY, INCLUSION, b64
from ledger.errors import LedgerError
from sgl.bootstrap import Container


class NoProof(LedgerError):
    """The proof asked for cannot be made; `status` is the HTTP status that says why."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def record_at(container: Container, partition: int, offset: int) -> bytes:
    """The exact bytes of one record of the ledger topic."""
    start = dict(container.log.end_offsets())
    start[partition] = offset
    reader = container.log.reader(start)
    try:
        for _ in range(50):
            for record in reader.poll(100, 0.5):
                if (record.partition, record.offset) == (partition, offset):
                    return record.value
    finally:
        reader.close()
    raise NoProof(404, f"record {partition}:{offset} could not be read from the log")


def inclusion_bundle(container: Container, event_id: str, size: int | None) -> dict[str, Any]:
    """Inclusion of the event's record in a checkpoint of its partition (default: latest)."""
    receipt = container.log.lookup([event_id]).get(event_id)
    if receipt is None:
        raise NoProof(404, f"the ledger holds no event {event_id}")
    partition, offset = receipt.partition, receipt.offset
    checkpoint = container.seal.checkpoint(partition, size)
    if checkpoint is None:
        which = "no checkpoint yet" if size is None else f"no checkpoint at size {size}"
        raise NoProof(404, f"partition {partition} has {which}")
    if offset >= checkpoint["size"] and size is not None:
        raise NoProof(
            404,
            f"offset {offset} is not in the checkpoint at size {size}: it was appended later",
        )
    if offset >= checkpoint["size"]:
        raise NoProof(
            409,
            f"offset {offset} is not in a checkpoint yet (the latest covers "
            f"{checkpoint['size']} records): ask again after the next one",
        )
    proof = container.seal.inclusion(partition, offset, checkpoint["size"])
    record = record_at(container, partition, offset)
    return {
        "format": INCLUSION,
        "event_id": event_id,
        "partition": partition,
        "offset": offset,
        "tree_size": checkpoint["size"],
        "record": b64(record),
        "proof": [b64(h) for h in proof],
        "checkpoint": checkpoint["note"],
        "verifier_key": container.verifier_key(),
    }


def consistency_bundle(
    container: Container, partition: int, size1: int, size2: int
) -> dict[str, Any]:
    """Consistency between two checkpoints of a partition."""
    first = container.seal.checkpoint(partition, size1)
    second = container.seal.checkpoint(partition, size2)
    missing = [s for s, c in ((size1, first), (size2, second)) if c is None]
    if missing or first is None or second is None:
        raise NoProof(404, f"partition {partition} has no checkpoint at size {missing[0]}")
    if size1 > size2:
        raise NoProof(422, f"`from` ({size1}) must not be after `to` ({size2})")
    proof = container.seal.consistency(partition, size1, size2)
    return {
        "format": CONSISTENCY,
        "partition": partition,
        "from": size1,
        "to": size2,
        "proof": [b64(h) for h in proof],
        "from_checkpoint": first["note"],
        "to_checkpoint": second["note"],
        "verifier_key": container.verifier_key(),
    }


def latest_checkpoints(container: Container) -> dict[str, Any]:
    """The latest checkpoint of each partition and the verifier key."""
    found = []
    for partition in container.log.partitions():
        checkpoint = container.seal.checkpoint(partition)
        if checkpoint is not None:
            found.append(
                {
                    "partition": partition,
                    "tree_size": checkpoint["size"],
                    "root": b64(checkpoint["root"]),
                    "checkpoint": checkpoint["note"],
                }
            )
    return {"verifier_key": container.verifier_key(), "checkpoints": found}
