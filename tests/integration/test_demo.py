"""The demo case Child A, checked through the ledger's own queries on both backends."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
import pytest

from sgl.bootstrap import Container
from sgl.demo import DEMO_CASE, load_demo
from sgl.demo.child_a import (
    AGENCIES,
    LEGAL_HELD,
    LEGAL_REQUESTED,
    PARTNER,
    POLICE,
    SIBLING_1,
    SOCIAL_CARE,
    child_a,
)
from tests.conftest import LiveServer, wait_for


@pytest.fixture
def loaded(
    http: httpx.Client, live_server: LiveServer, container: Container
) -> list[dict[str, Any]]:
    """Child A and 20 background cases loaded, and the case's history once the view has it."""
    receipts = load_demo(container.ledger, background_cases=20)
    assert all(r.status == "accepted" for r in receipts)
    url = f"{live_server.url}/v1/cases/{DEMO_CASE}/history"
    child_a_total = len(child_a())
    wait_for(
        lambda: len(http.get(url).json().get("entries", [])) == child_a_total,
        timeout=90,
        what="Child A in the view",
    )
    entries: list[dict[str, Any]] = http.get(url).json()["entries"]
    return entries


def test_counts_of_contacts_injuries_and_agencies(
    http: httpx.Client, loaded: list[dict[str, Any]], live_server: LiveServer
) -> None:
    """About sixty contacts, more than fifty injury observations, eleven agencies."""
    case = http.get(f"{live_server.url}/v1/cases/{DEMO_CASE}").json()
    assert 55 <= case["contacts"] <= 65
    assert case["injury_observations"] > 50
    assert sorted(case["agencies"]) == sorted(AGENCIES) and len(AGENCIES) == 11
    assert case["plan"]["start_date"].startswith("2006-12")


def test_the_partner_is_known_to_police_and_absent_from_social_cares_record(
    http: httpx.Client, loaded: list[dict[str, Any]], live_server: LiveServer
) -> None:
    """Police link him to the household; no social care entry ever names him."""
    case = http.get(f"{live_server.url}/v1/cases/{DEMO_CASE}").json()
    partner = next(p for p in case["people"] if p["person_id"] == PARTNER)
    assert (partner["linked_by"], partner["in_household"]) == (POLICE, True)
    about_partner = [e for e in loaded if e["payload"].get("person_id") == PARTNER]
    assert about_partner and {e["agency"] for e in about_partner} == {POLICE}


def test_the_sibling_slap_stays_with_social_care(loaded: list[dict[str, Any]]) -> None:
    """Social care records the slap; nothing shares or refers it to anyone, police included."""
    slap = next(
        e
        for e in loaded
        if e["type"] == "concern.raised" and e["payload"].get("about_person_id") == SIBLING_1
    )
    assert slap["agency"] == SOCIAL_CARE
    passed_on = [
        e
        for e in loaded
        if e["type"] in ("information.shared", "referral.made")
        and slap["event_id"] in e["payload"].get("facts", [])
    ]
    assert passed_on == []
    assert not [
        e
        for e in loaded
        if e["agency"] == POLICE
        and e["occurred_at"] >= "2007-05-22"
        and e["type"] in ("concern.raised", "decision.recorded")
    ]


def test_the_legal_meeting_request_and_the_25_july_decision(
    loaded: list[dict[str, Any]],
) -> None:
    """Requested on 6 June 2007, held 25 July; threshold 'not at present' met."""
    request = next(e for e in loaded if e["type"] == "meeting.requested")
    held = next(
        e
        for e in loaded
        if e["type"] == "meeting.held" and e["payload"]["meeting_type"] == "legal_planning_meeting"
    )
    decision = next(
        e
        for e in loaded
        if e["type"] == "decision.recorded"
        and e["payload"]["decision_type"] == "threshold_care_proceedings"
    )
    assert request["occurred_at"].startswith(LEGAL_REQUESTED)
    assert held["occurred_at"].startswith(LEGAL_HELD)
    assert decision["occurred_at"].startswith(LEGAL_HELD)
    assert decision["payload"]["outcome"] == "not_at_present"
    waited = date.fromisoformat(LEGAL_HELD) - date.fromisoformat(LEGAL_REQUESTED)
    assert round(waited.days / 7) == 7, "about seven weeks"


def test_some_entries_are_written_up_days_late(loaded: list[dict[str, Any]]) -> None:
    """Realistic recording lags: several social care entries recorded days after the event."""
    late = [e for e in loaded if e["recording_lag_seconds"] >= 3 * 86400]
    assert len(late) >= 5
    assert {e["agency"] for e in late} >= {SOCIAL_CARE}


def test_loading_twice_leaves_the_log_unchanged(container: Container) -> None:
    """Stable event ids: the second load answers duplicate for every event."""
    first = load_demo(container.ledger, background_cases=10)
    ends = container.log.end_offsets()
    second = load_demo(container.ledger, background_cases=10)
    assert container.log.end_offsets() == ends
    assert {r.status for r in second} == {"duplicate"}
    assert [r.offset for r in second] == [r.offset for r in first]


