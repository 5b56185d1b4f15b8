"""Rules on steps taken or missing, each as its policy entry in policies/rules.toml has it: a
suspected non-accidental injury passed over, two outcomes for one referral, a protective step
ended without contact, an allegation withdrawn uninvestigated, a referrer not told. Each fires
on what it names, at its threshold and not before; once per situation; the same whatever the
agencies are called; and on the demo cases where a reviewer would say so."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest

from ledger.input_rules import values_at
from ledger.schemas import SchemaRegistry
from projections.agencies import AgencyLookup, AgencyTable
from projections.as_of import cutoff
from projections.rules import Firing, RulePolicy, evaluate, load_rule_policy
from tests.agencies import AGENCIES, CHILD_A_KINDS, EXAMPLE_KINDS, registrations
from tests.factories import as_events, new_case_id
from tests.involvement_factory import day

POLICY = load_rule_policy()
SCHEMAS = SchemaRegistry()
CSC, CSC_2 = "example-childrens-social-care", "example-social-care-east"
POLICE, HOSPITAL, SCHOOL = "example-police", "example-hospital", "example-school"
CHARITY = "example-voluntary"
MANAGER = {"id": "P-TM-0001", "role": "team_manager"}
STEPS = (
    "suspicion_downgraded",
    "conflicting_outcomes",
    "step_ended_without_contact",
    "allegation_closed_uninvestigated",
    "referrer_not_told",
)


class Case:
    """One test case's events, each valid against the newest schema of its type; times are
    days after 1 January 2007 (a Monday, and a bank holiday)."""

    def __init__(self) -> None:
        self.case_id = new_case_id()
        self.documents: list[dict[str, Any]] = []

    def add(
        self,
        event_type: str,
        agency: str,
        payload: dict[str, Any],
        at: float,
        recorded: float | None = None,
        **envelope: Any,
    ) -> dict[str, Any]:
        """Appends an event of the type that happened `at` days after the start."""
        document = {
            "event_id": str(uuid.uuid4()),
            "type": event_type,
            "schema_version": SCHEMAS.latest(event_type),
            "case_id": self.case_id,
            "agency": agency,
            "recorded_by": {"id": "P-SW-0001", "role": "social_worker"},
            "occurred_at": day(at),
            "recorded_at": day(at if recorded is None else recorded),
            "payload": payload,
            **envelope,
        }
        if envelope.get("occurred_precision") == "undated":
            del document["occurred_at"]
        assert not SCHEMAS.problems(document), SCHEMAS.problems(document)
        self.documents.append(document)
        return document

    def injury(self, agency: str, at: float, suspected: bool | str = True) -> str:
        """A bruise to the face, suspected non-accidental (or not)."""
        payload = {
            "body_region": "face",
            "injury_type": "bruise",
            "count": 1,
            "suspected_non_accidental": suspected,
        }
        return str(self.add("injury.observed", agency, payload, at)["event_id"])

    def referral(
        self, frm: str, to: str, at: float, facts: list[str] | None = None, concern: str = "stated"
    ) -> str:
        """A referral from one agency to another, passing these facts on."""
        payload: dict[str, Any] = {
            "from_agency": frm,
            "to_agency": to,
            "reason": "Concern.",
            "conveyed": {"concern": concern},
        }
        if facts:
            payload["facts"] = facts
        return str(self.add("referral.made", frm, payload, at)["event_id"])

    def share(self, frm: str, to: str, at: float, facts: list[str], concern: str = "stated") -> str:
        """Information shared from one agency to another."""
        payload = {
            "from_agency": frm,
            "to_agency": to,
            "facts": facts,
            "channel": "phone",
            "conveyed": {"concern": concern},
        }
        return str(self.add("information.shared", frm, payload, at)["event_id"])

    def decision(
        self,
        agency: str,
        at: float,
        decision_type: str,
        outcome: str,
        rests_on: list[str] | None = None,
        rationale: str | None = None,
    ) -> str:
        """A decision by the agency, resting on these events, with or without its reasons."""
        payload: dict[str, Any] = {
            "decision_type": decision_type,
            "outcome": outcome,
            "decided_by": MANAGER,
        }
        if rests_on:
            payload["rests_on"] = rests_on
        if rationale is not None:
            payload["rationale"] = rationale
        return str(self.add("decision.recorded", agency, payload, at)["event_id"])

    def meeting(self, meeting_type: str, at: float, attending: list[str]) -> str:
        """A meeting of the type that these agencies attended."""
        payload = {
            "meeting_id": f"MTG-T-{len(self.documents)}",
            "meeting_type": meeting_type,
            "invited_agencies": attending,
            "attending_agencies": attending,
        }
        return str(self.add("meeting.held", attending[0], payload, at)["event_id"])

    def contact(self, agency: str, at: float, seen: str = "yes", **more: Any) -> str:
        """A home visit by the agency."""
        payload = {"contact_type": "home_visit", "child_seen": seen, **more}
        return str(self.add("contact.recorded", agency, payload, at)["event_id"])

    def found(
        self, name: str, as_of: str = "2008-12-31", agencies: AgencyLookup = AGENCIES
    ) -> list[Firing]:
        """The rule's findings as of the date, the rule as the bundled policy has it."""
        return findings(self.documents, name, as_of, agencies)


