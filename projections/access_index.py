"""The access log's index by case: every access record's exact JSON, under each case it
names (the case it read, and every case its answer showed, as a list's page does), in the order
the log holds them; the per-child report reads it (`sgl.access_report`).

It follows the access log like every view (positions tracked in the rows' own transaction),
so it can be deleted and rebuilt from the log. A record that is not an access record's JSON
object is kept out, and counted.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson
from eventsourcing.persistence import Tracking
from eventsourcing.sqlite import SQLiteDatastore

from ledger.access import ACCESS_RECORD, cases_named
from ledger.log import LogRecord
from ledger.postgres import PostgresLocation
from projections.tracking import PostgresTrackedStore, SQLiteTrackedStore, TrackedStore

ACCESS_INDEX = "access_index"


class AccessIndexStore(TrackedStore):
    """Access records by case, with the log position of each (`SQLiteAccessIndex` and
    `PostgresAccessIndex` hold them)."""

    # The records it keeps (`type`); the notes' index keeps notes alike.
    record_type = ACCESS_RECORD

    def tables(self) -> list[str]:
        """The records, keyed by case then log position."""
        return [
            f"CREATE TABLE IF NOT EXISTS {self.name} (case_id TEXT NOT NULL, "
            'partition INTEGER NOT NULL, "offset" INTEGER NOT NULL, recorded_at TEXT NOT NULL, '
            'record BLOB NOT NULL, PRIMARY KEY (case_id, partition, "offset")) WITHOUT ROWID',
        ]

    def take(self, records: Sequence[LogRecord], tracking: Sequence[Tracking]) -> int:
        """Index the access records of a batch with its positions; returns how many."""
        named = [_rows(record, self.record_type) for record in records]
        rows = [row for each in named for row in each]
        with self.transaction(commit=True) as cursor:
            cursor.executemany(
                f"INSERT INTO {self.name} VALUES (?, ?, ?, ?, ?)",  # noqa: S608
                rows,
            )
            self.track(cursor, tracking)
        return sum(1 for each in named if each)

    def records(self, case_id: str) -> Iterator[dict[str, Any]]:
        """Every access record of the case, oldest first, with its log position."""
        with self.transaction(commit=False) as cursor:
            cursor.execute(
                f'SELECT partition, "offset", record FROM {self.name} WHERE case_id = ? '  # noqa: S608
                'ORDER BY partition, "offset"',
                (case_id,),
            )
            rows = cursor.fetchall()
        for partition, offset, record in rows:
            found: dict[str, Any] = orjson.loads(record)
            found["log_position"] = {"partition": partition, "offset": offset}
            yield found


class SQLiteAccessIndex(AccessIndexStore, SQLiteTrackedStore):
    """The access log's index in one SQLite file."""

    def __init__(self, datastore: SQLiteDatastore, name: str = ACCESS_INDEX) -> None:
        super().__init__(datastore, name)


class PostgresAccessIndex(AccessIndexStore, PostgresTrackedStore):
    """The access log's index in the ledger's PostgreSQL schema."""

    def __init__(self, location: PostgresLocation, name: str = ACCESS_INDEX) -> None:
        super().__init__(location, name)


def _rows(record: LogRecord, record_type: str) -> list[tuple[str, int, int, str, bytes]]:
    """The index rows of a record of that type: one under each case it names (an access
    record's case and the cases its answer showed; a note's case); none for anything else."""
    if record.value is None:
        return []
    try:
        found = orjson.loads(record.value)
    except orjson.JSONDecodeError:
        return []
    if not isinstance(found, dict) or found.get("type") != record_type:
        return []
    if record_type == ACCESS_RECORD:
        cases = cases_named(found)
    else:
        case_id = found.get("case_id")
        cases = [case_id] if isinstance(case_id, str) and case_id else []
    at = str(found.get("recorded_at"))
    return [(case_id, record.partition, record.offset, at, record.value) for case_id in cases]


def open_access_index(path: Path) -> SQLiteAccessIndex:
    """The index in the given file, its table created if new."""
    return SQLiteAccessIndex.open(path)
