"""The synthetic background cases look like a front door that mostly works: most referrals
decided within a working day, some late, a few not yet; conferences mostly in time."""

from __future__ import annotations

from collections import Counter

from projections.audit import data_end
from projections.clock_policy import load_clock_policy
from projections.clocks import clock_runs
from sgl.demo.background import background_events
from tests.agencies import AGENCIES
from tests.factories import as_events

POLICY = load_clock_policy()


def test_background_clocks_are_mostly_met_some_late_a_few_open() -> None:
    """Over 200 cases, each measured to where its own data end."""
    by_case: dict[str, list[dict[str, object]]] = {}
    for event in background_events(200):
        by_case.setdefault(event["case_id"], []).append(event)
    outcomes: dict[str, Counter[str]] = {}
    for documents in by_case.values():
        events = as_events(documents)
        now = max(e.appended_at for e in events)
        end = data_end(events, now)
        assert end is not None
        for run in clock_runs(events, now, POLICY, agencies=AGENCIES, measured_to=end):
            outcomes.setdefault(run.clock.name, Counter())[run.status] += 1
    referrals = outcomes["referral_decision"]
    assert sum(referrals.values()) == 200
    assert referrals["met"] >= 150 and referrals["breached"] >= 10 and referrals["open"] >= 2
    for name in ("initial_cp_conference", "first_core_group"):
        assert outcomes[name]["met"] > 3 * outcomes[name]["breached"], name
    assert outcomes["initial_cp_conference"]["breached"] > 0


def test_background_cases_are_the_same_for_a_seed_and_differ_for_another() -> None:
    """Deterministic for a seed; nothing recorded before it happened."""
    first = [e["event_id"] for e in background_events(20)]
    assert first == [e["event_id"] for e in background_events(20)]
    assert first != [e["event_id"] for e in background_events(20, seed=1)]
    for event in background_events(20):
        assert event["occurred_at"] <= event["recorded_at"]
