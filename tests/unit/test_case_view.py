"""The case view's in-memory cache of long cases' events follows every new event; the ids it
applied are found however many there are and whoever applied them."""

from __future__ import annotations

import sqlite3
import threading
from contextlib import closing
from pathlib import Path

import pytest
from eventsourcing.persistence import IntegrityError, Tracking
from eventsourcing.sqlite import SQLiteDatastore

from projections import applied_log, case_view
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


def test_ids_applied_through_one_handle_are_found_through_another(tmp_path: Path) -> None:
    """A second view on the same file (another process) finds what the first applied, and a
    repeat of it at another offset takes no effect there."""
    first = SQLiteCaseView.open(tmp_path / "v.sqlite")
    second = SQLiteCaseView.open(tmp_path / "v.sqlite")
    [event] = as_events([make_event("case.opened", new_case_id())])
    assert second.applied_digests([event.event_id]) == {}
    first.apply([event], [Tracking("t:0", 0)], {event.event_id: "d1"})
    assert second.applied_digests([event.event_id, "other"]) == {event.event_id: ("0:0", "d1")}
    assert second.apply([event._replace(offset=1)], [Tracking("t:0", 1)]) == 0
    assert second.applied_count() == 1
    first.close()
    second.close()


def test_the_applied_index_holds_across_merges_and_shared_hashes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Merged into the sorted index every few rows, read in pages by a view opened later, and
    with ids whose hashes are equal, each id is found exactly, and none that was not applied."""
    monkeypatch.setattr(applied_log, "MERGE_FROM", 3)
    monkeypatch.setattr(applied_log, "_PAGE", 4)
    monkeypatch.setattr(applied_log, "id_hash", lambda event_id: len(event_id) % 2)
    view = SQLiteCaseView.open(tmp_path / "v.sqlite")
    case_id = new_case_id()
    events = as_events([make_event("contact.recorded", case_id) for _ in range(9)])
    for start in range(0, 9, 2):
        batch = [
            e._replace(event_id=f"E{e.offset:0{e.offset + 1}d}") for e in events[start : start + 2]
        ]
        view.apply(batch, [Tracking("t:0", batch[-1].offset)])
    ids = [f"E{i:0{i + 1}d}" for i in range(9)]
    assert sorted(view.applied_digests([*ids, "E99", "missing"])) == sorted(ids)
    assert view.apply([events[0]._replace(event_id=ids[4], offset=20)], [Tracking("t:0", 20)]) == 0
    view.close()
    again = SQLiteCaseView.open(tmp_path / "v.sqlite")
    assert sorted(again.applied_digests([*ids, "E99"])) == sorted(ids), "read in pages when opened"
    again.close()


def test_a_rolled_back_batch_leaves_its_ids_unapplied(tmp_path: Path) -> None:
    """A batch at a position recorded already fails whole: its ids are applied later, once."""
    view = SQLiteCaseView.open(tmp_path / "v.sqlite")
    first, late = as_events([make_event("case.opened", new_case_id()) for _ in range(2)])
    view.apply([first], [Tracking("t:0", 0)])
    with pytest.raises(IntegrityError):
        view.apply([late], [Tracking("t:0", 0)])
    assert view.applied_digests([late.event_id]) == {}
    assert view.apply([late._replace(offset=1)], [Tracking("t:0", 1)]) == 1
    assert view.applied_count() == 2
    view.close()


def test_a_view_keyed_by_event_id_moves_its_ids_to_the_applied_log(tmp_path: Path) -> None:
    """A file from before the applied log (no digests kept, even) opens with every id found,
    its digest unknown, and the old table gone."""
    path = tmp_path / "v.sqlite"
    with closing(sqlite3.connect(path)) as old:
        old.execute(
            "CREATE TABLE case_state_applied (event_id TEXT PRIMARY KEY, position TEXT NOT NULL)"
            " WITHOUT ROWID"
        )
        old.executemany(
            "INSERT INTO case_state_applied VALUES (?, ?)", [("E-1", "0:0"), ("E-2", "0:1")]
        )
        old.commit()
    view = SQLiteCaseView.open(path)
    assert view.applied_digests(["E-1", "E-2", "E-3"]) == {
        "E-1": ("0:0", None),
        "E-2": ("0:1", None),
    }
    with view.transaction() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE name = 'case_state_applied'")
        assert cursor.fetchall() == []
    view.close()


def test_an_opened_view_syncs_at_checkpoints_only(tmp_path: Path) -> None:
    """Its connections take the view's settings (synchronous NORMAL is 1)."""
    view = SQLiteCaseView.open(tmp_path / "v.sqlite")
    with view.transaction() as cursor:
        cursor.execute("PRAGMA synchronous")
        assert cursor.fetchone()[0] == 1
    view.close()


def test_two_members_on_one_file_apply_an_event_once_whoever_looked_first(
    tmp_path: Path,
) -> None:
    """Both members look the batch up before either writes (the consumer's order: conflicts
    checked, then applied): the second to write finds the ids the first wrote meanwhile."""
    first = SQLiteCaseView.open(tmp_path / "v.sqlite")
    second = SQLiteCaseView.open(tmp_path / "v.sqlite")
    case_id = new_case_id()
    events = as_events([make_event("contact.recorded", case_id) for _ in range(4)])
    # The same events on another partition (the topic grew, their key moved).
    copies = [e._replace(partition=1) for e in events]
    ids = [e.event_id for e in events]
    before_first, before_second = first.applied_digests(ids), second.applied_digests(ids)
    assert before_first == before_second == {}
    assert first.apply(events, [Tracking("t:0", 3)], applied=set(before_first)) == 4
    assert second.apply(copies[1:], [Tracking("t:1", 3)], applied=set(before_second)) == 0
    assert first.applied_count() == 4
    assert first.heads()[case_id][0] == 4, "each event counted once in the case"
    first.close()
    second.close()


def test_two_members_on_one_file_writing_at_once_wait_for_each_other(tmp_path: Path) -> None:
    """Two members applying overlapping batches at once (under a second): none fails on the
    other's write lock, and each event takes effect once."""
    members = [SQLiteCaseView.open(tmp_path / "v.sqlite") for _ in range(2)]
    cases = [new_case_id() for _ in range(5)]
    events = as_events([make_event("contact.recorded", cases[i % 5]) for i in range(220)])
    start = threading.Barrier(2)
    taken = [0, 0]
    failures: list[BaseException] = []

    def run(member: int) -> None:
        view = members[member]
        start.wait()
        try:
            for step in range(20):
                batch = [e._replace(partition=member) for e in events[10 * step : 10 * step + 20]]
                before = view.applied_digests([e.event_id for e in batch])
                tracking = [Tracking(f"t:{member}", step)]
                taken[member] += view.apply(batch, tracking, applied=set(before))
        except BaseException as exc:  # handed to the test's thread
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(m,)) for m in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []
    assert sum(taken) == members[0].applied_count() == 210
    assert {c: h[0] for c, h in members[0].heads().items()} == dict.fromkeys(cases, 42)
    for view in members:
        view.close()