def rule_policy(*names: str) -> RulePolicy:
    """The bundled policy with only these rules, as loaded from policies/rules.toml."""
    rules = tuple(r for r in POLICY.rules if r.name in names)
    assert [r.name for r in rules] == list(names)
    return RulePolicy(POLICY.version, POLICY.title, rules)


def findings(
    documents: list[dict[str, Any]],
    name: str,
    as_of: str = "2008-12-31",
    agencies: AgencyLookup = AGENCIES,
) -> list[Firing]:
    """What the rule finds in these events as of the date."""
    return evaluate(as_events(documents), cutoff(as_of), rule_policy(name), agencies=agencies)


def at(days: float) -> datetime:
    """The instant `days` after the start."""
    return datetime.fromisoformat(day(days).replace("Z", "+00:00")).astimezone(UTC)


# The policy entries -------------------------------------------------------------------------


def test_each_steps_rule_is_in_the_policy_with_its_description_and_source() -> None:
    """Every rule of this part is in the bundled policy, of its kind, saying what it finds and
    where its threshold comes from (statute, statutory guidance or a review theme)."""
    rules = {r.name: r for r in POLICY.rules}
    for name in STEPS:
        rule = rules[name]
        assert rule.kind == name
        assert rule.description and rule.source
        assert rule.source.startswith(
            ("Working Together to Safeguard Children 2023", "Children Act 1989", "practice: ")
        )
    assert rules["step_ended_without_contact"].params["agency_kinds"] == [
        "childrens_social_care",
        "police",
    ]
    told = rules["referrer_not_told"].params
    assert told["working_days"] == 3 and told["recipient_kinds"] == ["childrens_social_care"]
    assert "childrens_social_care" not in told["referrer_kinds"]


# suspicion_downgraded ------------------------------------------------------------------------


def transfer_case(passed_on: bool = False, concern: str = "denied") -> tuple[Case, str, str]:
    """A hospital's suspected non-accidental injury referred to social care, which then refers
    the child on to another area's social care conveying `concern`, passing the injury on or
    not: the case, the injury and the transfer."""
    case = Case()
    injury = case.injury(HOSPITAL, 0)
    case.referral(HOSPITAL, CSC, 1, [injury])
    case.decision(CSC, 2, "cp_plan", "decline", [injury], "Explanation accepted.")
    done = case.decision(CSC, 3, "s47_enquiry", "proceed", [injury])
    facts = [done, injury] if passed_on else [done]
    transfer = case.referral(CSC, CSC_2, 30, facts, concern)
    return case, injury, transfer


def test_a_suspicion_denied_at_transfer_without_the_injury_fires_once() -> None:
    """Social care, having had the hospital's suspected NAI referred to it, tells the next
    area there is no child protection concern and does not pass the injury on: one finding,
    dated when the transfer was recorded, naming the injury, how social care knew and the
    transfer; a reasoned decision against a plan is no downgrade."""
    case, injury, transfer = transfer_case()
    [found] = case.found("suspicion_downgraded")
    assert found.evidence == (injury, case.documents[1]["event_id"], transfer)
    assert found.fired_at == at(30)
    assert found.summary == (
        f"suspected non-accidental bruise (face) passed over on {day(30)[:10]}: referral.made "
        f"from {CSC} to {CSC_2} denying a child protection concern without passing it on"
    )


