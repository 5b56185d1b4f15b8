"""Who knew what, and when: hand-built scenarios with their expected matrices and gaps."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from eventsourcing.persistence import Tracking
from eventsourcing.sqlite import SQLiteDatastore
from hypothesis import given, settings
from hypothesis import strategies as st

from projections.as_of import cutoff
from projections.case_view import SQLiteCaseView
from projections.knowledge import knowledge, share_statistics, time_to_share
from tests.factories import as_events, make_event, new_case_id

SC = "la-childrens-social-care"
POLICE = "police-north"
GP = "nhs-gp-north"
SCHOOL = "school-north"
HOSPITAL = "nhs-hospital-north"
DAY0 = datetime(2007, 3, 1, 9, tzinfo=UTC)


def at(day: float) -> str:
    return (DAY0 + timedelta(days=day)).strftime("%Y-%m-%dT%H:%M:%SZ")


class Case:
    """A case written event by event: agency, day it happened, day it was recorded."""

    def __init__(self, lead: str = SC) -> None:
        self.case_id = new_case_id()
        self.documents: list[dict[str, Any]] = []
        self.add("case.opened", lead, 0, payload={**_example("case.opened"), "lead_agency": lead})

    def add(
        self, event_type: str, agency: str, day: float, recorded: float | None = None, **fields: Any
    ) -> str:
        event = make_event(
            event_type,
            self.case_id,
            agency=agency,
            occurred_at=at(day),
            recorded_at=at(day if recorded is None else recorded),
            **fields,
        )
        self.documents.append(event)
        return str(event["event_id"])

    def share(self, source: str, target: str, day: float, facts: list[str]) -> str:
        payload = {"from_agency": source, "to_agency": target, "facts": facts, "channel": "phone"}
        return self.add("information.shared", source, day, payload=payload)

    def meeting(
        self, day: float, invited: list[str], attending: list[str], tabled: list[str]
    ) -> str:
        payload = {
            **_example("meeting.held"),
            "invited_agencies": invited,
            "attending_agencies": attending,
            "facts_tabled": tabled,
        }
        return self.add("meeting.held", SC, day, payload=payload)

    def person(self, agency: str, day: float, person_id: str, **payload: Any) -> str:
        body = {**_example("person.linked"), "person_id": person_id, **payload}
        return self.add("person.linked", agency, day, payload=body)

    def at_day(self, day: float) -> Any:
        return knowledge(as_events(self.documents), DAY0 + timedelta(days=day, hours=12))


def _example(event_type: str) -> dict[str, Any]:
    payload: dict[str, Any] = make_event(event_type)["payload"]
    return payload


def test_a_slap_seen_by_social_care_and_never_shared_is_a_police_gap() -> None:
    """Social care records a sibling slapped outside school; police never hear of it."""
    case = Case()
    slap = case.add("concern.raised", SC, 10, recorded=14)
    case.add("contact.recorded", POLICE, 20)
    k = case.at_day(60)
    assert k.known[slap] == {SC: k.known[slap][SC]}
    assert k.known[slap][SC].via == "recorded"
    assert k.known[slap][SC].since == cutoff(at(14)), "known from when it was recorded"
    gaps = {g["event_id"]: g for g in k.gaps(POLICE)}
    assert gaps[slap]["first_known_by"] == SC
    assert gaps[slap]["known_to"] == [SC]
    assert gaps[slap]["known_elsewhere_days"] == 46.5
    assert slap not in {g["event_id"] for g in k.gaps(SC)}
    assert slap not in {f["event_id"] for f in k.of_agency(POLICE)}


def test_a_fact_is_first_known_by_its_recorder_when_another_learns_it_at_once() -> None:
    """A referral is known to the referrer (who recorded it) and the receiver from the same
    moment: the recorder knew it first, whatever the order of their codes."""
    case = Case()
    payload = {**_example("referral.made"), "from_agency": HOSPITAL, "to_agency": SC}
    referral = case.add("referral.made", HOSPITAL, 5, payload=payload)
    k = case.at_day(10)
    assert k.known[referral][SC].since == k.known[referral][HOSPITAL].since
    assert SC < HOSPITAL, "the receiver's code sorts first: a code order would pick it"
    gaps = {g["event_id"]: g for g in k.gaps(POLICE)}
    assert gaps[referral]["first_known_by"] == HOSPITAL


def test_a_partner_known_to_police_never_identified_by_social_care_is_a_people_gap() -> None:
    """Police link an adult living in the household; social care never records him."""
    case = Case()
    linked = case.person(POLICE, 5, "PER-0002", is_adult=True, lives_in_household=True)
    case.person(SC, 6, "PER-0001", role="mother", is_adult=True, lives_in_household=True)
    k = case.at_day(30)
    people = k.people_gaps(SC)
    assert [p["person_id"] for p in people] == ["PER-0002"]
    assert people[0]["known_to"] == [POLICE]
    assert people[0]["first_known_at"] == at(5)
    assert people[0]["told_at"] is None and people[0]["evidence"] == [linked]
    assert people[0]["known_elsewhere_days"] == 25.5
    assert [p["person_id"] for p in k.people_gaps(POLICE)] == ["PER-0001"]
    # Told, but still never recorded by social care: still a gap, now with when it was told.
    case.share(POLICE, SC, 8, [linked])
    told = case.at_day(30).people_gaps(SC)
    assert told[0]["person_id"] == "PER-0002" and told[0]["told_at"] == at(8)
    # Once social care links him itself, the gap closes.
    case.person(SC, 9, "PER-0002", is_adult=True, lives_in_household=True)
    assert case.at_day(30).people_gaps(SC) == []


def test_a_fact_tabled_only_at_a_meeting_the_police_did_not_attend() -> None:
    """The GP's injury is tabled at a conference: attendees learn it then; absent police do not."""
    case = Case()
    injury = case.add("injury.observed", GP, 3)
    meeting = case.meeting(12, [SC, POLICE, GP, SCHOOL], [SC, GP, SCHOOL], [injury])
    k = case.at_day(40)
    cells = k.known[injury]
    assert set(cells) == {GP, SC, SCHOOL}
    assert cells[SC].via == "meeting" and cells[SC].through == meeting
    assert cells[SC].since == cutoff(at(12))
    assert cells[GP].via == "recorded"
    gaps = {g["event_id"]: g for g in k.gaps(POLICE)}
    assert gaps[injury]["first_known_by"] == GP and gaps[injury]["known_elsewhere_days"] == 37.5
    assert set(gaps[injury]["known_to"]) == {GP, SC, SCHOOL}
    assert meeting in gaps, "the meeting itself is a fact the police did not know"
    # The expected matrix, fact by fact.
    matrix = {row["event_id"]: row["known"] for row in k.matrix()["facts"]}
    assert {a: c["via"] for a, c in matrix[injury].items()} == {
        GP: "recorded",
        SC: "meeting",
        SCHOOL: "meeting",
    }
    assert {a: c["via"] for a, c in matrix[meeting].items()} == {
        SC: "recorded",
        GP: "meeting",
        SCHOOL: "meeting",
    }
    assert k.matrix()["agencies"] == sorted([SC, POLICE, GP, SCHOOL]), "absent invitees too"


