"""Rules for corrections and retractions at the door: the target exists, in the same case."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ledger.errors import Problem
from ledger.input_rules import field_problems
from ledger.log import PendingRecord, Receipt
from ledger.schemas import SchemaRegistry

AMENDMENT_TYPES = frozenset({"correction.recorded", "entry.retracted"})

Find = Callable[[str], Receipt | PendingRecord | None]


def amendment_problems(
    items: Sequence[tuple[int, dict[str, Any], PendingRecord]],
    find: Find,
    schemas: SchemaRegistry,
) -> list[Problem]:
    """Every broken amendment rule in a batch, by item index.

    A target may be an event already in the ledger (found by `find`: receipts, or an append
    still under way), or an earlier item of the same batch; never a later item.
    """
    earlier: dict[str, PendingRecord] = {}
    problems: list[Problem] = []
    for index, document, record in items:
        target_id = document.get("amends")
        if target_id is not None:
            target = earlier.get(target_id.lower()) or find(target_id.lower())
            problems += [
                Problem(p.pointer, p.rule, p.detail, index)
                for p in _check(document, target, schemas)
            ]
        earlier.setdefault(record.event_id, record)
    return problems


def _check(
    document: dict[str, Any], target: Receipt | PendingRecord | None, schemas: SchemaRegistry
) -> list[Problem]:
    if document["type"] not in AMENDMENT_TYPES:
        return [
            Problem(
                "/amends",
                "amendment-type",
                "only correction.recorded and entry.retracted may name `amends`",
            )
        ]
    if target is None:
        return [
            Problem(
                "/amends",
                "target-exists",
                f"no event {document['amends']} is in the ledger (yet); an amendment "
                "must follow its target, in an earlier request or earlier in the batch",
            )
        ]
    case_id = target.case_id if isinstance(target, Receipt) else target.key
    if case_id != document["case_id"]:
        return [Problem("/amends", "same-case", "the amended event belongs to another case")]
    if target.event_type in AMENDMENT_TYPES:
        return [
            Problem(
                "/amends",
                "amends-original",
                "amend the original event, not a correction or retraction of it",
            )
        ]
    if document["type"] == "correction.recorded" and target.event_type:
        corrected = document["payload"]["corrected_payload"]
        at = "/payload/corrected_payload"
        return schemas.payload_problems(
            target.event_type, target.schema_version, corrected, at
        ) or field_problems(
            corrected,
            [
                (path[1:], kind)
                for path, kind in schemas.typed_fields(target.event_type, target.schema_version)
                if path[:1] == ("payload",)
            ],
            at,
        )
    return []