@pytest.mark.parametrize(
    ("passed_on", "concern"), [(True, "denied"), (False, "stated"), (False, "not_stated")]
)
def test_a_transfer_that_passes_the_injury_on_or_does_not_deny_a_concern_is_no_downgrade(
    passed_on: bool, concern: str
) -> None:
    """The injury among the facts passed on, or a concern stated or not spoken of: nothing."""
    case, _, _ = transfer_case(passed_on, concern)
    assert case.found("suspicion_downgraded") == []


def test_a_denial_by_an_agency_that_did_not_know_of_the_suspicion_is_no_downgrade() -> None:
    """The police deny a concern the day before the injury is shared with them (not yet
    known to them: nothing); a denial the day after it was shared fires."""
    case = Case()
    injury = case.injury(HOSPITAL, 0)
    case.share(POLICE, CSC, 2, [case.contact(POLICE, 1)], "denied")
    assert case.found("suspicion_downgraded") == []
    told = case.share(HOSPITAL, POLICE, 3, [injury])
    denial = case.share(POLICE, CSC, 4, [case.contact(POLICE, 3.5)], "denied")
    [found] = case.found("suspicion_downgraded")
    assert found.evidence == (injury, told, denial)


def test_a_denial_to_an_agency_that_knew_of_the_suspicion_already_is_no_downgrade() -> None:
    """Social care tells the hospital that observed the injury there is no concern: the
    hospital has the injury already, so nothing is lost; told to the police, it fires."""
    case = Case()
    injury = case.injury(HOSPITAL, 0)
    case.referral(HOSPITAL, CSC, 1, [injury])
    case.share(CSC, HOSPITAL, 5, [case.contact(CSC, 4)], "denied")
    assert case.found("suspicion_downgraded") == []
    case.share(CSC, POLICE, 6, [case.contact(CSC, 4)], "denied")
    assert len(case.found("suspicion_downgraded")) == 1


def test_an_injury_not_suspected_non_accidental_is_never_downgraded() -> None:
    """Suspicion `not_known` or false: a denial and an unreasoned decline pass it by."""
    case = Case()
    for suspected in (False, "not_known"):
        injury = case.injury(CSC, 0, suspected)
        case.referral(CSC, CSC_2, 1, [case.contact(CSC, 0.5)], "denied")
        case.decision(CSC, 2, "s47_enquiry", "decline", [injury])
    assert case.found("suspicion_downgraded") == []


@pytest.mark.parametrize(
    ("decision_type", "outcome", "rationale", "fires"),
    [
        ("s47_enquiry", "decline", None, True),
        ("s47_enquiry", "decline", "   ", True),
        ("threshold_care_proceedings", "not_at_present", None, True),
        ("no_further_action", "other", None, True),
        ("s47_enquiry", "decline", "Medical opinion: accidental.", False),
        ("s47_enquiry", "proceed", None, False),
        ("s47_enquiry", "defer", None, False),
    ],
)
def test_a_decision_not_to_act_on_a_suspicion_with_no_reason_recorded(
    decision_type: str, outcome: str, rationale: str | None, fires: bool
) -> None:
    """A decision resting on the suspected injury, against acting, with no (or a blank)
    rationale fires; one with its reasons, or to act, or deferred, does not."""
    case = Case()
    injury = case.injury(HOSPITAL, 0)
    decision = case.decision(CSC, 1, decision_type, outcome, [injury], rationale)
    found = case.found("suspicion_downgraded")
    assert [f.evidence for f in found] == ([(injury, decision)] if fires else [])


def test_later_downgrades_of_the_same_suspicion_join_one_finding_with_the_same_id() -> None:
    """A second transfer, a month later, denying a concern again: the same finding (same
    alert id, same date), its evidence grown; as of before it, the first evidence only."""
    case, _, _ = transfer_case()
    again = case.referral(CSC, POLICE, 60, [case.contact(CSC, 59)], "denied")
    [before] = case.found("suspicion_downgraded", as_of=day(45)[:10])
    [after] = case.found("suspicion_downgraded")
    assert before.alert_id == after.alert_id and before.fired_at == after.fired_at
    assert after.evidence == (*before.evidence, again)
    assert after.summary.endswith("; 1 later downgrade(s)")


# conflicting_outcomes ------------------------------------------------------------------------


def referred() -> tuple[Case, str]:
    """A school's referral to social care on day 8."""
    case = Case()
    return case, case.referral(SCHOOL, CSC, 8)


