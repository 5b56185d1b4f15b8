"""Who must stop a clock, and what stops it: the responsible agency resolved as of each run's
start (recipient, lead, police of the area, recorder), stops by the responsible agency,
several stops, events that make a run not due, starts dated by a payload field, and working
days counted as the children in need census counts them."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from projections.agencies import AgencyTable
from projections.as_of import cutoff
from projections.clock_policy import load_clock_policy
from projections.clocks import ClockRun, clock_runs
from projections.policy_file import PolicyError
from projections.working_days import england_and_wales
from tests.agencies import update_event
from tests.factories import as_events, example
from tests.involvement_factory import day, event, involved, opened, registered, seen

POLICY = load_clock_policy()
DAYS = england_and_wales()
CASE = "CASE-TROLES0001"
D = 63  # Monday 5 March 2007, in days after 1 January 2007
CSC, CSC_EAST, SCHOOL, CHARITY = "csc-one", "csc-two", "school-one", "charity-one"
POLICE_NORTH, POLICE_SOUTH, POLICE_AWAY = "police-one", "police-two", "police-three"
TM = {"id": "P-TM-0001", "role": "team_manager"}


def agencies(**areas: str) -> AgencyTable:
    """A registry of the test's agencies; `areas` gives a police agency's area."""
    kinds = {
        CSC: "childrens_social_care",
        CSC_EAST: "childrens_social_care",
        SCHOOL: "education",
        CHARITY: "voluntary",
        POLICE_NORTH: "police",
        POLICE_SOUTH: "police",
        POLICE_AWAY: "police",
    }
    table = AgencyTable()
    for agency, kind in kinds.items():
        record = registered(agency, kind != "voluntary", kind=kind)
        area = {"area": areas[agency]} if agency in areas else {}
        table.apply(record._replace(payload={**record.payload, **area}))
    return table


REGISTRY = agencies()


def referral(sender: str, to: str, at: float) -> dict[str, Any]:
    """A referral from the sender to the agency, recorded by the sender."""
    payload = {**example("referral.made", 2)["payload"], "to_agency": to, "from_agency": sender}
    return event("referral.made", CASE, sender, payload, at, version=2)


def decision(agency: str, at: float, decision_type: str = "referral_outcome", **more: Any) -> Any:
    """A decision recorded by the agency (default: a referral outcome, proceed)."""
    payload = {"decision_type": decision_type, "outcome": "proceed", "decided_by": TM, **more}
    return event("decision.recorded", CASE, agency, payload, at, version=2)


def runs(
    documents: list[dict[str, Any]],
    name: str,
    moment: str = "2008-12-31",
    registry: AgencyTable = REGISTRY,
    policy: Any = POLICY,
) -> list[ClockRun]:
    found = clock_runs(as_events(documents), cutoff(moment), policy, agencies=registry)
    return [r for r in found if r.clock.name == name]


def test_the_referral_decision_is_social_cares_and_only_its_decision_stops_it() -> None:
    """A school refers to social care: the run names social care (not the school) as
    responsible, its kind and the case's area then; the school recording a referral outcome
    the same day does not stop it; social care's decision two working days later does, late.
    `agency` stays the agency that recorded the start."""
    documents = [
        opened(CASE, CSC, D - 10, responsible_area="E08000001"),
        referral(SCHOOL, CSC, D + 0.4),
        decision(SCHOOL, D + 0.6),
        decision(CSC, D + 2.4),
    ]
    [run] = runs(documents, "referral_decision")
    assert (run.responsible, run.responsible_kind, run.area) == (
        CSC,
        "childrens_social_care",
        "E08000001",
    )
    assert run.stop is not None and run.stop.agency == CSC
    assert (run.status, run.working_days) == ("breached", 2)
    shown = run.as_dict()
    assert (shown["agency"], shown["responsible"]) == (SCHOOL, CSC)
    assert run.row().responsible_kind == "childrens_social_care"


def test_a_referral_to_another_council_is_that_councils_to_decide() -> None:
    """Two referrals, to two social care services: each run is stopped only by the decision
    of the one it went to, whichever order they decide in."""
    documents = [
        referral(SCHOOL, CSC, D + 0.4),
        referral(SCHOOL, CSC_EAST, D + 0.5),
        decision(CSC_EAST, D + 1.4),
        decision(CSC, D + 3.4),
    ]
    found = {r.responsible: r for r in runs(documents, "referral_decision")}
    assert found[CSC_EAST].status == "met" and found[CSC].status == "breached"


def test_the_lead_responsible_is_the_lead_when_the_run_starts() -> None:
    """A strategy discussion before a change of lead is the first lead's conference to hold;
    one after it, the new lead's."""
    discussion = example("meeting.held", 2)["payload"] | {"meeting_type": "strategy_discussion"}
    lead_change = {"lead_agency": CSC_EAST, "reason": "case_transferred"}
    documents = [
        opened(CASE, CSC, D - 10),
        event("meeting.held", CASE, SCHOOL, discussion | {"meeting_id": "MTG-T-1"}, D, version=2),
        event("lead.changed", CASE, CSC, lead_change, D + 7),
        event(
            "meeting.held", CASE, SCHOOL, discussion | {"meeting_id": "MTG-T-2"}, D + 8, version=2
        ),
    ]
    found = runs(documents, "initial_cp_conference")
    assert [r.responsible for r in found] == [CSC, CSC_EAST]


