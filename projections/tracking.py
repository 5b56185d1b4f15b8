"""Tracked log positions, and the base of every store built on the library's tracking recorder.

A store records, in the transaction that writes its rows, the last log offset it has taken in
from each topic partition, under the key `<store name>:<topic>:<partition>`. Its consumer
starts from those positions, so each store is exactly-once and can be rebuilt, or lag behind,
on its own.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, Self

from eventsourcing.persistence import Tracking
from eventsourcing.sqlite import SQLiteCursor, SQLiteDatastore, SQLiteTrackingRecorder

from ledger.private import private_database

if TYPE_CHECKING:
    # Only named in a signature: the case view is itself a store built on this module.
    from projections.case_view import SQLiteCaseView


def tracking_name(view: str, topic: str, partition: int) -> str:
    """The tracking key of one view's position in one topic partition."""
    return f"{view}:{topic}:{partition}"


def parse_tracking_name(name: str) -> tuple[str, str, int]:
    """The view, topic and partition a tracking key names."""
    parts = name.split(":")
    if len(parts) != 3 or not parts[2].isdigit():
        raise ValueError(f"not a tracking key (<view>:<topic>:<partition>): {name!r}")
    return parts[0], parts[1], int(parts[2])


def tracking_rows(view: str, topic: str, last: Mapping[int, int]) -> list[Tracking]:
    """The tracking rows recording the last offset taken in from each partition."""
    return [Tracking(tracking_name(view, topic, p), offset) for p, offset in last.items()]


def tracked_positions(
    recorder: SQLiteTrackingRecorder, name: str, topic: str, partitions: Sequence[int]
) -> dict[int, int]:
    """The last offset a view recorded for each partition that has one."""
    found = {}
    for partition in partitions:
        offset = recorder.max_tracking_id(tracking_name(name, topic, partition))
        if offset is not None:
            found[partition] = offset
    return found


def positions_in(cursor: SQLiteCursor, name: str) -> dict[tuple[str, int], int]:
    """Every last offset a view has recorded, per (topic, partition), read with the cursor
    (so in the snapshot of the transaction it belongs to)."""
    cursor.execute(
        "SELECT application_name, MAX(notification_id) FROM tracking "
        "WHERE application_name LIKE ? GROUP BY application_name",
        (f"{name}:%",),
    )
    found = {}
    for key, offset in cursor.fetchall():
        _, topic, partition = parse_tracking_name(key)
        found[topic, partition] = offset
    return found


class SQLiteTrackedStore(SQLiteTrackingRecorder):
    """A named store in one SQLite file: its own tables beside the library's tracking table,
    written in one transaction with the positions they cover."""

    def __init__(self, datastore: SQLiteDatastore, name: str) -> None:
        # Set before the library's constructor, which asks for the tables (named after it).
        self.name = name
        super().__init__(datastore)

    @classmethod
    def open(cls, path: Path, **options: Any) -> Self:
        """The store in the given file (its folder made if need be), its tables created if new."""
        store = cls(SQLiteDatastore(str(private_database(path))), **options)
        store.create_table()
        return store

    @abstractmethod
    def tables(self) -> list[str]:
        """The statements creating this store's own tables and indexes."""

    def construct_create_table_statements(self) -> list[str]:
        """The library's tracking table, then the store's own."""
        return [*super().construct_create_table_statements(), *self.tables()]

    def current(self) -> Self:
        """A fixed store is its own source (`view_files.ViewHandle` is one that follows
        rebuilds)."""
        return self

    def positions(self, topic: str, partitions: Sequence[int]) -> dict[int, int]:
        """The last offset taken in from each partition that has one."""
        return tracked_positions(self, self.name, topic, partitions)

    def all_positions(self) -> dict[tuple[str, int], int]:
        """Every last offset recorded, per (topic, partition)."""
        with self.datastore.transaction(commit=False) as cursor:
            return positions_in(cursor, self.name)

    def track(self, cursor: SQLiteCursor, tracking: Iterable[Tracking]) -> None:
        """Record positions in the transaction the cursor belongs to (a position recorded
        already fails it: the batch was applied before)."""
        for item in tracking:
            self._insert_tracking(cursor, item)


class CaseTarget(Protocol):
    """A store kept per case by a follower of the case view (the clock view, the alerter's):
    refreshed for the cases a batch touched, with the batch's positions tracked."""

    @property
    def name(self) -> str:
        """Its name (the prefix of its tracking keys)."""
        ...

    def positions(self, topic: str, partitions: Sequence[int]) -> dict[int, int]:
        """The last offset per partition already refreshed."""
        ...

    def refresh(
        self,
        cases: SQLiteCaseView,
        case_ids: Collection[str],
        tracking: Sequence[Tracking],
        moment: datetime,
    ) -> int:
        """Recompute for these cases as of the moment; record tracking in the same transaction."""
        ...

    def due_cases(self, moment: datetime) -> list[str]:
        """Cases to look at again because time has passed (a deadline), not because of a record."""
        ...
