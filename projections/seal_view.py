"""The seal: each partition's RFC 9162 Merkle tree over its records, and its checkpoints.

The sealer (`consumers/sealer.py`) appends every record's leaf hash; each perfect subtree a
leaf completes is stored once (level, index), so a partition of n records holds about 2n
hashes, and any range a proof needs is a few lookups (`ledger.merkle.range_hash`). Nodes,
checkpoints and the log position commit in one transaction: the seal is exactly-once and
resumable like every view. Leaf index = the record's offset in its partition.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from eventsourcing.persistence import Tracking
from eventsourcing.sqlite import SQLiteDatastore

from ledger.merkle import (
    Frontier,
    consistency_proof,
    frontier_positions,
    inclusion_proof,
    range_hash,
)
from ledger.postgres import PostgresLocation
from projections.tracking import PostgresTrackedStore, SQLiteTrackedStore, TrackedStore

SEAL = "seal"


class SealViewStore(TrackedStore):
    """Merkle nodes and signed checkpoints per partition, with the sealer's positions
    (`SQLiteSealView` and `PostgresSealView` hold them)."""

    def tables(self) -> list[str]:
        """The nodes, and the checkpoints."""
        return [
            f"CREATE TABLE IF NOT EXISTS {self.name}_nodes (partition INTEGER NOT NULL, "
            "level INTEGER NOT NULL, idx INTEGER NOT NULL, hash BLOB NOT NULL, "
            "PRIMARY KEY (partition, level, idx)) WITHOUT ROWID",
            f"CREATE TABLE IF NOT EXISTS {self.name}_checkpoints (partition INTEGER NOT NULL, "
            "size INTEGER NOT NULL, root BLOB NOT NULL, note TEXT NOT NULL, "
            "published INTEGER NOT NULL, PRIMARY KEY (partition, size)) WITHOUT ROWID",
            f"CREATE INDEX IF NOT EXISTS {self.name}_unpublished ON {self.name}_checkpoints "
            "(published) WHERE published = 0",
        ]

    def size(self, partition: int) -> int:
        """Records sealed in the partition."""
        with self.transaction(commit=False) as cursor:
            cursor.execute(
                f"SELECT MAX(idx) FROM {self.name}_nodes WHERE partition = ? AND level = 0",  # noqa: S608
                (partition,),
            )
            (last,) = cursor.fetchone()
        return 0 if last is None else int(last) + 1

    def frontier(self, partition: int) -> Frontier:
        """The partition's tree's right edge, to go on appending from."""
        size = self.size(partition)
        return Frontier(size, [self.node(partition, lv, i) for lv, i in frontier_positions(size)])

    def node(self, partition: int, level: int, index: int) -> bytes:
        """A stored perfect subtree's hash; KeyError if not sealed (yet)."""
        with self.transaction(commit=False) as cursor:
            cursor.execute(
                f"SELECT hash FROM {self.name}_nodes WHERE partition = ? AND level = ? "  # noqa: S608
                "AND idx = ?",
                (partition, level, index),
            )
            row = cursor.fetchone()
        if row is None:
            raise KeyError((partition, level, index))
        return bytes(row[0])

    def leaves(self, partition: int, start: int, end: int) -> list[bytes]:
        """Leaf hashes of offsets start..end-1 as sealed."""
        with self.transaction(commit=False) as cursor:
            cursor.execute(
                f"SELECT hash FROM {self.name}_nodes WHERE partition = ? AND level = 0 "  # noqa: S608
                "AND idx >= ? AND idx < ? ORDER BY idx",
                (partition, start, end),
            )
            return [bytes(row[0]) for row in cursor.fetchall()]

    def record(
        self,
        nodes: Iterable[tuple[int, int, int, bytes]],
        checkpoints: Iterable[tuple[int, int, bytes, str]],
        tracking: Sequence[Tracking],
    ) -> None:
        """Commit nodes (partition, level, index, hash), checkpoints (partition, size, root,
        note) and positions together."""
        with self.transaction(commit=True) as cursor:
            cursor.executemany(
                f"INSERT INTO {self.name}_nodes VALUES (?, ?, ?, ?)",  # noqa: S608
                list(nodes),
            )
            cursor.executemany(
                f"INSERT INTO {self.name}_checkpoints VALUES (?, ?, ?, ?, 0)",  # noqa: S608
                list(checkpoints),
            )
            self.track(cursor, tracking)

    def checkpoints(
        self, partition: int | None = None, *, unpublished: bool = False
    ) -> list[dict[str, Any]]:
        """Checkpoints (all, or those not yet on the topic), oldest first per partition."""
        where, args = ("WHERE partition = ?", (partition,)) if partition is not None else ("", ())
        if unpublished:
            where, args = "WHERE published = 0", ()
        return self._select(f"{where} ORDER BY partition, size", args)

    def checkpoint(self, partition: int, size: int | None = None) -> dict[str, Any] | None:
        """The checkpoint of the partition at that size (default: the latest), if any."""
        if size is None:
            found = self._select("WHERE partition = ? ORDER BY size DESC LIMIT 1", (partition,))
        else:
            found = self._select("WHERE partition = ? AND size = ?", (partition, size))
        return found[0] if found else None

    def _select(self, tail: str, args: tuple[Any, ...]) -> list[dict[str, Any]]:
        with self.transaction(commit=False) as cursor:
            cursor.execute(
                f"SELECT partition, size, root, note, published FROM {self.name}_checkpoints "  # noqa: S608
                + tail,
                args,
            )
            return [
                {"partition": p, "size": s, "root": bytes(r), "note": n, "published": bool(u)}
                for p, s, r, n, u in cursor.fetchall()
            ]

    def mark_published(self, keys: Iterable[tuple[int, int]]) -> None:
        """The checkpoints topic has these (partition, size) checkpoints."""
        with self.transaction(commit=True) as cursor:
            cursor.executemany(
                f"UPDATE {self.name}_checkpoints SET published = 1 "  # noqa: S608
                "WHERE partition = ? AND size = ?",
                list(keys),
            )

    def inclusion(self, partition: int, index: int, size: int) -> list[bytes]:
        """The inclusion proof of a leaf in the partition's tree of that size."""
        return inclusion_proof(index, size, self._ranges(partition))

    def consistency(self, partition: int, size1: int, size2: int) -> list[bytes]:
        """The consistency proof between two sizes of the partition's tree."""
        return consistency_proof(size1, size2, self._ranges(partition))

    def _ranges(self, partition: int) -> Any:
        def node(level: int, index: int) -> bytes:
            return self.node(partition, level, index)

        return lambda start, end: range_hash(start, end, node)


class SQLiteSealView(SealViewStore, SQLiteTrackedStore):
    """The seal in one SQLite file."""

    def __init__(self, datastore: SQLiteDatastore, name: str = SEAL) -> None:
        super().__init__(datastore, name)


class PostgresSealView(SealViewStore, PostgresTrackedStore):
    """The seal in the ledger's PostgreSQL schema."""

    def __init__(self, location: PostgresLocation, name: str = SEAL) -> None:
        super().__init__(location, name)


def open_seal_view(path: Path) -> SQLiteSealView:
    """The seal in the given file, its tables created if new."""
    return SQLiteSealView.open(path)