def test_who_knew_the_slap_and_the_partner(
    http: httpx.Client, loaded: list[dict[str, Any]], live_server: LiveServer
) -> None:
    """Asked directly: the slap was known to social care alone; the police knew the partner,
    whom social care never recorded; both are gaps as of the legal meeting."""
    base = f"{live_server.url}/v1/cases/{DEMO_CASE}/knowledge"
    slap = next(
        e["event_id"]
        for e in loaded
        if e["type"] == "concern.raised" and e["payload"].get("about_person_id") == SIBLING_1
    )
    matrix = http.get(f"{base}/matrix", params={"as_of": "2007-07-25"}).json()
    row = next(f for f in matrix["facts"] if f["event_id"] == slap)
    assert list(row["known"]) == [SOCIAL_CARE] and row["known"][SOCIAL_CARE]["via"] == "recorded"
    assert sorted(matrix["agencies"]) == sorted(AGENCIES)
    police = http.get(f"{base}/gaps", params={"agency": POLICE, "as_of": "2007-07-25"}).json()
    gap = next(g for g in police["facts"] if g["event_id"] == slap)
    assert gap["first_known_by"] == SOCIAL_CARE and gap["known_elsewhere_days"] > 60
    lead = http.get(f"{base}/gaps", params={"as_of": "2007-07-25"}).json()
    assert lead["agency"] == SOCIAL_CARE, "the lead agency by default"
    partner = next(p for p in lead["people"] if p["person_id"] == PARTNER)
    assert partner["known_to"] == [POLICE] and partner["told_at"] is None
    before = http.get(f"{base}/gaps", params={"agency": POLICE, "as_of": "2007-05-01"}).json()
    assert slap not in {g["event_id"] for g in before["facts"]}, "not yet recorded then"


def test_the_legal_meeting_breaches_its_local_clock_as_of_25_july(
    http: httpx.Client, loaded: list[dict[str, Any]], live_server: LiveServer
) -> None:
    """Requested 6 June, held 25 July: the local 10 working day clock, breached by about
    seven weeks; as of 24 July it is still running, and already past its deadline."""
    base = f"{live_server.url}/v1/cases/{DEMO_CASE}/clocks"
    answer = http.get(base, params={"as_of": "2007-07-25"}).json()
    assert answer["policy"]["version"] == "2026.5"
    legal = next(c for c in answer["clocks"] if c["clock"] == "legal_planning_meeting")
    assert (legal["status"], legal["deadline"], legal["working_days"]) == (
        "breached",
        "2007-06-20",
        35,
    )
    assert legal["started_at"].startswith("2007-06-06")
    assert legal["stopped_at"].startswith("2007-07-25")
    before = http.get(base, params={"as_of": "2007-07-24"}).json()
    running = next(c for c in before["clocks"] if c["clock"] == "legal_planning_meeting")
    assert (running["status"], running["stop_event"]) == ("breached", None)
    # No core group and no review conference in the demo's record: open, and past due.
    for name in ("first_core_group", "first_review_conference"):
        [run] = [c for c in answer["clocks"] if c["clock"] == name]
        assert (run["status"], run["stop_event"]) == ("breached", None), name


def test_the_alerts_unanswered_as_of_25_july_with_their_age(
    http: httpx.Client, loaded: list[dict[str, Any]], live_server: LiveServer
) -> None:
    """The rules' findings as of 25 July 2007: none answered, each with evidence and its age."""
    answer = http.get(
        f"{live_server.url}/v1/cases/{DEMO_CASE}/alerts", params={"as_of": "2007-07-25"}
    ).json()
    assert answer["policy"]["version"] == "2026.4"
    # One finding a situation: the absent GP and paediatrician, the injuries (one cluster, one
    # run of doubtful explanations, one of suspected NAIs on the plan, one seen apart), the
    # family centre's concern and the slap, and the partner.
    assert answer["unanswered"] == len(answer["alerts"]) == 8
    absent = next(a for a in answer["alerts"] if a["rule"] == "key_agency_absent")
    assert absent["days_unanswered"] > 200 and len(absent["evidence"]) == 1
    ids = {e["event_id"] for e in loaded}
    assert all(set(a["evidence"]) <= ids for a in answer["alerts"])
    # The slap seen outside school, never reported to the police: found once written up.
    slap = next(
        e
        for e in loaded
        if e["type"] == "concern.raised" and e["payload"].get("about_person_id") == SIBLING_1
    )
    [unreported] = [
        a
        for a in answer["alerts"]
        if a["rule"] == "assault_not_reported_to_police" and a["evidence"] == [slap["event_id"]]
    ]
    assert unreported["fired_at"] == slap["recorded_at"] and unreported["days_unanswered"] > 60
    # The partner the police knew, never in social care's record of the household.
    [partner] = [a for a in answer["alerts"] if a["rule"] == "adult_unknown_to_lead_agency"]
    linked = next(e for e in loaded if e["payload"].get("person_id") == PARTNER)
    assert partner["evidence"] == [linked["event_id"]] and PARTNER in partner["summary"]
