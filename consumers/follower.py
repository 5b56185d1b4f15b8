"""Consumers downstream of the case view: the clock view and the alerter.

A follower reads the log from its own tracked position, in its own group, but needs no
decoding: a record's key is its case id. Once the case view has applied a batch, the follower
hands the cases the batch touched to its target, which recomputes what it keeps for them from
the case view's events and records the batch's positions in the same transaction. So the
target is exactly-once like every view, and can be rebuilt or lag without the others.

A target with no tracked position yet starts with a sweep: every case the case view holds,
then the log from the positions the case view had when the sweep began. Events applied during
the sweep are seen twice, which is harmless: a refresh recomputes from the case's events.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from datetime import UTC, datetime
from itertools import islice
from typing import Protocol

import structlog
from eventsourcing.persistence import PersistenceError, Tracking

from consumers.runner import retrying
from ledger.errors import LedgerUnavailable
from ledger.log import EventLog, LogReader, LogRecord
from projections.case_view import SQLiteCaseView, tracking_name

log = structlog.get_logger("consumers.follower")

SWEEP_CHUNK = 500


class Target(Protocol):
    """What a follower keeps up to date: refreshed per case, with positions tracked."""

    name: str

    def positions(self, topic: str, partitions: Sequence[int]) -> dict[int, int]:
        """The last offset per partition already refreshed."""
        ...

    def refresh(
        self,
        cases: SQLiteCaseView,
        case_ids: Collection[str],
        tracking: Sequence[Tracking],
        moment: datetime,
    ) -> int:
        """Recompute for these cases as of the moment; record tracking in the same transaction."""
        ...

    def due_cases(self, moment: datetime) -> list[str]:
        """Cases to look at again because time has passed (a deadline), not because of a record."""
        ...


class Source(Protocol):
    """A view now: fixed, or following rebuilds (`ViewHandle`)."""

    def current(self) -> object:
        """The view in use now."""
        ...


class CaseFollower:
    """Keeps a target in step with the case view, batch by batch along the log."""

    def __init__(
        self,
        event_log: EventLog,
        cases: Source,
        target: Source,
        *,
        batch_size: int = 20_000,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        tick_seconds: float = 30.0,
        wait_seconds: float = 60.0,
    ) -> None:
        self.log = event_log
        self.cases = cases
        self.target = target
        self.batch_size = batch_size
        self.clock = clock
        self.tick_seconds = tick_seconds
        self.wait_seconds = wait_seconds
        self.refreshed = 0

    @property
    def name(self) -> str:
        """The target's name (its tracking prefix)."""
        return self._target().name

    def _target(self) -> Target:
        target: Target = self.target.current()  # type: ignore[assignment]
        return target

    def _cases(self) -> SQLiteCaseView:
        view: SQLiteCaseView = self.cases.current()  # type: ignore[assignment]
        return view

    def lag(self) -> int:
        """Records on the log that the target has not yet taken in."""
        ends = self.log.end_offsets()
        done = self._target().positions(self.log.topic, list(ends))
        return sum(end - (done.get(p, -1) + 1) for p, end in ends.items())

    def run(self, stop: threading.Event, poll_timeout: float = 0.2) -> None:
        """Follow the log until stop is set; look at due cases every tick."""
        target = self._target()
        reader = self._open_reader(stop)
        next_tick = 0.0
        try:
            while not stop.is_set():
                if time.monotonic() >= next_tick:
                    self.tick()
                    next_tick = time.monotonic() + self.tick_seconds
                records = reader.poll(self.batch_size, poll_timeout)
                if self._target() is not target:
                    # The target was rebuilt and swapped in: go on from its own positions.
                    target = self._target()
                    reader.close()
                    reader = self._open_reader(stop)
                    continue
                if records:
                    self.handle(records, stop)
        finally:
            reader.close()
            log.info("follower.stopped", view=target.name, refreshed=self.refreshed)

    def run_resilient(self, stop: threading.Event, max_delay: float = 30.0) -> None:
        """run() until stop is set, retrying after the log or a database was unavailable, or
        the case view was slow to get somewhere."""
        transient = (LedgerUnavailable, PersistenceError, TimeoutError)
        retrying(self.run, stop, self.name, max_delay, transient)

    def run_until_caught_up(self, timeout: float = 60.0) -> int:
        """Take in everything on the log now (the case view must get there too); returns the
        number of case refreshes."""
        stop = threading.Event()
        ends = self.log.end_offsets()
        before = self.refreshed
        deadline = time.monotonic() + timeout
        reader = self._open_reader(stop)
        try:
            while True:
                done = self._target().positions(self.log.topic, list(ends))
                if all(done.get(p, -1) + 1 >= end for p, end in ends.items()):
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{self.name} did not catch up within {timeout}s")
                records = reader.poll(self.batch_size, 0.2)
                if records:
                    self.handle(records, stop, deadline)
            self.tick()
        finally:
            reader.close()
        return self.refreshed - before

    def tick(self) -> None:
        """Refresh the cases whose deadlines have passed (and publish anything pending)."""
        moment = self.clock()
        due = self._target().due_cases(moment)
        self.refreshed += self._target().refresh(self._cases(), due, [], moment)

    def handle(
        self, records: Sequence[LogRecord], stop: threading.Event, deadline: float | None = None
    ) -> int:
        """Wait for the case view to hold the batch, then refresh the cases it touched."""
        last: dict[int, int] = {}
        case_ids = set()
        for record in records:
            last[record.partition] = record.offset
            if record.key is not None:
                case_ids.add(record.key.decode())
        self._wait_for_cases(last, stop, deadline)
        target = self._target()
        topic = self.log.topic
        tracking = [Tracking(tracking_name(target.name, topic, p), o) for p, o in last.items()]
        count = target.refresh(self._cases(), case_ids, tracking, self.clock())
        self.refreshed += count
        log.debug("follower.batch", view=target.name, records=len(records), cases=count)
        return count

    def _wait_for_cases(
        self, last: dict[int, int], stop: threading.Event, deadline: float | None
    ) -> None:
        until = deadline if deadline is not None else time.monotonic() + self.wait_seconds
        while True:
            have = self._cases().positions(self.log.topic, list(last))
            if all(have.get(p, -1) >= o for p, o in last.items()):
                return
            if stop.is_set():
                raise TimeoutError("stopped while waiting for the case view")
            if time.monotonic() > until:
                raise TimeoutError(f"the case view has not reached {last} (it has {have})")
            stop.wait(0.05)

    def _open_reader(self, stop: threading.Event) -> LogReader:
        target = self._target()
        partitions = self.log.partitions()
        tracked = target.positions(self.log.topic, partitions)
        if not tracked:
            tracked = self.sweep()
        start = {p: offset + 1 for p, offset in tracked.items()}
        log.info("follower.started", view=target.name, start=start)
        return self.log.reader(start)

    def sweep(self) -> dict[int, int]:
        """Refresh every case the case view holds; record the case view's positions as of the
        sweep's start. Returns those positions."""
        cases, target = self._cases(), self._target()
        positions = cases.positions(self.log.topic, self.log.partitions())
        tracking = [
            Tracking(tracking_name(target.name, self.log.topic, p), o) for p, o in positions.items()
        ]
        chunks = list(_chunks(cases.all_case_ids(), SWEEP_CHUNK)) or [[]]
        moment = self.clock()
        for index, chunk in enumerate(chunks):
            last = index == len(chunks) - 1
            self.refreshed += target.refresh(cases, chunk, tracking if last else [], moment)
        log.info("follower.swept", view=target.name, positions=positions)
        return positions


def _chunks(items: Iterator[str], size: int) -> Iterator[list[str]]:
    while chunk := list(islice(items, size)):
        yield chunk
