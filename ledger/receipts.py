"""Receipts by event_id, for a log (Kafka) that cannot look records up by key itself."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

import psycopg
import structlog
from psycopg.conninfo import make_conninfo

from ledger.errors import LedgerUnavailable
from ledger.log import PendingRecord, Receipt, from_millis
from ledger.postgres import PostgresLocation, setup_lock
from ledger.private import private_database
from ledger.sqlite_util import in_chunks

log = structlog.get_logger("ledger.receipts")

_T = TypeVar("_T")

FLUSH_EVERY = 0.2
FLUSH_AT = 5000
# Receipts per segment of the SQLite index: inserts into a tree this small share pages.
SEGMENT_ROWS = 50_000
# The SQLite index's filter: its least size, bits per event_id at capacity, probes per look-up.
FILTER_MIN_BITS = 1 << 20
FILTER_BITS_PER_ID = 32
FILTER_PROBES = 6


@dataclass(slots=True)
class Claims:
    """What a claim on event_ids found: those now this process's to append, receipts already
    made, claims another live process holds (its receipt is to be waited for), event_ids
    taken before with other content, claims of processes that died, taken over with the
    offsets per partition below which their record cannot be (it may be on the log), and
    claims whose outcome cannot be known yet (being checked against the log by another
    process, or of a session that ended too recently to be taken over): to retry."""

    granted: list[str] = field(default_factory=list)
    known: dict[str, Receipt] = field(default_factory=dict)
    held: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    orphaned: dict[str, dict[int, int]] = field(default_factory=dict)
    busy: list[str] = field(default_factory=list)


class ReceiptIndex(Protocol):
    """The port: remember receipts, find them by event_id, claim event_ids before they are
    appended, keep unsure records across restarts."""

    def put(self, receipts: Sequence[Receipt]) -> None:
        """Remember receipts; the first for an event_id wins."""
        ...

    def get(self, event_ids: Collection[str]) -> dict[str, Receipt]:
        """Known receipts, as `duplicate`."""
        ...

    def claim(self, records: Sequence[PendingRecord], floor: Mapping[int, int]) -> Claims:
        """Claim event_ids about to be appended (records sent after `floor` was probed)."""
        ...

    def release(self, event_ids: Collection[str]) -> None:
        """Give up this process's claims on event_ids certainly not appended (never raises:
        what cannot be given up now is given up later)."""
        ...

    def confirm(self, receipts: Sequence[Receipt], claimed_at: float) -> list[str]:
        """Remember the receipts of records appended under claims made at `claimed_at`
        (monotonic), but not those whose claim may have been taken over meanwhile: their
        event_ids are returned."""
        ...

    def wait(self, event_ids: Collection[str], deadline: float) -> dict[str, Receipt]:
        """The receipts of event_ids claimed elsewhere, once made (monotonic `deadline`);
        LedgerUnavailable if one is not made in time or its claim was given up."""
        ...

    def flush(self) -> None:
        """Make what was put durable now."""
        ...

    def keep_unsure(self, unsure: Sequence[tuple[PendingRecord, Mapping[int, int]]]) -> None:
        """Keep records that may or may not be on the log, with their floors."""
        ...

    def unsure(self) -> list[tuple[PendingRecord, dict[int, int]]]:
        """Records kept unsure by a previous process, to check against the log."""
        ...

    def settled(self, event_ids: Collection[str]) -> None:
        """Forget unsure records: found on the log (and put), or known not to be."""
        ...

    def close(self) -> None:
        """Make what was put durable and release the storage."""
        ...


class _Filter:
    """A Bloom filter of the event_ids in the file: most look-ups are of new events, and it
    answers them (certainly absent) without reading the file, at a cost that does not grow."""

    def __init__(self, bits: int) -> None:
        self.bits = bits  # a power of two, at most 2**32
        self.count = 0
        self._mask = bits - 1
        self._array = bytearray(bits // 8)

    @classmethod
    def for_count(cls, count: int) -> _Filter:
        """An empty filter sized for `count` event_ids and as many again."""
        bits = FILTER_MIN_BITS
        while bits < count * 2 * FILTER_BITS_PER_ID and bits < 1 << 32:
            bits *= 2
        return cls(bits)

    @property
    def full(self) -> bool:
        """Past its capacity: false positives (reads of the file) would start to grow."""
        return self.count * FILTER_BITS_PER_ID > self.bits

    def add(self, event_ids: Sequence[str]) -> None:
        """Mark these event_ids as in the file."""
        array, mask = self._array, self._mask
        for event_id in event_ids:
            h = _wide_hash(event_id)
            for _ in range(FILTER_PROBES):
                i = h & mask
                array[i >> 3] |= 1 << (i & 7)
                h >>= 32
        self.count += len(event_ids)

    def may_hold(self, event_id: str) -> bool:
        """False if the event_id is certainly not in the file."""
        array, mask = self._array, self._mask
        h = _wide_hash(event_id)
        for _ in range(FILTER_PROBES):
            i = h & mask
            if not array[i >> 3] & (1 << (i & 7)):
                return False
            h >>= 32
        return True


def _wide_hash(event_id: str) -> int:
    """192 bits of an event_id's hash: one 32-bit slice per probe of the filter."""
    return int.from_bytes(hashlib.blake2b(event_id.encode(), digest_size=24).digest(), "little")


