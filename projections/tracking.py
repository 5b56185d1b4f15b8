"""Tracked log positions, and the base of every store built on the library's tracking recorder.

A store records, in the transaction that writes its rows, the last log offset it has taken in
from each topic partition, under the key `<store name>:<topic>:<partition>`. Its consumer
starts from those positions, so each store is exactly-once and can be rebuilt, or lag behind,
on its own.

A store lives in SQLite (one file per store, the embedded default) or in PostgreSQL (its
tables, and a tracking table of its own, in the ledger's schema). Its SQL is written once, in
what both accept: `?` placeholders, `"offset"` quoted (a reserved word in PostgreSQL), BLOB and
INTEGER columns, which `postgres_sql` turns into BYTEA and BIGINT.
"""

from __future__ import annotations

import functools
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, Self

from eventsourcing.persistence import Tracking
from eventsourcing.sqlite import SQLiteDatastore, SQLiteTrackingRecorder

from ledger.envelope import Event
from ledger.postgres import PostgresLocation, setup_lock
from ledger.private import private_database

if TYPE_CHECKING:
    from psycopg import Connection
    from psycopg import Cursor as PsycopgCursor


class Cursor(Protocol):
    """What a store's SQL runs through, on either database: rows come back as tuples."""

    def execute(self, statement: str, parameters: Any = (), /) -> Any:
        """Run one statement (`?` placeholders)."""
        ...

    def executemany(self, statement: str, rows: Iterable[Any], /) -> Any:
        """Run one statement for each row of parameters."""
        ...

    def fetchall(self) -> list[Any]:
        """Every row of the last query."""
        ...

    def fetchone(self) -> Any:
        """The next row of the last query, or None."""
        ...


_POSTGRES_WORDS = re.compile(r"\bBLOB\b|\bINTEGER\b|\s+WITHOUT ROWID")
_POSTGRES_TYPES = {"BLOB": "BYTEA", "INTEGER": "BIGINT"}


@functools.lru_cache(maxsize=1024)
def postgres_sql(statement: str) -> str:
    """A store's statement as PostgreSQL takes it: `%s` placeholders (a literal `%` doubled),
    BYTEA for BLOB, BIGINT for INTEGER, no WITHOUT ROWID."""
    text = statement.replace("%", "%%").replace("?", "%s")
    return _POSTGRES_WORDS.sub(lambda m: _POSTGRES_TYPES.get(m.group(0), ""), text)


class PostgresCursor:
    """A psycopg cursor taking the stores' SQL (see `postgres_sql`) and giving tuples."""

    def __init__(self, cursor: PsycopgCursor[Any]) -> None:
        from psycopg.rows import tuple_row  # noqa: PLC0415 -- only with PostgreSQL

        cursor.row_factory = tuple_row
        self.raw = cursor

    def execute(self, statement: str, parameters: Any = (), /) -> None:
        """Run one statement."""
        self.raw.execute(postgres_sql(statement), parameters or None)

    def executemany(self, statement: str, rows: Iterable[Any], /) -> None:
        """Run one statement for each row (nothing at all for no rows)."""
        batch = list(rows)
        if batch:
            self.raw.executemany(postgres_sql(statement), batch)

    def fetchall(self) -> list[Any]:
        """Every row of the last query."""
        return self.raw.fetchall()

    def fetchone(self) -> Any:
        """The next row of the last query, or None."""
        return self.raw.fetchone()


def tracking_name(view: str, topic: str, partition: int) -> str:
    """The tracking key of one view's position in one topic partition."""
    return f"{view}:{topic}:{partition}"


def parse_tracking_name(name: str) -> tuple[str, str, int]:
    """The view, topic and partition a tracking key names."""
    parts = name.split(":")
    if len(parts) != 3 or not parts[2].isdigit():
        raise ValueError(f"not a tracking key (<view>:<topic>:<partition>): {name!r}")
    return parts[0], parts[1], int(parts[2])


def tracking_rows(view: str, topic: str, last: Mapping[int, int]) -> list[Tracking]:
    """The tracking rows recording the last offset taken in from each partition."""
    return [Tracking(tracking_name(view, topic, p), offset) for p, offset in last.items()]


class _Recorder(Protocol):
    def max_tracking_id(self, application_name: str) -> int | None: ...


def tracked_positions(
    recorder: _Recorder, name: str, topic: str, partitions: Sequence[int]
) -> dict[int, int]:
    """The last offset a view recorded for each partition that has one."""
    found = {}
    for partition in partitions:
        offset = recorder.max_tracking_id(tracking_name(name, topic, partition))
        if offset is not None:
            found[partition] = offset
    return found


def positions_in(cursor: Cursor, name: str, table: str = "tracking") -> dict[tuple[str, int], int]:
    """Every last offset a view has recorded, per (topic, partition), read with the cursor
    (so in the snapshot of the transaction it belongs to) from its tracking table."""
    cursor.execute(
        f"SELECT application_name, MAX(notification_id) FROM {table} "  # noqa: S608 -- our table name
        "WHERE application_name LIKE ? GROUP BY application_name",
        (f"{name}:%",),
    )
    found = {}
    for key, offset in cursor.fetchall():
        _, topic, partition = parse_tracking_name(key)
        found[topic, partition] = offset
    return found


