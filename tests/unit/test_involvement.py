"""Involvements, lead, responsible area and sightings in the case state, and old logs' meaning."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from projections.as_of import state_as_of
from projections.case_state import CaseState, project_all
from projections.chronology import summary
from projections.effective import effective_events
from projections.sightings import any_statutory_involvement_open, sightings
from tests.factories import as_events, new_case_id
from tests.involvement_factory import (
    closed,
    day,
    event,
    involved,
    opened,
    registry,
    seen,
    uninvolved,
)

CSC, POLICE, SCHOOL, CHARITY = (
    "example-childrens-social-care",
    "example-police",
    "example-school",
    "example-voluntary",
)


def fold(documents: list[dict[str, Any]]) -> CaseState:
    return project_all(None, effective_events(as_events(documents)))


def episodes(state: CaseState, agency: str) -> list[tuple[str | None, str | None]]:
    (found,) = [i for i in state.involvements if i.agency == agency]
    return [(e.opened_at, e.closed_at) for e in found.episodes]


def test_case_opened_opens_the_leads_involvement() -> None:
    """The lead's involvement is open from the case's opening; its basis is not known."""
    case_id = new_case_id()
    state = fold([opened(case_id, CSC, 1, responsible_area="E08000001")])
    (involvement,) = state.involvements
    assert (involvement.agency, involvement.open) == (CSC, True)
    assert involvement.episodes[0].opened_at == day(1)
    assert involvement.episodes[0].basis == "not_known"
    assert state.lead_agency == CSC and [(x.agency, x.since) for x in state.leads] == [
        (CSC, day(1))
    ]
    assert state.responsible_area == "E08000001" and not state.closed


def test_an_involvement_opened_by_the_lead_gives_its_basis() -> None:
    """Opening again while open starts no episode, but a basis not known becomes known."""
    case_id = new_case_id()
    state = fold([opened(case_id, CSC, 1), involved(case_id, CSC, 2, "assessment")])
    (involvement,) = state.involvements
    assert [(e.opened_at, e.basis) for e in involvement.episodes] == [(day(1), "assessment")]


def test_one_agency_closing_leaves_the_case_open() -> None:
    """case.closed (v2) ends only the sender's involvement; the case closes with the last."""
    case_id = new_case_id()
    log = [opened(case_id, CSC, 0), involved(case_id, POLICE, 1), closed(case_id, POLICE, 5)]
    state = fold(log)
    assert not state.closed and state.closure_reason is None
    assert [(i.agency, i.open) for i in state.involvements] == [(CSC, True), (POLICE, False)]
    state = fold([*log, uninvolved(case_id, CSC, 9)])
    assert state.closed
    assert [e.reason for i in state.involvements for e in i.episodes] == [
        "service_complete",
        "no_further_action",
    ]


def test_a_later_involvement_reopens_the_case_in_a_new_episode() -> None:
    """After the case closed, an agency opening (again) reopens the case."""
    case_id = new_case_id()
    log = [opened(case_id, CSC, 0), closed(case_id, CSC, 10)]
    assert fold(log).closed and fold(log).closure_reason == "RC8"
    state = fold([*log, involved(case_id, CSC, 20, "referral")])
    assert not state.closed and state.closure_reason is None
    assert episodes(state, CSC) == [(day(0), day(10)), (day(20), None)]


def test_closing_an_involvement_never_seen_open_records_it_closed() -> None:
    """A closure from an agency with no open involvement says when it ended, not when began."""
    case_id = new_case_id()
    state = fold([opened(case_id, CSC, 0), uninvolved(case_id, POLICE, 3)])
    assert episodes(state, POLICE) == [(None, day(3))]
    assert not state.closed


