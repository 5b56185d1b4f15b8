"""The agency registry's store: the registry's events, kept by the case-state view in the
transaction that applies them (in SQLite or PostgreSQL, wherever the view is), and read back as
an AgencyLookup (as of any date)."""

from __future__ import annotations

import threading
from collections.abc import Collection, Sequence
from datetime import datetime

import orjson

from ledger.envelope import Event
from projections.agencies import AgencyRecord, AgencyTable
from projections.tracking import Cursor, TrackedStore


class AgencyRegistryStore:
    """The registry events applied so far, folded by `AgencyTable` when read.

    Its table lives in the store it belongs to (the case-state view), read through that
    store's transactions. The registry is small (agencies, not events of cases), so a read folds
    every registry event once and keeps the fold until the store holds more events.
    """

    def __init__(self, store: TrackedStore, name: str) -> None:
        self.store = store
        self.table = f"{name}_registry"
        self._lock = threading.Lock()
        self._folded: tuple[int, AgencyTable] = (0, AgencyTable())

    def tables(self) -> list[str]:
        """The registry's events, in log order."""
        return [
            f"CREATE TABLE IF NOT EXISTS {self.table} (partition INTEGER NOT NULL, "
            '"offset" INTEGER NOT NULL, doc BLOB NOT NULL, PRIMARY KEY (partition, "offset"))'
        ]

    def write(self, cursor: Cursor, events: Sequence[Event]) -> None:
        """Keep registry events, in the caller's transaction."""
        cursor.executemany(
            f"INSERT INTO {self.table} VALUES (?, ?, ?)",  # noqa: S608 -- our table name
            [(e.partition, e.offset, orjson.dumps(list(e))) for e in events],
        )

    def record(self, agency_id: str, as_of: str | None = None) -> AgencyRecord | None:
        """See projections.agencies.AgencyLookup.record."""
        return self._table().record(agency_id, as_of)

    def records(self, as_of: str | None = None) -> list[AgencyRecord]:
        """See projections.agencies.AgencyLookup.records."""
        return self._table().records(as_of)

    def snapshot(self) -> AgencyTable:
        """The registry as the store holds it now, in memory (one read of the store), for a
        caller about to ask many questions at once."""
        return self._table()

    def known(self, agency_ids: Collection[str]) -> set[str]:
        """Those of the ids registered now."""
        table = self._table()
        return {a for a in agency_ids if table.record(a) is not None}

    def _table(self) -> AgencyTable:
        with self.store.transaction(commit=False) as cursor:
            cursor.execute(f"SELECT COUNT(*) FROM {self.table}")  # noqa: S608
            count = int(cursor.fetchone()[0])
            with self._lock:
                if self._folded[0] == count:
                    return self._folded[1]
            cursor.execute(f'SELECT doc FROM {self.table} ORDER BY partition, "offset"')  # noqa: S608
            events = [_load_event(row[0]) for row in cursor.fetchall()]
        table = AgencyTable(events)
        with self._lock:
            self._folded = (count, table)
        return table


_APPENDED_AT = Event._fields.index("appended_at")


def _load_event(blob: bytes) -> Event:
    fields = orjson.loads(blob)
    fields[_APPENDED_AT] = datetime.fromisoformat(fields[_APPENDED_AT])
    return Event._make(fields)