def test_each_route_and_the_earliest_one_wins() -> None:
    """Shared, referral, alert and acknowledgement routes; the earliest gives `since`."""
    case = Case()
    injury = case.add("injury.observed", HOSPITAL, 1)
    referral = case.add(
        "referral.made",
        HOSPITAL,
        2,
        payload={
            **_example("referral.made"),
            "from_agency": HOSPITAL,
            "to_agency": SC,
            "facts": [injury],
        },
    )
    share = case.share(HOSPITAL, POLICE, 9, [injury])
    alert = case.add(
        "alert.raised",
        "safeguarding-ledger",
        4,
        payload={**_example("alert.raised"), "evidence": [injury], "sent_to": [POLICE, GP]},
    )
    ack = case.add("acknowledged", POLICE, 10, payload={"acknowledges": share, "kind": "read"})
    school = case.add(
        "acknowledged", SCHOOL, 11, payload={"acknowledges": injury, "kind": "received"}
    )
    k = case.at_day(20)
    cells = k.known[injury]
    assert cells[SC].via == "referral" and cells[SC].through == referral
    assert cells[POLICE].via == "alert" and cells[POLICE].through == alert, "day 4 beats day 9"
    assert cells[POLICE].since == cutoff(at(4))
    assert cells[POLICE].acknowledged_at is None, "police acknowledged the share, not the alert"
    assert cells[GP].via == "alert"
    assert cells[SCHOOL].via == "acknowledged" and cells[SCHOOL].through == school
    assert k.known[share][POLICE].acknowledged_at == at(10)
    assert ack not in k.facts, "acknowledgements are not facts"