_SQLITE_RECEIPTS = (
    "CREATE TABLE IF NOT EXISTS {} (event_id TEXT PRIMARY KEY, "
    "partition INTEGER NOT NULL, offset INTEGER NOT NULL, "
    "appended_ms INTEGER NOT NULL, digest TEXT NOT NULL, case_id TEXT NOT NULL, "
    "type TEXT NOT NULL, schema_version INTEGER NOT NULL) WITHOUT ROWID"
)


def _stored(
    event_id: str,
    partition: int,
    offset: int,
    millis: int,
    digest: str,
    case_id: str,
    kind: str,
    version: int,
) -> Receipt:
    """The receipt an index keeps for an event_id, from its columns, answered as a duplicate."""
    return Receipt(
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


class _Pending:
    """Receipts remembered in memory at once and written behind by a thread (both indexes):
    lookups see them before they are written."""

    def _start_pending(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[str, Receipt] = {}
        self._wake = threading.Event()
        self._closed = False

    def put(self, receipts: Sequence[Receipt]) -> None:
        """Remember receipts; the first receipt for an event_id wins."""
        with self._lock:
            for receipt in receipts:
                self._pending.setdefault(receipt.event_id, receipt)
            if len(self._pending) >= FLUSH_AT:
                self._wake.set()

    def _pending_of(self, event_ids: Collection[str]) -> tuple[dict[str, Receipt], list[str]]:
        """The pending receipts of these event_ids (as duplicates), and the event_ids not
        pending, to be looked for where the receipts are written."""
        found: dict[str, Receipt] = {}
        missing = []
        with self._lock:
            for event_id in event_ids:
                receipt = self._pending.get(event_id)
                if receipt is None:
                    missing.append(event_id)
                else:
                    found[event_id] = receipt.as_duplicate()
        return found, missing

    def _written(self, batch: Sequence[Receipt]) -> None:
        """Forget pending receipts now written (a receipt put again meanwhile stays)."""
        with self._lock:
            for receipt in batch:
                if self._pending.get(receipt.event_id) is receipt:
                    del self._pending[receipt.event_id]


class SQLiteReceiptIndex(_Pending):
    """event_id -> first receipt, in memory at once and in a SQLite file shortly after.

    Writes are behind: a thread moves new receipts to the file every FLUSH_EVERY seconds in
    one transaction, because random-keyed inserts cost far more one batch at a time on the
    append path. Lookups see pending receipts too. If the process dies, the receipts of its
    last fraction of a second are lost from the index: a retry of those events then appends
    them again, and the consumers, which apply each event_id once, are unaffected.

    Costs do not grow with the index: receipts go into segments (tables) of SEGMENT_ROWS,
    so an insert always lands in a small tree (random keys in one large tree dirty a page
    each), and a Bloom filter of every event_id in the file, built when it opens, answers
    the look-up of a new event without reading any segment; only an event_id the filter may
    hold (a retry) is looked for in the segments, oldest first (the first receipt wins).

    The file is one process's: a claim is always granted (the ledger's lock already keeps
    one process from appending an event_id twice).
    """

    def __init__(self, path: Path) -> None:
        self._start_pending()
        try:
            private_database(path)
            self._conn = sqlite3.connect(
                path, isolation_level=None, check_same_thread=False, timeout=30
            )
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            # The first segment keeps the name of the single table the index once had.
            self._conn.execute(_SQLITE_RECEIPTS.format("receipts"))
            # Records whose append was not confirmed when the process stopped (see `keep_unsure`).
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS unsure (event_id TEXT PRIMARY KEY, "
                "case_id TEXT NOT NULL, value BLOB NOT NULL, digest TEXT NOT NULL, "
                "type TEXT NOT NULL, schema_version INTEGER NOT NULL, floor TEXT NOT NULL) "
                "WITHOUT ROWID"
            )
            self._segments = self._list_segments()
            self._filter = self._built_filter()
            (self._current_rows,) = self._conn.execute(
                f"SELECT count(*) FROM {self._segments[-1]}"  # noqa: S608 -- a segment's name
            ).fetchone()
            # Lookups read on their own connection, so they never wait for a write (WAL).
            self._reader = sqlite3.connect(path, check_same_thread=False, timeout=30)
        except (sqlite3.Error, OSError) as exc:
            raise LedgerUnavailable(f"cannot open the receipt index at {path}: {exc}") from exc
        self._db_lock = threading.Lock()
        self._read_lock = threading.Lock()
        self._writer = threading.Thread(target=self._write_behind, name="receipts", daemon=True)
        self._writer.start()

    def _list_segments(self) -> list[str]:
        """The segments' table names, oldest first."""
        names = [
            name
            for (name,) in self._conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name GLOB 'receipts_[0-9]*'"
            )
        ]
        return ["receipts", *sorted(names, key=lambda n: int(n.rsplit("_", 1)[1]))]

    def _built_filter(self) -> _Filter:
        """A filter of every event_id in the segments (on the writer's connection)."""
        ids = [
            event_id
            for segment in self._segments
            for (event_id,) in self._conn.execute(
                f"SELECT event_id FROM {segment}"  # noqa: S608 -- a segment's name
            )
        ]
        built = _Filter.for_count(len(ids))
        built.add(ids)
        return built

    def get(self, event_ids: Collection[str]) -> dict[str, Receipt]:
        """Known receipts for these event_ids, as status `duplicate`."""
        found, missing = self._pending_of(event_ids)
        held = self._filter
        maybe = [event_id for event_id in missing if held.may_hold(event_id)]
        if maybe:
            with self._read_lock:
                found.update(self._in_file(self._reader, maybe))
        return found

    def _in_file(self, conn: sqlite3.Connection, event_ids: list[str]) -> dict[str, Receipt]:
        """The receipts of these event_ids in the segments, oldest segment first."""
        found: dict[str, Receipt] = {}
        try:
            for segment in list(self._segments):
                wanted = [e for e in event_ids if e not in found]
                if not wanted:
                    break
                for marks, chunk in in_chunks(wanted):
                    for row in conn.execute(
                        f"SELECT * FROM {segment} WHERE event_id IN ({marks})",  # noqa: S608 -- a segment's name, placeholders
                        chunk,
                    ):
                        found.setdefault(row[0], _stored(*row))
        except sqlite3.Error as exc:
            raise LedgerUnavailable(f"receipt index unreadable: {exc}") from exc
        return found

    def claim(self, records: Sequence[PendingRecord], floor: Mapping[int, int]) -> Claims:
        """Every event_id is granted: no other process appends through this file."""
        return Claims(granted=list(dict.fromkeys(r.event_id for r in records)))

    def release(self, event_ids: Collection[str]) -> None:
        """Nothing to give up: claims are not kept."""

    def confirm(self, receipts: Sequence[Receipt], claimed_at: float) -> list[str]:
        """Remember the receipts: no other process takes a claim of this file's over."""
        self.put(receipts)
        return []

    def wait(self, event_ids: Collection[str], deadline: float) -> dict[str, Receipt]:
        """The receipts of these event_ids; none is ever claimed elsewhere, so one missing is
        LedgerUnavailable at once."""
        found = self.get(event_ids)
        missing = [e for e in event_ids if e not in found]
        if missing:
            raise LedgerUnavailable(f"no receipt for {len(missing)} claimed event(s); retry")
        return found

    def flush(self) -> None:
        """Write every pending receipt to the file now."""
        # Taken under the write lock: a flush that waited for another writes only what that
        # one left pending.
        with self._db_lock:
            with self._lock:
                batch = list(self._pending.values())
            if not batch:
                return
            # A receipt already in an older segment stays the first one.
            maybe = [r.event_id for r in batch if self._filter.may_hold(r.event_id)]
            indexed = self._in_file(self._conn, maybe) if maybe else {}
            fresh = [r for r in batch if r.event_id not in indexed]
            self._write(fresh)
            self._filter.add([r.event_id for r in fresh])
            if self._filter.full:
                self._filter = self._built_filter()
        self._written(batch)

    def _write(self, receipts: list[Receipt]) -> None:
        """Insert receipts in the newest segment, beginning a new one when it is full (under
        the write lock)."""
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
            for r in receipts
        ]
        segments = self._segments
        self._conn.execute("BEGIN")
        try:
            if self._current_rows >= SEGMENT_ROWS:
                segments = [*segments, f"receipts_{len(segments)}"]
                self._conn.execute(_SQLITE_RECEIPTS.format(segments[-1]))
            self._conn.executemany(
                f"INSERT INTO {segments[-1]} VALUES (?, ?, ?, ?, ?, ?, ?, ?) "  # noqa: S608 -- a segment's name
                "ON CONFLICT DO NOTHING",
                rows,
            )
            self._conn.execute("COMMIT")
        except BaseException:
            # Leave no transaction open, or every later flush would fail as well.
            self._conn.execute("ROLLBACK")
            raise
        if segments is not self._segments:
            self._segments, self._current_rows = segments, 0
        self._current_rows += len(rows)

    def keep_unsure(self, unsure: Sequence[tuple[PendingRecord, Mapping[int, int]]]) -> None:
        """Keep records that may or may not be on the log, each with the offsets per partition
        below which it cannot be (raised as the log is read), so the next process checks them
        before appending again, from there."""
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
                "INSERT INTO unsure VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (event_id) DO UPDATE SET floor = excluded.floor",
                rows,
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


