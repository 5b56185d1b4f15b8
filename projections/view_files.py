"""A view's generations: the current one, a new one being rebuilt, and the swap.

In SQLite (`ViewFiles`) each view lives in `<folder>/<name>.sqlite` until it is first rebuilt.
A rebuild writes a new generation `<name>.<UTC stamp>.sqlite` beside the live one; promoting it
replaces the pointer file `<name>.current` atomically, so every reader, in this process or
another, moves to it on its next access. The previous generation is kept (a process may still
be finishing a read of it) and removed by the next promotion.

In PostgreSQL (`PostgresGenerations`) a generation is a schema: `<schema>_<name>` until the
view is first rebuilt, then `<schema>_<name>_<stamp>`; the pointer is a row of the ledger
schema's `view_generations` table, and every process moves to a promoted generation within
`POINTER_SECONDS`. A rebuild holds an advisory lock, so one runs at a time across processes.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from eventsourcing.persistence import OperationalError

from ledger.errors import LedgerError
from ledger.postgres import PostgresLocation, setup_lock
from ledger.private import private_file
from projections.case_view import SQLiteCaseView

# How often a process looks at a PostgreSQL view's pointer: it moves to a promoted generation
# within this many seconds.
POINTER_SECONDS = 0.5


def remove_database(path: Path) -> None:
    """Delete a SQLite file with its write-ahead log and shared memory, if there."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


class RebuildInProgress(LedgerError):
    """Another rebuild of the same view holds its lock."""


L = TypeVar("L")


class Generations(Protocol[L]):
    """Where one view's generations live (`L`: a file's path, or a table prefix) and which one
    is current."""

    @property
    def name(self) -> str:
        """The view's name."""
        ...

    def current(self) -> L:
        """The generation readers should use now."""
        ...

    def stamp(self) -> object:
        """Changes whenever another generation is promoted."""
        ...

    def new_generation(self) -> L:
        """A fresh generation for a rebuild, beside the live one."""
        ...

    def promote(self, generation: L) -> None:
        """Make the generation current for every reader; drop all but it and the previous."""
        ...

    def discard(self, generation: L) -> None:
        """Remove a generation never promoted (a rebuild that failed)."""
        ...

    def label(self, generation: L) -> str:
        """The generation as an operator reads it (a file name, a table prefix)."""
        ...

    def rebuild_lock(self) -> AbstractContextManager[None]:
        """Held for the whole of a rebuild: a second one at the same time is refused."""
        ...


