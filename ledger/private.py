"""Owner-only files and folders: the ledger's data is readable by its own user alone.

Every folder the ledger makes under `SGL_DATA_DIR` (the data directory itself, `views/`,
`keys/`) is created 0700, and every file it writes there 0600. A SQLite database is created
empty at 0600 before SQLite opens it, because SQLite gives its write-ahead log (`-wal`) and
shared memory (`-shm`) the mode of the database file; a process-wide umask would be simpler
but is not safe with threads. A database left world-readable by an older version is made
owner-only when next opened (by name: an existing file is never opened here).
"""

from __future__ import annotations

import os
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600
_SQLITE_SIDES = ("-wal", "-shm", "-journal")


def private_dir(path: Path) -> Path:
    """Make the folder and any missing parent owner-only (0700); an existing folder (a
    mounted volume, say) is left as it is."""
    missing = []
    step = path
    while not step.exists():
        missing.append(step)
        step = step.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue  # made meanwhile by another thread or process
    return path


def private_file(path: Path) -> Path:
    """Create the file owner-only (0600) if it is not there, in an owner-only folder; an
    existing file that others can read is made owner-only."""
    private_dir(path.parent)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    except FileExistsError:
        _restrict(path)
    return path


def private_database(path: Path) -> Path:
    """A SQLite file about to be opened, created owner-only (with its -wal, -shm or journal,
    if left there, made owner-only too)."""
    private_file(path)
    for side in _SQLITE_SIDES:
        _restrict(Path(f"{path}{side}"))
    return path


def _restrict(path: Path) -> None:
    # By name, never by opening it: closing any descriptor of a file drops every POSIX lock
    # this process holds on it, and SQLite's connections here may hold some.
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return
    if mode & 0o077:
        os.chmod(path, FILE_MODE)