def test_police_of_the_area_is_the_registered_force_of_the_cases_area_then(
    tmp_path: Path,
) -> None:
    """A clock the police of the area must stop: the force registered for the case's area at
    the start (and after a move, the new area's); with none registered for the area, a police
    agency involved then; with neither, no one."""
    path = tmp_path / "clocks.toml"
    text = (
        'version = "t"\ntitle = "t"\n[[clock]]\nname = "police_response"\n'
        'responsible = "police_of_area"\nstart = { type = "referral.made" }\n'
        'stop = { type = "decision.recorded", by = "responsible" }\n'
        'limit = { value = 1, unit = "working_days" }\n'
    )
    path.write_text(text)
    policy = load_clock_policy(path)
    registry = agencies(**{POLICE_NORTH: "E08000001", POLICE_SOUTH: "E08000002"})
    move = {"area": "E08000002", "reason": "family_moved"}
    documents = [
        opened(CASE, CSC, D - 10, responsible_area="E08000001"),
        referral(SCHOOL, CSC, D + 0.4),
        decision(POLICE_SOUTH, D + 0.5),  # not the north's force: does not stop its run
        decision(POLICE_NORTH, D + 0.6),
        event("area.changed", CASE, CSC, move, D + 3),
        referral(SCHOOL, CSC, D + 4.4),
        involved(CASE, POLICE_AWAY, D + 5),
        event("area.changed", CASE, CSC, {"area": "E09000030", "reason": "family_moved"}, D + 6),
        referral(SCHOOL, CSC, D + 7.4),
    ]
    found = runs(documents, "police_response", registry=registry, policy=policy)
    assert [(r.responsible, r.responsible_kind, r.area) for r in found] == [
        (POLICE_NORTH, "police", "E08000001"),
        (POLICE_SOUTH, "police", "E08000002"),
        (POLICE_AWAY, "police", "E09000030"),
    ]
    assert found[0].stop is not None and found[0].stop.agency == POLICE_NORTH
    nobody = runs(documents[:2], "police_response", registry=REGISTRY, policy=policy)
    assert [r.responsible for r in nobody] == [None]


def test_a_voluntary_agencys_allocation_stops_at_its_first_involvement_or_contact() -> None:
    """Either stop ends the run, but only the voluntary agency's own: social care seeing the
    child does not allocate the charity's referral."""
    contact_only = [
        referral(CSC, CHARITY, D + 0.4),
        seen(CASE, CSC, D + 1),
        seen(CASE, CHARITY, D + 9),
    ]
    involvement = [
        referral(CSC, CHARITY, D + 0.4),
        involved(CASE, CHARITY, D + 15, "support_service"),
    ]
    [by_contact] = runs(contact_only, "voluntary_allocation")
    [by_involvement] = runs(involvement, "voluntary_allocation")
    assert by_contact.stop is not None and by_contact.stop.agency == CHARITY
    assert (by_contact.status, by_contact.working_days) == ("met", 9 - 2)
    assert by_involvement.stop is not None and by_involvement.stop.type == "involvement.opened"
    assert (by_involvement.status, by_involvement.responsible_kind) == ("breached", "voluntary")


