"""The notes log's index by case: every inquiry note's exact JSON under its case, in the order
the notes log holds them, kept like the access log's index (positions tracked in the rows'
own transaction, so it can be deleted and rebuilt from the notes log)."""

from __future__ import annotations

from pathlib import Path

from eventsourcing.sqlite import SQLiteDatastore

from ledger.notes import NOTE_RECORD
from ledger.postgres import PostgresLocation
from projections.access_index import AccessIndexStore
from projections.tracking import PostgresTrackedStore, SQLiteTrackedStore

NOTES_INDEX = "notes_index"


class NotesIndexStore(AccessIndexStore):
    """Inquiry notes by case, with the log position of each (`SQLiteNotesIndex` and
    `PostgresNotesIndex` hold them)."""

    record_type = NOTE_RECORD


class SQLiteNotesIndex(NotesIndexStore, SQLiteTrackedStore):
    """The notes log's index in one SQLite file."""

    def __init__(self, datastore: SQLiteDatastore, name: str = NOTES_INDEX) -> None:
        super().__init__(datastore, name)


class PostgresNotesIndex(NotesIndexStore, PostgresTrackedStore):
    """The notes log's index in the ledger's PostgreSQL schema."""

    def __init__(self, location: PostgresLocation, name: str = NOTES_INDEX) -> None:
        super().__init__(location, name)


def open_notes_index(path: Path) -> SQLiteNotesIndex:
    """The index in the given file, its table created if new."""
    return SQLiteNotesIndex.open(path)