def test_lead_and_area_have_their_history() -> None:
    """lead.changed and area.changed move the lead and the area on, keeping where they were."""
    case_id = new_case_id()
    east = "example-social-care-east"
    log = [
        opened(case_id, CSC, 0, responsible_area="E08000001"),
        event("lead.changed", case_id, CSC, {"lead_agency": east}, 30),
        event(
            "area.changed",
            case_id,
            CSC,
            {"area": "E08000002", "reason": "family_moved", "responsible_agency": east},
            29,
        ),
    ]
    state = fold(log)
    assert state.lead_agency == east
    assert [(x.agency, x.since) for x in state.leads] == [(CSC, day(0)), (east, day(30))]
    assert state.responsible_area == "E08000002"
    assert [(x.area, x.since, x.responsible_agency) for x in state.areas] == [
        ("E08000001", day(0), None),
        ("E08000002", day(29), east),
    ]
    earlier = state_as_of(as_events(log[:1]), datetime(2007, 1, 20, tzinfo=UTC))
    assert earlier is not None and earlier.lead_agency == CSC


def test_the_latest_sighting_by_each_agency_counts_when_it_happened() -> None:
    """A sighting recorded late but earlier in the world does not replace a later one."""
    case_id = new_case_id()
    state = fold(
        [
            opened(case_id, CSC, 0),
            seen(case_id, CSC, 10, seen_alone="yes"),
            seen(case_id, CSC, 4, recorded=12, seen_alone="no"),
            seen(case_id, POLICE, 6, seen_by_role="police_officer"),
            seen(case_id, SCHOOL, 20, "no"),
            seen(case_id, SCHOOL, 21, "not_known"),
            seen(case_id, CHARITY, 15, source={"kind": "relative", "person_id": "PER-0001"}),
        ]
    )
    got = {s.agency: (s.last_seen_at, s.seen_alone, s.role) for s in state.sightings.by_agency}
    assert got == {
        CSC: (day(10), "yes", "social_worker"),
        POLICE: (day(6), "not_known", "police_officer"),
    }
    (source,) = state.sightings.by_source
    assert (source.kind, source.person_id, source.reported_to) == ("relative", "PER-0001", CHARITY)
    assert (state.contacts, state.contacts_child_seen, state.contacts_child_seen_alone) == (6, 4, 1)
    assert (state.contacts_child_not_seen, state.contacts_child_seen_not_known) == (1, 1)


def test_a_retracted_sighting_or_involvement_does_not_count() -> None:
    """Amendments apply before the fold: a retracted contact or closure is as if never sent."""
    case_id = new_case_id()
    visit = seen(case_id, POLICE, 10)
    ending = uninvolved(case_id, CSC, 11)
    log = [opened(case_id, CSC, 0), seen(case_id, POLICE, 5), visit, ending]
    for target in (visit, ending):
        log.append(
            event(
                "entry.retracted",
                case_id,
                CSC,
                {"reason": "wrong case"},
                12,
                amends=target["event_id"],
            )
        )
    state = fold(log)
    assert [(s.agency, s.last_seen_at) for s in state.sightings.by_agency] == [(POLICE, day(5))]
    assert not state.closed and state.contacts == 1


def test_the_state_survives_its_json_form() -> None:
    """Saved and reloaded mid-way (as the view does), the fold gives the same state."""
    case_id = new_case_id()
    events = effective_events(
        as_events(
            [
                opened(case_id, CSC, 0, responsible_area="E08000001"),
                seen(case_id, CSC, 1, source={"kind": "neighbour"}),
                involved(case_id, POLICE, 2),
                seen(case_id, POLICE, 3),
                closed(case_id, POLICE, 4),
                event("lead.changed", case_id, CSC, {"lead_agency": POLICE}, 5),
            ]
        )
    )
    half = CaseState.from_dict(orjson.loads(orjson.dumps(project_all(None, events[:3]))))
    assert project_all(half, events[3:]) == project_all(None, events)


