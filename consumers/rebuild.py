"""Rebuild a view from offset 0 beside the live one, then swap it in."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog

from consumers.follower import CaseFollower
from consumers.loop import Source
from consumers.runner import ProjectionRunner
from ledger.limits import MAX_RECORD_BYTES
from ledger.log import DeadLetterSink, EventLog
from ledger.schemas import SchemaRegistry
from projections.case_view import CaseViewStore
from projections.view_files import Generations

log = structlog.get_logger("consumers.rebuild")


@dataclass(frozen=True, slots=True)
class RebuildReport:
    """What a rebuild read, applied and how fast."""

    view: str
    # The generation now serving: its file name (SQLite) or its schema (PostgreSQL).
    generation: str
    records: int
    applied: int
    seconds: float

    @property
    def records_per_second(self) -> float:
        """Log records read and handled per second."""
        return self.records / self.seconds if self.seconds > 0 else float("inf")


def rebuild_view(
    event_log: EventLog,
    files: Generations[Any],
    opener: Callable[[Any], CaseViewStore],
    schemas: SchemaRegistry,
    dead_letters: DeadLetterSink,
    *,
    batch_size: int = 5000,
    max_record_bytes: int = MAX_RECORD_BYTES,
    timeout: float = 3600.0,
    progress: Callable[[int], object] | None = None,
) -> RebuildReport:
    """Build a new generation of the view from the start of the log, then promote it.

    The live generation keeps serving (and its consumer keeps applying) throughout. The new
    one is filled up to the log's end, then once more up to what arrived meanwhile, and only
    then made current; a live consumer moves to it on its next poll and resumes from the new
    generation's own tracked positions, so nothing is skipped or applied twice. A rebuild that
    fails or is interrupted removes its partial generation and leaves the live view as it was.
    """
    handled = 0

    def count(records: int) -> None:
        nonlocal handled
        handled += records
        if progress is not None:
            progress(records)

    with files.rebuild_lock():
        generation = files.new_generation()
        view = None
        try:
            view = opener(generation)
            runner = ProjectionRunner(
                event_log,
                view,
                schemas,
                dead_letters,  # once per source position: the live view's letters stand
                batch_size=batch_size,
                max_record_bytes=max_record_bytes,
            )
            started = time.perf_counter()
            runner.run_until_caught_up(timeout, count)
            runner.run_until_caught_up(timeout, count)
            seconds = time.perf_counter() - started
        except BaseException:
            if view is not None:
                view.close()
                view = None
            files.discard(generation)
            raise
        finally:
            if view is not None:
                view.close()
        files.promote(generation)
    log.info("view.rebuilt", view=files.name, records=handled, applied=runner.applied)
    return RebuildReport(files.name, files.label(generation), handled, runner.applied, seconds)


def rebuild_follower(
    event_log: EventLog,
    files: Generations[Any],
    opener: Callable[[Any], Any],
    cases: Source[CaseViewStore],
    *,
    timeout: float = 3600.0,
) -> RebuildReport:
    """Build a new generation of a follower's store (clocks, alerts) and promote it.

    The new store starts with a sweep of every case the case view holds, then follows the log
    to its end. A running follower moves to it on its next poll. A rebuilt alerts store raises
    nothing already in the ledger: it finds its findings there and records them as raised.
    """
    with files.rebuild_lock():
        generation = files.new_generation()
        target = None
        try:
            target = opener(generation)
            follower = CaseFollower(event_log, cases, target)
            started = time.perf_counter()
            follower.run_until_caught_up(timeout)
            seconds = time.perf_counter() - started
        except BaseException:
            if target is not None:
                target.close()
                target = None
            files.discard(generation)
            raise
        finally:
            if target is not None:
                target.close()
        files.promote(generation)
    records = sum(event_log.end_offsets().values())
    log.info("view.rebuilt", view=files.name, cases=follower.applied)
    return RebuildReport(files.name, files.label(generation), records, follower.applied, seconds)
