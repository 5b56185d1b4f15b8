"""The embedded log: one SQLite file, one partition, positions 0, 1, 2..."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from ledger.errors import LedgerUnavailable
from ledger.log import DeadLetter, DoneAppend, LogRecord, PendingRecord, Receipt, from_millis
from ledger.private import private_database
from ledger.sqlite_util import in_chunks

PARTITION = 0
_POLL_INTERVAL = 0.02

_SCHEMA = """
CREATE TABLE IF NOT EXISTS log (
    position INTEGER PRIMARY KEY,
    event_id TEXT UNIQUE,
    case_id TEXT,
    appended_ms INTEGER NOT NULL,
    digest TEXT,
    type TEXT,
    schema_version INTEGER,
    value BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY,
    source_topic TEXT NOT NULL,
    source_partition INTEGER NOT NULL,
    source_offset INTEGER NOT NULL,
    reason TEXT NOT NULL,
    detail TEXT NOT NULL,
    value BLOB NOT NULL,
    dead_lettered_ms INTEGER NOT NULL,
    key BLOB
);
CREATE INDEX IF NOT EXISTS dead_letters_by_source
    ON dead_letters (source_topic, source_partition, source_offset);
"""


_INSERT = (
    "INSERT INTO log (position, event_id, case_id, appended_ms, digest, type, schema_version,"
    " value) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)


def _row(position: int, record: PendingRecord, now: int) -> tuple[object, ...]:
    return (
        position,
        record.event_id,
        record.key,
        now,
        record.digest,
        record.event_type,
        record.schema_version,
        record.value,
    )


def _connect(path: Path) -> sqlite3.Connection:
    private_database(path)
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    return conn


def _add_dead_letter_keys(conn: sqlite3.Connection) -> None:
    """Give a log file made before dead letters kept their key the column for it."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(dead_letters)")}
    if "key" not in columns:
        conn.execute("ALTER TABLE dead_letters ADD COLUMN key BLOB")