def test_two_outcomes_of_one_type_by_one_agency_on_one_referral_conflict() -> None:
    """Social care decides to proceed on the referral and, a day later, on the same basis, to
    decline: one finding, dated when the second was recorded."""
    case, referral = referred()
    first = case.decision(CSC, 9, "referral_outcome", "proceed", [referral])
    second = case.decision(CSC, 10, "referral_outcome", "decline", [referral])
    [found] = case.found("conflicting_outcomes")
    assert found.evidence == (referral, first, second)
    assert found.fired_at == at(10)
    assert found.summary == (
        f"{CSC} recorded 2 referral_outcome decisions (proceed/decline) on the referral of "
        f"{day(8)[:10]}"
    )


def test_a_decision_naming_the_referral_as_its_cause_counts_too() -> None:
    """`causation_id` names the referral as well as `rests_on` does."""
    case, referral = referred()
    case.decision(CSC, 9, "s47_enquiry", "proceed", [referral])
    second = case.add(
        "decision.recorded",
        CSC,
        {"decision_type": "s47_enquiry", "outcome": "decline", "decided_by": MANAGER},
        10,
        causation_id=referral,
    )
    [found] = case.found("conflicting_outcomes")
    assert found.evidence[-1] == second["event_id"]


@pytest.mark.parametrize(
    "second",
    [
        "another agency",
        "another decision type",
        "deferred",
        "the same outcome",
        "another referral",
        "revising the first",
        "on new information",
    ],
)
def test_what_is_no_conflict(second: str) -> None:
    """Only the same agency, type and referral, one outcome for acting and one against, the
    later neither naming the earlier nor resting on anything that happened after it."""
    case, referral = referred()
    first = case.decision(CSC, 9, "referral_outcome", "proceed", [referral])
    agency, decision_type, outcome, basis = CSC, "referral_outcome", "decline", [referral]
    if second == "another agency":
        agency = CSC_2
    elif second == "another decision type":
        decision_type = "s47_enquiry"
    elif second == "deferred":
        outcome = "defer"
    elif second == "the same outcome":
        outcome = "proceed"
    elif second == "another referral":
        basis = [case.referral(HOSPITAL, CSC, 9.5)]
    elif second == "revising the first":
        basis = [referral, first]
    else:
        basis = [referral, case.contact(CSC, 9.5)]
    case.decision(agency, 10, decision_type, outcome, basis)
    assert case.found("conflicting_outcomes") == []


def test_a_third_conflicting_decision_joins_the_finding() -> None:
    """Proceed, decline, proceed again: one finding, the same id, three decisions."""
    case, referral = referred()
    decisions = [
        case.decision(CSC, 9 + n, "referral_outcome", outcome, [referral])
        for n, outcome in enumerate(("proceed", "decline"))
    ]
    [two] = case.found("conflicting_outcomes")
    decisions.append(case.decision(CSC, 12, "referral_outcome", "proceed", [referral]))
    [three] = case.found("conflicting_outcomes")
    assert three.alert_id == two.alert_id and three.fired_at == two.fired_at
    assert three.evidence == (referral, *decisions)


# step_ended_without_contact ------------------------------------------------------------------


def protection(contact_at: float | None, by: str = POLICE) -> tuple[Case, str, str]:
    """Police protection taken on day 10 and ended on day 12, with a contact by `by` at
    `contact_at` (or none): the case, the taking and the end."""
    case = Case()
    if contact_at is not None:
        case.contact(by, contact_at)
    taken = case.add("police_protection.taken", POLICE, {"protection_id": "PP-T-1"}, 10)
    ended = case.add(
        "police_protection.ended",
        POLICE,
        {"protection_id": "PP-T-1", "outcome": "returned_home"},
        12,
    )
    return case, str(taken["event_id"]), str(ended["event_id"])


def test_police_protection_ended_with_no_contact_fires_once() -> None:
    """No contact by the police from the day before it began until it ended: one finding,
    dated when the end was recorded."""
    case, taken, ended = protection(None)
    [found] = case.found("step_ended_without_contact")
    assert found.evidence == (taken, ended)
    assert found.fired_at == at(12)
    assert found.summary == (
        f"police protection PP-T-1 ended on {day(12)[:10]} (returned_home) with no contact "
        f"with the child, a carer or a referrer recorded by {POLICE} since {day(10)[:10]}"
    )


