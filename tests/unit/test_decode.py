"""Decoding a record read from the log: whatever a producer wrote, an Event or InvalidRecord
with a reason, never another error."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ledger.decode import REASONS, decode_record
from ledger.envelope import canonical_bytes, canonicalise, parse_instant
from ledger.errors import InvalidRecord
from ledger.log import LogRecord
from ledger.schemas import SchemaRegistry
from tests.factories import make_event

SCHEMAS = SchemaRegistry()
EVENT = make_event("contact.recorded")
KEY = EVENT["case_id"].encode()
VALUE = canonical_bytes(canonicalise(EVENT))
# A contact in its newest version, and a moment later than any the ledger accepts.
V3_PAYLOAD = {"contact_type": "home_visit", "child_seen": "yes", "seen_alone": "no"}
AFTER_ALL = datetime(2199, 1, 1, tzinfo=UTC)


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


def test_every_field_of_the_document_reaches_its_event() -> None:
    document = make_event(
        "contact.recorded",
        schema_version=3,
        payload=V3_PAYLOAD,
        causation_id="0b0f3c52-6f1e-4c2a-9a55-3f6f0c1d2e03",
        correlation_id="0b0f3c52-6f1e-4c2a-9a55-3f6f0c1d2e04",
        occurred_precision="range",
        occurred_range={"not_before": "2007-01-03T00:00:00Z", "not_after": "2007-01-09T00:00:00Z"},
        occurred_approximate=True,
        recorded_at="2007-01-10T00:00:00Z",
    )
    del document["occurred_at"]
    appended = datetime(2026, 1, 1, tzinfo=UTC)
    event = decode_record(record(canonical_bytes(document), document["case_id"].encode()), SCHEMAS)
    named = ("event_id", "type", "schema_version", "case_id", "agency", "recorded_by")
    more = ("recorded_at", "payload", "causation_id", "correlation_id", "occurred_range")
    assert event._asdict() == {
        **{name: document[name] for name in (*named, *more)},
        "recorded_version": 0,
        "occurred_at": "2007-01-03T00:00:00Z",
        "occurred_precision": "range",
        "occurred_approximate": True,
        "occurred_part_of_day": None,
        "occurred_accounts": (),
        "amends": None,
        "partition": 1,
        "offset": 7,
        "appended_at": appended,
    }


@pytest.mark.parametrize("version", [b"true", b"1.0"])
def test_a_version_that_only_equals_a_known_one_is_unknown(version: bytes) -> None:
    value = VALUE.replace(b'"schema_version":1', b'"schema_version":' + version)
    assert value != VALUE
    with pytest.raises(InvalidRecord) as caught:
        decode_record(record(value), SCHEMAS)
    assert caught.value.reason == "unknown-version"


@pytest.mark.parametrize(
    "dates",
    [
        {"occurred_at": "2006-12-14T11:00:00Z", "recorded_at": "2006-12-18T09:15:00Z"},
        {"occurred_at": "2006-12-18T09:15:01Z", "recorded_at": "2006-12-18T09:15:00Z"},
        {"occurred_at": "2006-12-18T10:15:01+01:00", "recorded_at": "2006-12-18T09:15:00Z"},
        {"occurred_at": "2006-12-18T09:15:00.5Z", "recorded_at": "2006-12-18T09:15:00Z"},
        {"occurred_precision": "undated", "recorded_at": "2006-12-18T09:15:00Z"},
        {
            "occurred_precision": "undated",
            "occurred_approximate": True,
            "recorded_at": "2006-12-18T09:15:00Z",
        },
        {
            "occurred_precision": "range",
            "occurred_range": {"not_before": "2007-01-09T00:00:00Z"},
            "recorded_at": "2007-01-03T00:00:00Z",
        },
    ],
)
def test_the_time_rules_of_canonical_instants_agree_with_the_full_rules(
    dates: dict[str, object],
) -> None:
    """Whole-second UTC texts are compared as text (without a clock); the answer is the one
    the full rules give (with a clock far enough ahead to add nothing)."""
    base = make_event("contact.recorded", schema_version=3, payload=V3_PAYLOAD)
    document = {k: v for k, v in base.items() if k != "occurred_at"} | dates
    quick = SCHEMAS.problems(document)
    assert quick == SCHEMAS.problems(document, now=AFTER_ALL)
    early = "occurred_at" in dates and parse_instant(str(dates["recorded_at"])) < parse_instant(
        str(dates["occurred_at"])
    )
    assert ("recorded-after-occurred" in [p.rule for p in quick]) == (
        early or "occurred_range" in dates
    )


def test_an_old_version_decodes_upcast_naming_the_version_it_was_recorded_in() -> None:
    event = decode_record(record(VALUE), SCHEMAS)
    assert (event.schema_version, event.recorded_version) == (3, 1)
    assert event.payload["child_seen"] == ("yes" if EVENT["payload"]["child_seen"] else "no")