def test_a_referral_decided_no_further_action_needs_no_assessment_or_visit() -> None:
    """Social care declining the referral ends the assessment, first contact and child seen
    runs as not due (no run); the school's view of it does not; before the decision they
    are open."""
    declined = [referral(SCHOOL, CSC, D + 0.4), decision(CSC, D + 0.6, outcome="decline")]
    school = [referral(SCHOOL, CSC, D + 0.4), decision(SCHOOL, D + 0.6, outcome="decline")]
    for name in ("assessment", "referral_first_contact", "referral_child_seen"):
        assert runs(declined, name) == [], name
        assert [r.status for r in runs(declined, name, "2007-03-05T12:00:00Z")] == ["open"]
        assert [r.status for r in runs(school, name)] == ["breached"], name
    [decided] = runs(declined, "referral_decision")
    assert decided.status == "met"


def test_the_child_seen_clock_stops_only_when_social_care_sees_the_child() -> None:
    """A phone call is first contact, not the child seen; a visit seeing the child is both."""
    documents = [
        referral(SCHOOL, CSC, D + 0.4),
        seen(CASE, CSC, D + 1, child_seen="no"),
        seen(CASE, SCHOOL, D + 2),
        seen(CASE, CSC, D + 8),
    ]
    [contact] = runs(documents, "referral_first_contact")
    [child] = runs(documents, "referral_child_seen")
    assert (contact.status, contact.working_days) == ("met", 1)
    assert (child.status, child.working_days) == ("breached", 6)


def test_the_assessment_clock_stops_at_social_cares_completed_assessment() -> None:
    """45 working days from the referral to the assessment completed by social care."""
    completed = {"assessment_id": "ASM-T-1", "outcome": "child_in_need_plan"}
    documents = [
        referral(SCHOOL, CSC, D + 0.4),
        event("assessment.completed", CASE, SCHOOL, completed, D + 30),
        event("assessment.completed", CASE, CSC, completed, D + 40),
    ]
    [run] = runs(documents, "assessment")
    assert run.stop is not None and run.stop.agency == CSC
    assert (run.status, run.deadline, run.working_days) == ("met", "2007-05-10", 27)


def test_the_serious_incident_clock_counts_from_the_incidents_date() -> None:
    """From the day of the incident (day 0) to its notification to the Panel; a notification
    to Ofsted is not this clock's, and one whose incident date is not known starts no run."""

    def notified(at: float, incident_date: str, to: str = "national_review_panel") -> Any:
        payload = {"incident_type": "serious_harm", "incident_date": incident_date}
        return event("incident.notified", CASE, CSC, payload | {"notified_to": to}, at)

    documents = [
        notified(D + 4.4, "2007-03-02"),  # Friday; notified Friday 9 March: 5 working days
        notified(D + 11.4, "2007-03-09"),  # notified Friday 16 March: 5, met
        notified(D + 14.4, "2007-03-09"),  # Monday 19 March: 6, breached
        notified(D + 4.4, "2007-03-02", to="ofsted"),
        notified(D + 4.4, "not_known"),
    ]
    found = runs(documents, "serious_incident_notification")
    assert [(r.started_at, r.status, r.working_days, r.responsible) for r in found] == [
        ("2007-03-02T00:00:00Z", "met", 5, CSC),
        ("2007-03-09T00:00:00Z", "met", 5, CSC),
        ("2007-03-09T00:00:00Z", "breached", 6, CSC),
    ]
    assert all(r.stop is r.start for r in found)


def test_police_protection_ends_within_72_hours_of_the_same_protection() -> None:
    """Paired on the protection id; the force that took the child is responsible."""
    taken = {"protection_id": "PP-T-1"}
    ended = {"protection_id": "PP-T-1", "outcome": "returned_home"}
    documents = [
        event("police_protection.taken", CASE, POLICE_NORTH, taken, D + 0.5),
        event("police_protection.taken", CASE, POLICE_NORTH, {"protection_id": "PP-T-2"}, D + 0.5),
        event("police_protection.ended", CASE, POLICE_NORTH, ended, D + 3.5),
    ]
    found = {r.start.payload["protection_id"]: r for r in runs(documents, "police_protection")}
    assert (found["PP-T-1"].status, found["PP-T-1"].responsible) == ("met", POLICE_NORTH)
    assert found["PP-T-2"].status == "breached" and found["PP-T-2"].stop is None


