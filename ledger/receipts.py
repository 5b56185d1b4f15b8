"""Receipts by event_id, for a log (Kafka) that cannot look records up by key itself."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

import structlog

from ledger.errors import LedgerUnavailable
from ledger.log import PendingRecord, Receipt, from_millis
from ledger.private import private_database
from ledger.sqlite_util import in_chunks

log = structlog.get_logger("ledger.receipts")

FLUSH_EVERY = 0.2
FLUSH_AT = 5000


class SQLiteReceiptIndex:
    """event_id -> first receipt, in memory at once and in a SQLite file shortly after.

    Writes are behind: a thread moves new receipts to the file every FLUSH_EVERY seconds in
    one transaction, because random-keyed inserts cost far more one batch at a time on the
    append path. Lookups see pending receipts too. If the process dies, the receipts of its
    last fraction of a second are lost from the index: a retry of those events then appends
    them again, and the consumers, which apply each event_id once, are unaffected.
    """

    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        self._pending: dict[str, Receipt] = {}
        self._wake = threading.Event()
        self._closed = False
        try:
            private_database(path)
            self._conn = sqlite3.connect(
                path, isolation_level=None, check_same_thread=False, timeout=30
            )
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS receipts (event_id TEXT PRIMARY KEY, "
                "partition INTEGER NOT NULL, offset INTEGER NOT NULL, "
                "appended_ms INTEGER NOT NULL, digest TEXT NOT NULL, case_id TEXT NOT NULL, "
                "type TEXT NOT NULL, schema_version INTEGER NOT NULL) WITHOUT ROWID"
            )
            # Records whose append was not confirmed when the process stopped (see `keep_unsure`).
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS unsure (event_id TEXT PRIMARY KEY, "
                "case_id TEXT NOT NULL, value BLOB NOT NULL, digest TEXT NOT NULL, "
                "type TEXT NOT NULL, schema_version INTEGER NOT NULL, floor TEXT NOT NULL) "
                "WITHOUT ROWID"
            )
            # Lookups read on their own connection, so they never wait for a write (WAL).
            self._reader = sqlite3.connect(path, check_same_thread=False, timeout=30)
        except (sqlite3.Error, OSError) as exc:
            raise LedgerUnavailable(f"cannot open the receipt index at {path}: {exc}") from exc
        self._db_lock = threading.Lock()
        self._read_lock = threading.Lock()
        self._writer = threading.Thread(target=self._write_behind, name="receipts", daemon=True)
        self._writer.start()

    def put(self, receipts: Sequence[Receipt]) -> None:
        """Remember receipts; the first receipt for an event_id wins."""
        with self._lock:
            for receipt in receipts:
                self._pending.setdefault(receipt.event_id, receipt)
            if len(self._pending) >= FLUSH_AT:
                self._wake.set()

    def get(self, event_ids: Collection[str]) -> dict[str, Receipt]:
        """Known receipts for these event_ids, as status `duplicate`."""
        found: dict[str, Receipt] = {}
        missing = []
        with self._lock:
            for event_id in event_ids:
                receipt = self._pending.get(event_id)
                if receipt is None:
                    missing.append(event_id)
                else:
                    found[event_id] = receipt.as_duplicate()
        with self._read_lock:
            try:
                rows = [
                    row
                    for marks, chunk in in_chunks(missing)
                    for row in self._reader.execute(
                        f"SELECT * FROM receipts WHERE event_id IN ({marks})",  # noqa: S608 -- placeholders only
                        chunk,
                    )
                ]
            except sqlite3.Error as exc:
                raise LedgerUnavailable(f"receipt index unreadable: {exc}") from exc
            for row in rows:
                event_id, partition, offset, millis, digest, case_id, kind, version = row
                found[event_id] = Receipt(
                    event_id,
                    "duplicate",
                    partition,
                    offset,
                    from_millis(millis),
                    digest,
                    case_id,
                    kind,
                    version,
                )
        return found

    def flush(self) -> None:
        """Write every pending receipt to the file now."""
        with self._lock:
            batch = list(self._pending.values())
        if not batch:
            return
        rows = [
            (
                r.event_id,
                r.partition,
                r.offset,
                round(r.appended_at.timestamp() * 1000),
                r.digest,
                r.case_id,
                r.event_type,
                r.schema_version,
            )
            for r in batch
        ]
        with self._db_lock:
            self._conn.execute("BEGIN")
            try:
                self._conn.executemany(
                    "INSERT INTO receipts VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    rows,
                )
                self._conn.execute("COMMIT")
            except BaseException:
                # Leave no transaction open, or every later flush would fail as well.
                self._conn.execute("ROLLBACK")
                raise
        with self._lock:
            for receipt in batch:
                if self._pending.get(receipt.event_id) is receipt:
                    del self._pending[receipt.event_id]

    def keep_unsure(self, unsure: Sequence[tuple[PendingRecord, Mapping[int, int]]]) -> None:
        """Keep records that may or may not be on the log, each with the offsets per partition
        below which it cannot be, so the next process checks them before appending again."""
        rows = [
            (
                r.event_id,
                r.key,
                r.value,
                r.digest,
                r.event_type,
                r.schema_version,
                json.dumps({str(p): o for p, o in floor.items()}),
            )
            for r, floor in unsure
        ]
        with self._db_lock:
            self._conn.executemany(
                "INSERT INTO unsure VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING", rows
            )

    def unsure(self) -> list[tuple[PendingRecord, dict[int, int]]]:
        """The records kept by `keep_unsure` and not yet settled."""
        with self._db_lock:
            rows = self._conn.execute("SELECT * FROM unsure").fetchall()
        return [
            (
                PendingRecord(event_id, case_id, bytes(value), digest, kind, version),
                {int(p): int(o) for p, o in json.loads(floor).items()},
            )
            for event_id, case_id, value, digest, kind, version, floor in rows
        ]

    def settled(self, event_ids: Collection[str]) -> None:
        """Forget kept unsure records: they were found on the log, or are known not to be."""
        with self._db_lock:
            for marks, chunk in in_chunks(list(event_ids)):
                self._conn.execute(
                    f"DELETE FROM unsure WHERE event_id IN ({marks})",  # noqa: S608 -- placeholders only
                    chunk,
                )

    def close(self) -> None:
        """Flush what is pending, stop the writer and close the file."""
        self._closed = True
        self._wake.set()
        self._writer.join(timeout=30)
        try:
            self.flush()
        except sqlite3.Error as exc:
            raise LedgerUnavailable(f"receipts could not be written at close: {exc}") from exc
        finally:
            with self._db_lock, self._read_lock:
                self._conn.close()
                self._reader.close()

    def _write_behind(self) -> None:
        while not self._closed:
            self._wake.wait(FLUSH_EVERY)
            self._wake.clear()
            try:
                self.flush()
            except sqlite3.Error:
                # Receipts stay pending and are tried again; lookups still see them.
                log.exception("receipts.flush_failed", pending=len(self._pending))