@pytest.mark.parametrize(
    ("contact_at", "by", "fires"),
    [
        (11, POLICE, False),
        (12, POLICE, False),  # at the instant it ended
        (9, POLICE, False),  # the day before it began: the contact that led to it
        (8.99, POLICE, True),  # more than a day before
        (12.01, POLICE, True),  # after it ended
        (11, CSC, True),  # by another agency
    ],
)
def test_police_protection_contact_boundaries(contact_at: float, by: str, fires: bool) -> None:
    """A contact by the police counts from a day before the protection began until it ended."""
    case, _, _ = protection(contact_at, by)
    assert len(case.found("step_ended_without_contact")) == (1 if fires else 0)


def involvement(agency: str = CSC, reason: str = "no_further_action") -> tuple[Case, str]:
    """An involvement of the agency opened on day 10 (its closure is the test's)."""
    case = Case()
    opened = case.add("involvement.opened", agency, {"basis": "referral"}, 10)
    return case, str(opened["event_id"])


def close(
    case: Case, agency: str = CSC, reason: str = "no_further_action", when: float = 40
) -> str:
    """The agency's involvement closed."""
    return str(case.add("involvement.closed", agency, {"reason": reason}, when)["event_id"])


def test_an_involvement_closed_with_no_contact_fires() -> None:
    """Social care opens and closes its involvement with no contact recorded in between."""
    case, opened = involvement()
    closed = close(case)
    [found] = case.found("step_ended_without_contact")
    assert found.evidence == (opened, closed)
    assert found.summary.startswith(
        f"involvement of {CSC} (referral) closed on {day(40)[:10]} (no_further_action) "
    )


def test_a_contact_or_an_exchange_with_the_referrer_means_the_step_is_not_found() -> None:
    """A contact with the child not seen (a carer on the phone) counts; so does a meeting with
    the school that referred the child, or a share to it; the referral itself, a share from
    the school, or a meeting with another agency does not."""
    case, _ = involvement()
    case.contact(CSC, 20, "no", contact_type="phone")
    close(case)
    assert case.found("step_ended_without_contact") == []
    for exchange in ("meeting", "share", "share from the school", "meeting with another"):
        case, _ = involvement()
        case.referral(SCHOOL, CSC, 9.5)
        if exchange == "meeting":
            case.meeting("professionals_meeting", 20, [CSC, SCHOOL])
        elif exchange == "share":
            case.share(CSC, SCHOOL, 20, [case.contact(SCHOOL, 19)])
        elif exchange == "share from the school":
            case.share(SCHOOL, CSC, 20, [case.contact(SCHOOL, 19)])
        else:
            case.meeting("professionals_meeting", 20, [CSC, HOSPITAL])
        close(case)
        found = case.found("step_ended_without_contact")
        assert len(found) == (0 if exchange in ("meeting", "share") else 1), exchange


@pytest.mark.parametrize(("agency", "reason"), [(SCHOOL, "no_further_action"), (CSC, "child_died")])
def test_an_agency_of_another_kind_or_a_child_who_died_is_not_judged(
    agency: str, reason: str
) -> None:
    """A school is not of the rule's kinds; nobody is faulted for no contact after a death."""
    case, _ = involvement(agency)
    close(case, agency, reason)
    assert case.found("step_ended_without_contact") == []


def test_the_lead_s_involvement_opens_with_the_case_and_a_case_closure_ends_it() -> None:
    """case.opened opens the lead's involvement; its case.closed ends it: with no contact in
    between, a finding; a closure the ledger never saw begin is not judged."""
    case = Case()
    opened = case.add("case.opened", CSC, {"date_of_birth": "2006-03-01", "lead_agency": CSC}, 10)[
        "event_id"
    ]
    closed = case.add("case.closed", CSC, {"reason": "RC8", "closed_on": "2007-02-10"}, 40)
    close(case, POLICE, when=41)
    [found] = case.found("step_ended_without_contact")
    assert found.evidence == (opened, closed["event_id"])
    assert found.summary.startswith(f"involvement of {CSC} (as lead) closed on 2007-02-10 (RC8) ")


def test_a_closure_its_source_did_not_date_is_not_judged() -> None:
    """An undated closure cannot say whether a contact came before it: nothing."""
    case, _ = involvement()
    case.add(
        "involvement.closed",
        CSC,
        {"reason": "no_further_action"},
        40,
        occurred_precision="undated",
    )
    assert case.found("step_ended_without_contact") == []


# allegation_closed_uninvestigated ------------------------------------------------------------


