"""The loop every consumer runs (consumers/loop.py), on the embedded log and a small store of
its own: stop, retry, loud failure, lag, and a rebuilt store swapped in."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import structlog
from eventsourcing.persistence import Tracking
from eventsourcing.sqlite import SQLiteDatastore

import consumers.loop
from consumers.follower import CaseFollower
from consumers.loop import Source, TrackedLoop
from ledger.errors import LedgerUnavailable
from ledger.log import LogRecord
from ledger.settings import Settings
from ledger.sqlite_log import SQLiteEventLog
from projections.case_view import SQLiteCaseView
from projections.tracking import SQLiteTrackedStore
from projections.view_files import ViewFiles, ViewHandle
from sgl.bootstrap import bootstrap
from tests.agencies import with_agencies
from tests.conftest import wait_for
from tests.factories import make_event


class Tally(SQLiteTrackedStore):
    """The offsets taken in, one row each, with the positions."""

    def __init__(self, datastore: SQLiteDatastore, name: str = "tally") -> None:
        super().__init__(datastore, name)

    def tables(self) -> list[str]:
        return [f"CREATE TABLE IF NOT EXISTS {self.name}_seen (offset INTEGER PRIMARY KEY)"]

    def record(self, offsets: Sequence[int], tracking: Sequence[Tracking]) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            cursor.executemany(
                f"INSERT INTO {self.name}_seen VALUES (?)",
                [(o,) for o in offsets],
            )
            self.track(cursor, tracking)

    def seen(self) -> list[int]:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(f"SELECT offset FROM {self.name}_seen ORDER BY offset")
            return [row[0] for row in cursor.fetchall()]


class Counting(TrackedLoop[Tally]):
    """Records each batch's offsets; a batch starting at an offset with errors queued fails
    with them first, one per attempt."""

    def __init__(self, log: SQLiteEventLog, source: Source[Tally], batch_size: int = 5) -> None:
        super().__init__(log, source, batch_size)
        self.failures: dict[int, list[BaseException]] = {}
        self.taken: list[int] = []

    def take(
        self, records: Sequence[LogRecord], stop: threading.Event, deadline: float | None
    ) -> None:
        if queued := self.failures.get(records[0].offset):
            raise queued.pop(0)
        self.taken += [r.offset for r in records]
        self.view.record([r.offset for r in records], self.tracking({0: records[-1].offset}))
        self.applied += len(records)


class RecordingStop(threading.Event):
    """A stop whose waits return at once, remembering how long they were asked to wait."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float | None] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(timeout)
        return self.is_set()


@pytest.fixture
def log(tmp_path: Path) -> Iterator[SQLiteEventLog]:
    event_log = SQLiteEventLog(tmp_path / "log.sqlite", "t")
    yield event_log
    event_log.close()


@pytest.fixture
def tally(tmp_path: Path) -> Iterator[Tally]:
    store = Tally.open(tmp_path / "tally.sqlite")
    yield store
    store.datastore.close()


def fill(log: SQLiteEventLog, count: int) -> None:
    for _ in range(count):
        log.append_raw(b"x", "CASE-T-1")


def running(target: Callable[..., object], *args: object) -> threading.Thread:
    thread = threading.Thread(target=target, args=args, daemon=True)
    thread.start()
    return thread


def test_run_stops_within_a_poll_of_stop_being_set(log: SQLiteEventLog, tally: Tally) -> None:
    fill(log, 12)
    stop = threading.Event()
    thread = running(Counting(log, tally).run, stop, 0.2)
    wait_for(lambda: len(tally.seen()) == 12, what="the loop to take in the log")
    stopped = time.monotonic()
    stop.set()
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert time.monotonic() - stopped < 1.0


def test_a_transient_failure_is_retried_with_back_off_and_resumes_from_the_tracked_position(
    log: SQLiteEventLog, tally: Tally
) -> None:
    fill(log, 20)
    loop = Counting(log, tally)
    loop.run_until_caught_up(timeout=10)  # 0..19 in batches of 5
    fill(log, 10)
    # 20..24 are taken in and tracked; then the batch from 25 fails twice.
    loop.failures = {25: [LedgerUnavailable("the log is down"), LedgerUnavailable("still down")]}
    stop = RecordingStop()
    thread = running(loop.run_resilient, stop)
    wait_for(lambda: len(tally.seen()) == 30, what="the loop to resume")
    stop.set()
    thread.join(timeout=5)
    assert stop.waits == [0.5, 1.0]  # twice as long after each failure
    assert loop.retries == 2
    # Read again from the tracked position after each failure: nothing twice, nothing skipped.
    assert loop.taken == list(range(30))
    assert tally.seen() == list(range(30))


def test_the_retry_delay_starts_again_after_a_batch_is_taken_in(
    log: SQLiteEventLog, tally: Tally
) -> None:
    """Two failures in a row wait 0.5 s then 1 s; once a batch is taken in, the next outage
    waits 0.5 s again, not 2 s."""
    fill(log, 35)
    loop = Counting(log, tally)
    loop.failures = {
        25: [LedgerUnavailable("down"), LedgerUnavailable("still down")],
        30: [LedgerUnavailable("down again")],
    }
    stop = RecordingStop()
    thread = running(loop.run_resilient, stop)
    wait_for(lambda: len(tally.seen()) == 35, what="the loop to take in the log")
    stop.set()
    thread.join(timeout=5)
    assert stop.waits == [0.5, 1.0, 0.5]
    assert loop.retries == 3


