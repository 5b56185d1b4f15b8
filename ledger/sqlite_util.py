"""Small SQLite helpers shared by the adapters."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

# SQLite's default limit on host parameters in one statement is far above this.
CHUNK = 500


def in_chunks(ids: Sequence[str]) -> Iterator[tuple[str, list[str]]]:
    """Yield (`?,?,...` placeholders, ids) for an `IN (...)` query, CHUNK ids at a time."""
    for start in range(0, len(ids), CHUNK):
        chunk = list(ids[start : start + CHUNK])
        yield ",".join("?" * len(chunk)), chunk