def allegation(case: Case, made: float = 10, withdrawn: float = 24) -> tuple[str, str]:
    """An allegation of physical abuse made to the police and withdrawn."""
    source = {"source": {"kind": "relative"}}
    first = case.add(
        "allegation.made",
        POLICE,
        {"allegation_id": "ALG-T-1", "category": "PHY", "made_by": source},
        made,
    )
    last = case.add(
        "allegation.withdrawn",
        POLICE,
        {"allegation_id": "ALG-T-1", "withdrawn_by": source},
        withdrawn,
    )
    return str(first["event_id"]), str(last["event_id"])


def test_an_allegation_withdrawn_with_no_investigative_step_fires_once() -> None:
    """Made on day 10, withdrawn on day 24, the child seen only with a carer between: one
    finding, dated when the withdrawal was recorded."""
    case = Case()
    case.contact(CSC, 12, seen_alone="no")
    made, withdrawn = allegation(case)
    [found] = case.found("allegation_closed_uninvestigated")
    assert found.evidence == (made, withdrawn)
    assert found.fired_at == at(24)
    assert found.summary == (
        f"allegation ALG-T-1 (PHY) made on {day(10)[:10]} and withdrawn on {day(24)[:10]} with "
        "no strategy discussion, no s47 or police investigation decision, no assessment and "
        "the child not seen alone in between"
    )


@pytest.mark.parametrize(
    "step",
    [
        "strategy discussion",
        "strategy meeting",
        "s47 decision",
        "police decision declined",
        "assessment started",
        "assessment in progress",
        "seen alone",
        "seen alone at the withdrawal",
    ],
)
def test_an_investigative_step_between_means_no_finding(step: str) -> None:
    """Any one investigative step from the allegation to its withdrawal, by any agency."""
    case = Case()
    if step == "assessment in progress":
        started = {"assessment_id": "ASM-T-1", "assessment_type": "single_assessment"}
        case.add("assessment.started", CSC, started, 5)
    elif step == "strategy discussion":
        case.meeting("strategy_discussion", 15, [CSC, POLICE])
    elif step == "strategy meeting":
        case.meeting("strategy_meeting", 15, [CSC, POLICE])
    elif step == "s47 decision":
        case.decision(CSC, 15, "s47_enquiry", "proceed")
    elif step == "police decision declined":
        case.decision(POLICE, 15, "police_investigation", "decline", rationale="No offence.")
    elif step == "assessment started":
        started = {"assessment_id": "ASM-T-1", "assessment_type": "s47_enquiry"}
        case.add("assessment.started", CSC, started, 15)
    elif step == "seen alone":
        case.contact(SCHOOL, 15, seen_alone="yes")
    else:
        case.contact(CSC, 24, seen_alone="yes")
    allegation(case)
    assert case.found("allegation_closed_uninvestigated") == []


@pytest.mark.parametrize(
    "step",
    [
        "before the allegation",
        "after the withdrawal",
        "seen by a relative",
        "an assessment finished before",
    ],
)
def test_steps_outside_the_allegation_or_not_investigative_do_not_count(step: str) -> None:
    """A strategy discussion the day before, a child seen alone a minute after the withdrawal,
    a relative's sighting reported to an agency, an assessment that ended before: a finding."""
    case = Case()
    if step == "before the allegation":
        case.meeting("strategy_discussion", 9, [CSC, POLICE])
    elif step == "an assessment finished before":
        case.add(
            "assessment.started",
            CSC,
            {"assessment_id": "ASM-T-1", "assessment_type": "single_assessment"},
            2,
        )
        case.add(
            "assessment.completed",
            CSC,
            {"assessment_id": "ASM-T-1", "outcome": "no_further_action"},
            8,
        )
    elif step == "seen by a relative":
        case.contact(POLICE, 15, seen_alone="yes", source={"kind": "relative"})
    allegation(case)
    if step == "after the withdrawal":
        case.contact(CSC, 24.001, seen_alone="yes")
    assert len(case.found("allegation_closed_uninvestigated")) == 1


# referrer_not_told ---------------------------------------------------------------------------


def decided(day_decided: float = 9) -> tuple[Case, str, str]:
    """A school's referral to social care on Monday 8 January 2007 (day 7), decided on the day
    given (day 9: Wednesday 10 January)."""
    case = Case()
    referral = case.referral(SCHOOL, CSC, 7)
    outcome = case.decision(CSC, day_decided, "referral_outcome", "proceed", [referral])
    return case, referral, outcome