def test_statutory_involvement_and_days_unseen_follow_the_registry_then() -> None:
    """Registry facts as of the date: an agency made statutory later is not yet statutory."""
    case_id = new_case_id()
    agencies = registry({CSC: True, CHARITY: False}, changed={POLICE: (True, 30)})
    state = fold(
        [
            opened(case_id, CHARITY, 0),
            involved(case_id, POLICE, 1),
            seen(case_id, POLICE, 2),
            seen(case_id, CHARITY, 8),
        ]
    )
    at_10 = datetime(2007, 1, 11, 12, tzinfo=UTC)
    early = sightings(state, agencies, at_10, day(10.5))
    assert early["last_seen_by_statutory_agency"] is None and early["days_unseen"] is None
    assert early["by_unregistered_agency"] == []
    assert [s["agency"] for s in early["by_non_statutory_agency"]] == [POLICE, CHARITY]
    assert not any_statutory_involvement_open(state, agencies, day(10.5))
    at_40 = datetime(2007, 2, 10, 12, tzinfo=UTC)
    late = sightings(state, agencies, at_40, day(40.5))
    assert late["last_seen_by_statutory_agency"]["agency"] == POLICE
    assert late["last_seen_by_statutory_agency"]["statutory"] is True
    assert late["days_unseen"] == 38
    assert any_statutory_involvement_open(state, agencies, day(40.5))


def test_an_old_log_keeps_its_meaning() -> None:
    """The previous release's events: a closure from any agency closes the case for good (a
    later v1 case.opened does not reopen it), and contacts v1/v2 count as they did."""
    case_id = new_case_id()
    log = [
        opened(case_id, CSC, 0, version=1),
        event(
            "contact.recorded",
            case_id,
            POLICE,
            {"contact_type": "home_visit", "child_seen": True},
            1,
        ),
        event(
            "contact.recorded",
            case_id,
            CSC,
            {"contact_type": "home_visit", "child_seen": True, "child_seen_alone": True},
            2,
        ),
        event(
            "contact.recorded",
            case_id,
            CSC,
            {"contact_type": "phone", "child_seen": "not_seen"},
            3,
            version=2,
        ),
        closed(case_id, POLICE, 4, version=1),
        opened(case_id, SCHOOL, 5, version=1),
        closed(case_id, CSC, 6, version=1),
    ]
    state = fold(log)
    assert state.closed and state.closure_reason == "RC8"
    assert state.lead_agency == SCHOOL and state.opened_at == day(5)
    assert (state.contacts, state.contacts_child_seen, state.contacts_child_seen_alone) == (3, 2, 1)
    assert fold(log[:5]).closed


def test_chronology_lines_for_involvement_lead_area_and_sightings() -> None:
    """Each new type has a short neutral line; a contact says whether and how the child was seen."""
    case_id = new_case_id()
    events = as_events(
        [
            involved(case_id, POLICE, 1, "police_investigation"),
            uninvolved(case_id, POLICE, 2, "no_further_action"),
            event("lead.changed", case_id, CSC, {"lead_agency": POLICE}, 3),
            event("area.changed", case_id, CSC, {"area": "E08000002", "reason": "family_moved"}, 4),
            seen(case_id, CSC, 5, seen_alone="yes"),
            seen(case_id, CSC, 5, "no"),
            seen(case_id, CSC, 5, "not_known"),
            seen(case_id, CSC, 5, source={"kind": "member_of_public"}),
            event(
                "contact.recorded",
                case_id,
                CSC,
                {"contact_type": "phone", "child_seen": "seen_with_others"},
                6,
                version=2,
            ),
        ]
    )
    assert [summary(e) for e in events] == [
        "involvement opened (police investigation)",
        "involvement closed (no further action)",
        f"lead now {POLICE}",
        "responsible area now E08000002 (family moved)",
        "home_visit; child seen alone",
        "home_visit; child not seen",
        "home_visit; not recorded whether child seen",
        "home_visit; child seen by a member of public (reported)",
        "phone; child seen with others",
    ]