def test_a_conveyance_before_the_fact_was_recorded_counts_from_the_recording() -> None:
    """A share dated before the fact's recorded_at: known from the recorded_at, never before."""
    case = Case()
    late = case.add("injury.observed", GP, 1, recorded=8)
    case.share(GP, SC, 3, [late])
    k = case.at_day(20)
    assert k.known[late][SC].since == cutoff(at(8))


def test_as_of_a_date_only_what_was_recorded_by_then_and_retractions_withdraw_facts() -> None:
    """Before the share was recorded the police did not know; a retracted fact leaves the matrix."""
    case = Case()
    injury = case.add("injury.observed", GP, 1)
    share = case.add(
        "information.shared",
        GP,
        2,
        recorded=6,
        payload={"from_agency": GP, "to_agency": POLICE, "facts": [injury], "channel": "email"},
    )
    assert POLICE not in case.at_day(5).known[injury]
    assert case.at_day(6).known[injury][POLICE].through == share
    case.add("entry.retracted", GP, 7, amends=injury, payload={"reason": "wrong case"})
    assert injury in case.at_day(6).facts
    assert injury not in case.at_day(7).facts


def test_time_to_share_per_pair_of_agencies() -> None:
    """Delays from the fact's recording to each other agency's knowing, pooled over cases."""
    case = Case()
    facts = [case.add("injury.observed", GP, day) for day in (0, 1, 2)]
    for fact, delay in zip(facts, (1, 3, 10), strict=True):
        case.share(GP, SC, float(facts.index(fact)) + delay, [fact])
    stats = time_to_share([case.at_day(30).delays()])
    gp_to_sc = next(s for s in stats if (s["from_agency"], s["to_agency"]) == (GP, SC))
    # Three facts (plus each share, known to SC from the moment it happened: delay 0).
    assert gp_to_sc["count"] == 6
    assert gp_to_sc["max_days"] == 10.0
    assert share_statistics([timedelta(days=d) for d in (1, 3, 10)]) == {
        "count": 3,
        "median_days": 3.0,
        "p90_days": 10.0,
        "max_days": 10.0,
    }
    assert share_statistics([])["count"] == 0


AGENCIES = (SC, POLICE, GP, SCHOOL, HOSPITAL)
steps = st.lists(
    st.tuples(
        st.sampled_from(["fact", "fact", "share", "meeting", "alert", "ack"]),
        st.integers(0, 4),  # an agency
        st.integers(0, 4),  # another agency
        st.integers(0, 30),  # an earlier fact, modulo
        st.integers(0, 40),  # day it happened
        st.integers(0, 6),  # recording lag in days
    ),
    min_size=1,
    max_size=25,
)


def scripted(script: list[tuple[Any, ...]]) -> Case:
    """A case from random steps; conveyances only name facts written before them."""
    case = Case()
    facts: list[str] = []
    for kind, one, other, pick, day, lag in script:
        a, b = AGENCIES[one], AGENCIES[other]
        named = [facts[pick % len(facts)]] if facts else []
        if kind == "fact" or not named:
            facts.append(case.add("injury.observed", a, day, recorded=day + lag))
        elif kind == "share":
            payload = {"from_agency": a, "to_agency": b, "facts": named, "channel": "email"}
            facts.append(case.add("information.shared", a, day, day + lag, payload=payload))
        elif kind == "meeting":
            invited = sorted({a, b, SC})
            facts.append(case.meeting(day, invited, sorted({a, SC}), named))
        elif kind == "alert":
            payload = {**_example("alert.raised"), "evidence": named, "sent_to": [b]}
            facts.append(case.add("alert.raised", "safeguarding-ledger", day, payload=payload))
        else:
            case.add(
                "acknowledged", b, day + lag, payload={"acknowledges": named[0], "kind": "read"}
            )
    return case


