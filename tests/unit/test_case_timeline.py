"""The case timeline and the registry lookups judgement shares within one evaluation."""

from __future__ import annotations

from datetime import datetime

import pytest

from ledger.envelope import Event, parse_instant
from projections.agencies import AgencyRecord
from projections.case_state import project_all
from projections.case_timeline import (
    CaseTimeline,
    RememberedAgencies,
    instant,
    remembered,
    timeline_of,
)
from sgl.demo.child_a import child_a
from sgl.demo.child_b import child_b
from tests.agencies import AGENCIES
from tests.factories import as_events


class Counting:
    """A registry lookup that counts the questions it is asked."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str | None]] = []
        self.listed: list[str | None] = []

    def record(self, agency_id: str, as_of: str | None = None) -> AgencyRecord | None:
        """AGENCIES' answer, counted."""
        self.asked.append((agency_id, as_of))
        return AGENCIES.record(agency_id, as_of)

    def records(self, as_of: str | None = None) -> list[AgencyRecord]:
        """AGENCIES' answer, counted."""
        self.listed.append(as_of)
        return AGENCIES.records(as_of)


class Snapshotting(Counting):
    """A lookup that can be read once into memory, counting the reads."""

    def __init__(self) -> None:
        super().__init__()
        self.snapshots = 0

    def snapshot(self) -> Counting:
        """A fresh counting lookup."""
        self.snapshots += 1
        return Counting()


def ordered(documents: list[dict[str, object]]) -> list[Event]:
    """The events in order of occurrence."""
    return sorted(as_events(documents), key=lambda e: parse_instant(e.occurred_at))


@pytest.mark.parametrize("documents", [child_a(), child_b()], ids=["child_a", "child_b"])
def test_the_timeline_has_the_whole_case_s_leads_areas_and_involvements(
    documents: list[dict[str, object]],
) -> None:
    events = ordered(documents)
    whole = project_all(None, events)
    timeline = CaseTimeline(events, AGENCIES)
    assert whole.leads and whole.involvements
    assert timeline.state.leads == whole.leads
    assert timeline.state.areas == whole.areas
    assert timeline.state.involvements == whole.involvements


def test_a_timeline_of_a_case_with_no_spells_has_none() -> None:
    events = [e for e in ordered(child_a()) if e.type == "contact.recorded"][:3]
    timeline = CaseTimeline(events, AGENCIES)
    at = parse_instant(events[-1].occurred_at)
    assert (timeline.lead_at(at), timeline.area_at(at), timeline.involved_at(at)) == (
        None,
        None,
        [],
    )


def test_remembered_agencies_ask_each_question_once() -> None:
    counting = Counting()
    lookup = RememberedAgencies(counting)
    agency = next(iter(r.agency_id for r in AGENCIES.records()))
    answers = [lookup.record(agency, "2007-01-01T00:00:00Z") for _ in range(3)]
    answers.append(lookup.record(agency))
    lookup.records()
    lookup.records()
    assert answers[0] == AGENCIES.record(agency, "2007-01-01T00:00:00Z") == answers[2]
    assert answers[3] == AGENCIES.record(agency)
    assert counting.asked == [(agency, "2007-01-01T00:00:00Z"), (agency, None)]
    assert counting.listed == [None]


def test_an_unregistered_agency_is_remembered_as_unknown() -> None:
    counting = Counting()
    lookup = RememberedAgencies(counting)
    assert lookup.record("no-such-agency") is None
    assert lookup.record("no-such-agency") is None
    assert counting.asked == [("no-such-agency", None)]


def test_a_registry_that_can_be_snapshot_is_read_once() -> None:
    live = Snapshotting()
    lookup = remembered(live)
    lookup.record(next(iter(r.agency_id for r in AGENCIES.records())))
    assert (live.snapshots, live.asked) == (1, [])
    assert remembered(lookup) is lookup


def test_one_timeline_per_list_of_events_while_remembered() -> None:
    events = ordered(child_a())
    lookup = remembered(AGENCIES)
    first = timeline_of(events, lookup)
    assert timeline_of(events, lookup) is first
    other = timeline_of(list(events), lookup)
    assert other is not first
    assert other.state.leads == first.state.leads
    assert timeline_of(events, remembered(AGENCIES)) is not first
    assert timeline_of(events, AGENCIES) is not timeline_of(events, AGENCIES)


def test_instant_parses_as_parse_instant_does() -> None:
    for text in ("2007-07-25T09:30:00Z", "2007-07-25t09:30:00+01:00", "2007-07-25T09:30:00.5Z"):
        assert instant(text) == parse_instant(text)
        assert isinstance(instant(text), datetime)
    with pytest.raises(ValueError, match="no UTC offset"):
        instant("2007-07-25T09:30:00")
