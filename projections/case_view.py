"""The case-state view in SQLite: view rows and the tracked log position in one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
from eventsourcing.persistence import Tracking
from eventsourcing.sqlite import SQLiteCursor, SQLiteDatastore, SQLiteTrackingRecorder

from ledger.envelope import Event
from ledger.sqlite_util import in_chunks
from projections.case_state import CaseState, fold_document
from projections.effective import effective_events


def tracking_name(view: str, topic: str, partition: int) -> str:
    """The tracking key of one view's position in one topic partition."""
    return f"{view}:{topic}:{partition}"


class SQLiteCaseView(SQLiteTrackingRecorder):
    """Case states keyed by case_id, with the event_ids applied and the last offset per partition.

    Exactly once: a batch's states, its applied event_ids and its tracking rows commit together.
    Re-applying a tracked offset fails the tracking insert and rolls the whole batch back; an
    event_id published twice (two offsets) takes effect only the first time.

    The view also keeps each case's events (clustered by case), so that a correction or a
    retraction refolds that case from its history with every amendment applied; other events
    fold onto the stored state.
    """

    def __init__(self, datastore: SQLiteDatastore, name: str = "case_state") -> None:
        self.name = name
        super().__init__(datastore)

    def construct_create_table_statements(self) -> list[str]:
        """The library's tracking table plus the case-state and applied-events tables."""
        return [
            *super().construct_create_table_statements(),
            f"CREATE TABLE IF NOT EXISTS {self.name} ("
            "case_id TEXT PRIMARY KEY, state BLOB NOT NULL) WITHOUT ROWID",
            f"CREATE TABLE IF NOT EXISTS {self.name}_applied ("
            "event_id TEXT PRIMARY KEY, position TEXT NOT NULL) WITHOUT ROWID",
            # Rows go in arrival order (cheap appends of large rows); the index finds a case.
            f"CREATE TABLE IF NOT EXISTS {self.name}_events (case_id TEXT NOT NULL, "
            "partition INTEGER NOT NULL, offset INTEGER NOT NULL, doc BLOB NOT NULL)",
            f"CREATE UNIQUE INDEX IF NOT EXISTS {self.name}_events_by_case "
            f"ON {self.name}_events (case_id, partition, offset)",
        ]

    def positions(self, topic: str, partitions: Sequence[int]) -> dict[int, int]:
        """The last applied offset of each partition that has one."""
        found = {}
        for partition in partitions:
            offset = self.max_tracking_id(tracking_name(self.name, topic, partition))
            if offset is not None:
                found[partition] = offset
        return found

    def apply(self, events: Sequence[Event], tracking: Sequence[Tracking]) -> int:
        """Fold a batch into the view and record its positions; returns events that took effect."""
        with self.datastore.transaction(commit=True) as cursor:
            fresh = self._not_yet_applied(cursor, events)
            by_case: dict[str, list[Event]] = {}
            for event in fresh:
                by_case.setdefault(event.case_id, []).append(event)
            cursor.executemany(
                f"INSERT INTO {self.name}_events VALUES (?, ?, ?, ?)",  # noqa: S608
                [(e.case_id, e.partition, e.offset, _dump_event(e)) for e in fresh],
            )
            documents = self._load(cursor, set(by_case))
            states = {}
            for case_id, case_events in by_case.items():
                if any(e.amends is not None for e in case_events):
                    states[case_id] = fold_document(
                        None, effective_events(self._events(cursor, case_id))
                    )
                else:
                    states[case_id] = fold_document(documents.get(case_id), case_events)
            cursor.executemany(
                f"INSERT INTO {self.name} (case_id, state) VALUES (?, ?) "  # noqa: S608 -- table name is ours
                "ON CONFLICT (case_id) DO UPDATE SET state = excluded.state",
                [(case_id, orjson.dumps(state)) for case_id, state in states.items()],
            )
            cursor.executemany(
                f"INSERT INTO {self.name}_applied (event_id, position) VALUES (?, ?)",  # noqa: S608
                [(e.event_id, e.position) for e in fresh],
            )
            for item in tracking:
                self._insert_tracking(cursor, item)
        return len(fresh)

    def get(self, case_id: str) -> CaseState | None:
        """The current state of one case, or None if the view has never seen it."""
        with self.datastore.transaction(commit=False) as cursor:
            document = self._load(cursor, {case_id}).get(case_id)
        return None if document is None else CaseState.from_dict(document)

    def events(self, case_id: str) -> list[Event]:
        """One case's events as recorded, in log order."""
        with self.datastore.transaction(commit=False) as cursor:
            return self._events(cursor, case_id)

    def _events(self, cursor: SQLiteCursor, case_id: str) -> list[Event]:
        cursor.execute(
            f"SELECT doc FROM {self.name}_events WHERE case_id = ? "  # noqa: S608
            "ORDER BY partition, offset",
            (case_id,),
        )
        return [_load_event(row[0]) for row in cursor.fetchall()]

    def case_ids(self, limit: int = 1000) -> list[str]:
        """Case ids in the view, in id order."""
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(f"SELECT case_id FROM {self.name} ORDER BY case_id LIMIT ?", (limit,))  # noqa: S608
            return [row[0] for row in cursor.fetchall()]

    def applied_count(self) -> int:
        """How many distinct events have taken effect in the view."""
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(f"SELECT COUNT(*) FROM {self.name}_applied")  # noqa: S608
            return int(cursor.fetchone()[0])

    def _not_yet_applied(self, cursor: SQLiteCursor, events: Sequence[Event]) -> list[Event]:
        ids = [e.event_id for e in events]
        done: set[str] = set()
        for marks, chunk in in_chunks(ids):
            cursor.execute(
                f"SELECT event_id FROM {self.name}_applied WHERE event_id IN ({marks})",  # noqa: S608 -- our table name and placeholders only
                chunk,
            )
            done.update(row[0] for row in cursor.fetchall())
        fresh = []
        for event in events:
            if event.event_id not in done:
                done.add(event.event_id)
                fresh.append(event)
        return fresh

    def _load(self, cursor: SQLiteCursor, case_ids: set[str]) -> dict[str, dict[str, Any]]:
        ids = list(case_ids)
        states: dict[str, dict[str, Any]] = {}
        for marks, chunk in in_chunks(ids):
            cursor.execute(
                f"SELECT case_id, state FROM {self.name} WHERE case_id IN ({marks})",  # noqa: S608 -- our table name and placeholders only
                chunk,
            )
            for case_id, blob in cursor.fetchall():
                states[case_id] = _loads(blob)
        return states


def _dump_event(event: Event) -> bytes:
    return orjson.dumps(event._asdict())


def _load_event(blob: bytes) -> Event:
    data = orjson.loads(blob)
    data["appended_at"] = datetime.fromisoformat(data["appended_at"])
    return Event(**data)


def _loads(blob: bytes) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads(blob)
    return data
