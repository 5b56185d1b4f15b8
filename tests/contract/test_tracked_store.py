"""The base every view store stands on, on both databases: one store's SQL, written once, runs
in SQLite and in PostgreSQL; positions commit with the rows they cover, once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from eventsourcing.persistence import IntegrityError, Tracking

from ledger.postgres import PostgresLocation
from projections.tracking import (
    PostgresTrackedStore,
    SQLiteTrackedStore,
    TrackedStore,
    postgres_sql,
    tracking_name,
)
from projections.view_files import PostgresGenerations

TOPIC = "sgl.test.base"


class _Tallies:
    """A store of counts per key: the smallest thing a view writes."""

    name: str

    def tables(self) -> list[str]:
        return [
            f"CREATE TABLE IF NOT EXISTS {self.name}_tallies (key TEXT PRIMARY KEY, "
            '"offset" INTEGER NOT NULL, body BLOB NOT NULL) WITHOUT ROWID'
        ]


class SQLiteTallies(_Tallies, SQLiteTrackedStore):
    pass


class PostgresTallies(_Tallies, PostgresTrackedStore):
    pass


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[object]:
    opened: list[TrackedStore] = []

    def open_store() -> TrackedStore:
        store: TrackedStore
        if request.param == "sqlite":
            store = SQLiteTallies.open(tmp_path / "tallies.sqlite", name="tallies")
        else:
            location: PostgresLocation = request.getfixturevalue("postgres")
            store = PostgresTallies.open(location, name="tallies")
        opened.append(store)
        return store

    yield open_store
    for store in opened:
        store.close()


def write(store: TrackedStore, key: str, offset: int) -> None:
    with store.transaction(commit=True) as cursor:
        cursor.execute(
            f'INSERT INTO {store.name}_tallies (key, "offset", body) VALUES (?, ?, ?)',
            (key, offset, b"\x00%?"),
        )
        store.track(cursor, [Tracking(tracking_name(store.name, TOPIC, 0), offset)])


def rows(store: TrackedStore) -> list[tuple[str, int, bytes]]:
    with store.transaction() as cursor:
        cursor.execute(f'SELECT key, "offset", body FROM {store.name}_tallies ORDER BY key')
        return [(key, offset, bytes(body)) for key, offset, body in cursor.fetchall()]


def test_rows_and_positions_commit_together_and_survive_a_reopen(opener) -> None:  # type: ignore[no-untyped-def]
    store = opener()
    write(store, "a", 4)
    write(store, "b", 9)
    assert store.positions(TOPIC, [0, 1]) == {0: 9}
    store.close()
    again = opener()
    assert rows(again) == [("a", 4, b"\x00%?"), ("b", 9, b"\x00%?")]
    assert again.all_positions() == {(TOPIC, 0): 9}


def test_a_position_recorded_already_rolls_its_rows_back(opener) -> None:  # type: ignore[no-untyped-def]
    store = opener()
    write(store, "a", 4)
    with pytest.raises(IntegrityError):
        write(store, "late", 4)
    assert rows(store) == [("a", 4, b"\x00%?")]
    assert store.positions(TOPIC, [0]) == {0: 4}


def test_the_stores_sql_becomes_postgresql() -> None:
    assert postgres_sql("SELECT a FROM t WHERE b = ? AND c LIKE '%x'") == (
        "SELECT a FROM t WHERE b = %s AND c LIKE '%%x'"
    )
    assert postgres_sql("CREATE TABLE t (a INTEGER, b BLOB) WITHOUT ROWID") == (
        "CREATE TABLE t (a BIGINT, b BYTEA)"
    )


def open_together(location: PostgresLocation, opening: int) -> list[BaseException]:
    """Open the generations' pointer and a store on the location in `opening` threads released
    at the same moment, as processes starting together do; what each raised."""
    together = threading.Barrier(opening)
    failures: list[BaseException] = []
    opened: list[PostgresTallies | PostgresGenerations] = []

    def start() -> None:
        together.wait()
        try:
            opened.append(PostgresGenerations(location, "tallies"))
            opened.append(PostgresTallies.open(location, name="tallies"))
        except Exception as exc:  # returned: a thread's raise would only end the thread
            failures.append(exc)

    threads = [threading.Thread(target=start) for _ in range(opening)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for each in opened:
        each.close()
    return failures


def test_processes_starting_together_on_a_new_database_all_open_their_stores(
    postgres: PostgresLocation,
) -> None:
    """Every process of a ledger makes its schemas and tables as it starts; started at the
    same moment on an empty database, none fails on another's half-made schema or table."""
    for round_ in range(3):
        location = replace(postgres, schema=f"{postgres.schema}_r{round_}")
        assert open_together(location, 8) == []
    again = PostgresTallies.open(location, name="tallies")
    try:
        write(again, "a", 4)
        assert again.positions(TOPIC, [0]) == {0: 4}
    finally:
        again.close()
