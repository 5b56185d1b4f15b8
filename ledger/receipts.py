"""Receipts by event_id, for a log (Kafka) that cannot look records up by key itself."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Collection, Sequence
from pathlib import Path

from ledger.errors import LedgerUnavailable
from ledger.log import Receipt, from_millis
from ledger.sqlite_util import in_chunks


class SQLiteReceiptIndex:
    """event_id -> receipt in a SQLite file, written once the log has confirmed the append."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        try:
            self._conn = sqlite3.connect(
                path, isolation_level=None, check_same_thread=False, timeout=30
            )
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS receipts (event_id TEXT PRIMARY KEY, "
                "partition INTEGER NOT NULL, offset INTEGER NOT NULL, "
                "appended_ms INTEGER NOT NULL, digest TEXT NOT NULL) WITHOUT ROWID"
            )
        except sqlite3.Error as exc:
            raise LedgerUnavailable(f"cannot open the receipt index at {path}: {exc}") from exc

    def put(self, receipts: Sequence[Receipt]) -> None:
        """Remember receipts; the first receipt for an event_id wins."""
        rows = [
            (r.event_id, r.partition, r.offset, round(r.appended_at.timestamp() * 1000), r.digest)
            for r in receipts
        ]
        with self._lock:
            self._conn.execute("BEGIN")
            self._conn.executemany(
                "INSERT INTO receipts VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING", rows
            )
            self._conn.execute("COMMIT")

    def get(self, event_ids: Collection[str]) -> dict[str, Receipt]:
        """Known receipts for these event_ids, as status `duplicate`."""
        ids = list(event_ids)
        found: dict[str, Receipt] = {}
        with self._lock:
            for marks, chunk in in_chunks(ids):
                sql = f"SELECT * FROM receipts WHERE event_id IN ({marks})"  # noqa: S608 -- placeholders only
                rows = self._conn.execute(sql, chunk).fetchall()
                for event_id, partition, offset, millis, digest in rows:
                    found[event_id] = Receipt(
                        event_id, "duplicate", partition, offset, from_millis(millis), digest
                    )
        return found

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()
