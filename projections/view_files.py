"""A view's SQLite files: the current generation, a new one being rebuilt, and the swap.

Each view lives in `<folder>/<name>.sqlite` until it is first rebuilt. A rebuild writes a new
generation `<name>.<UTC stamp>.sqlite` beside the live one; promoting it replaces the pointer
file `<name>.current` atomically, so every reader, in this process or another, moves to it on
its next access. The previous generation is kept (a process may still be finishing a read of
it) and removed by the next promotion.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Generic, Protocol, TypeVar

from eventsourcing.sqlite import SQLiteDatastore

from ledger.errors import LedgerError
from ledger.private import private_file
from projections.case_view import SQLiteCaseView


def remove_database(path: Path) -> None:
    """Delete a SQLite file with its write-ahead log and shared memory, if there."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


class RebuildInProgress(LedgerError):
    """Another rebuild of the same view holds its lock."""


class ViewFiles:
    """Where one view's generations live and which one is current."""

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


def open_case_view(path: Path, snapshot_every: int = 100) -> SQLiteCaseView:
    """The case-state view in the given file, its tables created if new."""
    return SQLiteCaseView.open(path, snapshot_every=snapshot_every)


class _Closable(Protocol):
    name: str

    @property
    def datastore(self) -> SQLiteDatastore: ...


V = TypeVar("V", bound=_Closable)


class ViewHandle(Generic[V]):
    """The current generation of a view, moving to a promoted one on the next access."""

    def __init__(self, files: ViewFiles, opener: Callable[[Path], V]) -> None:
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
                    for old in self._retired:
                        old.datastore.close()
                    self._retired = [self._view]
                    self._view = self.opener(self.files.current())
                    self._stamp = stamp
        return self._view

    def close(self) -> None:
        """Close every generation this handle opened."""
        for view in [*self._retired, self._view]:
            view.datastore.close()
