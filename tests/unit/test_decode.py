"""Decoding a record read from the log: whatever a producer wrote, an Event or InvalidRecord
with a reason, never another error."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ledger.decode import REASONS, decode_record
from ledger.envelope import canonical_bytes, canonicalise
from ledger.errors import InvalidRecord
from ledger.log import LogRecord
from ledger.schemas import SchemaRegistry
from tests.factories import make_event

SCHEMAS = SchemaRegistry()
EVENT = make_event("contact.recorded")
KEY = EVENT["case_id"].encode()
VALUE = canonical_bytes(canonicalise(EVENT))


def record(value: bytes | None, key: bytes | None = KEY) -> LogRecord:
    return LogRecord("t", 1, 7, datetime(2026, 1, 1, tzinfo=UTC), key, value)


def noted(note: bytes) -> bytes:
    marked = {**EVENT, "payload": {**EVENT["payload"], "note": "NOTE"}}
    return canonical_bytes(canonicalise(marked)).replace(b'"NOTE"', note)


@pytest.mark.parametrize(
    ("poison", "reason"),
    [
        (record(None), "null-value"),
        (record(None, key=None), "null-value"),
        (record(VALUE, key=None), "no-key"),
        (record(noted(b"[" * 255 + b"]" * 255)), "too-deep"),
        (record(noted(b"[" * 2000 + b"]" * 2000)), "too-deep"),
        (record(noted(b'"\xff\xfe"')), "not-utf8"),
        (record(b"\xff"), "not-utf8"),
        (record(b"{not json"), "not-json"),
        (record(b"null"), "schema"),
        (record(VALUE.replace(b"{", b'{"case_id":"CASE-OTHER",', 1)), "duplicate-key"),
        (record(b"[]"), "schema"),
        (record(VALUE, key=b"\xff\xfe"), "key-mismatch"),
    ],
)
def test_each_kind_of_poison_has_its_reason(poison: LogRecord, reason: str) -> None:
    with pytest.raises(InvalidRecord) as caught:
        decode_record(poison, SCHEMAS)
    assert caught.value.reason == reason and reason in REASONS


def test_a_value_over_the_limit_is_refused_unread() -> None:
    with pytest.raises(InvalidRecord) as caught:
        decode_record(record(VALUE), SCHEMAS, max_bytes=len(VALUE) - 1)
    assert caught.value.reason == "too-large"
    assert caught.value.detail == f"{len(VALUE)} bytes; the limit is {len(VALUE) - 1}"
    assert decode_record(record(VALUE), SCHEMAS, max_bytes=len(VALUE)).event_id == EVENT["event_id"]


def test_a_valid_record_decodes_with_its_place() -> None:
    event = decode_record(record(VALUE), SCHEMAS)
    assert (event.event_id, event.case_id, event.position) == (
        EVENT["event_id"],
        EVENT["case_id"],
        "1:7",
    )
