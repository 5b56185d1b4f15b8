"""The loop every consumer runs: read the log from a store's tracked positions, hand over each
batch, and stop, retry and catch up in one way.

A consumer (the case-view runner, a follower of the case view, the sealer) says only how to
take in a batch, and what else it does between polls and once caught up. The store it writes
records each batch's positions in the batch's own transaction, so a loop restarted for any
reason (a crash, a transient failure, a rebuilt store swapped in) resumes from what is
recorded, and nothing is taken in twice or skipped.

On a log that has consumer groups (Kafka), a loop made with `group=True` reads as one member
of its store's group: several processes share the partitions, each partition assigned to a
member starts at the store's tracked position + 1, and a batch records its first offset in
each partition as well as its last, so a batch read by a member that has lost the partition
meanwhile (evicted while it was slow) fails in its transaction rather than apply twice.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import Generic, Protocol, TypeVar, cast, runtime_checkable

import structlog
from eventsourcing.persistence import PersistenceError, Tracking

from ledger.errors import LedgerUnavailable
from ledger.log import EventLog, LogReader, LogRecord
from projections.tracking import tracking_rows

log = structlog.get_logger("consumers.loop")

POLL_SECONDS = 0.2
FIRST_RETRY_SECONDS = 0.5


class Tracked(Protocol):
    """A store that records the log positions it has taken in."""

    @property
    def name(self) -> str:
        """Its name (the prefix of its tracking keys)."""
        ...

    def positions(self, topic: str, partitions: Sequence[int]) -> dict[int, int]:
        """The last offset taken in from each partition that has one."""
        ...


class GroupReader(LogReader, Protocol):
    """A reader of the partitions its consumer group assigns it."""

    # The partitions the group has assigned it now (none while it joins or rebalances).
    assigned: frozenset[int]

    def commit(self, last: Mapping[int, int]) -> None:
        """Tell the group the last offset taken in from each partition (for its tools)."""
        ...


@runtime_checkable
class GroupLog(Protocol):
    """A log whose readers can share its partitions as a consumer group (Kafka)."""

    def group_reader(
        self, group: str, starts: Callable[[Sequence[int]], Mapping[int, int]]
    ) -> GroupReader:
        """A member of `group`, reading each partition assigned from the offset `starts`
        gives for it."""
        ...


def group_name(topic: str, store: Tracked) -> str:
    """The consumer group of a store's consumers on a topic: its name and where it is kept, so
    processes share a group exactly when they share the store (two data directories on one
    topic are two groups, each reading every partition)."""
    return f"sgl.{topic}.{store.name}.{_where(store)}"


def _where(store: Tracked) -> str:
    """A short digest of where a store is kept (a store that does not say: its name alone)."""
    where: Callable[[], str] | None = getattr(store, "where", None)
    return hashlib.sha256((store.name if where is None else where()).encode()).hexdigest()[:12]


T = TypeVar("T", bound=Tracked)
T_co = TypeVar("T_co", covariant=True)


class Source(Protocol[T_co]):
    """Gives the store to use now: a fixed store gives itself; a `ViewHandle` follows
    rebuilds."""

    def current(self) -> T_co:
        """The store in use now."""
        ...


class TrackedLoop(ABC, Generic[T]):
    """Reads the log from the tracked positions of the store its source gives, batch by batch.

    A rebuilt store swapped in behind the source is followed: the loop reads again from the
    new store's own positions. The log or a database being unavailable (a broker restart, a
    locked SQLite file) is `transient`: `run_resilient` retries it with back-off, from the
    tracked positions; anything else is a bug, and stops the loop loudly.
    """

    transient: tuple[type[BaseException], ...] = (LedgerUnavailable, PersistenceError)

    def __init__(
        self,
        event_log: EventLog,
        source: Source[T],
        batch_size: int,
        tick_seconds: float = math.inf,
        *,
        group: bool = False,
    ) -> None:
        self.log = event_log
        self.source = source
        self.batch_size = batch_size
        self.tick_seconds = tick_seconds
        # Whether `run` reads as a member of the store's consumer group (on a log that has them).
        self.group = group and isinstance(event_log, GroupLog)
        # The store the reader was opened for: batches are tracked in it.
        self.view = source.current()
        # What took effect (events applied, cases refreshed, records sealed), records and
        # batches taken in, and transient failures retried.
        self.applied = 0
        self.records = 0
        self.batches = 0
        self.retries = 0
        # Called with each batch once the store has committed it (the metrics' latency).
        self.observers: list[Callable[[Sequence[LogRecord]], None]] = []
        self._start: dict[int, int] = {}
        self._reader: LogReader | None = None

    @property
    def name(self) -> str:
        """The store's name (its tracking prefix)."""
        return self.view.name

    @abstractmethod
    def take(
        self, records: Sequence[LogRecord], stop: threading.Event, deadline: float | None
    ) -> None:
        """Take in a polled batch and record its positions (a wait for something else, if
        any, ends at stop or at the monotonic deadline when there is one)."""

    def held(self) -> frozenset[int] | None:
        """The partitions this loop's group has assigned it now; None when it reads every
        partition (not in a group)."""
        reader = self._reader
        return cast(GroupReader, reader).assigned if self.group and reader is not None else None

    def tick(self) -> None:
        """What the loop does on a timer besides taking in batches: first, then every
        `tick_seconds` (nothing here)."""

    def caught_up(self) -> None:
        """What `run_until_caught_up` does once everything on the log is taken in: tick."""
        self.tick()

    def start(self) -> dict[int, int]:
        """The offset to read next in each partition: after the store's tracked positions."""
        partitions = self.log.partitions()
        return {p: o + 1 for p, o in self.view.positions(self.log.topic, partitions).items()}

    def tracking(
        self, last: Mapping[int, int], first: Mapping[int, int] | None = None
    ) -> list[Tracking]:
        """The tracking rows for the last offset of a batch in each partition; with `first`,
        its first offsets are recorded before them, so the transaction fails if any of them
        was taken in already (a position at or past it is recorded)."""
        rows = tracking_rows(self.view.name, self.log.topic, last)
        if not first:
            return rows
        before = {p: o for p, o in first.items() if o < last.get(p, o)}
        return tracking_rows(self.view.name, self.log.topic, before) + rows

    def lag(self) -> int:
        """Records on the log that the store has not yet taken in."""
        ends = self.log.end_offsets()
        done = self.source.current().positions(self.log.topic, list(ends))
        return sum(end - (done.get(p, -1) + 1) for p, end in ends.items())

    def run(self, stop: threading.Event, poll_timeout: float = POLL_SECONDS) -> None:
        """Take in batches until stop is set; after a rebuilt store is swapped in, go on in it.
        In a group, each batch's last offsets are committed to the group once taken in."""
        reader = self._reader = self._open(self.group)
        next_tick = 0.0
        try:
            while not stop.is_set():
                if time.monotonic() >= next_tick:
                    self.tick()
                    next_tick = time.monotonic() + self.tick_seconds
                records = reader.poll(self.batch_size, poll_timeout)
                if self.source.current() is not self.view:
                    # A rebuilt store was swapped in: resume from its own tracked positions.
                    reader.close()
                    reader = self._reader = self._open(self.group)
                    continue
                if records:
                    self._take(records, stop, None)
                    if self.group:
                        cast(GroupReader, reader).commit({r.partition: r.offset for r in records})
        finally:
            reader.close()
            self._reader = None
            log.info(
                "consumer.stopped",
                view=self.view.name,
                records=self.records,
                batches=self.batches,
                retries=self.retries,
                applied=self.applied,
            )

    def run_resilient(self, stop: threading.Event, max_delay: float = 30.0) -> None:
        """run() until stop is set, again after each transient failure, waiting twice as long
        after each failure in a row (up to max_delay; a batch taken in between starts again
        from the first delay); anything else is logged and raised."""
        delay = FIRST_RETRY_SECONDS
        while not stop.is_set():
            batches = self.batches
            try:
                self.run(stop)
            except self.transient as exc:
                if stop.is_set():
                    # Stopping: a read cut short by the shutdown (its store closing, its group
                    # left) is no outage to report.
                    return
                if self.batches > batches:
                    # run() took in batches since the last failure: a new outage.
                    delay = FIRST_RETRY_SECONDS
                self.retries += 1
                log.error("consumer.retrying", view=self.name, error=str(exc), delay=delay)
                stop.wait(delay)
                delay = min(delay * 2, max_delay)
            except Exception:
                log.exception("consumer.failed", view=self.name)
                raise
            else:
                return

    def run_until_caught_up(
        self, timeout: float = 60.0, progress: Callable[[int], object] | None = None
    ) -> int:
        """Take in everything on the log now; returns how much more took effect (`applied`).

        `progress` is called with the number of records of each batch taken in.
        """
        stop = threading.Event()
        ends = self.log.end_offsets()
        before = self.applied
        deadline = time.monotonic() + timeout
        reader = self._open()
        next_offsets = dict(self._start)
        try:
            while any(next_offsets.get(p, 0) < end for p, end in ends.items()):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{self.name} did not catch up within {timeout}s")
                records = reader.poll(self.batch_size, POLL_SECONDS)
                if records:
                    self._take(records, stop, deadline)
                    for record in records:
                        next_offsets[record.partition] = record.offset + 1
                    if progress is not None:
                        progress(len(records))
            self.caught_up()
        finally:
            reader.close()
        return self.applied - before

    def _take(
        self, records: Sequence[LogRecord], stop: threading.Event, deadline: float | None
    ) -> None:
        self.take(records, stop, deadline)
        self.records += len(records)
        self.batches += 1
        for observe in self.observers:
            observe(records)

    def _open(self, group: bool = False) -> LogReader:
        self.view = self.source.current()
        if group:
            name = group_name(self.log.topic, self.view)
            log.info("consumer.joining", view=self.view.name, group=name)
            return cast(GroupLog, self.log).group_reader(name, self._starts)
        self._start = self.start()
        log.info("consumer.started", view=self.view.name, start=self._start)
        return self.log.reader(self._start)

    def _starts(self, partitions: Sequence[int]) -> dict[int, int]:
        """The next offset of each partition the group has just assigned (after the store's
        tracked position, read now: another member may have taken in more meanwhile)."""
        start = self.start()
        return {p: start.get(p, 0) for p in partitions}
