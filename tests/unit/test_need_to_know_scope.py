"""The events an agency knew of a case, as of a moment: its own, and what reached it, from when."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ledger.envelope import Event, parse_instant
from sgl.queries.scope import visible
from tests.factories import as_events, make_event, new_case_id

SC, HOSPITAL, POLICE, LEGAL = "csc-test", "hospital-test", "police-test", "legal-test"
CASE = new_case_id()


def at(text: str) -> datetime:
    """An instant of 1 March 2007 (HH:MM)."""
    return parse_instant(f"2007-03-01T{text}:00Z")


def event(event_type: str, agency: str, hhmm: str, **changes: Any) -> dict[str, Any]:
    """An event of the case by the agency, occurred and recorded at HH:MM on 1 March 2007."""
    when = f"2007-03-01T{hhmm}:00Z"
    return make_event(
        event_type, CASE, agency=agency, occurred_at=when, recorded_at=when, **changes
    )


def seen(events: list[Event], agency: str, hhmm: str) -> set[str]:
    """The ids of the events the agency knew by HH:MM."""
    return {e.event_id for e in visible(events, agency, at(hhmm), "recorded")}


def test_a_referral_reaches_its_recipient_from_when_it_was_made() -> None:
    """The referred injury and the referral itself reach social care at the referral; the
    hospital's unreferred contact never does; nothing is visible before."""
    injury = event("injury.observed", HOSPITAL, "09:00")
    contact = event("contact.recorded", HOSPITAL, "09:30")
    referral = event(
        "referral.made",
        HOSPITAL,
        "10:00",
        payload={
            **make_event("referral.made")["payload"],
            "to_agency": SC,
            "from_agency": HOSPITAL,
        },
    )
    referral["payload"]["facts"] = [injury["event_id"]]
    events = as_events([injury, contact, referral])
    assert seen(events, SC, "09:59") == set()
    assert seen(events, SC, "10:00") == {injury["event_id"], referral["event_id"]}
    assert seen(events, HOSPITAL, "10:00") == {e.event_id for e in events}


def share(agency: str, hhmm: str, to: str, facts: list[str]) -> dict[str, Any]:
    """A share the agency recorded of these facts with another agency."""
    shared = event("information.shared", agency, hhmm)
    shared["payload"].update(from_agency=agency, to_agency=to, facts=facts)
    return shared


def test_a_meeting_reaches_those_who_attended_not_those_only_invited() -> None:
    """Facts its recorder knew, tabled at a meeting, reach the other attendees from when it
    was held."""
    injury = event("injury.observed", HOSPITAL, "09:00")
    told = share(HOSPITAL, "10:00", SC, [injury["event_id"]])
    meeting = event("meeting.held", SC, "11:00")
    meeting["payload"].update(
        invited_agencies=[SC, LEGAL, POLICE],
        attending_agencies=[SC, LEGAL],
        facts_tabled=[injury["event_id"]],
    )
    events = as_events([injury, told, meeting])
    assert seen(events, LEGAL, "11:00") == {injury["event_id"], meeting["event_id"]}
    assert seen(events, POLICE, "11:00") == set()


def test_an_agencys_own_account_of_being_told_unlocks_nothing() -> None:
    """Social care's own meeting, share and referral to itself, and acknowledgement naming
    the hospital's injury show it only its own records, never the injury."""
    injury = event("injury.observed", HOSPITAL, "09:00")
    meeting = event("meeting.held", SC, "10:00")
    meeting["payload"].update(
        invited_agencies=[SC, HOSPITAL],
        attending_agencies=[SC, HOSPITAL],
        facts_tabled=[injury["event_id"]],
    )
    to_itself = share(SC, "10:10", SC, [injury["event_id"]])
    referral = event("referral.made", SC, "10:20")
    referral["payload"].update(from_agency=SC, to_agency=SC, facts=[injury["event_id"]])
    ack = event("acknowledged", SC, "10:30")
    ack["payload"].update(acknowledges=injury["event_id"])
    events = as_events([injury, meeting, to_itself, referral, ack])
    own = {e["event_id"] for e in (meeting, to_itself, referral, ack)}
    assert seen(events, SC, "12:00") == own
    # The hospital, listed as attending social care's meeting, learns of the meeting.
    assert seen(events, HOSPITAL, "12:00") == {injury["event_id"], meeting["event_id"]}


