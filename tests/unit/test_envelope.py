"""Canonical bytes: UTC instants, lower-case ids, sorted keys, reproducible."""

from __future__ import annotations

import orjson

from ledger.envelope import canonical_bytes, canonicalise
from tests.factories import make_event


def test_canonical_form_normalises_instants_to_utc() -> None:
    """An instant with an offset is stored as the same instant in UTC with a Z."""
    event = make_event(occurred_at="2007-07-25T11:00:00+01:00")
    assert canonicalise(event)["occurred_at"] == "2007-07-25T10:00:00Z"


def test_canonical_form_lowercases_event_ids() -> None:
    """Upper- and lower-case spellings of a UUID are one idempotency key."""
    event = make_event()
    upper = dict(event, event_id=event["event_id"].upper())
    assert canonical_bytes(canonicalise(upper)) == canonical_bytes(canonicalise(event))


def test_canonical_bytes_do_not_depend_on_key_order() -> None:
    """The same event with keys in another order has the same bytes."""
    event = make_event()
    reordered = dict(reversed(list(event.items())))
    assert canonical_bytes(canonicalise(reordered)) == canonical_bytes(canonicalise(event))
    assert orjson.loads(canonical_bytes(event)) == event


def test_canonicalise_leaves_its_input_alone() -> None:
    """The caller's document is not changed."""
    event = make_event(occurred_at="2007-07-25T11:00:00+01:00")
    canonicalise(event)
    assert event["occurred_at"] == "2007-07-25T11:00:00+01:00"