def test_an_undated_event_neither_starts_nor_stops_a_clock() -> None:
    """Undated: the ledger does not know when it happened, so it is no evidence of timing."""
    undated = _undated(referral(SCHOOL, CSC, D + 0.4))
    assert runs([undated], "referral_decision") == []
    late = _undated(decision(CSC, D + 0.6))
    [run] = runs([referral(SCHOOL, CSC, D + 0.4), late], "referral_decision")
    assert run.stop is None


def _undated(document: dict[str, Any]) -> dict[str, Any]:
    undated = {k: v for k, v in document.items() if k != "occurred_at"}
    return undated | {"occurred_precision": "undated"}


@pytest.mark.parametrize(
    ("start", "end", "count"),
    [
        (date(2007, 3, 5), date(2007, 3, 5), 0),  # Monday: the start day is day 0
        (date(2007, 3, 5), date(2007, 3, 6), 1),
        (date(2007, 3, 9), date(2007, 3, 12), 1),  # Friday to Monday
        (date(2007, 3, 10), date(2007, 3, 12), 0),  # Saturday: Monday is day 0
        (date(2007, 3, 10), date(2007, 3, 13), 1),
        (date(2007, 3, 11), date(2007, 3, 11), 0),
        (date(2007, 4, 6), date(2007, 4, 10), 0),  # Good Friday: Tuesday after Easter is day 0
        (date(2007, 4, 6), date(2007, 4, 11), 1),
        (date(2006, 12, 23), date(2006, 12, 28), 1),  # Saturday before Christmas
    ],
)
def test_working_days_are_counted_as_the_census_counts_them(
    start: date, end: date, count: int
) -> None:
    """Day 0 is the start, or the first working day after a start on a non-working day."""
    assert DAYS.between(start, end) == count
    if count:
        assert DAYS.add(start, count) == end


def test_a_referral_on_a_saturday_is_decided_in_time_on_the_tuesday() -> None:
    """The 1 working day clock from a Saturday: Monday is day 0, Tuesday the last day."""
    saturday = D + 5
    for decided, status in ((saturday + 3.4, "met"), (saturday + 4.4, "breached")):
        [run] = runs(
            [referral(SCHOOL, CSC, saturday + 0.4), decision(CSC, decided)], "referral_decision"
        )
        assert (run.deadline, run.status) == ("2007-03-13", status)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            'responsible = { field = "reason" }\n',
            "clock[0] (c).responsible.field: referral.made.reason is not an agency field",
        ),
        (
            'responsible = { field = "to_agenda" }\n',
            "clock[0] (c).responsible.field: referral.made has no payload field 'to_agenda'",
        ),
        (
            'responsible = "social_worker"\n',
            "clock[0].responsible (clock 'c'): 'social_worker' is not one of lead, "
            "police_of_area, recorder [enum]",
        ),
        ("", 'clock[0] (c): a stop or unless `by = "responsible"` needs the clock\'s'),
    ],
)
def test_a_clock_whose_responsible_cannot_be_resolved_is_refused(
    tmp_path: Path, extra: str, message: str
) -> None:
    """A responsible role or field that is not one, or a stop by a responsible never named."""
    path = tmp_path / "clocks.toml"
    path.write_text(
        f'version = "1"\ntitle = "t"\n[[clock]]\nname = "c"\n{extra}'
        'start = { type = "referral.made" }\n'
        'stop = { type = "decision.recorded", by = "responsible" }\n'
        'limit = { value = 1, unit = "working_days" }\n'
    )
    with pytest.raises(PolicyError) as raised:
        load_clock_policy(path)
    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("start", "stop", "message"),
    [
        (
            '{ type = "incident.notified", at = "incident_type" }',
            '{ type = "incident.notified" }',
            "clock[0] (c).start.at: incident.notified.incident_type is not a date field",
        ),
        (
            '{ type = "incident.notified", at = "when" }',
            '{ type = "incident.notified" }',
            "clock[0] (c).start.at: incident.notified has no payload field 'when'",
        ),
        (
            '{ type = "incident.notified" }',
            '{ type = "incident.notified", at = "incident_date" }',
            "clock[0].stop (clock 'c'): 'at' not allowed here",
        ),
        (
            '{ type = "incident.notified" }',
            '[{ type = "incident.notified", by = "someone" }]',
            "clock[0].stop[0].by (clock 'c'): 'someone' is not one of responsible [enum]",
        ),
    ],
)
def test_a_start_date_field_must_be_a_date_of_the_start(
    tmp_path: Path, start: str, stop: str, message: str
) -> None:
    """`at` names a date field of the start's payload; a stop takes no `at`, and `by` only
    `responsible`."""
    path = tmp_path / "clocks.toml"
    path.write_text(
        f'version = "1"\ntitle = "t"\n[[clock]]\nname = "c"\nstart = {start}\nstop = {stop}\n'
        'limit = { value = 1, unit = "working_days" }\n'
    )
    with pytest.raises(PolicyError) as raised:
        load_clock_policy(path)
    assert message in str(raised.value)


