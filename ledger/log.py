"""What every log adapter offers: append with receipts, look up receipts, read from positions."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from ledger_client.receipt import Receipt

# Receipt lives with the client, which reads receipts too; the log adapters make them.
__all__ = [
    "DeadLetterSink",
    "DoneAppend",
    "EventLog",
    "LogReader",
    "LogRecord",
    "PendingAppend",
    "PendingRecord",
    "Receipt",
    "from_millis",
]


@dataclass(frozen=True, slots=True)
class PendingRecord:
    """An event on its way into the log: its id, its key (the case id) and its exact bytes."""

    event_id: str
    key: str
    value: bytes
    digest: str
    event_type: str = ""
    schema_version: int = 0


@dataclass(frozen=True, slots=True)
class LogRecord:
    """A record as read from the log: coordinates, append time, key, bytes and headers.

    A Kafka record may have no key and no value at all (a tombstone): `None`, never guessed.
    """

    topic: str
    partition: int
    offset: int
    appended_at: datetime
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A refused record as kept: where it was in the log, its key and bytes, and why."""

    source_topic: str
    source_partition: int
    source_offset: int
    key: bytes | None
    value: bytes | None
    reason: str
    detail: str
    dead_lettered_at: datetime


def from_millis(millis: int) -> datetime:
    """A log's millisecond timestamp as an aware UTC datetime."""
    return datetime.fromtimestamp(millis / 1000, UTC)


class LogReader(Protocol):
    """A cursor over the log from given positions, in offset order within each partition."""

    def poll(self, max_records: int, timeout: float) -> list[LogRecord]:
        """Up to max_records records, waiting at most timeout seconds for the first."""
        ...

    def close(self) -> None:
        """Release the reader's resources."""
        ...


class PendingAppend(Protocol):
    """An append under way: its records are queued in order; result() waits for the log."""

    def result(self) -> list[Receipt]:
        """One receipt per record once the log has confirmed; LedgerUnavailable otherwise."""
        ...


class DoneAppend:
    """A PendingAppend that completed (or failed) at once, for synchronous logs."""

    def __init__(
        self, receipts: list[Receipt] | None = None, error: BaseException | None = None
    ) -> None:
        self._receipts = receipts or []
        self._error = error

    def result(self) -> list[Receipt]:
        """The receipts, or the error the append raised."""
        if self._error is not None:
            raise self._error
        return self._receipts


class EventLog(Protocol):
    """An append-only, partitioned log of events: Kafka, or SQLite when embedded."""

    topic: str

    def begin_append(
        self, records: Sequence[PendingRecord], *, looked_up: bool = False
    ) -> PendingAppend:
        """Queue records in order; the caller waits on the result for the receipts.

        An event_id earlier in the same batch, or already in the log as far as the log knows,
        is not appended again: its receipt is the original one, as status `duplicate`. The
        embedded log always knows (a unique index); on Kafka, the log knows what this
        process's receipt index holds, so an append whose receipt never reached the index (the
        process died first) is appended again by a retry. `looked_up=True` says the
        caller has just found none of these event_ids with `lookup`, under a lock that keeps
        other appends to this log out, so the log need not look them up a second time.

        Queuing is quick, so the ledger queues under its lock (fixing the order) and waits
        outside it; appends from concurrent requests then overlap on the wire.
        """
        ...

    def append(self, records: Sequence[PendingRecord]) -> list[Receipt]:
        """Append records in order and return one receipt each, confirmed by the log; an
        event_id already appended (as far as the log knows: see `begin_append`) answers its
        original receipt and is not appended again."""
        ...

    def lookup(self, event_ids: Collection[str]) -> dict[str, Receipt]:
        """Receipts of those event_ids already appended, as status `duplicate`."""
        ...

    def partitions(self) -> list[int]:
        """The partition numbers of the log."""
        ...

    def end_offsets(self) -> dict[int, int]:
        """For each partition, the offset the next record will take."""
        ...

    def reader(self, start: Mapping[int, int]) -> LogReader:
        """A reader that starts each partition at the given next offset (0 when absent)."""
        ...

    def ping(self) -> None:
        """Raise LedgerUnavailable when the log cannot be reached."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


class DeadLetterSink(Protocol):
    """Where records that are not valid events go, with the reason; never dropped."""

    def dead_letter(self, record: LogRecord, reason: str, detail: str) -> bool:
        """Keep the record's exact bytes and key with why it was refused; False when its
        source position was already lettered (nothing is written then)."""
        ...
