"""The event_ids a SQLite case view has applied, kept so that recording one costs the same at
any size of the view.

A table keyed by event_id (random keys) dirties a page of an ever larger B-tree for each event
recorded; here rows are appended in arrival order and found through an index in memory: the
64-bit hash of each id with its row number, sorted. The index catches up with the table at each
look-up (rows are numbered in commit order, and another process may write the same file), so a
batch rolled back never reaches it.

Several processes may apply to one file (members of a consumer group). A consumer looks a batch
up, then writes it in a transaction holding the file's write lock; what it must check again
there is only what was recorded between the two: the rows numbered after its look-up
(`found_since_look_up`), a few batches at most, read in order without touching the index.
"""

from __future__ import annotations

import bisect
import hashlib
import heapq
import threading
from array import array
from collections.abc import Collection, Iterable

from projections.tracking import Cursor

# Rows found since the last merge are kept in a dict until there are this many, or a quarter
# of the sorted index: merging costs the index's size, so merges grow apart as it grows.
MERGE_FROM = 50_000
_PAGE = 100_000
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
        # Per thread (each consumer loop has one): the last row the index held at its latest
        # look-up.
        self._looked_up = threading.local()

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
            self._looked_up.last_row = self._seen
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

    def found_since_look_up(
        self, cursor: Cursor, event_ids: Collection[str]
    ) -> dict[str, tuple[str, str | None]]:
        """For those of the ids recorded (by any process) since this thread's latest `find`:
        the position and digest recorded with each; all of them found afresh if this thread
        has looked none up. Exact in a transaction holding the file's write lock."""
        last_row: int | None = getattr(self._looked_up, "last_row", None)
        if last_row is None:
            return self.find(cursor, event_ids)
        wanted = set(event_ids)
        cursor.execute(
            f"SELECT event_id, position, digest FROM {self.table} WHERE id > ?",  # noqa: S608
            (last_row,),
        )
        return {
            event_id: (position, digest)
            for event_id, position, digest in cursor.fetchall()
            if event_id in wanted
        }

    def count(self, cursor: Cursor) -> int:
        """How many event_ids are recorded."""
        cursor.execute(f"SELECT COUNT(*) FROM {self.table}")  # noqa: S608
        return int(cursor.fetchone()[0])

    def _catch_up(self, cursor: Cursor) -> None:
        # Read a page of rows at a time: a process opening a large view sorts each page and
        # merges them all once, holding no more than the index and one page as Python objects.
        runs: list[tuple[array[int], array[int]]] = []
        while True:
            cursor.execute(
                f"SELECT id, hash FROM {self.table} WHERE id > ? ORDER BY id LIMIT ?",  # noqa: S608
                (self._seen, _PAGE),
            )
            rows = cursor.fetchall()
            if not rows:
                break
            self._seen = rows[-1][0]
            if len(rows) < _PAGE and not runs:
                for row, hashed in rows:
                    self._recent.setdefault(hashed, []).append(row)
                self._recent_count += len(rows)
                break
            pairs = sorted((hashed, row) for row, hashed in rows)
            runs.append((array("q", [h for h, _ in pairs]), array("q", [r for _, r in pairs])))
        if runs or self._recent_count >= max(MERGE_FROM, len(self._hashes) // 4):
            self._merge(runs)

    def _merge(self, runs: list[tuple[array[int], array[int]]]) -> None:
        """Merge the sorted runs and the rows found since the last merge into the index."""
        recent = sorted((h, r) for h, rows in self._recent.items() for r in rows)
        hashes, rows = array("q"), array("q")
        for hashed, row in heapq.merge(
            zip(self._hashes, self._rows, strict=True),
            recent,
            *(zip(h, r, strict=True) for h, r in runs),
        ):
            hashes.append(hashed)
            rows.append(row)
        self._hashes, self._rows = hashes, rows
        self._recent.clear()
        self._recent_count = 0

    def _rows_of(self, hashed: int) -> list[int]:
        found = list(self._recent.get(hashed, ()))
        at = bisect.bisect_left(self._hashes, hashed)
        while at < len(self._hashes) and self._hashes[at] == hashed:
            found.append(self._rows[at])
            at += 1
        return found