def test_an_agency_conveys_only_what_it_knew_by_then() -> None:
    """The police table the hospital's injury at their meeting before the hospital told
    them: the legal team learns of the meeting, not the injury; relayed after the police
    were told, it reaches social care from the relay on."""
    injury = event("injury.observed", HOSPITAL, "09:00")
    meeting = event("meeting.held", POLICE, "09:30")
    meeting["payload"].update(
        invited_agencies=[POLICE, LEGAL],
        attending_agencies=[POLICE, LEGAL],
        facts_tabled=[injury["event_id"]],
    )
    told = share(HOSPITAL, "10:00", POLICE, [injury["event_id"]])
    early = share(POLICE, "09:45", SC, [injury["event_id"]])
    relay = share(POLICE, "11:00", SC, [injury["event_id"]])
    events = as_events([injury, meeting, early, told, relay])
    assert seen(events, LEGAL, "12:00") == {meeting["event_id"]}
    assert seen(events, SC, "10:59") == {early["event_id"]}
    assert seen(events, SC, "11:00") == {
        early["event_id"],
        relay["event_id"],
        injury["event_id"],
    }


def test_an_alert_reaches_the_agencies_it_was_sent_to_with_its_evidence() -> None:
    """An alert sent to the police conveys its evidence to them; not to social care."""
    injury = event("injury.observed", HOSPITAL, "09:00")
    alert = event("alert.raised", "safeguarding-ledger", "12:00")
    alert["payload"].update(evidence=[injury["event_id"]], sent_to=[POLICE])
    events = as_events([injury, alert])
    assert seen(events, POLICE, "11:59") == set()
    assert seen(events, POLICE, "12:00") == {injury["event_id"], alert["event_id"]}
    assert seen(events, SC, "12:00") == set()


def test_a_correction_reaches_only_if_recorded_before_the_fact_did() -> None:
    """Social care, told of the injury at 10:00, sees the 09:30 correction but not the 11:00
    one; the hospital's retraction at 12:00 removes the injury for social care, and social
    care never sees the retraction; the hospital sees all it recorded."""
    injury = event("injury.observed", HOSPITAL, "09:00")
    fixes = [
        event(
            "correction.recorded",
            HOSPITAL,
            hhmm,
            amends=injury["event_id"],
            payload={"corrected_payload": {**injury["payload"], "count": n}, "reason": "Recount."},
        )
        for hhmm, n in (("09:30", 3), ("11:00", 4))
    ]
    share = event("information.shared", HOSPITAL, "10:00")
    share["payload"].update(from_agency=HOSPITAL, to_agency=SC, facts=[injury["event_id"]])
    retraction = event("entry.retracted", HOSPITAL, "12:00", amends=injury["event_id"])
    events = as_events([injury, fixes[0], share, fixes[1], retraction])
    told = {injury["event_id"], fixes[0]["event_id"], share["event_id"]}
    assert seen(events, SC, "11:30") == told
    assert seen(events, SC, "12:00") == {share["event_id"]}
    assert seen(events, HOSPITAL, "12:00") == {e.event_id for e in events}


def test_an_agency_sees_its_own_acknowledgement_not_anothers() -> None:
    """Acknowledgements are the acknowledging agency's records; the police's of a shared fact
    reach nobody else."""
    injury = event("injury.observed", HOSPITAL, "09:00")
    share = event("information.shared", HOSPITAL, "10:00")
    share["payload"].update(from_agency=HOSPITAL, to_agency=POLICE, facts=[injury["event_id"]])
    ack = event("acknowledged", POLICE, "10:30")
    ack["payload"].update(acknowledges=share["event_id"])
    events = as_events([injury, share, ack])
    assert ack["event_id"] in seen(events, POLICE, "10:30")
    assert ack["event_id"] not in seen(events, HOSPITAL, "10:30")


def test_a_decision_not_to_share_reaches_nobody() -> None:
    """The police's decision to withhold their contact from social care conveys neither the
    contact nor the decision to social care."""
    contact = event("contact.recorded", POLICE, "09:00")
    withheld = event("information.withheld", POLICE, "10:00")
    withheld["payload"].update(facts=[contact["event_id"]], withheld_from=[SC])
    events = as_events([contact, withheld])
    assert seen(events, SC, "10:00") == set()
    assert seen(events, POLICE, "10:00") == {contact["event_id"], withheld["event_id"]}
