"""The case view's in-memory cache of long cases' events follows every new event."""

from __future__ import annotations

from pathlib import Path

import pytest
from eventsourcing.persistence import Tracking
from eventsourcing.sqlite import SQLiteDatastore

from projections import case_view
from projections.case_view import SQLiteCaseView
from tests.factories import as_events, make_event, new_case_id


def test_cached_events_are_used_again_only_while_the_case_is_unchanged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same count, same list (not read again); one more event, and it is there."""
    monkeypatch.setattr(case_view, "CACHE_FROM", 3)
    monkeypatch.setattr(case_view, "CACHE_EVENTS", 8)
    view = SQLiteCaseView(SQLiteDatastore(str(tmp_path / "v.sqlite")))
    view.create_table()
    long, other = new_case_id(), new_case_id()
    documents = [make_event("contact.recorded", long) for _ in range(5)]
    documents += [make_event("contact.recorded", other) for _ in range(4)]
    documents.append(make_event("contact.recorded", long))
    events = as_events(documents)
    view.apply(events[:5], [Tracking("t", 4)])
    first = view.events(long)
    assert first == events[:5] and long in view._cache
    reads = []
    original = view._events
    monkeypatch.setattr(view, "_events", lambda c, i: reads.append(i) or original(c, i))
    assert view.events(long) == first and reads == [], "served from memory"
    view.apply(events[5:9], [Tracking("t", 8)])
    assert view.events(other) == events[5:9] and reads == [other]
    assert long not in view._cache, "over 8 cached events: the least recently used goes"
    view.apply(events[9:], [Tracking("t", 9)])
    assert view.events(long) == [*events[:5], events[9]]
    assert view.events(new_case_id()) == []
    view.datastore.close()