def test_a_referrer_not_told_within_3_working_days_fires_on_the_day_after() -> None:
    """Decided on Wednesday 10 January; the third working day after is Monday 15 January; the
    finding is due at the start of Tuesday 16 January: not as of the 15th, found as of the
    16th, dated then."""
    case, referral, outcome = decided()
    assert case.found("referrer_not_told", as_of="2007-01-15") == []
    [found] = case.found("referrer_not_told", as_of="2007-01-16")
    assert found.evidence == (referral, outcome)
    assert found.fired_at == datetime(2007, 1, 16, tzinfo=UTC)
    assert found.summary == (
        f"referral from {SCHOOL} to {CSC} on 2007-01-08: referral_outcome proceed decided on "
        f"2007-01-10, not told to {SCHOOL} within 3 working day(s)"
    )


@pytest.mark.parametrize(("told_on", "fires"), [(14.9, False), (15.0, True)])
def test_told_on_the_last_working_day_is_in_time_and_the_next_day_is_late(
    told_on: float, fires: bool
) -> None:
    """Social care shares back on Monday 15 January at 21:36 (in time) or at midnight after
    it (late)."""
    case, _, _ = decided()
    case.share(CSC, SCHOOL, told_on, [case.contact(CSC, 12)])
    assert len(case.found("referrer_not_told")) == (1 if fires else 0)


def test_bank_holidays_are_not_working_days() -> None:
    """Decided on Thursday 5 April 2007: Good Friday and Easter Monday do not count, so the
    last day is Thursday 12 April and the finding is due on the 13th."""
    case, _, _ = decided(94)  # 5 April 2007
    assert case.found("referrer_not_told", as_of="2007-04-12") == []
    [found] = case.found("referrer_not_told", as_of="2007-04-13")
    assert found.fired_at == datetime(2007, 4, 13, tzinfo=UTC)


@pytest.mark.parametrize(
    "told", ["a meeting both attended", "a referral back", "a strategy discussion before"]
)
def test_other_ways_the_referrer_is_told(told: str) -> None:
    """A meeting both attended after the referral (even before the decision is recorded), or
    a referral from social care back to the school, tells the referrer."""
    case, _, _ = decided()
    if told == "a meeting both attended":
        case.meeting("professionals_meeting", 11, [CSC, SCHOOL])
    elif told == "a referral back":
        case.referral(CSC, SCHOOL, 11)
    else:
        case.meeting("strategy_discussion", 8, [CSC, SCHOOL, POLICE])
    assert case.found("referrer_not_told") == []


@pytest.mark.parametrize(
    "case_of",
    [
        "a share the other way",
        "a referral from social care",
        "a referral by a person",
        "a decision naming nothing",
        "a decision by another agency",
    ],
)
def test_what_the_rule_does_not_judge_or_does_not_count_as_telling(case_of: str) -> None:
    """A share from the school to social care tells the school nothing (a finding); a
    referral between social care teams, one by a person, one whose outcome names neither it
    nor what it passed on, or decided by another agency, is not judged."""
    case = Case()
    if case_of == "a referral by a person":
        payload = {
            "source": {"kind": "relative"},
            "to_agency": CSC,
            "reason": "Concern.",
            "conveyed": {"concern": "stated"},
        }
        referral = str(case.add("referral.made", CSC, payload, 7)["event_id"])
    else:
        frm = CSC_2 if case_of == "a referral from social care" else SCHOOL
        referral = case.referral(frm, CSC, 7)
    agency = POLICE if case_of == "a decision by another agency" else CSC
    basis = [] if case_of == "a decision naming nothing" else [referral]
    case.decision(agency, 9, "referral_outcome", "proceed", basis)
    if case_of == "a share the other way":
        case.share(SCHOOL, CSC, 10, [referral])
    expected = 1 if case_of == "a share the other way" else 0
    assert len(case.found("referrer_not_told")) == expected


def test_a_decision_resting_on_what_the_referral_passed_on_is_its_outcome() -> None:
    """The outcome rests on the injury the hospital's referral passed on, not the referral
    itself: it is that referral's outcome."""
    case = Case()
    injury = case.injury(HOSPITAL, 7)
    referral = case.referral(HOSPITAL, CSC, 7.5, [injury])
    outcome = case.decision(CSC, 9, "referral_outcome", "proceed", [injury])
    [found] = case.found("referrer_not_told")
    assert found.evidence == (referral, outcome)


# Whatever the agencies are called ------------------------------------------------------------