OLD_STEP = st.one_of(
    st.tuples(st.just("opened"), st.sampled_from([CSC, POLICE])),
    st.tuples(st.just("closed"), st.sampled_from([CSC, POLICE, SCHOOL])),
    st.tuples(st.just("contact1"), st.tuples(st.booleans(), st.sampled_from([None, True, False]))),
    st.tuples(
        st.just("contact2"), st.sampled_from(["seen_alone", "seen_with_others", "seen", "not_seen"])
    ),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(OLD_STEP, st.sampled_from(["RC1", "RC5", "RC8"])), min_size=1))
def test_any_old_log_keeps_the_previous_releases_values(
    steps: list[tuple[tuple[str, Any], str]],
) -> None:
    """A log of the previous release's versions gives the fields it had their old values: the
    latest case.opened's lead, closed once any agency closed, the latest closure's reason."""
    case_id = new_case_id()
    log = []
    for n, ((kind, value), code) in enumerate(steps):
        if kind == "opened":
            log.append(opened(case_id, value, n, version=1))
        elif kind == "closed":
            log.append(
                event("case.closed", case_id, value, {"reason": code, "closed_on": day(n)[:10]}, n)
            )
        elif kind == "contact1":
            seen_v1, alone = value
            payload: dict[str, Any] = {"contact_type": "home_visit", "child_seen": seen_v1}
            if alone is not None:
                payload["child_seen_alone"] = alone
            log.append(event("contact.recorded", case_id, CSC, payload, n))
        else:
            payload = {"contact_type": "home_visit", "child_seen": value}
            log.append(event("contact.recorded", case_id, CSC, payload, n, version=2))
    state = fold(log)
    opens = [e for e in log if e["type"] == "case.opened"]
    closes = [e for e in log if e["type"] == "case.closed"]
    contacts = [_as_v2(e) for e in log if e["type"] == "contact.recorded"]
    assert state.opened == bool(opens)
    assert state.lead_agency == (opens[-1]["payload"]["lead_agency"] if opens else None)
    assert state.opened_at == (opens[-1]["occurred_at"] if opens else None)
    assert state.closed == bool(closes)
    assert state.closure_reason == (closes[-1]["payload"]["reason"] if closes else None)
    assert state.contacts == len(contacts)
    assert state.contacts_child_seen == sum(c != "not_seen" for c in contacts)
    assert state.contacts_child_seen_alone == sum(c == "seen_alone" for c in contacts)


def _as_v2(document: dict[str, Any]) -> str:
    """The previous release's reading of a contact: its v2 `child_seen`."""
    p = document["payload"]
    if document["schema_version"] == 2:
        return str(p["child_seen"])
    if not p["child_seen"]:
        return "not_seen"
    alone = p.get("child_seen_alone")
    return "seen" if alone is None else "seen_alone" if alone else "seen_with_others"


def test_a_sighting_without_an_earliest_date_never_moves_last_seen() -> None:
    """An undated note, or one known only as "not after", of the child seen does not make the
    child seen later than the record allows; a range counts from its earliest bound."""
    case_id = new_case_id()

    def uncertain(agency: str, recorded: float, **when: Any) -> dict[str, Any]:
        note = seen(case_id, agency, 0, recorded=recorded)
        del note["occurred_at"]
        return {**note, **when}

    undated = uncertain(CSC, 20, occurred_precision="undated")
    not_after = uncertain(
        CSC, 21, occurred_precision="range", occurred_range={"not_after": day(19)}
    )
    ranged = uncertain(
        POLICE,
        22,
        occurred_precision="range",
        occurred_range={"not_before": day(10), "not_after": day(15)},
    )
    state = fold([opened(case_id, CSC, 0), seen(case_id, CSC, 3), undated, not_after, ranged])
    last = {s.agency: s.last_seen_at for s in state.sightings.by_agency}
    assert last == {CSC: day(3), POLICE: day(10)}
    assert state.contacts == 4 and state.contacts_child_seen == 4
