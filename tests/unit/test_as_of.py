"""As-of replay, by property: any history, any date, against an independent reference."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import reduce
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import Tracking
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.envelope import Event
from projections.as_of import cutoff, state_as_of
from projections.case_state import CaseState, project
from tests.case_views import ViewMaker, case_view_maker
from tests.factories import as_events, make_event, new_case_id

START = datetime(2007, 1, 1, 9, tzinfo=UTC)
# Each example makes its own view, so the test's fixtures serve every example.
EXAMPLES_SHARE_FIXTURES = [HealthCheck.function_scoped_fixture]


@pytest.fixture
def new_view(database: str, request: pytest.FixtureRequest, tmp_path: Path) -> ViewMaker:
    """An empty case view per call, in SQLite and in PostgreSQL."""
    return case_view_maker(database, request, tmp_path)


# An op: ("injury", day, count) | ("correct", day, target index, count) | ("retract", day, target)
ops = st.lists(
    st.one_of(
        st.tuples(st.just("injury"), st.integers(0, 60), st.integers(1, 5)),
        st.tuples(st.just("correct"), st.integers(0, 60), st.integers(0, 30), st.integers(1, 5)),
        st.tuples(st.just("retract"), st.integers(0, 60), st.integers(0, 30)),
    ),
    min_size=1,
    max_size=30,
)


def _stamp(day: int) -> tuple[str, str]:
    recorded = START + timedelta(days=day)
    occurred = recorded - timedelta(hours=1)
    return occurred.strftime("%Y-%m-%dT%H:%M:%SZ"), recorded.strftime("%Y-%m-%dT%H:%M:%SZ")


def build(script: list[tuple[Any, ...]]) -> list[Event]:
    """A valid log for one case from the ops: amendments only name earlier originals."""
    return as_events(build_documents(script))


def build_documents(script: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    """The events of `build` as an adapter would submit them: each amendment by the agency
    that recorded its target, the only one that may amend it."""
    case_id = new_case_id()
    originals: list[dict[str, Any]] = []
    documents: list[dict[str, Any]] = []
    for op in script:
        occurred, recorded = _stamp(op[1])
        if op[0] == "injury":
            event = make_event(
                "injury.observed", case_id, occurred_at=occurred, recorded_at=recorded
            )
            event["payload"] = {**event["payload"], "count": op[2]}
            originals.append(event)
        elif originals:
            target = originals[op[2] % len(originals)]
            if op[0] == "correct":
                payload = {
                    "corrected_payload": {**target["payload"], "count": op[3]},
                    "reason": "recount",
                }
                event = make_event(
                    "correction.recorded",
                    case_id,
                    agency=target["agency"],
                    occurred_at=occurred,
                    recorded_at=recorded,
                    amends=target["event_id"],
                    payload=payload,
                )
            else:
                event = make_event(
                    "entry.retracted",
                    case_id,
                    agency=target["agency"],
                    occurred_at=occurred,
                    recorded_at=recorded,
                    amends=target["event_id"],
                    payload={"reason": "wrong case"},
                )
        else:
            continue
        documents.append(event)
    return documents


def reference(events: list[Event], moment: datetime) -> CaseState | None:
    """Independent of the code under test: per original, its amendments known by the moment."""
    known = [e for e in events if datetime.fromisoformat(e.recorded_at) <= moment]
    kept = []
    for event in known:
        if event.amends is None:
            amendments = [a for a in known if a.amends == event.event_id]
            if any(a.type == "entry.retracted" for a in amendments):
                continue
            corrections = [a for a in amendments if a.type == "correction.recorded"]
            if corrections:
                kept.append(event._replace(payload=corrections[-1].payload["corrected_payload"]))
                continue
        kept.append(event)
    return reduce(project, kept, None) if kept else None


@settings(max_examples=80, deadline=None)
@given(ops, st.integers(-1, 62))
def test_as_of_equals_a_from_scratch_fold_of_what_was_recorded_by_then(
    script: list[tuple[Any, ...]], day: int
) -> None:
    """State as of D = fold of events recorded on or before D, with only their amendments."""
    events = build(script)
    moment = START + timedelta(days=day, hours=1)
    assert state_as_of(events, moment) == reference(events, moment)


@settings(max_examples=40, deadline=None, suppress_health_check=EXAMPLES_SHARE_FIXTURES)
@given(ops, st.lists(st.integers(1, 5), min_size=1, max_size=6))
def test_live_equals_as_of_now_and_any_rebuild_equals_live(
    new_view: ViewMaker, script: list[tuple[Any, ...]], splits: list[int]
) -> None:
    """The view, fed in any batching, holds the state as of now."""
    events = build(script)
    if not events:
        return
    views = []
    for batching in ([len(events)], splits):
        with new_view() as view:
            start = 0
            sizes = iter(batching * len(events))
            while start < len(events):
                end = min(len(events), start + next(sizes))
                view.apply(events[start:end], [Tracking("t", end - 1)])
                start = end
            views.append(view.get(events[0].case_id))
    now = state_as_of(events, datetime.now(UTC))
    assert views[0] == views[1] == now


def test_a_date_means_the_end_of_that_day() -> None:
    """as_of=2007-07-25 includes everything recorded on 25 July."""
    assert cutoff("2007-07-25") == datetime(2007, 7, 25, 23, 59, 59, 999999, tzinfo=UTC)
    assert cutoff("2007-07-25T10:00:00Z") == datetime(2007, 7, 25, 10, tzinfo=UTC)


def _appended(events: list[Event], days: list[int]) -> list[Event]:
    """The same log with the ledger's append times spread (never before recording)."""
    return [
        e._replace(
            appended_at=datetime.fromisoformat(e.recorded_at) + timedelta(days=days[i % len(days)])
        )
        for i, e in enumerate(events)
    ]


