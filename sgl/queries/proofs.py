"""Proof bundles from this ledger's log and seal, and its latest signed checkpoints."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from ledger.agency_rules import REGISTRY_CASE
from ledger.bundles import CONSISTENCY, INCLUSION, TRUSTED, b64
from ledger.merkle import sealed_bytes
from sgl.queries.common import Document
from sgl.queries.errors import NoProof
from sgl.queries.scope import Viewer, visible
from sgl.queries.stores import Stores


def record_at(stores: Stores, partition: int, offset: int) -> bytes:
    """The exact bytes of one record of the ledger topic, as sealed."""
    start = dict(stores.log.end_offsets())
    start[partition] = offset
    reader = stores.log.reader(start)
    try:
        for _ in range(50):
            for record in reader.poll(100, 0.5):
                if (record.partition, record.offset) == (partition, offset):
                    return sealed_bytes(record.value)
    finally:
        reader.close()
    raise NoProof(404, f"record {partition}:{offset} could not be read from the log")


def inclusion_proof(
    stores: Stores, event_id: str, size: int | None, viewer: Viewer | None = None
) -> Document:
    """Inclusion of the event's record in a checkpoint of its partition (default: latest);
    a viewer is answered only for a registry event or an event its agency knew (any other
    is, to it, an event the ledger does not hold: the bundle carries the whole record)."""
    receipt = stores.log.lookup([event_id]).get(event_id)
    unknown = NoProof(404, f"the ledger holds no event {event_id}")
    if receipt is None:
        raise unknown
    partition, offset = receipt.partition, receipt.offset
    if viewer is not None and not _knew(stores, viewer, record_at(stores, partition, offset)):
        raise unknown
    checkpoint = stores.seal.checkpoint(partition, size)
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
    proof = stores.seal.inclusion(partition, offset, checkpoint["size"])
    record = record_at(stores, partition, offset)
    return {
        "format": INCLUSION,
        "event_id": event_id,
        "partition": partition,
        "offset": offset,
        "tree_size": checkpoint["size"],
        "record": b64(record),
        "proof": [b64(h) for h in proof],
        "checkpoint": checkpoint["note"],
        "verifier_key": stores.verifier_key(),
    }


def _knew(stores: Stores, viewer: Viewer, record: bytes) -> bool:
    """Whether the record is a registry event, or an event of a case the viewer's agency knew
    by now (never, for a viewer who sees no case)."""
    try:
        event = orjson.loads(record)
        case_id, event_id = str(event["case_id"]), str(event["event_id"]).lower()
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return False  # not an event anyone can be said to have known
    if case_id == REGISTRY_CASE:
        return True
    if not viewer.cases:
        return False
    seen = visible(stores.view.events(case_id), viewer.agency, datetime.now(UTC), "recorded")
    return any(e.event_id == event_id for e in seen)


def consistency_proof(stores: Stores, partition: int, size1: int, size2: int) -> Document:
    """Consistency between two checkpoints of a partition."""
    first = stores.seal.checkpoint(partition, size1)
    second = stores.seal.checkpoint(partition, size2)
    missing = [s for s, c in ((size1, first), (size2, second)) if c is None]
    if missing or first is None or second is None:
        raise NoProof(404, f"partition {partition} has no checkpoint at size {missing[0]}")
    if size1 > size2:
        raise NoProof(422, f"`from` ({size1}) must not be after `to` ({size2})")
    proof = stores.seal.consistency(partition, size1, size2)
    return {
        "format": CONSISTENCY,
        "partition": partition,
        "from": size1,
        "to": size2,
        "proof": [b64(h) for h in proof],
        "from_checkpoint": first["note"],
        "to_checkpoint": second["note"],
        "verifier_key": stores.verifier_key(),
    }


def latest_checkpoints(stores: Stores) -> Document:
    """The latest checkpoint of each partition and the verifier key."""
    found = []
    for partition in stores.log.partitions():
        checkpoint = stores.seal.checkpoint(partition)
        if checkpoint is not None:
            found.append(
                {
                    "partition": partition,
                    "tree_size": checkpoint["size"],
                    "root": b64(checkpoint["root"]),
                    "checkpoint": checkpoint["note"],
                }
            )
    return {"verifier_key": stores.verifier_key(), "checkpoints": found}


def trusted_export(stores: Stores) -> Document:
    """The latest checkpoint of each partition that is on the checkpoints topic, with the
    verifier key, for an auditor to keep (`sgl verify --trusted`); NoProof before there is
    any."""
    found = []
    for partition in stores.log.partitions():
        published = [c for c in stores.seal.checkpoints(partition) if c["published"]]
        if published:
            latest = published[-1]
            found.append(
                {
                    "partition": partition,
                    "tree_size": latest["size"],
                    "root": b64(latest["root"]),
                    "checkpoint": latest["note"],
                }
            )
    if not found:
        raise NoProof(404, "no checkpoint has been published yet: run the sealer first")
    return {
        "format": TRUSTED,
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "verifier_key": stores.verifier_key(),
        "checkpoints": found,
    }
