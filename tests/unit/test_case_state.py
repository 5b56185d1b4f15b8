"""The case-state fold: pure, ordered, and the same whether applied in one go or in parts."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import reduce

import orjson

from ledger.envelope import Event
from projections.case_state import CaseState, project, project_all
from tests.factories import as_events, case_events, make_event, new_case_id

NOW = datetime(2007, 7, 25, tzinfo=UTC)


def fold(events: list[Event], state: CaseState | None = None) -> CaseState | None:
    return reduce(project, events, state)


def test_a_case_is_opened_with_its_lead_agency() -> None:
    """case.opened sets the date of birth and lead agency."""
    case_id = new_case_id()
    state = fold(as_events([make_event("case.opened", case_id)]))
    assert state is not None
    assert state.opened and state.lead_agency == "example-childrens-social-care"
    assert state.date_of_birth == "2006-03-01"


def test_counts_follow_the_events() -> None:
    """Contacts, injuries (by count), suspicions and decisions are all counted."""
    case_id = new_case_id()
    state = fold(as_events(case_events(case_id, contacts=4, injuries=3)))
    assert state is not None
    assert (state.events, state.contacts, state.contacts_child_seen) == (9, 4, 4)
    assert (state.injury_observations, state.injuries) == (3, 6)
    assert state.suspected_non_accidental == 3
    assert state.inconsistent_explanations == 3
    assert state.decisions == 1
    assert [d.outcome for d in state.latest_decisions] == ["not_at_present"]
    assert state.agencies == ("example-childrens-social-care", "example-hospital", "example-legal")


def test_folding_in_parts_equals_folding_at_once() -> None:
    """A state saved and reloaded mid-way folds to the same result (as the view does)."""
    events = as_events(case_events(new_case_id()))
    whole = fold(events)
    half = fold(events[:3])
    assert half is not None
    reloaded = CaseState.from_dict(orjson.loads(orjson.dumps(half)))
    assert fold(events[3:], reloaded) == whole


def test_project_does_not_change_its_input() -> None:
    """The fold is pure: the earlier state object is untouched."""
    events = as_events(case_events(new_case_id()))
    first = project(None, events[0])
    project(first, events[1])
    assert first.events == 1


def test_only_the_latest_decision_of_each_type_is_kept() -> None:
    """A long case keeps a bounded state: one summary per decision type, and a count."""
    case_id = new_case_id()
    first = make_event("decision.recorded", case_id)
    second = make_event("decision.recorded", case_id)
    second["payload"] = {**second["payload"], "outcome": "met"}
    other = make_event("decision.recorded", case_id)
    other["payload"] = {**other["payload"], "decision_type": "s47_enquiry", "outcome": "proceed"}
    state = fold(as_events([first, second, other]))
    assert state is not None and state.decisions == 3
    assert [(d.decision_type, d.outcome) for d in state.latest_decisions] == [
        ("threshold_care_proceedings", "met"),
        ("s47_enquiry", "proceed"),
    ]


def test_project_all_equals_folding_project_one_by_one() -> None:
    """The batch fold the view uses gives exactly the one-event fold's result."""
    events = as_events(case_events(new_case_id(), contacts=5, injuries=4))
    assert project_all(None, events) == fold(events)
    start = fold(events[:2])
    assert project_all(start, events[2:]) == fold(events)


def test_a_count_written_as_a_fraction_on_the_log_keeps_the_sum_whole() -> None:
    """A count of 1.0 already on a log (the door refuses it now) after 2 gives 3, an int."""
    case_id = new_case_id()
    opened, first, second = as_events(
        [
            make_event("case.opened", case_id),
            make_event("injury.observed", case_id),
            make_event("injury.observed", case_id),
        ]
    )
    first = first._replace(payload={**first.payload, "count": 2})
    second = second._replace(payload={**second.payload, "count": 1.0})
    state = project_all(None, [opened, first, second])
    assert state.injuries == 3
    assert type(state.injuries) is int
