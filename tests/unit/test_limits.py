"""JSON limits on the bytes: nesting depth without parsing, duplicate keys, UTF-8."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.limits import MAX_DEPTH, JSONRefused, in_range, loads_strict, nesting_depth
from ledger.schemas import SchemaRegistry

TEXT = st.text(alphabet=st.sampled_from('ab[]{}"\\:,é\u2028'), max_size=8)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=30,
)


def depth_of(value: Any) -> int:
    """The nesting depth by recursion over the parsed value (the reference)."""
    if isinstance(value, list):
        return 1 + max((depth_of(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((depth_of(v) for v in value.values()), default=0)
    return 0


@given(JSON_VALUES)
def test_the_depth_on_the_bytes_is_the_depth_of_the_value(value: Any) -> None:
    """Brackets, quotes and backslashes in strings and keys never count, written either way."""
    assert nesting_depth(orjson.dumps(value)) == depth_of(value)
    assert nesting_depth(json.dumps(value, indent=1).encode()) == depth_of(value)


def test_counting_stops_past_the_limit_and_unclosed_openers_count() -> None:
    """A deep text costs at most limit + 1 passes; an unclosed one is as deep as its openers."""
    assert nesting_depth(b"[" * 100_000 + b"]" * 100_000) == MAX_DEPTH + 1
    assert nesting_depth(b"[" * 5000) == 5000
    assert nesting_depth(b'["]]]]"]') == 1


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 255, 1023, 1025])
def test_loads_strict_refuses_deep_text_before_parsing(depth: int) -> None:
    """Past the limit: max-depth, whatever the parser's own limit is."""
    with pytest.raises(JSONRefused) as refused:
        loads_strict(b'{"a":' * depth + b"1" + b"}" * depth)
    assert refused.value.rule == "max-depth"
    assert loads_strict(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH) is not None


@pytest.mark.parametrize(
    "text",
    [
        b'{"a":1,"a":2}',
        b'{"a": 1, "a": 1}',
        b'[{"x":{"b":[{"c":1,"c":1}]}}]',
        b'{"k\\u0065y":1,"key":2}',
    ],
)
def test_a_key_given_twice_is_refused_however_written(text: bytes) -> None:
    """Compact or spaced, nested, or spelt with an escape: duplicate-key."""
    with pytest.raises(JSONRefused) as refused:
        loads_strict(text)
    assert refused.value.rule == "duplicate-key"


def test_the_same_key_in_different_objects_is_not_a_duplicate() -> None:
    """Siblings and nested objects may reuse a name."""
    assert loads_strict(b'{"a": {"a": 1}, "b": [{"a": 1}, {"a": 2}]}') == {
        "a": {"a": 1},
        "b": [{"a": 1}, {"a": 2}],
    }


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        (b'"\xff"', "utf-8"),
        (b'"\xc0\xaf"', "utf-8"),
        (b'"\xed\xa0\x80"', "utf-8"),
        (b"\xef\xbb\xbf{}", "json"),
        (b"", "json"),
        (b"NaN", "json"),
        (b"1e400", "json"),
    ],
)
def test_text_that_is_not_utf_8_json_names_why(text: bytes, rule: str) -> None:
    """Not UTF-8 is told apart from not JSON."""
    with pytest.raises(JSONRefused) as refused:
        loads_strict(text)
    assert refused.value.rule == rule


def test_the_date_range_is_half_open() -> None:
    """From 1900-01-01 (included) until 2200-01-01 (excluded)."""
    assert in_range(date(1900, 1, 1))
    assert not in_range(date(1899, 12, 31))
    assert in_range(datetime(2199, 12, 31, 23, 59, tzinfo=UTC))
    assert not in_range(date(2200, 1, 1))


def test_typed_fields_follow_references_into_the_envelope() -> None:
    """Every UUID, date, date-time and integer field of a schema is found, arrays included."""
    fields = dict(SchemaRegistry().typed_fields("alert.raised", 1))
    assert fields[("event_id",)] == "uuid"
    assert fields[("payload", "evidence", "*")] == "uuid"
    assert fields[("occurred_at",)] == "date-time"
    assert fields[("schema_version",)] == "integer"
