"""The event_ids a SQLite case view has applied, kept so that recording one costs the same at
any size of the view.

A table keyed by event_id (random keys) dirties a page of an ever larger B-tree for each event
recorded; here rows are appended in arrival order and found through an index in memory: the
64-bit hash of each id with its row number, sorted. The index catches up with the table at each
look-up (rows are numbered in commit order, and another process may write the same file), so a
batch rolled back never reaches it.
"""

from __future__ import annotations

import bisect
import hashlib
import threading
from array import array
from collections.abc import Collection, Iterable

from projections.tracking import Cursor

# Rows found since the last merge are kept in a dict until there are this many, or a quarter
# of the sorted index: merging costs the index's size, so merges grow apart as it grows.
MERGE_FROM = 50_000
_CHUNK = 500


def id_hash(event_id: str) -> int:
    """A signed 64-bit hash of an event_id, the same in every process (unlike `hash`)."""
    digest = hashlib.blake2b(event_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class AppliedLog:
    """Event_ids applied, where from, and the digest of their record; appended, never changed."""

    def __init__(self, table: str) -> None:
        self.table = table
        self._lock = threading.Lock()
        # Sorted by hash, row numbers alongside.
        self._hashes = array("q")
        self._rows = array("q")
        self._recent: dict[int, list[int]] = {}
        self._recent_count = 0
        self._seen = 0

    def tables(self) -> list[str]:
        """The applied rows, numbered in the order they were committed."""
        return [
            f"CREATE TABLE IF NOT EXISTS {self.table} (id INTEGER PRIMARY KEY, "
            "hash INTEGER NOT NULL, event_id TEXT NOT NULL, position TEXT NOT NULL, digest TEXT)"
        ]

    def record(self, cursor: Cursor, rows: Iterable[tuple[str, str, str | None]]) -> None:
        """Append (event_id, position, digest) rows in the caller's transaction."""
        cursor.executemany(
            f"INSERT INTO {self.table} (hash, event_id, position, digest) "  # noqa: S608
            "VALUES (?, ?, ?, ?)",
            [
                (id_hash(event_id), event_id, position, digest)
                for event_id, position, digest in rows
            ],
        )

    def find(self, cursor: Cursor, event_ids: Collection[str]) -> dict[str, tuple[str, str | None]]:
        """For those of the ids applied: the position and digest recorded with each."""
        wanted = set(event_ids)
        with self._lock:
            self._catch_up(cursor)
            candidates = [row for e in wanted for row in self._rows_of(id_hash(e))]
        found: dict[str, tuple[str, str | None]] = {}
        for start in range(0, len(candidates), _CHUNK):
            chunk = candidates[start : start + _CHUNK]
            cursor.execute(
                f"SELECT event_id, position, digest FROM {self.table} "  # noqa: S608
                f"WHERE id IN ({','.join('?' * len(chunk))})",
                chunk,
            )
            for event_id, position, digest in cursor.fetchall():
                if event_id in wanted:
                    found[event_id] = (position, digest)
        return found

    def count(self, cursor: Cursor) -> int:
        """How many event_ids are recorded."""
        cursor.execute(f"SELECT COUNT(*) FROM {self.table}")  # noqa: S608
        return int(cursor.fetchone()[0])

    def _catch_up(self, cursor: Cursor) -> None:
        cursor.execute(
            f"SELECT id, hash FROM {self.table} WHERE id > ? ORDER BY id",  # noqa: S608
            (self._seen,),
        )
        rows = cursor.fetchall()
        if not rows:
            return
        self._seen = rows[-1][0]
        if len(rows) >= MERGE_FROM:
            self._merge((h, r) for r, h in rows)
            return
        for row, hashed in rows:
            self._recent.setdefault(hashed, []).append(row)
        self._recent_count += len(rows)
        if self._recent_count >= max(MERGE_FROM, len(self._hashes) // 4):
            self._merge((h, r) for h, rows_of in self._recent.items() for r in rows_of)
            self._recent.clear()
            self._recent_count = 0

    def _merge(self, pairs: Iterable[tuple[int, int]]) -> None:
        merged = sorted([*zip(self._hashes, self._rows, strict=True), *pairs])
        self._hashes = array("q", [h for h, _ in merged])
        self._rows = array("q", [r for _, r in merged])

    def _rows_of(self, hashed: int) -> list[int]:
        found = list(self._recent.get(hashed, ()))
        at = bisect.bisect_left(self._hashes, hashed)
        while at < len(self._hashes) and self._hashes[at] == hashed:
            found.append(self._rows[at])
            at += 1
        return found