class SQLiteEventLog:
    """EventLog in a SQLite file: the embedded default, with the same contract as Kafka."""

    def __init__(self, path: Path, topic: str = "sgl.ledger.v1") -> None:
        self.path = path
        self.topic = topic
        self._lock = threading.Lock()
        try:
            self._conn = _connect(path)
            self._conn.executescript(_SCHEMA)
            _add_dead_letter_keys(self._conn)
        except (sqlite3.Error, OSError) as exc:
            raise LedgerUnavailable(f"cannot open the embedded log at {path}: {exc}") from exc

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    yield self._conn
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    raise
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                raise LedgerUnavailable(f"embedded log write failed: {exc}") from exc

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                yield self._conn
            except sqlite3.Error as exc:
                raise LedgerUnavailable(f"embedded log read failed: {exc}") from exc

    def begin_append(
        self, records: Sequence[PendingRecord], *, looked_up: bool = False
    ) -> DoneAppend:
        """Append at once (SQLite commits synchronously); the result holds the receipts.

        `looked_up` changes nothing here: the unique event_id column finds repeats for free.
        """
        try:
            return DoneAppend(self.append(records))
        except LedgerUnavailable as exc:
            return DoneAppend(error=exc)

    def append(self, records: Sequence[PendingRecord]) -> list[Receipt]:
        """Append in order; an event_id already present yields its original receipt."""
        with self._write() as conn:
            (start,) = conn.execute("SELECT COALESCE(MAX(position) + 1, 0) FROM log").fetchone()
            now = time.time_ns() // 1_000_000
            conn.execute("SAVEPOINT bulk")
            try:
                conn.executemany(_INSERT, [_row(start + i, r, now) for i, r in enumerate(records)])
            except sqlite3.IntegrityError:
                # Some event_id is already in the log (another writer got there first): go
                # record by record so each of those answers with its original receipt.
                conn.execute("ROLLBACK TO bulk")
                conn.execute("RELEASE bulk")
                return self._append_one_by_one(conn, records, start, now)
            conn.execute("RELEASE bulk")
        appended_at = from_millis(now)
        return [
            Receipt.accepted(r, PARTITION, start + i, appended_at) for i, r in enumerate(records)
        ]

    def _append_one_by_one(
        self, conn: sqlite3.Connection, records: Sequence[PendingRecord], position: int, now: int
    ) -> list[Receipt]:
        receipts = []
        for record in records:
            cursor = conn.execute(
                _INSERT + " ON CONFLICT (event_id) DO NOTHING", _row(position, record, now)
            )
            if cursor.rowcount == 1:
                receipts.append(Receipt.accepted(record, PARTITION, position, from_millis(now)))
                position += 1
            else:
                receipts.append(self._lookup(conn, [record.event_id])[record.event_id])
        return receipts

    def lookup(self, event_ids: Collection[str]) -> dict[str, Receipt]:
        """Receipts of event_ids already in the log."""
        with self._read() as conn:
            return self._lookup(conn, list(event_ids))

    def _lookup(self, conn: sqlite3.Connection, event_ids: list[str]) -> dict[str, Receipt]:
        found: dict[str, Receipt] = {}
        for marks, chunk in in_chunks(event_ids):
            columns = "event_id, position, appended_ms, digest, case_id, type, schema_version"
            sql = f"SELECT {columns} FROM log WHERE event_id IN ({marks})"  # noqa: S608 -- placeholders only
            for event_id, position, millis, digest, case_id, kind, version in conn.execute(
                sql, chunk
            ):
                found[event_id] = Receipt(
                    event_id,
                    "duplicate",
                    PARTITION,
                    position,
                    from_millis(millis),
                    digest or "",
                    case_id or "",
                    kind or "",
                    version or 0,
                )
        return found

    def partitions(self) -> list[int]:
        """One partition."""
        return [PARTITION]

    def end_offsets(self) -> dict[int, int]:
        """The position the next record will take."""
        with self._read() as conn:
            (end,) = conn.execute("SELECT COALESCE(MAX(position) + 1, 0) FROM log").fetchone()
        return {PARTITION: int(end)}

    def reader(self, start: Mapping[int, int]) -> SQLiteLogReader:
        """A reader on its own connection, from the given next position."""
        return SQLiteLogReader(self.path, self.topic, start.get(PARTITION, 0))

    def ping(self) -> None:
        """Check the file answers a query."""
        with self._read() as conn:
            conn.execute("SELECT 1").fetchone()

    def dead_letter(self, record: LogRecord, reason: str, detail: str) -> bool:
        """Keep a refused record's bytes, key and reason in the dead_letters table, once per
        source position (a second consumer of the same log does not letter it again); whether
        it wrote."""
        with self._write() as conn:
            written = conn.execute(
                "INSERT INTO dead_letters (source_topic, source_partition, source_offset, reason,"
                " detail, value, dead_lettered_ms, key) SELECT ?, ?, ?, ?, ?, ?, ?, ? WHERE NOT"
                " EXISTS (SELECT 1 FROM dead_letters WHERE source_topic = ?"
                " AND source_partition = ? AND source_offset = ?)",
                (
                    record.topic,
                    record.partition,
                    record.offset,
                    reason,
                    detail,
                    # The embedded log holds no record without a value; one from elsewhere
                    # is kept as the empty string, as the seal hashes it.
                    b"" if record.value is None else record.value,
                    time.time_ns() // 1_000_000,
                    record.key,
                    record.topic,
                    record.partition,
                    record.offset,
                ),
            ).rowcount
        return written == 1

    def dead_letters(self) -> list[DeadLetter]:
        """Every dead-lettered record, oldest first."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT source_topic, source_partition, source_offset, key, value, reason, detail,"
                " dead_lettered_ms FROM dead_letters ORDER BY id"
            ).fetchall()
        return [
            DeadLetter(topic, partition, offset, key, value, reason, detail, from_millis(ms))
            for topic, partition, offset, key, value, reason, detail, ms in rows
        ]

    def append_raw(self, value: bytes, key: str | None = None) -> int:
        """Write bytes to the log unvalidated, as a faulty producer could; returns the position."""
        with self._write() as conn:
            (position,) = conn.execute("SELECT COALESCE(MAX(position) + 1, 0) FROM log").fetchone()
            conn.execute(
                "INSERT INTO log (position, case_id, appended_ms, value) VALUES (?, ?, ?, ?)",
                (position, key, time.time_ns() // 1_000_000, value),
            )
        return int(position)

    def close(self) -> None:
        """Close the writer connection."""
        with self._lock:
            self._conn.close()


class SQLiteLogReader:
    """Reads the embedded log in position order on its own connection."""

    def __init__(self, path: Path, topic: str, next_position: int) -> None:
        try:
            self._conn = _connect(path)
        except sqlite3.Error as exc:
            raise LedgerUnavailable(f"cannot read the embedded log at {path}: {exc}") from exc
        self._topic = topic
        self._next = next_position

    def poll(self, max_records: int, timeout: float) -> list[LogRecord]:
        """Up to max_records records from the current position, waiting up to timeout."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                rows = self._conn.execute(
                    "SELECT position, appended_ms, case_id, value FROM log "
                    "WHERE position >= ? ORDER BY position LIMIT ?",
                    (self._next, max_records),
                ).fetchall()
            except sqlite3.Error as exc:
                raise LedgerUnavailable(f"embedded log read failed: {exc}") from exc
            if rows or time.monotonic() >= deadline:
                break
            time.sleep(_POLL_INTERVAL)
        if rows:
            self._next = rows[-1][0] + 1
        return [
            LogRecord(
                self._topic,
                PARTITION,
                pos,
                from_millis(ms),
                key.encode() if key is not None else None,
                value,
            )
            for pos, ms, key, value in rows
        ]

    def close(self) -> None:
        """Close the reader's connection."""
        self._conn.close()
