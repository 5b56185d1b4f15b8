"""The case-state view, in SQLite or PostgreSQL: view rows and the tracked log position in one
transaction."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Self

import orjson
from eventsourcing.persistence import Tracking
from eventsourcing.sqlite import (
    SQLiteConnection,
    SQLiteConnectionPool,
    SQLiteCursor,
    SQLiteDatastore,
)

from ledger.envelope import Event, parse_instant
from ledger.postgres import PostgresLocation
from ledger.private import private_database
from ledger.sqlite_util import in_chunks
from projections.agencies import REGISTRY_CASE
from projections.agency_store import AgencyRegistryStore
from projections.applied_log import AppliedLog
from projections.as_of import Basis
from projections.case_state import CaseState, fold_document
from projections.effective import effective_events
from projections.tracking import Cursor, PostgresTrackedStore, SQLiteTrackedStore, TrackedStore

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Cases with at least CACHE_FROM events keep their decoded events in memory, up to
# CACHE_EVENTS events in all per view.
CACHE_FROM = 500
CACHE_EVENTS = 50_000
_MICROSECOND = timedelta(microseconds=1)
# Below any instant an event can carry (year 0001): the "nothing seen yet" maximum.
_NEVER = -(2**62)


class CaseViewStore(TrackedStore):
    """Case states keyed by case_id, with the event_ids applied and the last offset per partition.

    Exactly once: a batch's states, its applied event_ids and its tracking rows commit together.
    Re-applying a tracked offset fails the tracking insert and rolls the whole batch back; an
    event_id published twice (two offsets) takes effect only the first time.

    The view also keeps each case's events (found by case), so that a correction or a
    retraction refolds that case from its history with every amendment applied; other events
    fold onto the stored state.

    Snapshots make as-of replay cheap for long cases: every `snapshot_every` events of a case,
    the state of that prefix of its log (with the prefix's own amendments applied) is kept with
    the latest recorded_at and appended_at in the prefix. A prefix never changes once written,
    so a snapshot never goes stale; see `state_as_of` for when one may be used.

    The agency registry's events (case `REGISTRY_CASE`) are no case's: they go to the
    registry store (`agencies`), in the same transaction.
    """

    def _prepare(self, name: str, snapshot_every: int) -> None:
        """What the view holds besides its database (set before the tables are asked for)."""
        if snapshot_every < 1:
            raise ValueError("snapshot_every must be at least 1")
        self.snapshot_every = snapshot_every
        self._cache: OrderedDict[str, tuple[int, tuple[Event, ...]]] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._cached = 0
        self.agencies = AgencyRegistryStore(self, name)

    def tables(self) -> list[str]:
        """The case states, the events applied, each case's events, and the snapshots."""
        return [
            # The state now, with what snapshotting needs: events seen, the latest instants
            # seen (microseconds since 1970) and the count at the last snapshot.
            f"CREATE TABLE IF NOT EXISTS {self.name} ("
            "case_id TEXT PRIMARY KEY, seen INTEGER NOT NULL, recorded_us INTEGER NOT NULL, "
            "appended_us INTEGER NOT NULL, snapshot_at INTEGER NOT NULL, "
            "last_partition INTEGER NOT NULL, last_offset INTEGER NOT NULL, state BLOB NOT NULL"
            ") WITHOUT ROWID",
            *self._applied_tables(),
            # Rows go in arrival order (cheap appends of large rows). The index finds a case
            # and, without touching the rows, which of its events were known by a moment.
            f"CREATE TABLE IF NOT EXISTS {self.name}_events (case_id TEXT NOT NULL, "
            'partition INTEGER NOT NULL, "offset" INTEGER NOT NULL, recorded_us INTEGER NOT NULL,'
            " appended_us INTEGER NOT NULL, amends TEXT, doc BLOB NOT NULL)",
            f"CREATE INDEX IF NOT EXISTS {self.name}_events_by_case ON {self.name}_events "
            '(case_id, partition, "offset", recorded_us, appended_us)',
            f"CREATE INDEX IF NOT EXISTS {self.name}_amendments ON {self.name}_events "
            "(case_id) WHERE amends IS NOT NULL",
            f"CREATE INDEX IF NOT EXISTS {self.name}_amended ON {self.name}_events "
            "(amends) WHERE amends IS NOT NULL",
            f"CREATE TABLE IF NOT EXISTS {self.name}_snapshots (case_id TEXT NOT NULL, "
            'partition INTEGER NOT NULL, "offset" INTEGER NOT NULL, recorded_us INTEGER NOT NULL,'
            " appended_us INTEGER NOT NULL, state BLOB NOT NULL, "
            'PRIMARY KEY (case_id, partition, "offset")) WITHOUT ROWID',
            *self.agencies.tables(),
        ]

    def applied_digests(self, event_ids: Collection[str]) -> dict[str, tuple[str, str | None]]:
        """For each of these event_ids already applied: the position it was applied from and
        the digest of that record's bytes (None if applied before digests were kept)."""
        with self.transaction(commit=False) as cursor:
            return self._find_applied(cursor, event_ids)

    def _applied_tables(self) -> list[str]:
        """Each event_id applied, where from, and the SHA-256 of the record's bytes (to tell a
        repeat of the event from another record reusing its id)."""
        return [
            f"CREATE TABLE IF NOT EXISTS {self.name}_applied ("
            "event_id TEXT PRIMARY KEY, position TEXT NOT NULL, digest TEXT) WITHOUT ROWID"
        ]

    def _find_applied(
        self, cursor: Cursor, event_ids: Collection[str]
    ) -> dict[str, tuple[str, str | None]]:
        """For those of the ids applied: the position and digest recorded with each."""
        found: dict[str, tuple[str, str | None]] = {}
        for marks, chunk in in_chunks(list(event_ids)):
            cursor.execute(
                f"SELECT event_id, position, digest FROM {self.name}_applied "  # noqa: S608
                f"WHERE event_id IN ({marks})",
                chunk,
            )
            for event_id, position, digest in cursor.fetchall():
                found[event_id] = (position, digest)
        return found

    def _record_applied(self, cursor: Cursor, rows: list[tuple[str, str, str | None]]) -> None:
        """Record (event_id, position, digest) rows in the cursor's transaction."""
        cursor.executemany(
            f"INSERT INTO {self.name}_applied (event_id, position, digest) "  # noqa: S608
            "VALUES (?, ?, ?)",
            rows,
        )

    def _count_applied(self, cursor: Cursor) -> int:
        cursor.execute(f"SELECT COUNT(*) FROM {self.name}_applied")  # noqa: S608
        return int(cursor.fetchone()[0])

    def _lock_for_write(self, cursor: Cursor) -> None:
        """Make the cursor's transaction the store's only writer before it reads anything
        (nothing to do here: PostgreSQL's writers take row locks as they go)."""

    def _applied_since_look_up(
        self, cursor: Cursor, event_ids: Collection[str]
    ) -> dict[str, tuple[str, str | None]]:
        """Of these ids, those another process applied since this thread looked them up.

        None here: the key on event_id refuses a second, and the batch holding it is applied
        again in parts, each looked up in its own transaction."""
        return {}

    def apply(
        self,
        events: Sequence[Event],
        tracking: Sequence[Tracking],
        digests: Mapping[str, str] | None = None,
        applied: Collection[str] | None = None,
    ) -> int:
        """Fold a batch into the view and record its positions; returns events that took effect.

        `applied`, when given, is the event_ids of the batch already in the view (the caller has
        just read them with `applied_digests`, on this thread); otherwise the view looks them
        up. Either way, ids another process applied since are found in the write transaction.

        `digests` gives the SHA-256 of each event's record by event_id, kept with the event_id
        so that a later record reusing it can be compared (`applied_digests`).
        """
        known = digests or {}
        with self.transaction(commit=True) as cursor:
            self._lock_for_write(cursor)
            taken = self._not_yet_applied(cursor, events, applied)
            self.agencies.write(cursor, [e for e in taken if e.case_id == REGISTRY_CASE])
            fresh = [e for e in taken if e.case_id != REGISTRY_CASE]
            by_case: dict[str, list[Event]] = {}
            for event in fresh:
                by_case.setdefault(event.case_id, []).append(event)
            # Each event's instants, worked out once: for its row and for its case's head.
            instants = {
                e.event_id: (micros(parse_instant(e.recorded_at)), micros(e.appended_at))
                for e in fresh
            }
            cursor.executemany(
                f"INSERT INTO {self.name}_events VALUES (?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
                [
                    (
                        e.case_id,
                        e.partition,
                        e.offset,
                        *instants[e.event_id],
                        e.amends,
                        _dump_event(e),
                    )
                    for e in fresh
                ],
            )
            heads = self._heads(cursor, set(by_case))
            targeted = self._amended_earlier(cursor, fresh)
            snapshots: list[tuple[Any, ...]] = []
            for case_id, case_events in by_case.items():
                head = heads.get(case_id) or _Head(None)
                places = [(e.partition, e.offset) for e in case_events]
                in_order = places == sorted(places) and places[0] > head.last
                if not in_order:
                    # Arrived before an event already applied (the case now spans partitions):
                    # snapshots past it no longer hold a prefix of the case in log order.
                    cursor.execute(
                        f"DELETE FROM {self.name}_snapshots WHERE case_id = ? "  # noqa: S608
                        'AND (partition, "offset") > (?, ?)',
                        (case_id, *min(places)),
                    )
                if (
                    not in_order
                    or case_id in targeted
                    or any(e.amends is not None for e in case_events)
                ):
                    # An amendment, or the target of one applied earlier: refold from history.
                    head.advance(case_events, instants)
                    head.document = fold_document(
                        None, effective_events(self._events(cursor, case_id))
                    )
                    if head.seen - head.snapshot_at >= self.snapshot_every:
                        snapshots.append(head.snapshot(case_id))
                else:
                    snapshots += self._fold(head, case_events, instants)
                heads[case_id] = head
            cursor.executemany(
                f"INSERT INTO {self.name} VALUES (?, ?, ?, ?, ?, ?, ?, ?) "  # noqa: S608 -- table name is ours
                "ON CONFLICT (case_id) DO UPDATE SET seen = excluded.seen, "
                "recorded_us = excluded.recorded_us, appended_us = excluded.appended_us, "
                "snapshot_at = excluded.snapshot_at, last_partition = excluded.last_partition, "
                "last_offset = excluded.last_offset, state = excluded.state",
                [(case_id, *heads[case_id].row()) for case_id in by_case],
            )
            cursor.executemany(
                f"INSERT INTO {self.name}_snapshots VALUES (?, ?, ?, ?, ?, ?)",  # noqa: S608
                snapshots,
            )
            self._record_applied(
                cursor, [(e.event_id, e.position, known.get(e.event_id)) for e in taken]
            )
            self.track(cursor, tracking)
        return len(taken)

    def _fold(
        self, head: _Head, events: list[Event], instants: Mapping[str, tuple[int, int]]
    ) -> list[tuple[Any, ...]]:
        """Fold events onto the head, snapshotting each time `snapshot_every` more were seen."""
        snapshots = []
        start = 0
        while start < len(events):
            end = start + max(1, self.snapshot_every - (head.seen - head.snapshot_at))
            chunk = events[start:end]
            head.advance(chunk, instants)
            head.document = fold_document(head.document, chunk)
            if head.seen - head.snapshot_at >= self.snapshot_every:
                snapshots.append(head.snapshot(chunk[-1].case_id))
            start = end
        return snapshots

    def state_as_of(
        self, case_id: str, moment: datetime, basis: Basis = "recorded"
    ) -> CaseState | None:
        """The case as it stood at the moment: the same answer as `as_of.state_as_of` on the
        case's events, read from the latest usable snapshot plus the events known after it.

        A snapshot is usable when every event of its prefix was known by the moment (its latest
        instant is on or before it) and no amendment known by the moment lies on one side of
        it while its target lies on the other (the prefix's state would then be wrong).
        """
        column = "recorded_us" if basis == "recorded" else "appended_us"
        limit = micros(moment)
        with self.transaction(commit=False) as cursor:
            spans = self._amendment_spans(cursor, case_id, column, limit)
            cursor.execute(
                f'SELECT partition, "offset" FROM {self.name}_snapshots '  # noqa: S608
                f'WHERE case_id = ? AND {column} <= ? ORDER BY partition DESC, "offset" DESC',
                (case_id, limit),
            )
            base = next(
                (
                    (p, o)
                    for p, o in cursor.fetchall()
                    if not any(low <= (p, o) < high for low, high in spans)
                ),
                None,
            )
            document = None
            after = ""
            parameters: tuple[Any, ...] = (case_id, limit)
            if base is not None:
                cursor.execute(
                    f"SELECT state FROM {self.name}_snapshots "  # noqa: S608
                    'WHERE case_id = ? AND partition = ? AND "offset" = ?',
                    (case_id, *base),
                )
                document = _loads(cursor.fetchone()[0])
                after = 'AND (partition, "offset") > (?, ?) '
                parameters = (case_id, limit, *base)
            cursor.execute(
                f"SELECT doc FROM {self.name}_events WHERE case_id = ? AND {column} <= ? "  # noqa: S608
                f'{after}ORDER BY partition, "offset"',
                parameters,
            )
            known = [_load_event(row[0]) for row in cursor.fetchall()]
        selected = effective_events(known)
        if document is None and not selected:
            return None
        return CaseState.from_dict(fold_document(document, selected))

    def _amendment_spans(
        self, cursor: Cursor, case_id: str, column: str, limit: int
    ) -> list[tuple[tuple[int, int], tuple[int, int]]]:
        """For each amendment known by the limit: [earlier, later) of it and its target."""
        cursor.execute(
            f'SELECT partition, "offset", amends FROM {self.name}_events '  # noqa: S608
            f"WHERE case_id = ? AND amends IS NOT NULL AND {column} <= ?",
            (case_id, limit),
        )
        amendments = cursor.fetchall()
        if not amendments:
            return []
        targets: dict[str, tuple[int, int]] = {}
        for event_id, (position, _) in self._find_applied(
            cursor, {row[2] for row in amendments}
        ).items():
            partition, offset = position.split(":")
            targets[event_id] = (int(partition), int(offset))
        spans = []
        for partition, offset, amends in amendments:
            target = targets.get(amends)
            if target is not None:
                ends = sorted([(partition, offset), target])
                spans.append((ends[0], ends[1]))
        return spans

    def get(self, case_id: str) -> CaseState | None:
        """The current state of one case, or None if the view has never seen it."""
        with self.transaction(commit=False) as cursor:
            document = self._load(cursor, {case_id}).get(case_id)
        return None if document is None else CaseState.from_dict(document)

    def events(self, case_id: str) -> list[Event]:
        """One case's events as recorded, in log order.

        A long case's decoded events are kept in memory (least recently used first out) and
        used again while the case's count of events is unchanged: a case only ever gains
        events, so the same count means the same events.
        """
        with self.transaction(commit=False) as cursor:
            cursor.execute(f"SELECT seen FROM {self.name} WHERE case_id = ?", (case_id,))  # noqa: S608
            row = cursor.fetchone()
            if row is None:
                return []
            seen = row[0]
            with self._cache_lock:
                hit = self._cache.get(case_id)
                if hit is not None and hit[0] == seen:
                    self._cache.move_to_end(case_id)
                    return list(hit[1])
            events = self._events(cursor, case_id)
        if len(events) == seen >= CACHE_FROM:
            with self._cache_lock:
                old = self._cache.pop(case_id, None)
                self._cached -= 0 if old is None else len(old[1])
                self._cache[case_id] = (seen, tuple(events))
                self._cached += seen
                while self._cached > CACHE_EVENTS:
                    _, (_, dropped) = self._cache.popitem(last=False)
                    self._cached -= len(dropped)
        return events

    def _events(self, cursor: Cursor, case_id: str) -> list[Event]:
        cursor.execute(
            f"SELECT doc FROM {self.name}_events WHERE case_id = ? "  # noqa: S608
            'ORDER BY partition, "offset"',
            (case_id,),
        )
        return [_load_event(row[0]) for row in cursor.fetchall()]

    def case_ids(self, limit: int = 1000) -> list[str]:
        """Case ids in the view, in id order."""
        with self.transaction(commit=False) as cursor:
            cursor.execute(f"SELECT case_id FROM {self.name} ORDER BY case_id LIMIT ?", (limit,))  # noqa: S608
            return [row[0] for row in cursor.fetchall()]

    def all_case_ids(self) -> Iterator[str]:
        """Every case id in the view, in id order, read a page at a time."""
        after = ""
        while True:
            with self.transaction(commit=False) as cursor:
                cursor.execute(
                    f"SELECT case_id FROM {self.name} WHERE case_id > ? "  # noqa: S608
                    "ORDER BY case_id LIMIT 1000",
                    (after,),
                )
                page = [row[0] for row in cursor.fetchall()]
            yield from page
            if len(page) < 1000:
                return
            after = page[-1]

    def heads(self) -> dict[str, tuple[int, int, int]]:
        """Every case's count of events and its latest recorded_at and appended_at
        (microseconds since 1970), in one read."""
        with self.transaction(commit=False) as cursor:
            self._plain_rows(cursor)
            cursor.execute(f"SELECT case_id, seen, recorded_us, appended_us FROM {self.name}")  # noqa: S608
            return {row[0]: (row[1], row[2], row[3]) for row in cursor.fetchall()}

    def applied_count(self) -> int:
        """How many distinct events have taken effect in the view."""
        with self.transaction(commit=False) as cursor:
            return self._count_applied(cursor)

    def _not_yet_applied(
        self, cursor: Cursor, events: Sequence[Event], applied: Collection[str] | None
    ) -> list[Event]:
        if applied is None:
            done = set(self._find_applied(cursor, [e.event_id for e in events]))
        else:
            done = set(applied)
            done.update(
                self._applied_since_look_up(
                    cursor, [e.event_id for e in events if e.event_id not in done]
                )
            )
        fresh = []
        for event in events:
            if event.event_id not in done:
                done.add(event.event_id)
                fresh.append(event)
        return fresh

    def _load(self, cursor: Cursor, case_ids: set[str]) -> dict[str, dict[str, Any]]:
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

    def _heads(self, cursor: Cursor, case_ids: set[str]) -> dict[str, _Head]:
        heads: dict[str, _Head] = {}
        for marks, chunk in in_chunks(list(case_ids)):
            cursor.execute(
                "SELECT case_id, seen, recorded_us, appended_us, snapshot_at, last_partition, "  # noqa: S608 -- our table name and placeholders only
                f"last_offset, state FROM {self.name} WHERE case_id IN ({marks})",
                chunk,
            )
            for row in cursor.fetchall():
                case_id, seen, recorded_us, appended_us, snapshot_at, partition, offset, blob = row
                heads[case_id] = _Head(
                    _loads(blob), seen, recorded_us, appended_us, snapshot_at, (partition, offset)
                )
        return heads

    def _plain_rows(self, cursor: Cursor) -> None:
        """Have the cursor give plain tuples for a large read (the database's own rows may
        cost more to build)."""

    def _amended_earlier(self, cursor: Cursor, events: Sequence[Event]) -> set[str]:
        """Cases with an event that an amendment already in the view names as its target (an
        amendment can reach the log before its target when the target's append is retried)."""
        found: set[str] = set()
        for marks, chunk in in_chunks([e.event_id for e in events]):
            cursor.execute(
                f"SELECT case_id FROM {self.name}_events WHERE amends IN ({marks})",  # noqa: S608 -- our table name and placeholders only
                chunk,
            )
            found.update(row[0] for row in cursor.fetchall())
        return found


# Each connection of a view opened by SQLiteCaseView.open: commits are not synced one by one
# (a power cut may lose the last ones, with the positions they recorded, so the consumer reads
# them again), the write-ahead log is copied back less often (a page the next batches rewrite
# is copied once), and more pages stay cached.
VIEW_PRAGMAS = (
    "PRAGMA synchronous=NORMAL",
    "PRAGMA wal_autocheckpoint=10000",
    "PRAGMA cache_size=-32768",
)


class _ViewConnections(SQLiteConnectionPool):
    """Connections with VIEW_PRAGMAS set."""

    def _create_connection(self) -> SQLiteConnection:
        connection = super()._create_connection()
        cursor = connection.cursor()
        for pragma in VIEW_PRAGMAS:
            cursor.execute(pragma)
        return connection


class SQLiteCaseView(CaseViewStore, SQLiteTrackedStore):
    """The case-state view in one SQLite file."""

    @classmethod
    def open(cls, path: Path, **options: Any) -> Self:
        """The view in the given file, its connections tuned for it (VIEW_PRAGMAS)."""
        datastore = SQLiteDatastore(str(private_database(path)))
        datastore.pool = _ViewConnections(db_name=datastore.pool.db_name)
        view = cls(datastore, **options)
        view.create_table()
        return view

    def __init__(
        self, datastore: SQLiteDatastore, name: str = "case_state", snapshot_every: int = 100
    ) -> None:
        self._prepare(name, snapshot_every)
        self.applied_log = AppliedLog(f"{name}_applied_log")
        SQLiteTrackedStore.__init__(self, datastore, name)

    def _create_table(self, c: SQLiteCursor) -> None:
        """Create the tables; move the event_ids of a view made before they were appended
        (a table keyed by event_id, with or without digests) into the applied log."""
        super()._create_table(c)
        c.execute(f"PRAGMA table_info({self.name}_applied)")
        columns = {row[1] for row in c.fetchall()}
        if columns:
            digest = "digest" if "digest" in columns else "NULL"
            c.execute(f"SELECT event_id, position, {digest} FROM {self.name}_applied")  # noqa: S608
            self.applied_log.record(c, [tuple(row) for row in c.fetchall()])
            c.execute(f"DROP TABLE {self.name}_applied")

    def _applied_tables(self) -> list[str]:
        """The applied log (see projections.applied_log)."""
        return self.applied_log.tables()

    def _find_applied(
        self, cursor: Cursor, event_ids: Collection[str]
    ) -> dict[str, tuple[str, str | None]]:
        """Found through the applied log's index in memory."""
        return self.applied_log.find(cursor, event_ids)

    def _record_applied(self, cursor: Cursor, rows: list[tuple[str, str, str | None]]) -> None:
        """Appended to the applied log."""
        self.applied_log.record(cursor, rows)

    def _count_applied(self, cursor: Cursor) -> int:
        return self.applied_log.count(cursor)

    def _lock_for_write(self, cursor: Cursor) -> None:
        """Take the file's write lock first thing: a transaction that has read cannot wait for
        the lock (SQLite answers "locked" at once), and with it held, the ids the batch finds
        applied stay the only ones until it commits. A statement that writes takes the lock,
        even one that changes no row."""
        cursor.execute(f"DELETE FROM {self.applied_log.table} WHERE 0")  # noqa: S608

    def _applied_since_look_up(
        self, cursor: Cursor, event_ids: Collection[str]
    ) -> dict[str, tuple[str, str | None]]:
        """The applied log's rows recorded since this thread's look-up (other members of the
        view's consumer group write the same file)."""
        return self.applied_log.found_since_look_up(cursor, event_ids)

    def _plain_rows(self, cursor: Cursor) -> None:
        """Plain tuples rather than sqlite3.Row objects."""
        if isinstance(cursor, SQLiteCursor):
            cursor.sqlite_cursor.row_factory = None


class PostgresCaseView(CaseViewStore, PostgresTrackedStore):
    """The case-state view in the ledger's PostgreSQL schema."""

    def __init__(
        self, location: PostgresLocation, name: str = "case_state", snapshot_every: int = 100
    ) -> None:
        self._prepare(name, snapshot_every)
        PostgresTrackedStore.__init__(self, location, name)


@dataclass(slots=True)
class _Head:
    """A case's row while a batch folds into it."""

    document: dict[str, Any] | None
    seen: int = 0
    recorded_us: int = _NEVER
    appended_us: int = _NEVER
    snapshot_at: int = 0
    # The case's latest log position (partition, offset) so far.
    last: tuple[int, int] = (-1, -1)

    def advance(self, events: Sequence[Event], instants: Mapping[str, tuple[int, int]]) -> None:
        """Count the events and take their latest instants and position."""
        self.seen += len(events)
        self.last = max(self.last, *((e.partition, e.offset) for e in events))
        self.recorded_us = max(self.recorded_us, *(instants[e.event_id][0] for e in events))
        self.appended_us = max(self.appended_us, *(instants[e.event_id][1] for e in events))

    def snapshot(self, case_id: str) -> tuple[Any, ...]:
        """A snapshot row of the state now: the case up to its latest position."""
        self.snapshot_at = self.seen
        return (
            case_id,
            *self.last,
            self.recorded_us,
            self.appended_us,
            orjson.dumps(self.document),
        )

    def row(self) -> tuple[Any, ...]:
        """The case-state row's values after the case id."""
        return (
            self.seen,
            self.recorded_us,
            self.appended_us,
            self.snapshot_at,
            *self.last,
            orjson.dumps(self.document),
        )


def micros(moment: datetime) -> int:
    """An aware instant as whole microseconds since 1970 (exact, unlike float timestamps)."""
    return (moment - _EPOCH) // _MICROSECOND


_APPENDED_AT = Event._fields.index("appended_at")
_ACCOUNTS = Event._fields.index("occurred_accounts")


def _dump_event(event: Event) -> bytes:
    """The event as a JSON array in field order: smaller and about 5x faster to load than an
    object (no keyword arguments to build the tuple from)."""
    return orjson.dumps(list(event))


def _load_event(blob: bytes) -> Event:
    fields = orjson.loads(blob)
    fields[_APPENDED_AT] = datetime.fromisoformat(fields[_APPENDED_AT])
    if len(fields) > _ACCOUNTS:
        fields[_ACCOUNTS] = tuple(fields[_ACCOUNTS])
    # A view written before Event grew fields holds fewer: the rest take their defaults.
    return Event(*fields)


def _loads(blob: bytes) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads(blob)
    return data