class TrackedStore(ABC):
    """A named store: its own tables beside a tracking table, written in one transaction with
    the positions they cover. `SQLiteTrackedStore` and `PostgresTrackedStore` hold it."""

    name: str
    # The table its positions are in (one per SQLite file; one per store in PostgreSQL).
    tracking_table = "tracking"

    @abstractmethod
    def tables(self) -> list[str]:
        """The statements creating this store's own tables and indexes (written once for both
        databases, see the module's docstring)."""

    @abstractmethod
    def transaction(self, commit: bool = False) -> AbstractContextManager[Cursor]:
        """A transaction on the store's database: committed at the end if `commit`, else
        rolled back (a read)."""

    @abstractmethod
    def track(self, cursor: Cursor, tracking: Iterable[Tracking]) -> None:
        """Record positions in the transaction the cursor belongs to (a position recorded
        already fails it: the batch was applied before)."""

    @abstractmethod
    def max_tracking_id(self, application_name: str) -> int | None:
        """The position recorded under one tracking key (the library's recorder has it)."""

    @abstractmethod
    def close(self) -> None:
        """Let go of the store's connections."""

    @abstractmethod
    def where(self) -> str:
        """Where the store is kept (processes writing one store name the same place)."""

    @abstractmethod
    def exclusive(self, cursor: Cursor) -> None:
        """Make the rest of the cursor's transaction the only writer of this store until it
        ends: a write that replaces rows it read (delete, then insert) from two processes at
        once would otherwise keep both."""

    def current(self) -> Self:
        """A fixed store is its own source (`view_files.ViewHandle` is one that follows
        rebuilds)."""
        return self

    def positions(self, topic: str, partitions: Sequence[int]) -> dict[int, int]:
        """The last offset taken in from each partition that has one."""
        return tracked_positions(self, self.name, topic, partitions)

    def all_positions(self) -> dict[tuple[str, int], int]:
        """Every last offset recorded, per (topic, partition)."""
        with self.transaction(commit=False) as cursor:
            return positions_in(cursor, self.name, self.tracking_table)


class SQLiteTrackedStore(TrackedStore, SQLiteTrackingRecorder):
    """A named store in one SQLite file, beside the library's tracking table."""

    def __init__(self, datastore: SQLiteDatastore, name: str) -> None:
        # Set before the library's constructor, which asks for the tables (named after it).
        self.name = name
        super().__init__(datastore)

    @classmethod
    def open(cls, path: Path, **options: Any) -> Self:
        """The store in the given file (its folder made if need be), its tables created if new."""
        store = cls(SQLiteDatastore(str(private_database(path))), **options)
        store.create_table()
        return store

    def construct_create_table_statements(self) -> list[str]:
        """The library's tracking table, then the store's own."""
        return [*super().construct_create_table_statements(), *self.tables()]

    def transaction(self, commit: bool = False) -> AbstractContextManager[Cursor]:
        """A transaction on the file."""
        return self.datastore.transaction(commit=commit)

    def track(self, cursor: Cursor, tracking: Iterable[Tracking]) -> None:
        """Record positions in the cursor's transaction."""
        for item in tracking:
            self._insert_tracking(cursor, item)  # type: ignore[arg-type]

    def max_tracking_id(self, application_name: str) -> int | None:
        """The position recorded under one tracking key."""
        return SQLiteTrackingRecorder.max_tracking_id(self, application_name)

    def exclusive(self, cursor: Cursor) -> None:
        """Nothing to do: SQLite lets one writer at a time write the file."""

    def close(self) -> None:
        """Close the file."""
        self.datastore.close()

    def where(self) -> str:
        """The file's absolute path."""
        return str(Path(self.datastore.pool.db_name).resolve())


def postgres_datastore(location: PostgresLocation) -> Any:
    """A small connection pool to the ledger's database, each connection in its schema (made
    if need be)."""
    import psycopg  # noqa: PLC0415 -- only with PostgreSQL
    from eventsourcing.postgres import PostgresDatastore  # noqa: PLC0415
    from psycopg.sql import SQL, Identifier  # noqa: PLC0415

    class _Datastore(PostgresDatastore):
        def after_connect_func(self) -> Callable[[Connection[Any]], None]:
            library = super().after_connect_func()
            search_path = SQL("SET search_path TO {0}").format(Identifier(self.schema))

            def after_connect(conn: Connection[Any]) -> None:
                library(conn)
                conn.cursor().execute(search_path)
                # The server notices a client gone within seconds (see PostgresLocation).
                for setting in ("idle = 10", "interval = 5", "count = 3"):
                    conn.cursor().execute(f"SET tcp_keepalives_{setting}")

            return after_connect

    with psycopg.connect(location.dsn(), autocommit=True) as conn:
        location.ensure_schema(conn)
    return _Datastore(
        dbname=location.dbname,
        host=location.host,
        port=location.port,
        user=location.user,
        password=location.password,
        schema=location.schema,
        pool_size=1,
        max_overflow=7,
        pre_ping=True,
        originator_id_type="text",
    )