@settings(max_examples=60, deadline=None, suppress_health_check=EXAMPLES_SHARE_FIXTURES)
@given(
    ops,
    st.lists(st.integers(1, 7), min_size=1, max_size=5),
    st.integers(1, 4),
    st.lists(st.integers(0, 20), min_size=1, max_size=5),
    st.lists(st.integers(-1, 80), min_size=1, max_size=6),
)
def test_the_views_snapshot_replay_equals_the_pure_replay(
    new_view: ViewMaker,
    script: list[tuple[Any, ...]],
    splits: list[int],
    every: int,
    delays: list[int],
    days: list[int],
) -> None:
    """Snapshots every few events, any batching, either basis: the same state as a full replay."""
    events = _appended(build(script), delays)
    if not events:
        return
    with new_view(snapshot_every=every) as view:
        start = 0
        sizes = iter(splits * len(events))
        while start < len(events):
            end = min(len(events), start + next(sizes))
            view.apply(events[start:end], [Tracking("t", end - 1)])
            start = end
        case_id = events[0].case_id
        for day in days:
            moment = START + timedelta(days=day, hours=1)
            for basis in ("recorded", "appended"):
                assert view.state_as_of(case_id, moment, basis) == state_as_of(
                    events, moment, basis
                ), (day, basis)
        assert view.state_as_of(case_id, datetime.now(UTC)) == view.get(case_id)


def test_snapshots_are_taken_every_n_events_of_a_case(new_view: ViewMaker) -> None:
    """A 25-event case with snapshots every 10 events has two, at its 10th and 20th event."""
    events = build([("injury", day, 1) for day in range(25)])
    with new_view(snapshot_every=10) as view:
        view.apply(events[:7], [Tracking("t", 6)])
        view.apply(events[7:], [Tracking("t", 24)])
        with view.transaction(commit=False) as cursor:
            cursor.execute(f'SELECT "offset" FROM {view.name}_snapshots ORDER BY "offset"')
            assert [row[0] for row in cursor.fetchall()] == [9, 19]


@settings(max_examples=80, deadline=None, suppress_health_check=EXAMPLES_SHARE_FIXTURES)
@given(
    ops,
    st.randoms(use_true_random=False),
    st.booleans(),
    st.lists(st.integers(1, 6), min_size=1, max_size=4),
    st.integers(1, 3),
    st.lists(st.integers(-1, 80), min_size=1, max_size=4),
)
def test_the_view_holds_when_amendments_precede_targets_or_a_case_spans_partitions(
    new_view: ViewMaker,
    script: list[tuple[Any, ...]],
    rng: Any,
    two_partitions: bool,
    splits: list[int],
    every: int,
    days: list[int],
) -> None:
    """Log order need not be the order the events were written in: an amendment may reach the
    log before its target (a retried append), and a case may span two partitions whose records
    arrive interleaved. The view's state and as-of still equal a replay in log order."""
    written = _appended(build(script), [0, 3, 9])
    if not written:
        return
    order = list(written)
    rng.shuffle(order)
    counters = [0, 0]
    placed = []
    for event in order:
        partition = rng.choice([0, 1]) if two_partitions else 0
        placed.append(event._replace(partition=partition, offset=counters[partition]))
        counters[partition] += 1
    queues = [[e for e in placed if e.partition == p] for p in (0, 1)]
    arrival = []
    while any(queues):
        arrival.append(rng.choice([q for q in queues if q]).pop(0))
    with new_view(snapshot_every=every) as view:
        start = 0
        sizes = iter(splits * len(arrival))
        while start < len(arrival):
            batch = arrival[start : start + next(sizes)]
            last = {e.partition: e.offset for e in batch}
            view.apply(batch, [Tracking(f"t:{p}", o) for p, o in last.items()])
            start += len(batch)
        case_id = written[0].case_id
        log = view.events(case_id)
        assert log == sorted(placed, key=lambda e: (e.partition, e.offset))
        assert view.get(case_id) == state_as_of(log, datetime.now(UTC))
        for day in days:
            moment = START + timedelta(days=day, hours=1)
            for basis in ("recorded", "appended"):
                assert view.state_as_of(case_id, moment, basis) == state_as_of(
                    log, moment, basis
                ), (day, basis)
