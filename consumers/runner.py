"""One loop per projection: read from the tracked position, apply each batch in one transaction."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Protocol

import structlog
from eventsourcing.persistence import PersistenceError, Tracking

from ledger.decode import decode_record
from ledger.envelope import Event
from ledger.errors import InvalidRecord, LedgerUnavailable
from ledger.log import DeadLetterSink, EventLog, LogReader, LogRecord
from ledger.schemas import SchemaRegistry
from projections.case_view import tracking_name

log = structlog.get_logger("consumers.runner")


def retrying(
    run: Callable[[threading.Event], None],
    stop: threading.Event,
    name: str,
    max_delay: float = 30.0,
    transient: tuple[type[BaseException], ...] = (LedgerUnavailable, PersistenceError),
) -> None:
    """Call run(stop) until stop is set, again after each transient failure, with back-off.

    The log or a database being unavailable (a broker restart, a locked SQLite file) is
    retried from the tracked position; anything else is a bug and stops the loop loudly.
    """
    delay = 0.5
    while not stop.is_set():
        try:
            run(stop)
        except transient as exc:
            log.error("consumer.retrying", view=name, error=str(exc), delay=delay)
            stop.wait(delay)
            delay = min(delay * 2, max_delay)
        else:
            return


class TrackedView(Protocol):
    """A view that applies a batch and its log positions atomically."""

    name: str

    def positions(self, topic: str, partitions: Sequence[int]) -> dict[int, int]:
        """The last applied offset per partition."""
        ...

    def apply(self, events: Sequence[Event], tracking: Sequence[Tracking]) -> int:
        """Apply events and record tracking in one transaction."""
        ...


class ViewSource(Protocol):
    """Gives the view to apply to now: a fixed view gives itself; a handle follows rebuilds."""

    def current(self) -> TrackedView:
        """The view in use now."""
        ...


class ProjectionRunner:
    """Moves records from an EventLog into one TrackedView; bad records go to dead letters."""

    def __init__(
        self,
        event_log: EventLog,
        view: ViewSource,
        schemas: SchemaRegistry,
        dead_letters: DeadLetterSink,
        batch_size: int = 2000,
    ) -> None:
        self.log = event_log
        self.source = view
        self.view = view.current()
        self.schemas = schemas
        self.dead_letters = dead_letters
        self.batch_size = batch_size
        self.applied = 0
        self.dead_lettered = 0
        self._start: dict[int, int] = {}

    @property
    def name(self) -> str:
        """The view's name (its tracking prefix)."""
        return self.view.name

    def lag(self) -> int:
        """Records on the log that this view has not yet applied."""
        ends = self.log.end_offsets()
        done = self.source.current().positions(self.log.topic, list(ends))
        return sum(end - (done.get(p, -1) + 1) for p, end in ends.items())

    def run(self, stop: threading.Event, poll_timeout: float = 0.2) -> None:
        """Apply batches until stop is set; after a rebuild is promoted, go on in the new view."""
        reader = self._open_reader()
        try:
            while not stop.is_set():
                records = reader.poll(self.batch_size, poll_timeout)
                if self.source.current() is not self.view:
                    # A rebuilt view was swapped in: resume from its own tracked positions.
                    reader.close()
                    reader = self._open_reader()
                    continue
                if records:
                    self.handle(records)
        finally:
            reader.close()
            log.info("runner.stopped", view=self.view.name, applied=self.applied)

    def run_resilient(self, stop: threading.Event, max_delay: float = 30.0) -> None:
        """run() until stop is set, restarting after transient failures with back-off."""
        retrying(self.run, stop, self.view.name, max_delay)

    def run_until_caught_up(
        self, timeout: float = 60.0, progress: Callable[[int], object] | None = None
    ) -> int:
        """Apply everything on the log now, then return how many events took effect.

        `progress` is called with the number of records of each batch handled.
        """
        ends = self.log.end_offsets()
        before = self.applied
        reader = self._open_reader()
        next_offsets = dict(self._start)
        deadline = time.monotonic() + timeout
        try:
            while any(next_offsets.get(p, 0) < end for p, end in ends.items()):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{self.view.name} did not catch up within {timeout}s")
                records = reader.poll(self.batch_size, 0.2)
                if records:
                    self.handle(records)
                    for record in records:
                        next_offsets[record.partition] = record.offset + 1
                    if progress is not None:
                        progress(len(records))
        finally:
            reader.close()
        return self.applied - before

    def _open_reader(self) -> LogReader:
        self.view = self.source.current()
        tracked = self.view.positions(self.log.topic, self.log.partitions())
        self._start = {p: offset + 1 for p, offset in tracked.items()}
        log.info("runner.started", view=self.view.name, start=self._start)
        return self.log.reader(self._start)

    def handle(self, records: Sequence[LogRecord]) -> int:
        """Decode a polled batch, dead-letter what is not an event, apply the rest atomically."""
        events = []
        last: dict[int, int] = {}
        for record in records:
            try:
                events.append(decode_record(record, self.schemas))
            except InvalidRecord as exc:
                self.dead_letters.dead_letter(record, exc.reason, exc.detail)
                self.dead_lettered += 1
                log.warning(
                    "record.dead_lettered",
                    reason=exc.reason,
                    position=f"{record.partition}:{record.offset}",
                )
            last[record.partition] = record.offset
        tracking = [
            Tracking(tracking_name(self.view.name, self.log.topic, p), o) for p, o in last.items()
        ]
        applied = self.view.apply(events, tracking)
        self.applied += applied
        log.debug("batch.applied", view=self.view.name, records=len(records), applied=applied)
        return applied
