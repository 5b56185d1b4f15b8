"""Turn a record read from the log back into an Event, or say exactly why it is not one."""

from __future__ import annotations

import orjson

from ledger.envelope import Event, event_from_document
from ledger.errors import InvalidRecord
from ledger.log import LogRecord
from ledger.schemas import SchemaRegistry
from ledger.upcasting import upcast_payload

_REASONS = {"known-type": "unknown-type", "known-version": "unknown-version"}


def decode_record(record: LogRecord, schemas: SchemaRegistry) -> Event:
    """The record's event; InvalidRecord (reason, detail) when it is not a valid one."""
    try:
        document = orjson.loads(record.value)
    except orjson.JSONDecodeError as exc:
        raise InvalidRecord("not-json", f"the record is not JSON: {exc}") from None
    problems = schemas.problems(document)
    if problems:
        first = problems[0]
        reason = _REASONS.get(first.rule, "schema")
        detail = "; ".join(f"{p.pointer or '/'} {p.rule}: {p.detail}" for p in problems[:10])
        raise InvalidRecord(reason, detail)
    if record.key is not None and record.key != document["case_id"].encode():
        raise InvalidRecord("key-mismatch", "the record key is not the event's case_id")
    latest = schemas.latest(document["type"])
    recorded = document["schema_version"]
    if recorded < latest:
        document = {
            **document,
            "schema_version": latest,
            "payload": upcast_payload(document["type"], recorded, latest, document["payload"]),
        }
    try:
        event = event_from_document(document, record.partition, record.offset, record.appended_at)
        if recorded < latest:
            event = event._replace(recorded_version=recorded)
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidRecord("undecodable", f"{type(exc).__name__}: {exc}") from None
    return event