# Seconds between two looks at a claim held by another process, and between two flushes:
# a process waiting for another's receipt waits about this long past the other's flush.
PG_FLUSH_EVERY = 0.05
CLAIM_POLL = 0.02
# Seconds past the longest a claimant's producer may still land a record before a claim
# whose session ended is taken over: clocks of the database's failover and process stalls.
TAKEOVER_MARGIN = 5.0
# Sessions of this process whose claims it still knows as its own (one more each time the
# database is lost); a claim of an older one is taken over like another process's.
OWNERS_KEPT = 16

_PG_TABLE = """
CREATE TABLE IF NOT EXISTS receipts (
    topic TEXT NOT NULL,
    event_id TEXT NOT NULL,
    digest TEXT NOT NULL,
    case_id TEXT NOT NULL,
    type TEXT NOT NULL,
    schema_version INTEGER NOT NULL,
    partition INTEGER,
    "offset" BIGINT,
    appended_ms BIGINT,
    owner_pid INTEGER,
    owner_start TIMESTAMPTZ,
    floor TEXT,
    PRIMARY KEY (topic, event_id)
)
"""
# When a claim was made (a table made before has its claims dated when the column came, which
# only delays their takeover), and whether it was taken over and its record is being looked
# for on the log.
_PG_COLUMNS = {
    "claimed_at": "ALTER TABLE receipts ADD COLUMN claimed_at TIMESTAMPTZ NOT NULL DEFAULT now()",
    "settling": "ALTER TABLE receipts ADD COLUMN settling BOOLEAN NOT NULL DEFAULT false",
}
# A claim is a row without a position; its owner is the database session (backend pid and
# start time) of the process that made it, alive exactly as long as that session is. Rows go
# in event_id order, so batches claiming the same event_ids at once never deadlock.
_PG_CLAIM = """
INSERT INTO receipts (topic, event_id, digest, case_id, type, schema_version,
                      owner_pid, owner_start, floor)
SELECT %s, w.event_id, w.digest, w.case_id, w.type, w.schema_version, %s, %s, %s
FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::int[])
    AS w(event_id, digest, case_id, type, schema_version)
ORDER BY w.event_id
ON CONFLICT (topic, event_id) DO NOTHING
RETURNING event_id
"""
# A claim is ripe (may be taken over once its owner is gone) when it is older than the
# longest its owner's producer could still land the record.
_PG_CLAIMED = """
SELECT r.event_id, r.digest, r.partition, r."offset", r.appended_ms, r.case_id, r.type,
       r.schema_version, r.owner_pid, r.owner_start, r.floor, r.settling,
       EXISTS (SELECT 1 FROM pg_stat_activity a
               WHERE a.pid = r.owner_pid AND a.backend_start = r.owner_start) AS alive,
       r.claimed_at < now() - make_interval(secs => %s) AS ripe
FROM receipts r WHERE r.topic = %s AND r.event_id = ANY(%s)
ORDER BY r.event_id
"""
# Taken over, a claim is being settled: its record is looked for on the log from its floor.
_PG_TAKE_OVER = """
UPDATE receipts SET owner_pid = %s, owner_start = %s, settling = true
WHERE topic = %s AND event_id = %s AND partition IS NULL
  AND owner_pid = %s AND owner_start = %s
  AND claimed_at < now() - make_interval(secs => %s)
RETURNING event_id
"""
# A claim of this process (of its current session or one before) granted to it again, owned
# by the current session (unless another process took it over meanwhile) and dated now: its
# record is sent again now, so it must not be taken over sooner than a new claim would be (a
# claim being settled has nothing in flight, and keeps its date).
_PG_RECLAIM = """
UPDATE receipts SET owner_pid = %s, owner_start = %s,
    claimed_at = CASE WHEN settling THEN claimed_at ELSE now() END
WHERE topic = %s AND event_id = %s AND partition IS NULL
  AND owner_pid = %s AND owner_start = %s
RETURNING event_id
"""
_PG_RELEASE = """
DELETE FROM receipts WHERE topic = %s AND event_id = ANY(%s) AND partition IS NULL
  AND (owner_pid, owner_start) IN (SELECT * FROM unnest(%s::int[], %s::timestamptz[]))
"""
# The first receipt wins; it replaces a claim, whoever made it (the record is on the log).
_PG_PUT = """
INSERT INTO receipts (topic, event_id, digest, case_id, type, schema_version,
                      partition, "offset", appended_ms)
SELECT %s, * FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::int[],
                         %s::int[], %s::bigint[], %s::bigint[])
ON CONFLICT (topic, event_id) DO UPDATE SET
    digest = EXCLUDED.digest, case_id = EXCLUDED.case_id, type = EXCLUDED.type,
    schema_version = EXCLUDED.schema_version, partition = EXCLUDED.partition,
    "offset" = EXCLUDED."offset", appended_ms = EXCLUDED.appended_ms,
    owner_pid = NULL, owner_start = NULL, floor = NULL, settling = false
WHERE receipts.partition IS NULL
"""
# A receipt that replaces only a claim still this process's, never taken over: proof that no
# other process can have appended (or be appending) the event.
_PG_CONFIRM = """
UPDATE receipts AS r SET partition = w.partition, "offset" = w.offset,
    appended_ms = w.appended_ms, owner_pid = NULL, owner_start = NULL, floor = NULL
FROM unnest(%s::text[], %s::int[], %s::bigint[], %s::bigint[])
    AS w(event_id, partition, "offset", appended_ms)
WHERE r.topic = %s AND r.event_id = w.event_id AND r.partition IS NULL AND NOT r.settling
  AND (r.owner_pid, r.owner_start) IN (SELECT * FROM unnest(%s::int[], %s::timestamptz[]))
RETURNING r.event_id
"""
_PG_FLOOR = """
UPDATE receipts AS r SET floor = w.floor
FROM unnest(%s::text[], %s::text[]) AS w(event_id, floor)
WHERE r.topic = %s AND r.event_id = w.event_id AND r.partition IS NULL
  AND (r.owner_pid, r.owner_start) IN (SELECT * FROM unnest(%s::int[], %s::timestamptz[]))
"""
_PG_GET = """
SELECT event_id, partition, "offset", appended_ms, digest, case_id, type, schema_version
FROM receipts WHERE topic = %s AND event_id = ANY(%s) AND partition IS NOT NULL
"""


