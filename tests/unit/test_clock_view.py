"""The clock view: stored runs give exactly what folding every case gives, as of any date and
on either basis, and fold only the cases the stored rows cannot answer for."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import Tracking

from ledger.envelope import parse_instant
from projections.as_of import cutoff
from projections.case_view import SQLiteCaseView
from projections.clock_policy import load_clock_policy
from projections.clock_view import LAYOUT, SQLiteClockView, open_clock_view, policy_fingerprint
from projections.clocks import clock_runs
from projections.latency import latency_report
from projections.view_files import open_case_view
from tests.agencies import AGENCIES
from tests.factories import as_events, make_event, new_case_id
from tests.involvement_factory import opened
from tests.unit.test_clocks import POLICY, RECORDER, matching, stamp


def random_case(rng: random.Random) -> list[dict[str, Any]]:
    """A case with a few clocks started, most stopped after 0 to 30 days, and sometimes a
    stop corrected later to another day."""
    case_id = new_case_id()
    # Half the cases are opened with a lead and an area, which runs then name.
    documents: list[dict[str, Any]] = (
        [opened(case_id, RECORDER, responsible_area="E08000001")] if rng.random() < 0.5 else []
    )
    for clock in rng.sample(POLICY.clocks, rng.randint(1, 4)):
        prefix = {"protection_id": "PP"}
        pair = {f: f"{prefix.get(f, 'MTG')}-T-{rng.randint(1, 3)}" for f in clock.pair_on}
        start = date(2007, 1, 1) + timedelta(days=rng.randint(0, 500))
        documents.append(matching(clock, "start", case_id, start, **pair))
        if rng.random() < 0.7:
            stop_day = start + timedelta(days=rng.randint(0, 30))
            stop = matching(clock, "stop", case_id, stop_day, **pair)
            documents.append(stop)
            if rng.random() < 0.3:
                known = stop_day + timedelta(days=rng.randint(1, 60))
                documents.append(
                    make_event(
                        "correction.recorded",
                        case_id,
                        occurred_at=stamp(known),
                        recorded_at=stamp(known, 12),
                        amends=stop["event_id"],
                        payload={
                            "corrected_payload": stop["payload"],
                            "corrected_occurred_at": stamp(
                                stop_day + timedelta(days=rng.randint(1, 20))
                            ),
                            "reason": "the date was wrong",
                        },
                    )
                )
    return documents


def interleaved(rng: random.Random, cases: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """All cases' events in one log order, each case's own order kept."""
    queues = [list(c) for c in cases]
    out = []
    while any(queues):
        queue = rng.choice([q for q in queues if q])
        out.append(queue.pop(0))
    return out


def folded(view: SQLiteCaseView, moment: datetime, basis: Any) -> list[tuple[str, Any]]:
    found = []
    for case_id in sorted(view.all_case_ids()):
        runs = clock_runs(view.events(case_id), moment, POLICY, basis, agencies=AGENCIES)
        if runs:
            found.append((case_id, [r.row() for r in runs]))
    return found


# The moment a half-caught-up clock view was last refreshed.
REFRESHED = datetime(2026, 11, 26, tzinfo=UTC)


def half_caught_up(
    tmp_path: Path, rng: random.Random, count: int
) -> tuple[SQLiteCaseView, SQLiteClockView, int]:
    """`count` random cases in a case view, and a clock view refreshed (at REFRESHED) with
    the first 70% of their events only: the case view has moved on since. With the offset
    of the last event."""
    log = as_events(interleaved(rng, [random_case(rng) for _ in range(count)]))
    # Appended from hours to months after recording (a late import), so the bases differ.
    log = [
        e._replace(appended_at=parse_instant(e.recorded_at) + timedelta(hours=rng.randint(1, 4000)))
        for e in log
    ]
    view = open_case_view(tmp_path / "cases.sqlite", snapshot_every=3)
    clocks = open_clock_view(tmp_path / "clocks.sqlite", POLICY, AGENCIES)
    split = int(len(log) * 0.7)
    view.apply(log[:split], [Tracking("case_state:t:0", split - 1)])
    clocks.refresh(view, list(view.all_case_ids()), [Tracking("clocks:t:0", split - 1)], REFRESHED)
    view.apply(log[split:], [Tracking("case_state:t:0", len(log) - 1)])
    return view, clocks, len(log) - 1


@pytest.mark.parametrize("seed", range(6))
def test_stored_runs_equal_folding_every_case_at_any_date(tmp_path: Path, seed: int) -> None:
    view, clocks, _ = half_caught_up(tmp_path, random.Random(seed), 25)
    now = REFRESHED
    named = {(r.responsible, r.area) for _, runs in clocks.ledger_runs(view, now) for r in runs}
    assert (RECORDER, "E08000001") in named, "the view keeps who is responsible, and where"
    moments = [now, cutoff("2007-06-30"), cutoff("2008-01-15"), cutoff("2009-03-01")]
    for moment in moments:
        for basis in ("recorded", "appended"):
            stored = list(clocks.ledger_runs(view, moment, basis))
            assert stored == folded(view, moment, basis), (moment, basis)

            assert latency_report(stored, "clock") == latency_report(
                folded(view, moment, basis), "clock"
            )


def test_as_of_now_reads_no_events_once_refreshed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(7)
    log = as_events(interleaved(rng, [random_case(rng) for _ in range(20)]))
    view = open_case_view(tmp_path / "cases.sqlite")
    view.apply(log, [Tracking("case_state:t:0", len(log) - 1)])
    clocks = open_clock_view(tmp_path / "clocks.sqlite", POLICY, AGENCIES)
    now = datetime(2026, 11, 26, tzinfo=UTC)
    expected = folded(view, now, "recorded")
    clocks.refresh(view, list(view.all_case_ids()), [], now)
    later = now + timedelta(days=30)  # open runs are measured to the moment asked about

    def no_reads(*_: Any) -> Any:
        raise AssertionError("read the case view")

    monkeypatch.setattr(view, "events", no_reads)
    assert list(clocks.ledger_runs(view, now, "recorded")) == expected
    # Caught up with the case view's position: not even the case view's heads are read.
    clocks.refresh(view, [], [Tracking("clocks:t:0", len(log) - 1)], now)
    monkeypatch.setattr(view, "heads", no_reads)
    assert list(clocks.ledger_runs(view, now, "recorded")) == expected
    monkeypatch.undo()
    assert list(clocks.ledger_runs(view, later, "recorded")) == folded(view, later, "recorded")


def test_a_view_built_under_another_policy_is_discarded(tmp_path: Path) -> None:
    case_id = new_case_id()
    clock = POLICY.clocks[0]
    log = as_events([matching(clock, "start", case_id, date(2007, 3, 5))])
    view = open_case_view(tmp_path / "cases.sqlite")
    view.apply(log, [Tracking("case_state:t:0", 0)])
    clocks = open_clock_view(tmp_path / "clocks.sqlite", POLICY, AGENCIES)
    clocks.refresh(view, [case_id], [Tracking("clocks:t:0", 0)], datetime.now(UTC))
    assert clocks.positions("t", [0]) == {0: 0}
    clocks.datastore.close()
    source = (Path(__file__).parents[2] / "policies" / "clocks.toml").read_text()
    edited = tmp_path / "clocks.toml"
    edited.write_text(source.replace('version = "2026.5"', 'version = "2026.9"'))
    # A reader under the new policy leaves the file alone and folds every case.
    reader = open_clock_view(
        tmp_path / "clocks.sqlite", load_clock_policy(edited), AGENCIES, discard=False
    )
    assert reader.stale and reader.positions("t", [0]) == {0: 0}
    now = datetime.now(UTC)
    assert list(reader.ledger_runs(view, now)) == folded(view, now, "recorded")
    reader.datastore.close()
    reopened = open_clock_view(tmp_path / "clocks.sqlite", load_clock_policy(edited), AGENCIES)
    assert reopened.built_under() is None and reopened.positions("t", [0]) == {}
    again = open_clock_view(tmp_path / "clocks2.sqlite", POLICY, AGENCIES)
    again.refresh(view, [case_id], [], datetime.now(UTC))
    again.datastore.close()
    assert open_clock_view(tmp_path / "clocks2.sqlite", POLICY, AGENCIES).positions("t", [0]) == {}


def test_events_recorded_ahead_and_moments_in_other_offsets(tmp_path: Path) -> None:
    """An event recorded a little ahead of the refresh (the ledger allows clock skew) is in
    the stored runs; a moment given with a UTC offset means the same instant either way."""
    clock = next(c for c in POLICY.clocks if c.name == "referral_decision")
    case_id = new_case_id()
    start = matching(clock, "start", case_id, date(2007, 3, 5))
    stop = matching(clock, "stop", case_id, date(2007, 3, 6))
    refreshed_at = cutoff("2007-03-06T17:59:40Z")  # the stop is recorded at 18:00
    log = as_events([start, stop])
    view = open_case_view(tmp_path / "cases.sqlite")
    view.apply(log, [Tracking("case_state:t:0", 1)])
    clocks = open_clock_view(tmp_path / "clocks.sqlite", POLICY, AGENCIES)
    clocks.refresh(view, [case_id], [Tracking("clocks:t:0", 1)], refreshed_at)
    for moment in (
        cutoff("2007-03-06T18:00:30Z"),
        cutoff("2007-03-06T22:00:00-05:00"),  # 7 March, 03:00 UTC
        cutoff("2007-03-07T03:00:00+00:00"),
    ):
        assert list(clocks.ledger_runs(view, moment)) == folded(view, moment, "recorded")
    [(_, runs)] = list(clocks.ledger_runs(view, cutoff("2007-03-06T18:00:30Z")))
    [run] = [r for r in runs if r.clock == clock.name]
    assert (run.status, run.stop_event) == ("met", stop["event_id"])
    assert (run.responsible, run.responsible_kind) == (
        "la-childrens-social-care",
        "childrens_social_care",
    )
    open_start = as_events([matching(clock, "start", new_case_id(), date(2007, 3, 5))])[0]
    local = cutoff("2007-03-06T22:00:00-05:00")
    [late] = [
        r for r in clock_runs([open_start], local, POLICY, agencies=AGENCIES) if r.clock == clock
    ]
    assert (late.status, late.working_days) == ("breached", 2)  # 7 March UTC, not 6 March


def test_a_view_stored_under_an_earlier_layout_is_rebuilt_under_the_same_policy(
    tmp_path: Path,
) -> None:
    """Runs worked out by an earlier release (another layout) are discarded on open, even
    when the policy file has not changed: they would not name who is responsible."""
    case_id = new_case_id()
    log = as_events([matching(POLICY.clocks[0], "start", case_id, date(2007, 3, 5))])
    view = open_case_view(tmp_path / "cases.sqlite")
    view.apply(log, [Tracking("case_state:t:0", 0)])
    clocks = open_clock_view(tmp_path / "clocks.sqlite", POLICY, AGENCIES)
    clocks.refresh(view, [case_id], [Tracking("clocks:t:0", 0)], datetime.now(UTC))
    earlier = policy_fingerprint(POLICY).replace(f":{LAYOUT}", ":runs-2")
    with clocks.datastore.transaction(commit=True) as cursor:
        cursor.execute("UPDATE clocks_meta SET value = ? WHERE key = 'policy'", (earlier,))
    clocks.datastore.close()
    reopened = open_clock_view(tmp_path / "clocks.sqlite", POLICY, AGENCIES)
    assert reopened.built_under() is None and reopened.positions("t", [0]) == {}