def test_every_bundled_clock_cites_its_source_and_names_who_must_stop_it() -> None:
    """Each clock of policies/clocks.toml says where its limit comes from and what it is."""
    for clock in POLICY.clocks:
        assert clock.source.startswith(("WT 2023, chapter", "Children Act 1989", "practice: "))
        assert clock.description and clock.responsible is not None, clock.name


def test_one_decision_answers_every_open_referral_to_the_service() -> None:
    """Two referrals, then one decision by social care: both are decided, the first late."""
    documents = [
        referral(SCHOOL, CSC, D + 0.4),
        referral(POLICE_NORTH, CSC, D + 2.4),
        decision(CSC, D + 3.4),
    ]
    found = runs(documents, "referral_decision")
    assert [(r.status, r.working_days) for r in found] == [("breached", 3), ("met", 1)]
    assert {r.stop.event_id for r in found if r.stop is not None} == {
        as_events(documents)[2].event_id
    }


@pytest.mark.parametrize(
    "response",
    [
        lambda: decision(CSC, D + 1.4, "s47_enquiry"),
        lambda: decision(CSC, D + 1.4, "strategy_discussion_outcome"),
        lambda: decision(CSC, D + 1.4, "no_further_action"),
        lambda: event(
            "lead.changed", CASE, CSC, {"lead_agency": CSC, "reason": "accepted"}, D + 1.4
        ),
        lambda: event(
            "meeting.held",
            CASE,
            CSC,
            example("meeting.held", 2)["payload"] | {"meeting_type": "strategy_discussion"},
            D + 1.4,
            version=2,
        ),
    ],
    ids=["s47", "strategy_outcome", "nfa", "lead", "strategy_discussion"],
)
def test_a_referral_is_decided_by_any_response_social_care_records(response: Any) -> None:
    """Each stop of the referral clock as loaded: a decision on the response, a strategy
    discussion or taking the lead, the next working day; the same by the school does not."""
    answered = response()
    [run] = runs([referral(SCHOOL, CSC, D + 0.4), answered], "referral_decision")
    assert (run.status, run.stop is not None) == ("met", True)
    [unanswered] = runs(
        [referral(SCHOOL, CSC, D + 0.4), answered | {"agency": SCHOOL}], "referral_decision"
    )
    assert unanswered.stop is None


def test_a_run_before_the_case_records_its_area_names_the_first_area() -> None:
    """The referral that opens a case comes before the case records the child's area."""
    documents = [
        referral(SCHOOL, CSC, D + 0.4),
        opened(CASE, CSC, D + 0.5, responsible_area="E08000001"),
    ]
    [run] = runs(documents, "referral_decision")
    assert run.area == "E08000001"


def test_a_case_that_never_records_its_area_is_in_the_responsible_agencys() -> None:
    """No area recorded at all: the run is in the area the responsible agency is registered
    for; one with no area registered leaves it unknown."""
    documents = [referral(SCHOOL, CSC, D + 0.4)]
    [run] = runs(documents, "referral_decision", registry=agencies(**{CSC: "E06000099"}))
    assert (run.responsible, run.area) == (CSC, "E06000099")
    [unknown] = runs(documents, "referral_decision")
    assert unknown.area is None


def test_an_initial_conference_concludes_the_assessment_of_a_section_47_enquiry() -> None:
    """Social care's initial conference stops the assessment clock: the enquiry's outcome."""
    conference = {
        **example("meeting.held", 2)["payload"],
        "meeting_type": "initial_cp_conference",
    }
    documents = [
        referral(SCHOOL, CSC, D + 0.4),
        event("meeting.held", CASE, SCHOOL, conference, D + 9),
        event("meeting.held", CASE, CSC, conference, D + 11),
    ]
    [run] = runs(documents, "assessment")
    assert run.stop is not None and run.stop.agency == CSC and run.status == "met"


