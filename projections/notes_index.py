"""The notes log's index by case: every inquiry note's exact JSON under its case, in the order
the notes log holds them, kept like the access log's index (positions tracked in the rows'
own transaction, so it can be deleted and rebuilt from the notes log)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ledger.notes import NOTE_RECORD
from projections.access_index import SQLiteAccessIndex

NOTES_INDEX = "notes_index"


class SQLiteNotesIndex(SQLiteAccessIndex):
    """Inquiry notes by case, with the log position of each."""

    record_type = NOTE_RECORD

    def __init__(self, datastore: Any, name: str = NOTES_INDEX) -> None:
        super().__init__(datastore, name)


def open_notes_index(path: Path) -> SQLiteNotesIndex:
    """The index in the given file, its table created if new."""
    return SQLiteNotesIndex.open(path)
