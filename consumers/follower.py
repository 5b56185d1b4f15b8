"""Consumers downstream of the case view: the clock view and the alerter.

A follower reads the log from its own tracked position, in its own group, but needs no
decoding: a record's key is its case id. Once the case view has applied a batch, the follower
hands the cases the batch touched to its target, which recomputes what it keeps for them from
the case view's events and records the batch's positions in the same transaction. So the
target is exactly-once like every view, and can be rebuilt or lag without the others.

No case stops a follower: when a refresh raises anything but a transient failure, the cases
are split in halves until the one that fails alone is found; it is logged
(`case.refresh_failed`, with the exception's type), counted among the cases failing
(`sgl_follower_cases_failing`), and the others refreshed and the positions recorded. The
failing case is tried again with its next record or deadline.

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

import structlog
from eventsourcing.persistence import PersistenceError, Tracking

from consumers.loop import Source, TrackedLoop
from ledger.errors import LedgerUnavailable
from ledger.log import EventLog, LogReader, LogRecord
from projections.case_view import CaseViewStore
from projections.tracking import CaseTarget, tracking_rows

log = structlog.get_logger("consumers.follower")

SWEEP_CHUNK = 500


class CaseFollower(TrackedLoop[CaseTarget]):
    """Keeps a target in step with the case view, batch by batch along the log, and looks at
    due cases every `tick_seconds`. `applied` counts case refreshes."""

    # The case view being slow to get where a batch is counts as transient too.
    transient = (LedgerUnavailable, PersistenceError, TimeoutError)

    def __init__(
        self,
        event_log: EventLog,
        cases: Source[CaseViewStore],
        target: Source[CaseTarget],
        *,
        batch_size: int = 20_000,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        tick_seconds: float = 30.0,
        wait_seconds: float = 60.0,
        group: bool = False,
    ) -> None:
        super().__init__(event_log, target, batch_size, tick_seconds, group=group)
        self.cases = cases
        self.clock = clock
        self.wait_seconds = wait_seconds
        # Cases whose last refresh raised, with the exception's type.
        self.failing: dict[str, str] = {}

    def start(self) -> dict[int, int]:
        """After the target's tracked positions; a target with none starts with a sweep."""
        start = super().start()
        if start:
            return start
        return {p: offset + 1 for p, offset in self.sweep().items()}

    def take(
        self, records: Sequence[LogRecord], stop: threading.Event, deadline: float | None
    ) -> None:
        """Refresh the cases the batch touched."""
        self.handle(records, stop, deadline)

    def tick(self) -> None:
        """Refresh the cases whose deadlines have passed (and publish anything pending); in a
        group, only the cases at home in the partitions this member holds now, so no case is
        looked at by two members."""
        moment = self.clock()
        target = self.source.current()
        partitions = self.held()
        if partitions is not None and not partitions:
            return  # joining or rebalancing: no case is this member's
        self.applied += self._refresh(target, target.due_cases(moment), [], moment, partitions)

    def _starts(self, partitions: Sequence[int]) -> dict[int, int]:
        """After the target's tracked position in each partition assigned (no sweep here: a
        new target is swept before its member joins, see `_open`)."""
        start = TrackedLoop.start(self)
        return {p: start.get(p, 0) for p in partitions}

    def _open(self, group: bool = False) -> LogReader:
        """The reader; a member of a group whose target has no position yet sweeps it first
        (every member starting together on a new target sweeps it: the work is repeated,
        but each refresh recomputes from the case view, and only one sweep's positions are
        recorded, the others failing as a batch taken in before)."""
        if group:
            self.view = self.source.current()
            if not TrackedLoop.start(self):
                self.sweep()
        return super()._open(group)

    def handle(
        self, records: Sequence[LogRecord], stop: threading.Event, deadline: float | None = None
    ) -> int:
        """Wait for the case view to hold the batch, then refresh the cases it touched; on a
        stop while waiting, nothing (the batch is read again, from the tracked positions)."""
        last: dict[int, int] = {}
        case_ids = set()
        for record in records:
            last[record.partition] = record.offset
            case_id = _case_of(record)
            if case_id is not None:
                case_ids.add(case_id)
        if not self._wait_for_cases(last, stop, deadline):
            return 0
        # In a group, the batch's first offsets too: a batch read by a member that has lost
        # the partition meanwhile fails rather than store what the new owner has redone.
        first = {r.partition: r.offset for r in reversed(records)} if self.group else None
        count = self._refresh(
            self.view, sorted(case_ids), self.tracking(last, first), self.clock(), self.held()
        )
        self.applied += count
        log.debug("follower.batch", view=self.view.name, records=len(records), cases=count)
        return count

    def _refresh(
        self,
        target: CaseTarget,
        case_ids: Sequence[str],
        tracking: Sequence[Tracking],
        moment: datetime,
        partitions: Collection[int] | None = None,
    ) -> int:
        """Refresh the cases (with `partitions`, those at home in them) and record the
        positions; a case whose refresh raises is found, set aside as failing, and the others
        refreshed."""
        try:
            count = target.refresh(self.cases.current(), case_ids, tracking, moment, partitions)
        except self.transient:
            raise
        except Exception as exc:
            if not case_ids:
                raise  # positions alone failed: the store's trouble, not a case's
            if len(case_ids) > 1:
                middle = len(case_ids) // 2
                return self._refresh(
                    target, case_ids[:middle], [], moment, partitions
                ) + self._refresh(target, case_ids[middle:], tracking, moment, partitions)
            self.failing[case_ids[0]] = type(exc).__name__
            log.error(
                "case.refresh_failed",
                view=target.name,
                case_id=case_ids[0],
                error=type(exc).__name__,
            )
            return self._refresh(target, [], tracking, moment, partitions)
        for case_id in case_ids:
            self.failing.pop(case_id, None)
        return count

    def _wait_for_cases(
        self, last: dict[int, int], stop: threading.Event, deadline: float | None
    ) -> bool:
        """True once the case view holds the positions; False when stopped first (an ordinary
        stop, not a failure to retry)."""
        until = deadline if deadline is not None else time.monotonic() + self.wait_seconds
        while True:
            have = self.cases.current().positions(self.log.topic, list(last))
            if all(have.get(p, -1) >= o for p, o in last.items()):
                return True
            if stop.is_set():
                return False
            if time.monotonic() > until:
                raise TimeoutError(f"the case view has not reached {last} (it has {have})")
            stop.wait(0.05)

    def sweep(self) -> dict[int, int]:
        """Refresh every case the case view holds; record the case view's positions as of the
        sweep's start. Returns those positions."""
        cases, target = self.cases.current(), self.view
        positions = cases.positions(self.log.topic, self.log.partitions())
        tracking = tracking_rows(target.name, self.log.topic, positions)
        chunks = list(_chunks(cases.all_case_ids(), SWEEP_CHUNK)) or [[]]
        moment = self.clock()
        for index, chunk in enumerate(chunks):
            last = index == len(chunks) - 1
            self.applied += self._refresh(target, chunk, tracking if last else [], moment)
        log.info("follower.swept", view=target.name, positions=positions)
        return positions


def _case_of(record: LogRecord) -> str | None:
    """The case a record's key names; None for a record with no key or one not UTF-8 (the
    case view dead-letters it: it names no case)."""
    if record.key is None:
        return None
    try:
        return record.key.decode()
    except UnicodeDecodeError:
        return None


def _chunks(items: Iterator[str], size: int) -> Iterator[list[str]]:
    while chunk := list(islice(items, size)):
        yield chunk