@settings(max_examples=150, deadline=None)
@given(steps, st.lists(st.integers(-1, 50), min_size=2, max_size=5))
def test_nobody_knows_before_recording_and_knowledge_never_shrinks(
    script: list[tuple[Any, ...]], days: list[int]
) -> None:
    """For any history: every cell is at or after the fact's recording and by the date; as the
    date moves on, every cell stays, never later than before."""
    case = scripted(script)
    events = as_events(case.documents)
    earlier = None
    for day in sorted(days):
        moment = DAY0 + timedelta(days=day, hours=12)
        k = knowledge(events, moment)
        for fact, cells in k.known.items():
            recorded = cutoff(k.facts[fact].recorded_at)
            assert recorded <= moment
            for knowing in cells.values():
                assert recorded <= knowing.since <= moment
        if earlier is not None:
            for fact, cells in earlier.known.items():
                for agency, knowing in cells.items():
                    assert k.known[fact][agency].since <= knowing.since
        earlier = k


@settings(max_examples=40, deadline=None)
@given(steps, st.lists(st.integers(1, 6), min_size=1, max_size=4), st.integers(-1, 50))
def test_knowledge_from_the_view_fed_in_any_batching_equals_knowledge_from_the_log(
    script: list[tuple[Any, ...]], splits: list[int], day: int
) -> None:
    """Live (the view's events, applied in any batching) equals a replay of the log."""
    events = as_events(scripted(script).documents)
    with tempfile.TemporaryDirectory() as folder:
        view = SQLiteCaseView(SQLiteDatastore(str(Path(folder) / "v.sqlite")), snapshot_every=3)
        view.create_table()
        start = 0
        sizes = iter(splits * len(events))
        while start < len(events):
            end = min(len(events), start + next(sizes))
            view.apply(events[start:end], [Tracking("t", end - 1)])
            start = end
        moment = DAY0 + timedelta(days=day, hours=12)
        live = knowledge(view.events(events[0].case_id), moment)
        view.datastore.close()
    assert live == knowledge(events, moment)


def test_people_gaps_take_each_agencys_latest_account_and_unknown_ages() -> None:
    """Someone seen joining the household (age unknown) is a gap; a child is not; one agency
    saying he left does not undo another agency's account that he lives there."""
    case = Case()
    case.add(
        "household.changed",
        POLICE,
        3,
        payload={**_example("household.changed"), "person_id": "PER-0009", "change": "joined"},
    )
    case.person(SCHOOL, 4, "PER-0003", role="sibling", is_adult=False, lives_in_household=True)
    case.person(HOSPITAL, 5, "PER-0002", is_adult=True, lives_in_household=True)
    case.person(GP, 6, "PER-0002", is_adult=True, lives_in_household=False)
    gaps = {p["person_id"]: p for p in case.at_day(10).people_gaps(SC)}
    assert set(gaps) == {"PER-0009", "PER-0002"}
    assert gaps["PER-0009"]["is_adult"] is None and gaps["PER-0009"]["role"] is None
    assert gaps["PER-0002"]["known_to"] == [GP, HOSPITAL]


def test_a_correction_moving_a_share_later_never_dates_knowledge_after_the_share_was_recorded() -> (
    None
):
    """A share recorded on day 5, corrected to have happened on day 40: known from day 5."""
    case = Case()
    fact = case.add("injury.observed", GP, 1)
    payload = {"from_agency": GP, "to_agency": SC, "facts": [fact.upper()], "channel": "phone"}
    share = case.add("information.shared", GP, 5, payload=payload)
    corrected = {"corrected_payload": payload, "corrected_occurred_at": at(40), "reason": "date"}
    case.add("correction.recorded", GP, 6, amends=share, payload=corrected)
    k = case.at_day(10)
    assert k.known[fact][SC].since_text == at(5), "upper-case reference, clamped time"
    assert all(g["known_elsewhere_days"] >= 0 for g in k.gaps(POLICE))


def test_the_lead_agency_follows_a_change_of_lead() -> None:
    """After lead.changed, the default agency asked about is the new lead, from then on."""
    case = Case()
    case.add("lead.changed", SC, 5, payload={"lead_agency": POLICE})
    assert case.at_day(4).lead_agency == SC
    assert case.at_day(5).lead_agency == POLICE