def test_the_conference_is_the_leads_to_hold_unless_no_enquiry_follows() -> None:
    """After a transfer, the new lead's conference answers its own strategy discussion, not
    the old lead's; a strategy discussion decided `decline` needs no conference."""
    discussion = example("meeting.held", 2)["payload"] | {"meeting_type": "strategy_discussion"}
    conference = discussion | {"meeting_type": "initial_cp_conference"}
    transfer = {"lead_agency": CSC_EAST, "reason": "case_transferred"}
    documents = [
        opened(CASE, CSC, D - 10),
        event("meeting.held", CASE, CSC, discussion, D, version=2),
        event("lead.changed", CASE, CSC_EAST, transfer, D + 30),
        event("meeting.held", CASE, CSC_EAST, discussion, D + 31, version=2),
        event("meeting.held", CASE, CSC_EAST, conference, D + 38, version=2),
    ]
    found = {r.responsible: r for r in runs(documents, "initial_cp_conference")}
    assert found[CSC_EAST].status == "met" and found[CSC].stop is None
    declined = decision(CSC, D + 0.2, "strategy_discussion_outcome", outcome="decline")
    assert runs([*documents[:2], declined], "initial_cp_conference") == []


def test_a_where_value_the_catalogue_never_holds_is_refused(tmp_path: Path) -> None:
    """A misspelt coded value would never match: refused, naming the values allowed."""
    path = tmp_path / "clocks.toml"
    path.write_text(
        'version = "1"\ntitle = "t"\n[[clock]]\nname = "c"\nstart = { type = "referral.made" }\n'
        'unless = { type = "decision.recorded", where = { outcome = "declined" } }\n'
        'stop = { type = "decision.recorded" }\nlimit = { value = 1, unit = "working_days" }\n'
    )
    with pytest.raises(PolicyError) as raised:
        load_clock_policy(path)
    assert "clock[0] (c).unless.where.outcome: 'declined' is not one of " in str(raised.value)
    assert "decision.recorded.outcome's values (met, not_met, " in str(raised.value)


def test_an_undated_change_of_lead_still_names_the_lead_as_the_case_state_has_it() -> None:
    """An undated event is no evidence of timing for a clock, but the case state still takes
    its lead from it (from when it was recorded): a later run is the new lead's."""
    discussion = example("meeting.held", 2)["payload"] | {"meeting_type": "strategy_discussion"}
    change = event("lead.changed", CASE, CSC_EAST, {"lead_agency": CSC_EAST, "reason": "r"}, D)
    documents = [
        opened(CASE, CSC, D - 10),
        _undated(change),
        event("meeting.held", CASE, CSC_EAST, discussion, D + 1, version=2),
    ]
    [run] = runs(documents, "initial_cp_conference")
    assert run.responsible == CSC_EAST


@pytest.mark.parametrize("decision_first", [False, True])
def test_a_decision_at_the_instant_of_its_referral_decides_it_in_either_log_order(
    decision_first: bool,
) -> None:
    """A referral and social care's decision on it, both dated to the same day (00:00Z): the
    decision stops the referral's run whichever the log holds first; met, day 0."""
    made = referral(SCHOOL, CSC, D) | {"occurred_precision": "day"}
    decided = decision(CSC, D) | {"occurred_precision": "day"}
    documents = [decided, made] if decision_first else [made, decided]
    [run] = runs(documents, "referral_decision")
    assert (run.status, run.working_days) == ("met", 0)
    assert run.stop is not None and run.stop.event_id == decided["event_id"]


def test_only_the_lead_declining_the_enquiry_or_plan_makes_a_conference_not_due() -> None:
    """A school recording `decline` on the strategy discussion or the plan leaves the lead's
    conference and core group runs due (and breached without them); the lead's own decline
    makes them not due."""
    discussion = example("meeting.held", 2)["payload"] | {"meeting_type": "strategy_discussion"}
    conference = discussion | {"meeting_type": "initial_cp_conference"}
    for name, start, decision_type in (
        ("initial_cp_conference", discussion, "strategy_discussion_outcome"),
        ("first_core_group", conference, "cp_plan"),
    ):
        held = [opened(CASE, CSC, D - 10), event("meeting.held", CASE, CSC, start, D, version=2)]
        by_school = [*held, decision(SCHOOL, D + 0.5, decision_type, outcome="decline")]
        by_lead = [*held, decision(CSC, D + 0.5, decision_type, outcome="decline")]
        [run] = runs(by_school, name)
        assert (run.status, run.stop, run.responsible) == ("breached", None, CSC), name
        assert runs(by_lead, name) == [], name