def every_situation() -> Case:
    """One case in which each rule of this part finds one thing."""
    case, _, _ = transfer_case()
    referral = case.referral(SCHOOL, CSC, 40)
    case.decision(CSC, 41, "referral_outcome", "proceed", [referral])
    case.decision(CSC, 42, "referral_outcome", "decline", [referral])
    case.add("involvement.opened", POLICE, {"basis": "police_investigation"}, 43)
    case.add("involvement.closed", POLICE, {"reason": "no_further_action"}, 60)
    allegation(case, 61, 70)
    return case


def renamed(documents: list[dict[str, Any]], codes: Mapping[str, str]) -> list[dict[str, Any]]:
    """The events with every agency they name (by the schemas) given its new code."""
    out = []
    for document in documents:
        copied = copy.deepcopy(document)
        for path in SCHEMAS.agency_fields(document["type"], document["schema_version"]):
            for parts, value in list(values_at(copied, path)):
                node: Any = copied
                for part in parts[:-1]:
                    node = node[part]
                node[parts[-1]] = codes[value]
        out.append(copied)
    return out


def test_renaming_every_agency_changes_nothing_but_the_ids() -> None:
    """The same findings, on the same evidence, at the same times, with the same alert ids,
    sent to the same agencies and saying the same, codes mapped back."""
    kinds = {**CHILD_A_KINDS, **EXAMPLE_KINDS}
    codes = {agency: f"ag-{n:012x}" for n, agency in enumerate(sorted(kinds), start=7)}
    back = {new: old for old, new in codes.items()}
    table = AgencyTable(as_events(registration_documents(codes, kinds)))
    case = every_situation()
    policy = rule_policy(*STEPS)
    moment = cutoff("2008-12-31")
    original = evaluate(as_events(case.documents), moment, policy, agencies=AGENCIES)
    other = evaluate(as_events(renamed(case.documents, codes)), moment, policy, agencies=table)
    # The hospital that referred the injury is not told either.
    assert sorted(f.rule.name for f in original) == sorted([*STEPS, "referrer_not_told"])

    def restored(text: str) -> str:
        for new, old in back.items():
            text = text.replace(new, old)
        return text

    assert [
        (f.rule.name, f.evidence, f.fired_at, f.alert_id, f.sent_to, f.summary) for f in original
    ] == [
        (
            f.rule.name,
            f.evidence,
            f.fired_at,
            f.alert_id,
            tuple(back[a] for a in f.sent_to),
            restored(f.summary),
        )
        for f in other
    ]


def registration_documents(
    codes: Mapping[str, str], kinds: Mapping[str, str]
) -> list[dict[str, Any]]:
    """`agency.registered` events for the renamed agencies, of the same kinds."""
    return registrations(
        [
            {
                "agency_id": codes[agency],
                "name": f"Service {n}",
                "kind": kind,
                "statutory": kind not in ("voluntary", "faith", "other"),
            }
            for n, (agency, kind) in enumerate(sorted(kinds.items()))
        ]
    )


# The demo cases ------------------------------------------------------------------------------


def demo_findings(case: str) -> list[tuple[str, str, str]]:
    """This part's findings on a demo case now: rule, when fired, and the summary."""
    from sgl.demo.agencies import demo_registry
    from sgl.demo.child_a import child_a
    from sgl.demo.child_b import child_b

    agencies = AgencyTable(as_events(demo_registry()))
    documents = child_a() if case == "A" else child_b()
    found = evaluate(
        as_events(documents), datetime.now(UTC), rule_policy(*STEPS), agencies=agencies
    )
    return [(f.rule.name, f.fired_at.isoformat(), f.summary) for f in found]


def test_on_child_a_no_step_was_missed_by_these_rules() -> None:
    """Child A's referral was decided and discussed with the hospital that made it the next
    day; no allegation, police protection, closure or downgraded suspicion: nothing."""
    assert demo_findings("A") == []


def test_on_child_b_the_steps_a_reviewer_would_name() -> None:
    """Child B: the police close their first investigation of the fracture with no contact
    with the child or family; the grandmother's allegation is withdrawn with no strategy
    discussion, no decision and the child never seen alone; Rivermead transfers the case as
    "no child protection concerns" without the suspected fracture."""
    assert [(rule, fired[:10]) for rule, fired, _ in demo_findings("B")] == [
        ("step_ended_without_contact", "2022-03-14"),
        ("allegation_closed_uninvestigated", "2022-04-02"),
        ("suspicion_downgraded", "2022-06-08"),
    ]