def _postgres_recorder() -> type[Any]:
    from eventsourcing.postgres import PostgresTrackingRecorder  # noqa: PLC0415

    return PostgresTrackingRecorder


class PostgresTrackedStore(TrackedStore):
    """A named store in the ledger's PostgreSQL schema: its tables, and its own tracking table
    `<name>_tracking`, through the library's PostgreSQL tracking recorder."""

    def __init__(self, location: PostgresLocation, name: str) -> None:
        self.name = name
        self.location = location
        self.tracking_table = f"{name}_tracking"
        self.datastore = postgres_datastore(location)
        self.recorder = _postgres_recorder()(
            self.datastore, tracking_table_name=self.tracking_table
        )

    @classmethod
    def open(cls, location: PostgresLocation, **options: Any) -> Self:
        """The store in the ledger's schema, its tables created if new."""
        store = cls(location, **options)
        store.create_table()
        return store

    def create_table(self) -> None:
        """The library's tracking table, then the store's own (in one transaction), under the
        ledger's setup lock: the library looks for its table before it makes it, and a
        process that looked while another was making it would fail."""
        import psycopg  # noqa: PLC0415
        from psycopg.sql import SQL  # noqa: PLC0415

        self.recorder.sql_create_statements.extend(
            SQL(postgres_sql(statement).replace("%%", "%")) for statement in self.tables()
        )
        with psycopg.connect(self.location.dsn(), autocommit=True) as conn, setup_lock(conn):
            self.recorder.create_table()

    @contextmanager
    def _transaction(self, commit: bool) -> Iterator[Cursor]:
        with self.datastore.transaction(commit=commit) as cursor:
            yield PostgresCursor(cursor)

    def transaction(self, commit: bool = False) -> AbstractContextManager[Cursor]:
        """A transaction on one of the pool's connections."""
        return self._transaction(commit)

    def exclusive(self, cursor: Cursor) -> None:
        """Hold this store's advisory lock until the cursor's transaction ends."""
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtext(?))",
            (f"sgl.store:{self.location.schema}.{self.name}",),
        )

    def track(self, cursor: Cursor, tracking: Iterable[Tracking]) -> None:
        """Record positions in the cursor's transaction."""
        raw = cursor.raw if isinstance(cursor, PostgresCursor) else cursor
        for item in tracking:
            self.recorder._insert_tracking(raw, item)

    def max_tracking_id(self, application_name: str) -> int | None:
        """The position recorded under one tracking key."""
        found: int | None = self.recorder.max_tracking_id(application_name)
        return found

    def close(self) -> None:
        """Close the pool."""
        self.datastore.close()

    def where(self) -> str:
        """The database and schema."""
        where = self.location
        return f"postgresql://{where.host}:{where.port}/{where.dbname}/{where.schema}"


class CaseReader(Protocol):
    """What a follower of the case view reads of it (the case view, on either database)."""

    def events(self, case_id: str) -> list[Event]:
        """One case's events as recorded, in log order."""
        ...

    def heads(self) -> dict[str, tuple[int, int, int]]:
        """Every case's count of events and its latest recorded_at and appended_at."""
        ...

    def all_positions(self) -> dict[tuple[str, int], int]:
        """Every last offset the case view has taken in, per (topic, partition)."""
        ...


def home_partition(events: Sequence[Event]) -> int:
    """The partition of a case's latest appended event: where its records go now (a case
    keeps the partition of its key unless partitions are added to the topic)."""
    return max(events, key=lambda e: e.appended_at).partition


def at_home(events: Sequence[Event], partitions: Collection[int] | None) -> bool:
    """Whether a case with these events (at least one) is refreshed by a follower holding
    the partitions (None: every partition)."""
    return partitions is None or home_partition(events) in partitions


class CaseTarget(Protocol):
    """A store kept per case by a follower of the case view (the clock view, the alerter's):
    refreshed for the cases a batch touched, with the batch's positions tracked."""

    @property
    def name(self) -> str:
        """Its name (the prefix of its tracking keys)."""
        ...

    def positions(self, topic: str, partitions: Sequence[int]) -> dict[int, int]:
        """The last offset per partition already refreshed."""
        ...

    def refresh(
        self,
        cases: CaseReader,
        case_ids: Collection[str],
        tracking: Sequence[Tracking],
        moment: datetime,
        partitions: Collection[int] | None = None,
    ) -> int:
        """Recompute for these cases as of the moment; record tracking in the same transaction.
        With `partitions` (a group member's), only the cases whose home partition is among
        them (see `home_partition`)."""
        ...

    def due_cases(self, moment: datetime) -> list[str]:
        """Cases to look at again because time has passed (a deadline), not because of a record."""
        ...