def test_a_run_past_its_deadline_stays_breached_when_later_found_not_due() -> None:
    """No contact after a referral, then no further action on day 20: the first contact run
    (due in 3 working days) ends there, breached; decided on day 2 it would not be due."""
    made = referral(SCHOOL, CSC, D + 0.4)
    late = decision(CSC, D + 28.4, outcome="decline")
    [run] = runs([made, late], "referral_first_contact")
    assert (run.status, run.working_days, run.deadline) == ("breached", 20, "2007-03-08")
    assert run.stop is not None and run.stop.event_id == late["event_id"]
    assert runs([made, decision(CSC, D + 2.4, outcome="decline")], "referral_first_contact") == []
    # On the deadline itself the run is still in time, so not due.
    on_time = decision(CSC, D + 3.4, outcome="decline")
    assert runs([made, on_time], "referral_first_contact") == []


def test_the_responsible_kind_is_the_registrys_when_the_start_was_recorded() -> None:
    """A force registered as `other` and updated to `police` two days after it took a child
    into protection, which it recorded on the third day: the run's responsible kind is the
    registry's when the ledger learnt of the start (`police`), as `where_kind` reads it, not
    the registry's at the instant the protection began."""
    table = AgencyTable()
    table.apply(registered(POLICE_NORTH, True, kind="other"))
    table.apply(update_event(POLICE_NORTH, day(D + 2), kind="police"))
    taken = event(
        "police_protection.taken", CASE, POLICE_NORTH, {"protection_id": "PP-T-1"}, D, D + 3
    )
    [run] = runs([taken], "police_protection", registry=table)
    assert (run.responsible, run.responsible_kind) == (POLICE_NORTH, "police")


def test_an_enquiry_concluding_no_conference_late_leaves_no_conference_due() -> None:
    """The conference is due only if the enquiry finds it is (`unless_when_late = not_due`):
    the lead concluding the section 47 enquiry with no conference 22 working days after the
    strategy discussion leaves no run, as one concluding on day 5 does."""
    discussion = example("meeting.held", 2)["payload"] | {"meeting_type": "strategy_discussion"}
    held = [opened(CASE, CSC, D - 10), event("meeting.held", CASE, CSC, discussion, D, version=2)]
    for days in (5, 30):
        concluded = decision(CSC, D + days, "s47_enquiry", outcome="not_met")
        assert runs([*held, concluded], "initial_cp_conference") == [], days
    [still] = runs(held, "initial_cp_conference")
    assert still.status == "breached"


def test_the_documented_local_strategy_meeting_clock_loads_and_runs(tmp_path: Path) -> None:
    """docs/operations.md's example local clock, added to a copy of the bundled policy: a
    strategy meeting 5 working days after the discussion is met; a discussion the lead
    decides needs no enquiry leaves no run; none is bundled."""
    root = Path(__file__).parents[2]
    docs = (root / "docs" / "operations.md").read_text()
    [example_clock] = [
        block.split("```")[0]
        for block in docs.split("```toml\n")[1:]
        if 'name = "strategy_meeting"' in block
    ]
    path = tmp_path / "clocks.toml"
    path.write_text((root / "policies" / "clocks.toml").read_text() + "\n" + example_clock)
    local = load_clock_policy(path)
    assert "strategy_meeting" not in {c.name for c in POLICY.clocks}
    discussion = example("meeting.held", 2)["payload"] | {"meeting_type": "strategy_discussion"}
    meeting = discussion | {"meeting_type": "strategy_meeting"}
    held = [opened(CASE, CSC, D - 10), event("meeting.held", CASE, CSC, discussion, D, version=2)]
    followed = [*held, event("meeting.held", CASE, CSC, meeting, D + 7, version=2)]
    [run] = runs(followed, "strategy_meeting", policy=local)
    assert (run.status, run.working_days, run.responsible) == ("met", 5, CSC)
    declined = decision(CSC, D + 1, "strategy_discussion_outcome", outcome="decline")
    assert runs([*held, declined], "strategy_meeting", policy=local) == []
