"""Turn a record read from the log back into an Event, or say exactly why it is not one.

The record is looked at from the outside in, each check cheap and none recursive before the
depth is known: a value at all, a key, a size, a nesting depth, then UTF-8 JSON, the schema,
the key against the case_id. Whatever a producer wrote, the answer is an Event or
InvalidRecord with a reason (`REASONS`), never another error.
"""

from __future__ import annotations

from ledger.envelope import Event, event_from_document
from ledger.errors import InvalidRecord
from ledger.limits import MAX_DEPTH, MAX_RECORD_BYTES, JSONRefused, loads_strict
from ledger.log import LogRecord
from ledger.schemas import SchemaRegistry
from ledger.upcasting import upcast_payload

REASONS = {
    "null-value": "the record has no value (a tombstone)",
    "no-key": "the record has no key (the ledger keys every record by its case_id)",
    "too-large": "the value is larger than SGL_MAX_RECORD_BYTES",
    "too-deep": f"the value nests arrays and objects more than {MAX_DEPTH} levels deep",
    "not-utf8": "the value is not UTF-8",
    "not-json": "the value is not JSON",
    "duplicate-key": "an object in the value holds a key twice (which one counts is a guess)",
    "schema": "the value breaks the envelope's or its type's schema",
    "unknown-type": "the event type is not in the schema registry",
    "unknown-version": "the type has no schema of that version",
    "key-mismatch": "the record's key is not the event's case_id",
    "undecodable": "the event could not be built from a valid-looking value",
}
_RULES = {"known-type": "unknown-type", "known-version": "unknown-version"}
_REFUSED = {
    "max-depth": "too-deep",
    "utf-8": "not-utf8",
    "json": "not-json",
    "duplicate-key": "duplicate-key",
}


def decode_record(
    record: LogRecord, schemas: SchemaRegistry, max_bytes: int = MAX_RECORD_BYTES
) -> Event:
    """The record's event; InvalidRecord (reason, detail) when it is not a valid one."""
    value = record.value
    if value is None:
        raise InvalidRecord("null-value", REASONS["null-value"])
    if record.key is None:
        raise InvalidRecord("no-key", REASONS["no-key"])
    if len(value) > max_bytes:
        raise InvalidRecord("too-large", f"{len(value)} bytes; the limit is {max_bytes}")
    try:
        document = loads_strict(value, MAX_DEPTH)
    except JSONRefused as exc:
        raise InvalidRecord(_REFUSED[exc.rule], exc.detail) from None
    problems = schemas.problems(document)
    if problems:
        first = problems[0]
        reason = _RULES.get(first.rule, "schema")
        detail = "; ".join(f"{p.pointer or '/'} {p.rule}: {p.detail}" for p in problems[:10])
        raise InvalidRecord(reason, detail)
    if record.key != document["case_id"].encode():
        raise InvalidRecord("key-mismatch", "the record key is not the event's case_id")
    kind = document["type"]
    recorded = document["schema_version"]
    latest = schemas.latest(kind)
    try:
        if recorded < latest:
            upcast = upcast_payload(kind, recorded, latest, document["payload"])
            document = {**document, "schema_version": latest, "payload": upcast}
            return event_from_document(
                document, record.partition, record.offset, record.appended_at, recorded
            )
        return event_from_document(document, record.partition, record.offset, record.appended_at)
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidRecord("undecodable", f"{type(exc).__name__}: {exc}") from None
