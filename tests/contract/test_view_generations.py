"""A view's generations on both databases: a rebuild writes beside the live one, promotion
moves every reader to it, the one replaced stays for reads under way, older ones go, and one
rebuild runs at a time."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import Tracking

from ledger.postgres import PostgresLocation
from projections.tracking import TrackedStore, tracking_name
from projections.view_files import (
    Generations,
    PostgresGenerations,
    RebuildInProgress,
    ViewFiles,
    ViewHandle,
)
from tests.conftest import wait_for
from tests.contract.test_tracked_store import PostgresTallies, SQLiteTallies

TOPIC = "sgl.test.generations"


@dataclass
class Side:
    """One database's generations of the `tallies` view, and how to open a generation."""

    files: Generations[Any]
    opener: Callable[[Any], TrackedStore]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def side(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Side]:
    if request.param == "sqlite":
        yield Side(
            ViewFiles(tmp_path, "tallies"),
            lambda path: SQLiteTallies.open(path, name="tallies"),
        )
        return
    location: PostgresLocation = request.getfixturevalue("postgres")
    files = PostgresGenerations(location, "tallies")
    yield Side(files, lambda at: PostgresTallies.open(at, name="tallies"))
    files.close()


def fill(store: TrackedStore, key: str) -> None:
    with store.transaction(commit=True) as cursor:
        cursor.execute(
            f'INSERT INTO {store.name}_tallies (key, "offset", body) VALUES (?, 1, ?)',
            (key, b""),
        )
        store.track(cursor, [Tracking(tracking_name(store.name, TOPIC, 0), 1)])


def keys(store: TrackedStore) -> list[str]:
    with store.transaction() as cursor:
        cursor.execute(f"SELECT key FROM {store.name}_tallies ORDER BY key")
        return [row[0] for row in cursor.fetchall()]


def rebuilt_generation(side: Side) -> Any:
    """A new generation holding the key `rebuilt`, made and closed, not yet promoted."""
    generation = side.files.new_generation()
    rebuilt = side.opener(generation)
    fill(rebuilt, "rebuilt")
    rebuilt.close()
    return generation


def test_a_promoted_generation_is_what_every_handle_reads_next(side: Side) -> None:
    handle = ViewHandle(side.files, side.opener)
    try:
        fill(handle.current(), "live")
        generation = rebuilt_generation(side)
        assert keys(handle.current()) == ["live"]
        side.files.promote(generation)
        # A second process's handle opens the promoted generation at once.
        other = ViewHandle(side.files, side.opener)
        assert keys(other.current()) == ["rebuilt"]
        other.close()
        # This one moves on its next access (at most POINTER_SECONDS later in PostgreSQL).
        wait_for(lambda: keys(handle.current()) == ["rebuilt"], timeout=5, what="the swap")
        assert handle.current().positions(TOPIC, [0]) == {0: 1}
        assert side.files.label(generation) in side.files.label(side.files.current())
    finally:
        handle.close()


def test_only_the_current_and_the_previous_generation_are_kept(side: Side) -> None:
    first = side.opener(side.files.current())
    fill(first, "first")
    first.close()
    made = []
    for key in ("second", "third"):
        generation = side.files.new_generation()
        store = side.opener(generation)
        fill(store, key)
        store.close()
        side.files.promote(generation)
        made.append(generation)
    # The first generation is gone: opened again it is empty.
    assert side.files.label(side.files.current()) == side.files.label(made[1])
    again = side.opener(side.files.current())
    assert keys(again) == ["third"]
    again.close()
    previous = side.opener(made[0])
    assert keys(previous) == ["second"]
    previous.close()


def test_a_discarded_generation_leaves_nothing(side: Side) -> None:
    generation = side.files.new_generation()
    store = side.opener(generation)
    fill(store, "partial")
    store.close()
    side.files.discard(generation)
    reopened = side.opener(generation)
    assert keys(reopened) == []
    reopened.close()


def test_a_second_rebuild_at_the_same_time_is_refused(side: Side) -> None:
    with (
        side.files.rebuild_lock(),
        pytest.raises(RebuildInProgress, match="tallies"),
        side.files.rebuild_lock(),
    ):
        pass
    with side.files.rebuild_lock():
        pass


def test_a_promoted_generation_that_cannot_be_opened_leaves_the_live_one_serving(
    side: Side,
) -> None:
    failing = [True]

    def opener(at: Any) -> TrackedStore:
        if failing[0] and side.files.label(at) != side.files.label(first):
            raise ConnectionError("the database is away")
        return side.opener(at)

    first = side.files.current()
    handle = ViewHandle(side.files, opener)
    try:
        fill(handle.current(), "live")
        generation = rebuilt_generation(side)
        side.files.promote(generation)

        def refused() -> bool:
            try:
                handle.current()
            except ConnectionError:
                return True
            return False

        wait_for(refused, timeout=5, what="the swap to be tried")
        with pytest.raises(ConnectionError):
            handle.current()
        # The live generation was not closed by the failed swaps: it still answers.
        assert keys(handle._view) == ["live"]
        failing[0] = False
        assert keys(handle.current()) == ["rebuilt"]
    finally:
        handle.close()
