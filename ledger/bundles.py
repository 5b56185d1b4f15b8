"""Proof bundles: everything needed to check, offline, that a record is in the ledger as
sealed (inclusion) or that one checkpoint's tree is a prefix of another's (consistency); and
the trusted checkpoints an auditor exports and keeps (`sgl checkpoints export`).

A bundle is JSON. Hashes and the record are base64 (the record as the seal hashed it,
`ledger.merkle.sealed_bytes`); the checkpoints are signed notes (see
`ledger/checkpoint.py`). Checking needs the bundle and the ledger's verifier key, nothing
else: no Kafka, no database, no trust in the server that produced the bundle.
"""

from __future__ import annotations

import base64
from typing import Any

import orjson

from ledger.checkpoint import CheckpointError, parse, verify
from ledger.merkle import leaf_hash, verify_consistency, verify_inclusion

INCLUSION = "sgl-inclusion-proof/1"
CONSISTENCY = "sgl-consistency-proof/1"
TRUSTED = "sgl-trusted-checkpoints/1"


def b64(data: bytes) -> str:
    """Standard base64 text."""
    return base64.b64encode(data).decode()


def _unb64(text: Any) -> bytes:
    if not isinstance(text, str):
        raise ValueError("not base64 text")
    return base64.b64decode(text, validate=True)


def check_bundle(bundle: Any, verifier: str, origin: str | None = None) -> list[str]:
    """What is wrong with the bundle, checked against the verifier key (and, if given, the
    origin its checkpoints must name: one key may sign more than one ledger); empty when it
    holds."""
    if not isinstance(bundle, dict):
        return ["a proof bundle is a JSON object"]
    kind = bundle.get("format")
    check = {INCLUSION: _inclusion, CONSISTENCY: _consistency}.get(str(kind))
    if check is None:
        return [f"unknown format {kind!r}: expected {INCLUSION} or {CONSISTENCY}"]
    try:
        return _origin(bundle, verifier, origin) or check(bundle, verifier)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        return [f"malformed bundle: {exc!r}"]
    except CheckpointError as exc:
        return [str(exc)]


def _origin(bundle: dict[str, Any], verifier: str, origin: str | None) -> list[str]:
    if origin is None:
        return []
    notes = [bundle[k] for k in ("checkpoint", "from_checkpoint", "to_checkpoint") if k in bundle]
    named = {verify(note, verifier).origin for note in notes}
    wrong = sorted(named - {origin})
    return [f"the checkpoint is of {w}, not {origin}" for w in wrong]


def _inclusion(bundle: dict[str, Any], verifier: str) -> list[str]:
    checkpoint = verify(bundle["checkpoint"], verifier)
    problems = []
    record = _unb64(bundle["record"])
    index, size = int(bundle["offset"]), int(bundle["tree_size"])
    if (checkpoint.partition, checkpoint.size) != (int(bundle["partition"]), size):
        problems.append(
            f"the checkpoint is for partition {checkpoint.partition} at size "
            f"{checkpoint.size}, not partition {bundle['partition']} at {size}"
        )
    event = orjson.loads(record)
    # An event names itself by event_id; an access record (of the access log) by access_id.
    named = (event.get("event_id"), event.get("access_id")) if isinstance(event, dict) else ()
    if bundle["event_id"] not in named:
        problems.append(f"the record is not event {bundle['event_id']}")
    proof = [_unb64(h) for h in bundle["proof"]]
    if not verify_inclusion(leaf_hash(record), index, size, proof, checkpoint.root):
        problems.append(
            f"the record is not at offset {index} of the tree the checkpoint signs (size {size})"
        )
    return problems


def _consistency(bundle: dict[str, Any], verifier: str) -> list[str]:
    first = verify(bundle["from_checkpoint"], verifier)
    second = verify(bundle["to_checkpoint"], verifier)
    if first.origin != second.origin:
        return [f"the checkpoints are of two trees: {first.origin} and {second.origin}"]
    proof = [_unb64(h) for h in bundle["proof"]]
    if not verify_consistency(first.size, second.size, proof, first.root, second.root):
        return [f"the tree at size {first.size} is not a prefix of the tree at size {second.size}"]
    return []


def trusted_checkpoints(data: bytes) -> tuple[str | None, list[str]]:
    """The verifier key (None if it names none) and the signed checkpoints of a trusted
    checkpoints file: the JSON `sgl checkpoints export` writes (or `sgl checkpoints latest`
    prints), or one signed note as text. ValueError says what is wrong with it; the
    signatures are checked by whoever uses them."""
    text = data.decode("utf-8", errors="strict").strip()
    if not text.startswith(("{", "[")):
        try:
            parse(text + "\n")
        except CheckpointError as exc:
            raise ValueError(f"neither JSON nor a signed checkpoint: {exc}") from None
        return None, [text + "\n"]
    try:
        document = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise ValueError(f"expected a JSON object of format {TRUSTED}")
    kind = document.get("format", TRUSTED)
    if kind != TRUSTED:
        raise ValueError(f"format {kind!r}: expected a JSON object of format {TRUSTED}")
    items, vkey = document.get("checkpoints"), document.get("verifier_key")
    if not isinstance(items, list) or not items:
        raise ValueError('no checkpoints: expected a non-empty "checkpoints" list')
    notes = [item.get("checkpoint") if isinstance(item, dict) else None for item in items]
    if not all(isinstance(note, str) for note in notes):
        raise ValueError('every item of "checkpoints" needs a "checkpoint" (a signed note)')
    if vkey is not None and not isinstance(vkey, str):
        raise ValueError('"verifier_key" must be text')
    return vkey, [str(note) for note in notes]