class LeftOnStop(Counting):
    """The batch from offset 5 is cut short by a shutdown: the stop is set as it fails."""

    def take(
        self, records: Sequence[LogRecord], stop: threading.Event, deadline: float | None
    ) -> None:
        if records[0].offset == 5:
            stop.set()
            raise LedgerUnavailable("the group was left")
        super().take(records, stop, deadline)


def test_a_failure_while_stopping_is_no_retry(
    log: SQLiteEventLog, tally: Tally, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A transient failure raised once the stop is set (the store closing, the group left)
    ends the loop as a stop: no retry counted, nothing logged as an outage."""
    fill(log, 10)
    loop = LeftOnStop(log, tally)
    stop = RecordingStop()
    logged = structlog.testing.CapturingLogger()
    monkeypatch.setattr(consumers.loop, "log", logged)
    loop.run_resilient(stop)
    assert loop.retries == 0 and stop.waits == []
    assert loop.taken == list(range(5))
    assert not [c for c in logged.calls if c.args == ("consumer.retrying",)]


class Watched:
    """A source of the case view that counts how often the follower looks at it."""

    def __init__(self, views: Source[SQLiteCaseView]) -> None:
        self.views = views
        self.looks = 0

    def current(self) -> SQLiteCaseView:
        self.looks += 1
        return self.views.current()


def test_a_follower_stopped_while_waiting_for_the_case_view_stops_without_retrying(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stop while the case view is behind is an ordinary stop: no retry, nothing logged as
    one, and the batch is not tracked (it is read again next time)."""
    container = with_agencies(bootstrap(make_settings("sqlite")))
    try:
        container.ledger.submit([make_event()])  # on the log; the case view never applies it
        cases = Watched(container.views)
        follower = CaseFollower(container.log, cases, container.clocks)
        logged = structlog.testing.CapturingLogger()
        monkeypatch.setattr(consumers.loop, "log", logged)
        stop = threading.Event()
        thread = running(follower.run_resilient, stop)
        # The sweep looks once; then the batch waits, looking again every 50 ms.
        wait_for(lambda: cases.looks >= 3, what="the follower to wait for the case view")
        stop.set()
        thread.join(timeout=5)
        assert not thread.is_alive()
        assert follower.retries == 0
        assert not [c for c in logged.calls if c.args == ("consumer.retrying",)]
        assert container.clocks.current().positions(container.log.topic, [0]) == {}
    finally:
        container.close()


def test_a_failure_that_is_not_transient_stops_the_loop_loudly(
    log: SQLiteEventLog, tally: Tally, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill(log, 3)
    loop = Counting(log, tally)
    loop.failures = {0: [KeyError("a bug")]}
    logged = structlog.testing.CapturingLogger()
    monkeypatch.setattr(consumers.loop, "log", logged)
    with pytest.raises(KeyError, match="a bug"):
        loop.run_resilient(threading.Event())
    assert loop.retries == 0 and tally.seen() == []
    failed = [c for c in logged.calls if c.args == ("consumer.failed",)]
    assert [(c.method_name, c.kwargs) for c in failed] == [("exception", {"view": "tally"})]


def test_lag_counts_what_the_store_has_not_taken_in(log: SQLiteEventLog, tally: Tally) -> None:
    loop = Counting(log, tally)
    assert loop.lag() == 0
    fill(log, 12)
    assert loop.lag() == 12
    batches: list[int] = []
    assert loop.run_until_caught_up(timeout=10, progress=batches.append) == 12
    assert batches == [5, 5, 2] and loop.lag() == 0
    fill(log, 3)
    assert loop.lag() == 3


def test_a_rebuilt_store_swapped_in_is_followed_from_its_own_positions(
    log: SQLiteEventLog, tmp_path: Path
) -> None:
    files = ViewFiles(tmp_path / "views", "tally")
    handle = ViewHandle(files, Tally.open)
    live = handle.current()
    fill(log, 5)
    loop = Counting(log, handle)
    stop = threading.Event()
    thread = running(loop.run, stop, 0.05)
    try:
        wait_for(lambda: live.seen() == list(range(5)), what="the live store")
        # A rebuild: a new generation filled to the log's end now, beside the live one.
        path = files.new_generation()
        rebuilt = Tally.open(path)
        Counting(log, rebuilt).run_until_caught_up(timeout=10)
        rebuilt.datastore.close()
        fill(log, 5)
        wait_for(lambda: live.seen() == list(range(10)), what="the live store to go on")
        files.promote(path)
        fill(log, 3)
        wait_for(lambda: len(handle.current().seen()) == 13, what="the swapped-in store")
    finally:
        stop.set()
        thread.join(timeout=5)
    # The rebuilt store took in 5..12 from the loop (its own positions were 0..4): once each.
    assert handle.current().seen() == list(range(13))
    assert loop.taken == [*range(10), *range(5, 13)]
    assert live.seen() == list(range(10))  # the old generation gets nothing more
    handle.close()


def test_building_the_loops_writes_nothing(make_settings: Callable[..., Settings]) -> None:
    """Once the signing key exists, building every loop through the container writes
    nothing: a loop opens its reader, and so any file, only when it runs."""
    container = with_agencies(bootstrap(make_settings("sqlite", alerter="on")))
    try:
        container.sealer()  # the first sealer of a data directory creates its signing key
        data = container.settings.data_dir
        before = sorted((p, p.stat().st_mtime_ns) for p in data.rglob("*"))
        loops: list[TrackedLoop[Any]] = [
            container.runner(),
            *container.followers(),
            container.sealer(),
        ]
        assert {loop.name for loop in loops} == {"case_state", "clocks", "alerts", "seal"}
        assert sorted((p, p.stat().st_mtime_ns) for p in data.rglob("*")) == before
    finally:
        container.close()