class PostgresReceiptIndex(_Pending):
    """event_id -> first receipt for one topic, in a PostgreSQL table that every API process
    of the ledger shares, so a retry on any of them finds the first append's receipt.

    Before producing, a process claims the event_ids (a row without a position, owned by its
    database session) in one statement: an event_id claimed or appended elsewhere is not
    produced again; its receipt is waited for, or the batch is a conflict if the content
    differs. A claim whose session has ended may still have its record in flight (the owner
    only lost the database), so it is taken over only once older than `in_flight` seconds
    (the producer's longest delivery) and TAKEOVER_MARGIN: then its record may be on the
    log, and the taker reads the log from the claim's floor before it is appended (the log's
    unsure records); meanwhile other processes are told to retry. Receipts replace claims
    behind, every PG_FLUSH_EVERY seconds, in one statement; lookups see pending receipts too.
    """

    def __init__(self, location: PostgresLocation, topic: str, *, in_flight: float) -> None:
        self.location = location
        self.topic = topic
        self.takeover_after = in_flight + TAKEOVER_MARGIN
        self._start_pending()
        self._db_lock = threading.Lock()
        self._read_lock = threading.Lock()
        # Claims to give up that the database did not take when asked (under the write lock).
        self._unreleased: set[str] = set()
        self._conn = self._connect()
        # Every session this process has owned claims with, the current one last.
        try:
            self._owners = [self._identity(self._conn)]
        except LedgerUnavailable:
            self._conn.close()
            raise
        try:
            # Processes starting together would race to create the same schema and table
            # (the stores make theirs under the same lock).
            with setup_lock(self._conn):
                location.ensure_schema(self._conn)
                self._conn.execute(_PG_TABLE)
                # Only when missing: altering the table locks out every process using it.
                present = {
                    name
                    for (name,) in self._conn.execute(
                        "SELECT column_name FROM information_schema.columns "
                        "WHERE table_schema = current_schema() AND table_name = 'receipts'"
                    )
                }
                for name, alter in _PG_COLUMNS.items():
                    if name not in present:
                        self._conn.execute(alter)
        except psycopg.Error as exc:
            self._conn.close()
            raise self._unavailable("cannot create the receipt table", exc) from exc
        self._reader = self._connect()
        self._writer = threading.Thread(target=self._write_behind, name="receipts", daemon=True)
        self._writer.start()

    @classmethod
    def open(
        cls, location: PostgresLocation, topic: str, *, in_flight: float
    ) -> PostgresReceiptIndex:
        """The index of a topic's receipts in the location's schema (the table is made if
        absent); `in_flight`: the longest, in seconds, a record handed to a producer after
        its claim may still land on the log."""
        return cls(location, topic, in_flight=in_flight)

    @property
    def _owner(self) -> tuple[int, datetime]:
        return self._owners[-1]

    def get(self, event_ids: Collection[str]) -> dict[str, Receipt]:
        """Known receipts for these event_ids, as status `duplicate` (claims are not)."""
        found, missing = self._pending_of(event_ids)
        if missing:
            with self._read_lock:
                rows = self._read(_PG_GET, (self.topic, missing))
            for row in rows:
                found[row[0]] = _stored(*row)
        return found

    def claim(self, records: Sequence[PendingRecord], floor: Mapping[int, int]) -> Claims:
        """Claim these event_ids for this process (see the class): one statement when none
        is contested, else the contested are sorted in one transaction. A batch with an
        event_id in conflict, orphaned or busy is granted none, and a failure part-way takes
        none over and gives back what it inserted (what the database does not take back then
        is given up by the writer; an insert whose reply was lost leaves claims this process
        is granted again on a retry, or another takes over past `takeover_after`)."""
        if not records:
            return Claims()
        by_id = {r.event_id: r for r in records}
        wanted = sorted(by_id.values(), key=lambda r: r.event_id)
        with self._db_lock:
            inserted = {
                row[0]
                for row in self._write(
                    _PG_CLAIM,
                    # The owner is the session the statement runs on (it may be replaced).
                    lambda: (
                        self.topic,
                        *self._owner,
                        json.dumps({str(p): o for p, o in floor.items()}),
                        [r.event_id for r in wanted],
                        [r.digest for r in wanted],
                        [r.key for r in wanted],
                        [r.event_type for r in wanted],
                        [r.schema_version for r in wanted],
                    ),
                )
            }
            contested = [e for e in by_id if e not in inserted]
            claims = Claims(granted=[e for e in by_id if e in inserted])
            if contested:
                try:
                    claims = self._in_session(
                        lambda conn: self._contest(conn, by_id, claims.granted, contested)
                    )
                except LedgerUnavailable:
                    # Given up at once, they are no live process's for another to wait on.
                    self._unreleased.update(claims.granted)
                    self._release_unreleased()
                    raise
            # Granted again, a claim this process failed to give up is its own once more.
            self._unreleased.difference_update(claims.granted)
        return claims

    def _contest(
        self,
        conn: psycopg.Connection[Any],
        by_id: dict[str, PendingRecord],
        inserted: list[str],
        contested: list[str],
    ) -> Claims:
        """Sort the contested event_ids in one transaction (taking over those ripe), and give
        the inserted back if the batch cannot go."""
        claims = Claims(granted=list(inserted))
        with conn.transaction():
            rows = conn.execute(
                _PG_CLAIMED, (self.takeover_after, self.topic, contested)
            ).fetchall()
            for row in rows:
                self._sort_claimed(conn, claims, by_id[row[0]], row)
            # Gone between the two statements (given up by its owner): the caller retries.
            seen = {row[0] for row in rows}
            claims.held.extend(e for e in contested if e not in seen)
            if claims.granted and (claims.conflicts or claims.orphaned or claims.busy):
                conn.execute(_PG_RELEASE, (self.topic, claims.granted, *self._owner_arrays()))
                claims.granted = []
        return claims

    def _sort_claimed(
        self,
        conn: psycopg.Connection[Any],
        claims: Claims,
        record: PendingRecord,
        row: tuple[Any, ...],
    ) -> None:
        """File one contested event_id (in the claim's transaction)."""
        event_id, digest, partition, offset, millis, case_id, kind, version = row[:8]
        owner_pid, owner_start, floor, settling, alive, ripe = row[8:]
        owner = (owner_pid, owner_start)
        if digest != record.digest:
            claims.conflicts.append(event_id)
        elif partition is not None:
            claims.known[event_id] = _stored(
                event_id, partition, offset, millis, digest, case_id, kind, version
            )
        elif owner in self._owners:
            # This process's own claim (maybe made on a session since lost): nothing of it is
            # in flight, or the log would have refused the retry before claiming.
            if not conn.execute(
                _PG_RECLAIM, (*self._owner, self.topic, event_id, *owner)
            ).fetchall():
                claims.held.append(event_id)
            elif settling:
                claims.orphaned[event_id] = _floor_of(floor)
            else:
                claims.granted.append(event_id)
        elif alive:
            (claims.busy if settling else claims.held).append(event_id)
        elif not ripe:
            # Its owner may have lost only the database, its record still in flight.
            claims.busy.append(event_id)
        elif conn.execute(
            _PG_TAKE_OVER,
            (*self._owner, self.topic, event_id, *owner, self.takeover_after),
        ).fetchall():
            claims.orphaned[event_id] = _floor_of(floor)
        else:
            # Another process took it over first: its outcome is to be retried for.
            claims.busy.append(event_id)

    def release(self, event_ids: Collection[str]) -> None:
        """Give up this process's claims on event_ids that are certainly not on the log; if
        the database does not take it now, the writer gives them up later (never raises)."""
        if not event_ids:
            return
        with self._db_lock:
            self._unreleased.update(event_ids)
            self._release_unreleased()

    def _release_unreleased(self) -> None:
        """Give up the claims not yet given up (under the write lock); kept on a failure."""
        if not self._unreleased:
            return
        wanted = list(self._unreleased)
        try:
            self._write(_PG_RELEASE, lambda: (self.topic, wanted, *self._owner_arrays()))
        except LedgerUnavailable as exc:
            log.warning("receipts.release_failed", claims=len(wanted), error=str(exc))
            return
        self._unreleased.difference_update(wanted)

    def _owner_arrays(self) -> tuple[list[int], list[datetime]]:
        """This process's sessions as the arrays a statement matches owners against."""
        return [pid for pid, _ in self._owners], [start for _, start in self._owners]

    def wait(self, event_ids: Collection[str], deadline: float) -> dict[str, Receipt]:
        """The receipts of event_ids claimed by other processes, once they are made;
        LedgerUnavailable when the deadline passes, or a claim was given up, orphaned or
        taken over (a retry is then told what became of it)."""
        found: dict[str, Receipt] = {}
        while True:
            found.update(self.get([e for e in event_ids if e not in found]))
            waiting = [e for e in event_ids if e not in found]
            if not waiting:
                return found
            with self._read_lock:
                rows = self._read(_PG_CLAIMED, (self.takeover_after, self.topic, waiting))
            # A live owner appending it (not settling another's): its receipt is to come.
            live = {row[0] for row in rows if row[2] is None and row[12] and not row[11]}
            done = {row[0] for row in rows if row[2] is not None}
            if any(e not in live and e not in done for e in waiting):
                raise LedgerUnavailable(
                    "another ledger process gave up appending an event of this batch, or it "
                    "is being checked against the log; retry with the same event_ids"
                )
            if time.monotonic() >= deadline:
                raise LedgerUnavailable(
                    f"another ledger process has not confirmed {len(waiting)} event(s) of this "
                    "batch in time; retry with the same event_ids"
                )
            time.sleep(CLAIM_POLL)

    def confirm(self, receipts: Sequence[Receipt], claimed_at: float) -> list[str]:
        """Remember the receipts of records appended under claims made at `claimed_at`
        (monotonic). Before any such claim could be taken over they are put as usual; after,
        each is written now only if its claim is still this process's, or its record was
        found (same position) by whoever took it over. The others, whose record may be on the
        log twice, are not remembered and are returned; if the claims cannot be checked (the
        database fails), all are put (they are on the log) and all are returned."""
        if not receipts or time.monotonic() < claimed_at + self.takeover_after:
            self.put(receipts)
            return []
        try:
            lost = self._confirm_late(receipts)
        except LedgerUnavailable as exc:
            # The records are on the log, so their receipts are put (a retry answers
            # `duplicate`); whether another process appended one again cannot be known.
            log.warning("receipts.confirm_failed", events=len(receipts), error=str(exc))
            self.put(receipts)
            return [r.event_id for r in receipts]
        if lost:
            log.warning("receipts.claims_taken_over", events=len(lost))
        return lost

    def _confirm_late(self, receipts: Sequence[Receipt]) -> list[str]:
        """Write the receipts whose claims are still this process's, or found (same position)
        by whoever took them over; the event_ids of the others."""
        with self._db_lock:
            rows = self._write(
                _PG_CONFIRM,
                lambda: (
                    [r.event_id for r in receipts],
                    [r.partition for r in receipts],
                    [r.offset for r in receipts],
                    [round(r.appended_at.timestamp() * 1000) for r in receipts],
                    self.topic,
                    *self._owner_arrays(),
                ),
            )
        confirmed = {row[0] for row in rows}
        others = [r for r in receipts if r.event_id not in confirmed]
        if not others:
            return []
        with self._read_lock:
            indexed = {
                row[0]: (row[1], row[2])
                for row in self._read(_PG_GET, (self.topic, [r.event_id for r in others]))
            }
        return [r.event_id for r in others if indexed.get(r.event_id) != (r.partition, r.offset)]

    def flush(self) -> None:
        """Write every pending receipt to the table now, replacing claims."""
        with self._lock:
            batch = list(self._pending.values())
        if not batch:
            return
        with self._db_lock:
            self._write(
                _PG_PUT,
                lambda: (
                    self.topic,
                    [r.event_id for r in batch],
                    [r.digest for r in batch],
                    [r.case_id for r in batch],
                    [r.event_type for r in batch],
                    [r.schema_version for r in batch],
                    [r.partition for r in batch],
                    [r.offset for r in batch],
                    [round(r.appended_at.timestamp() * 1000) for r in batch],
                ),
            )
        self._written(batch)

    def keep_unsure(self, unsure: Sequence[tuple[PendingRecord, Mapping[int, int]]]) -> None:
        """Raise the floors of this process's claims on unsure records (to where the log was
        read without finding them): a claim is orphaned once this process's session ends,
        and whichever process is asked to append it next reads the log from there first."""
        if not unsure:
            return
        with self._db_lock:
            try:
                self._write(
                    _PG_FLOOR,
                    lambda: (
                        [r.event_id for r, _ in unsure],
                        [json.dumps({str(p): o for p, o in floor.items()}) for _, floor in unsure],
                        self.topic,
                        *self._owner_arrays(),
                    ),
                )
            except LedgerUnavailable as exc:
                # Only a shortcut: the claims keep the floors they had.
                log.warning("receipts.floors_not_kept", claims=len(unsure), error=str(exc))

    def unsure(self) -> list[tuple[PendingRecord, dict[int, int]]]:
        """None at start: a previous process's unsure records are its orphaned claims,
        checked when an append asks for them (see `claim`)."""
        return []

    def settled(self, event_ids: Collection[str]) -> None:
        """Give up the claims of those not found on the log; those found were put, and their
        receipts replace the claims when written (a claim given up first could be granted
        to another process before the receipt is written)."""
        found, _ = self._pending_of(event_ids)
        self.release([e for e in event_ids if e not in found])

    def close(self) -> None:
        """Flush what is pending, stop the writer and close the connections (this process's
        remaining claims are orphaned with them)."""
        self._closed = True
        self._wake.set()
        self._writer.join(timeout=30)
        try:
            self.flush()
        finally:
            with self._db_lock, self._read_lock:
                self._release_unreleased()
                self._conn.close()
                self._reader.close()

    def _connect(self) -> psycopg.Connection[Any]:
        try:
            conninfo = make_conninfo("", **self.location.conninfo())
            return psycopg.connect(conninfo, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            raise self._unavailable("cannot reach the receipt index", exc) from exc

    def _identity(self, conn: psycopg.Connection[Any]) -> tuple[int, datetime]:
        """A session of this process as a claim owner: its backend pid and start time."""
        try:
            row = conn.execute(
                "SELECT pid, backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()"
            ).fetchone()
        except psycopg.Error as exc:
            raise self._unavailable("cannot identify the session", exc) from exc
        assert row is not None  # a session always sees itself
        return int(row[0]), row[1]

    def _write(self, sql: str, params: Callable[[], tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        """Run a statement on the owner's session (under the write lock); a session that was
        lost is replaced, and with it the owner of later claims. The parameters are made for
        the session the statement runs on (they name its owner)."""

        def run(conn: psycopg.Connection[Any]) -> list[tuple[Any, ...]]:
            cursor = conn.execute(sql, params())
            return cursor.fetchall() if cursor.description is not None else []

        return self._in_session(run)

    def _in_session(self, work: Callable[[psycopg.Connection[Any]], _T]) -> _T:
        """Do `work` on the owner's session (under the write lock); a session found lost is
        replaced and the work done once more (every statement of the index may run twice)."""
        conn = self._session()
        try:
            return work(conn)
        except psycopg.Error as exc:
            if not conn.closed or self._closed:
                raise self._unavailable("receipt index unwritable", exc) from exc
        try:
            return work(self._session())
        except psycopg.Error as exc:
            raise self._unavailable("receipt index unwritable", exc) from exc

    def _session(self) -> psycopg.Connection[Any]:
        """The owner's session (under the write lock); one that was lost is replaced, and
        with it the owner of later claims (the claims of the lost one stay this process's)."""
        if self._conn.closed and not self._closed:
            conn = self._connect()
            try:
                owner = self._identity(conn)
            except LedgerUnavailable:
                # Kept, it would be taken for the owner's session with the lost one's name.
                conn.close()
                raise
            self._conn = conn
            self._owners = [*self._owners[1 - OWNERS_KEPT :], owner]
        return self._conn

    def _read(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        """Run a query on the reader's session (under the read lock)."""
        if self._reader.closed and not self._closed:
            self._reader = self._connect()
        try:
            return self._reader.execute(sql, params).fetchall()
        except psycopg.Error as exc:
            raise self._unavailable("receipt index unreadable", exc) from exc

    def _unavailable(self, what: str, exc: psycopg.Error) -> LedgerUnavailable:
        return LedgerUnavailable(f"{what} at {self.location.redacted()}: {exc}")

    def _write_behind(self) -> None:
        while not self._closed:
            self._wake.wait(PG_FLUSH_EVERY)
            self._wake.clear()
            try:
                self.flush()
            except LedgerUnavailable:
                # Receipts stay pending and are tried again; lookups still see them.
                log.exception("receipts.flush_failed", pending=len(self._pending))
            with self._db_lock:
                self._release_unreleased()


def _floor_of(text: str) -> dict[int, int]:
    """A claim's floor as stored: per partition, the offset below which its record cannot be."""
    return {int(p): int(o) for p, o in json.loads(text).items()}