class ViewFiles:
    """Where one view's generations live and which one is current (SQLite files)."""

    def __init__(self, folder: Path, name: str) -> None:
        self.folder = folder
        self.name = name
        self.pointer = folder / f"{name}.current"

    def current(self) -> Path:
        """The generation readers should use now."""
        try:
            return self.folder / self.pointer.read_text().strip()
        except FileNotFoundError:
            return self.folder / f"{self.name}.sqlite"

    def stamp(self) -> tuple[int, int] | None:
        """Changes whenever the pointer is replaced (inode, mtime); None before any rebuild."""
        try:
            info = os.stat(self.pointer)
        except FileNotFoundError:
            return None
        return info.st_ino, info.st_mtime_ns

    def new_generation(self) -> Path:
        """A fresh file name for a rebuild, beside the live one."""
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        return self.folder / f"{self.name}.{stamp}.sqlite"

    def generations(self) -> list[Path]:
        """Every generation file of this view on disk, oldest first."""
        named = [self.folder / f"{self.name}.sqlite"]
        stamped = sorted(self.folder.glob(f"{self.name}.*.sqlite"))
        return [p for p in named if p.exists()] + stamped

    def promote(self, path: Path) -> None:
        """Make the generation current for every reader; drop all but it and the previous."""
        previous = self.current()
        staging = self.folder / f".{self.name}.current.tmp"
        with open(private_file(staging), "w") as handle:
            handle.write(path.name + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(staging, self.pointer)
        directory = os.open(self.folder, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
        for old in self.generations():
            if old not in (path, previous):
                remove_database(old)

    def discard(self, generation: Path) -> None:
        """Delete a generation's file."""
        remove_database(generation)

    def label(self, generation: Path) -> str:
        """The generation's file name."""
        return generation.name

    @contextlib.contextmanager
    def rebuild_lock(self) -> Iterator[None]:
        """Held for the whole of a rebuild: a second one at the same time is refused."""
        with open(private_file(self.folder / f".{self.name}.rebuild.lock"), "w") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise RebuildInProgress(f"a rebuild of {self.name} is already running") from None
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def store_location(location: PostgresLocation, name: str) -> PostgresLocation:
    """Where a store named `name` lives in the ledger's database: a schema of its own beside
    the ledger's (`<schema>_<name>`), also a view's first generation."""
    return replace(location, schema=f"{location.schema}_{name}")


class PostgresGenerations:
    """Where one view's generations live in PostgreSQL and which one is current.

    Each generation is a schema of its own: `<schema>_<view>` until the first rebuild, then
    `<schema>_<view>_<stamp>`, so a generation is dropped whole (`DROP SCHEMA ... CASCADE`) and
    its store keeps its name and its tables' names. The pointer is a row of
    `<schema>.view_generations`.
    """

    def __init__(self, location: PostgresLocation, name: str) -> None:
        import psycopg  # noqa: PLC0415 -- only with PostgreSQL

        self.location = location
        self.name = name
        self.base = store_location(location, name).schema
        self._psycopg = psycopg
        self._lock = threading.Lock()
        self._conn: Any = None
        self._seen: tuple[float, object] = (-POINTER_SECONDS, None)
        with self._connection() as conn, setup_lock(conn):
            location.ensure_schema(conn)
            conn.execute(
                "CREATE TABLE IF NOT EXISTS view_generations (view TEXT PRIMARY KEY, "
                "current TEXT NOT NULL, previous TEXT, promoted BIGINT NOT NULL)"
            )

    @contextlib.contextmanager
    def _connection(self) -> Iterator[Any]:
        """The one connection this process keeps for the pointer (made again if it broke).

        The database unreachable, or its connection broken (a restart), is raised as the
        library's OperationalError, a PersistenceError: what the consumer loops retry."""
        with self._lock:
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = self._psycopg.connect(self.location.dsn(), autocommit=True)
                yield self._conn
            except self._psycopg.OperationalError as exc:
                if self._conn is not None:
                    self._conn.close()
                raise OperationalError(
                    f"the generations of {self.name} in {self.location.redacted()}: {exc}"
                ) from exc

    def _pointer(self) -> tuple[str, int] | None:
        with self._connection() as conn:
            row = conn.execute(
                "SELECT current, promoted FROM view_generations WHERE view = %s", (self.name,)
            ).fetchone()
        return None if row is None else (row[0], row[1])

    def current(self) -> PostgresLocation:
        """The generation readers should use now."""
        pointer = self._pointer()
        return replace(self.location, schema=self.base if pointer is None else pointer[0])

    def stamp(self) -> object:
        """When the current generation was promoted, read at most every POINTER_SECONDS (so
        a request does not pay a query for it each time)."""
        now = time.monotonic()
        checked, stamp = self._seen
        if now - checked >= POINTER_SECONDS:
            pointer = self._pointer()
            stamp = None if pointer is None else pointer[1]
            self._seen = (now, stamp)
        return stamp

    def new_generation(self) -> PostgresLocation:
        """A fresh schema for a rebuild."""
        stamp = datetime.now(UTC).strftime("%Y%m%dt%H%M%S%f")
        return replace(self.location, schema=f"{self.base}_{stamp}")

    def promote(self, generation: PostgresLocation) -> None:
        """Point every reader at the generation; drop all but it and the one it replaces."""
        previous = self.current().schema
        with self._connection() as conn, conn.transaction():
            conn.execute(
                "INSERT INTO view_generations VALUES (%s, %s, %s, %s) ON CONFLICT (view) DO "
                "UPDATE SET current = excluded.current, previous = excluded.previous, "
                "promoted = excluded.promoted",
                (self.name, generation.schema, previous, time.time_ns()),
            )
            for old in self._generations(conn):
                if old not in (generation.schema, previous):
                    self._drop(conn, old)
        self._seen = (-POINTER_SECONDS, None)

    def discard(self, generation: PostgresLocation) -> None:
        """Drop a generation's schema and everything in it."""
        with self._connection() as conn:
            self._drop(conn, generation.schema)

    def label(self, generation: PostgresLocation) -> str:
        """The generation's schema."""
        return generation.schema

    @contextlib.contextmanager
    def rebuild_lock(self) -> Iterator[None]:
        """An advisory lock on its own connection, held for the whole rebuild."""
        key = zlib.crc32(f"sgl-rebuild:{self.base}".encode())
        with self._psycopg.connect(self.location.dsn(), autocommit=True) as conn:
            taken = conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
            if not taken or not taken[0]:
                raise RebuildInProgress(f"a rebuild of {self.name} is already running")
            try:
                yield
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (key,))

    def _generations(self, conn: Any) -> list[str]:
        """Every generation of this view: the base schema and the stamped ones."""
        rows = conn.execute(
            "SELECT schema_name FROM information_schema.schemata "
            "WHERE schema_name = %s OR schema_name ~ %s",
            (self.base, f"^{self.base}_[0-9]{{8}}t[0-9]+$"),
        ).fetchall()
        return [row[0] for row in rows]

    def _drop(self, conn: Any, schema: str) -> None:
        from psycopg.sql import SQL, Identifier  # noqa: PLC0415

        conn.execute(SQL("DROP SCHEMA IF EXISTS {0} CASCADE").format(Identifier(schema)))

    def close(self) -> None:
        """Close the pointer's connection."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()


def open_case_view(path: Path, snapshot_every: int = 100) -> SQLiteCaseView:
    """The case-state view in the given file, its tables created if new."""
    return SQLiteCaseView.open(path, snapshot_every=snapshot_every)


class _Closable(Protocol):
    name: str

    def close(self) -> None: ...


V = TypeVar("V", bound=_Closable)


class ViewHandle(Generic[V]):
    """The current generation of a view, moving to a promoted one on the next access."""

    def __init__(self, files: Generations[Any], opener: Callable[[Any], V]) -> None:
        self.files = files
        self.opener = opener
        self._lock = threading.Lock()
        self._stamp = files.stamp()
        self._view = opener(files.current())
        # The generation replaced last stays open until the next swap: a request may still be
        # reading it.
        self._retired: list[V] = []

    @property
    def name(self) -> str:
        """The view's name (also its tracking prefix)."""
        return self._view.name

    def current(self) -> V:
        """The view readers and the consumer should use now (one stat of the pointer)."""
        stamp = self.files.stamp()
        if stamp != self._stamp:
            with self._lock:
                if stamp != self._stamp:
                    # Generations older than the one just replaced are deleted by now: close
                    # them. The one just replaced stays open for reads still under way.
                    # The new generation is opened first: if that fails (a database away),
                    # the one serving now goes on serving and the swap is tried again.
                    promoted = self.opener(self.files.current())
                    for old in self._retired:
                        old.close()
                    self._retired = [self._view]
                    self._view = promoted
                    self._stamp = stamp
        return self._view

    def close(self) -> None:
        """Close every generation this handle opened."""
        for view in [*self._retired, self._view]:
            view.close()
        if isinstance(self.files, PostgresGenerations):
            self.files.close()
