"""Rules find what they name, once a situation: every rule of the bundled policy, as loaded,
fires at its threshold and not below it; an assault is a concern or an allegation, never an
injury observation, and the police count as told by record, referral, share, meeting or an
investigation already open; a cluster of injuries and a case's doubtful explanations are one
finding each whose evidence grows under one id; alerts go to the lead then and to the
agencies involved then; the decision on a referral is not one it follows."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from importlib.resources import files
from typing import Any

import pytest

from projections.as_of import cutoff
from projections.rule_kinds import Firing, Rule
from projections.rules import RulePolicy, evaluate, load_rule_policy
from tests.agencies import AGENCIES, registry
from tests.factories import as_events, example, make_event, new_case_id

POLICY = load_rule_policy()
D = date(2007, 3, 1)
# A rule whose alerts go to the police alone: a GP absent from a core group.
ABSENT_TO_POLICE = RulePolicy(
    "t",
    "t",
    (
        Rule(
            "absent",
            "invitee_absent",
            ("police",),
            {"meeting_types": ["core_group"], "agency_kinds": ["gp"]},
        ),
    ),
)
FAR = "2009-12-31"


def rule(name: str) -> Rule:
    """The rule of that name in the bundled policy, as loaded."""
    return next(r for r in POLICY.rules if r.name == name)


def at(when: datetime | date, hour: int = 10) -> str:
    if isinstance(when, datetime):
        return when.strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{when.isoformat()}T{hour:02d}:00:00Z"


def event(
    event_type: str, case_id: str, when: datetime | date, agency: str | None = None, **payload: Any
) -> dict[str, Any]:
    """An event of the type occurred and recorded at the instant (10:00 on a date)."""
    made = make_event(event_type, case_id, occurred_at=at(when), recorded_at=at(when))
    made["payload"] = {**made["payload"], **payload}
    if agency is not None:
        made["agency"] = agency
    return made


def found(
    name: str, documents: list[dict[str, Any]], as_of: str = FAR, policy: RulePolicy = POLICY
) -> list[Firing]:
    """The findings of one rule of the policy in these events as of the date."""
    return [
        f
        for f in evaluate(as_events(documents), cutoff(as_of), policy, agencies=AGENCIES)
        if f.rule.name == name
    ]


def injury(case_id: str, when: datetime | date, **payload: Any) -> dict[str, Any]:
    plain = {
        "suspected_non_accidental": False,
        "explanation_consistent": None,
        "explanation_given": f"said on {at(when)}",
    }
    return event("injury.observed", case_id, when, "gp-practice-east", **{**plain, **payload})


def unverified_adult(case_id: str) -> dict[str, Any]:
    """An adult partner linked as living in the household, identity not verified, on D."""
    return event(
        "person.linked",
        case_id,
        D,
        person_id="PER-T-ADULT",
        role="partner_of_parent",
        is_adult=True,
        identity_verified=False,
        lives_in_household=True,
    )


def concern(case_id: str, when: datetime | date, **payload: Any) -> dict[str, Any]:
    """A physical-abuse concern about the child (no other person named) by a school."""
    made = event("concern.raised", case_id, when, "school-north-primary", category="PHY", **payload)
    if "about_person_id" not in payload:
        made["payload"].pop("about_person_id", None)
    return made


# Boundaries: each rule of the bundled policy, its parameters as the file gives them.


def test_every_rule_of_the_policy_says_what_it_finds_and_where_its_threshold_comes_from() -> None:
    """`description` and `source` on every bundled rule; a source is Working Together 2023,
    the Children Act 1989, or a practice theme."""
    for each in POLICY.rules:
        assert each.description and each.source, each.name
        assert each.source.startswith(
            ("Working Together to Safeguard Children 2023", "Children Act 1989", "practice: ")
        ), each.name
        assert "description" not in each.params and "source" not in each.params


def test_every_kind_of_the_schema_allows_description_and_source() -> None:
    """The schema takes both keys for every kind, and refuses an empty one."""
    schema = json.loads((files("policies") / "rule-policy.schema.json").read_text())
    item = schema["properties"]["rule"]["items"]
    assert {"description", "source"} <= set(item["properties"])
    for block in item["allOf"]:
        properties = block["then"]["properties"]
        assert properties["description"] is True and properties["source"] is True


def test_an_empty_source_is_refused(tmp_path: Any) -> None:
    from projections.policy_file import PolicyError

    path = tmp_path / "rules.toml"
    path.write_text(
        'version = "1"\ntitle = "t"\n[[rule]]\nname = "x"\nkind = "injury_on_plan"\n'
        'send_to = ["lead"]\nsource = ""\n'
    )
    with pytest.raises(PolicyError, match=r"rule\[0\]\.source \(rule 'x'\)"):
        load_rule_policy(path)


def test_nai_on_plan_fires_on_a_suspected_nai_from_the_plans_start_and_not_after_it_ends() -> None:
    case_id = new_case_id()
    plan = event("plan.started", case_id, D, plan_id="PLAN-T-1")
    ended = event("plan.ended", case_id, D + timedelta(days=30), plan_id="PLAN-T-1")
    same_time = injury(case_id, D, suspected_non_accidental=True)
    same_time["occurred_at"] = same_time["recorded_at"] = at(datetime(2007, 3, 1, 10, 0, 1))
    [one] = found("nai_on_plan", [plan, same_time, ended])
    assert one.evidence == (same_time["event_id"],)
    before = injury(case_id, datetime(2007, 3, 1, 9, 59, 59), suspected_non_accidental=True)
    after = injury(case_id, datetime(2007, 3, 31, 10, 0, 1), suspected_non_accidental=True)
    unsure = injury(case_id, D + timedelta(days=2), suspected_non_accidental=False)
    assert found("nai_on_plan", [before, plan, unsure, ended, after]) == []


def test_nai_on_plan_is_one_growing_finding_a_plan_until_it_is_answered() -> None:
    """Three suspected NAIs on one plan are one finding, its id and date the first's; once
    answered, the next injury is a new finding (sharing no evidence with the last), and an
    injury on a later plan is another."""
    case_id = new_case_id()
    plan = event("plan.started", case_id, D, plan_id="PLAN-T-1")
    hurt = [
        injury(case_id, D + timedelta(days=n), suspected_non_accidental=True) for n in (3, 17, 30)
    ]
    [one] = found("nai_on_plan", [plan, *hurt])
    [first] = found("nai_on_plan", [plan, hurt[0]])
    assert one.evidence == tuple(h["event_id"] for h in hurt)
    assert (one.alert_id, one.fired_at) == (first.alert_id, first.fired_at)
    assert "3 suspected non-accidental injuries" in one.summary
    answer = event(
        "alert.answered",
        case_id,
        D + timedelta(days=20),
        alert_id=first.alert_id,
        response="action_taken",
    )
    before, after = found("nai_on_plan", [plan, *hurt, answer])
    assert before.alert_id == first.alert_id
    assert before.evidence == (hurt[0]["event_id"], hurt[1]["event_id"])
    assert after.evidence == (hurt[2]["event_id"],)
    assert after.alert_id != first.alert_id
    ended = event("plan.ended", case_id, D + timedelta(days=40), plan_id="PLAN-T-1")
    again = event("plan.started", case_id, D + timedelta(days=60), plan_id="PLAN-T-2")
    later = injury(case_id, D + timedelta(days=70), suspected_non_accidental=True)
    runs = found("nai_on_plan", [plan, *hurt, ended, again, later])
    assert [f.evidence for f in runs] == [tuple(h["event_id"] for h in hurt), (later["event_id"],)]


def test_injury_cluster_fires_on_count_injuries_within_days_and_not_one_day_wider() -> None:
    """The policy's count within its days (the first and last exactly `days` apart) fires;
    the same spread one day wider, or one injury fewer, does not."""
    cluster = rule("injury_cluster")
    count, days = int(cluster.params["count"]), int(cluster.params["days"])
    case_id = new_case_id()
    steps = [D + timedelta(days=days * n // (count - 1)) for n in range(count)]
    [one] = found("injury_cluster", [injury(case_id, d) for d in steps])
    assert len(one.evidence) == count
    wider = [*steps[:-1], steps[-1] + timedelta(days=1)]
    assert found("injury_cluster", [injury(new_case_id(), d) for d in wider]) == []
    assert found("injury_cluster", [injury(new_case_id(), d) for d in steps[:-1]]) == []


def test_adult_identity_unverified_fires_on_the_day_the_grace_ends_not_before() -> None:
    days = int(rule("adult_identity_unverified").params["days"])
    case_id = new_case_id()
    link = unverified_adult(case_id)
    due = datetime(2007, 3, 1, 10) + timedelta(days=days)
    [one] = found("adult_identity_unverified", [link], at(due))
    assert one.fired_at == cutoff(at(due))
    assert found("adult_identity_unverified", [link], at(due - timedelta(seconds=1))) == []
    verified = {**link, "event_id": make_event()["event_id"], "occurred_at": at(due)}
    verified["payload"] = {**link["payload"], "identity_verified": True}
    verified["recorded_at"] = at(due + timedelta(seconds=1))
    assert found("adult_identity_unverified", [link, verified]) == []
    verified["occurred_at"] = at(due + timedelta(seconds=1))
    assert len(found("adult_identity_unverified", [link, verified])) == 1


def test_key_agency_absent_fires_on_an_absent_key_agency_not_on_one_present() -> None:
    absent = rule("key_agency_absent")
    assert "gp" in absent.params["agency_kinds"]
    gp = "gp-practice-east"
    case_id = new_case_id()
    meetings = {
        attending: event(
            "meeting.held",
            case_id,
            D,
            meeting_type=absent.params["meeting_types"][0],
            invited_agencies=["la-childrens-social-care", gp],
            attending_agencies=attending,
        )
        for attending in (("la-childrens-social-care",), ("la-childrens-social-care", gp))
    }
    assert len(found("key_agency_absent", [meetings[("la-childrens-social-care",)]])) == 1
    assert found("key_agency_absent", [meetings[("la-childrens-social-care", gp)]]) == []
    other = {**meetings[("la-childrens-social-care",)]}
    other["payload"] = {**other["payload"], "meeting_type": "professionals_meeting"}
    assert found("key_agency_absent", [other]) == []


def test_threshold_met_no_step_fires_when_the_follow_up_is_a_day_late() -> None:
    step = rule("threshold_met_no_step")
    p, days = step.params, int(step.params["days"])
    case_id = new_case_id()
    met = event(
        "decision.recorded",
        case_id,
        D,
        "la-legal-services",
        decision_type=p["decision_type"],
        outcome=p["outcome"],
    )

    def followup(after: timedelta) -> dict[str, Any]:
        return event(
            "decision.recorded",
            case_id,
            datetime(2007, 3, 1, 10) + after,
            "la-childrens-social-care",
            decision_type=p["followup"],
            outcome="proceed",
        )

    assert found("threshold_met_no_step", [met, followup(timedelta(days=days))]) == []
    late = followup(timedelta(days=days, seconds=1))
    [one] = found("threshold_met_no_step", [met, late])
    assert one.fired_at == cutoff(at(D + timedelta(days=days)))


def test_explanations_in_doubt_fires_on_the_countth_doubtful_explanation() -> None:
    count = int(rule("explanations_in_doubt").params["count"])
    case_id = new_case_id()
    doubtful = [
        injury(case_id, D + timedelta(days=n), explanation_consistent=False) for n in range(count)
    ]
    [one] = found("explanations_in_doubt", doubtful)
    assert one.evidence == tuple(e["event_id"] for e in doubtful)
    assert found("explanations_in_doubt", doubtful[:-1]) == []


def test_assault_not_reported_fires_the_day_after_the_last_working_day() -> None:
    """Thursday's concern, one working day (the policy's): told at 23:59:59 on Friday is in
    time, at midnight it is not; the finding is dated that midnight."""
    assert rule("assault_not_reported_to_police").params["working_days"] == 1
    thursday, last = date(2007, 3, 1), date(2007, 3, 2)
    case_id = new_case_id()
    seen = concern(case_id, thursday)
    [one] = found("assault_not_reported_to_police", [seen])
    assert one.fired_at == cutoff(f"{last + timedelta(days=1)}T00:00:00Z")

    def told(when: datetime) -> dict[str, Any]:
        return event(
            "information.shared",
            case_id,
            when,
            "school-north-primary",
            to_agency="met-police",
            facts=[seen["event_id"]],
        )

    in_time = told(datetime(2007, 3, 2, 23, 59, 59))
    assert found("assault_not_reported_to_police", [seen, in_time]) == []
    assert len(found("assault_not_reported_to_police", [seen, told(datetime(2007, 3, 3))])) == 1


def test_adult_unknown_to_lead_fires_when_the_lead_links_them_a_second_late() -> None:
    days = int(rule("adult_unknown_to_lead_agency").params["days"])
    case_id = new_case_id()
    opened = event("case.opened", case_id, D, "la-childrens-social-care")
    opened["payload"]["lead_agency"] = "la-childrens-social-care"

    def linked(agency: str, when: datetime) -> dict[str, Any]:
        return event(
            "person.linked",
            case_id,
            when,
            agency,
            person_id="PER-T-PARTNER",
            role="partner_of_parent",
            is_adult=True,
            identity_verified=True,
            lives_in_household=True,
        )

    police = linked("met-police", datetime(2007, 3, 2, 10))
    due = datetime(2007, 3, 2, 10) + timedelta(days=days)
    in_time = linked("la-childrens-social-care", due)
    assert found("adult_unknown_to_lead_agency", [opened, police, in_time]) == []
    late = linked("la-childrens-social-care", due + timedelta(seconds=1))
    [one] = found("adult_unknown_to_lead_agency", [opened, police, late])
    assert one.fired_at == cutoff(at(due))


def test_rereferral_fires_on_the_last_day_of_the_window_not_the_next() -> None:
    days = int(rule("rereferral_after_nfa").params["days"])
    case_id = new_case_id()
    nfa = event(
        "decision.recorded",
        case_id,
        D,
        "la-childrens-social-care",
        decision_type="no_further_action",
        outcome="other",
    )
    edge = event("referral.made", case_id, D + timedelta(days=days))
    [one] = found("rereferral_after_nfa", [nfa, edge])
    assert one.evidence == (nfa["event_id"], edge["event_id"])
    beyond = event("referral.made", new_case_id(), D + timedelta(days=days + 1))
    assert found("rereferral_after_nfa", [{**nfa, "case_id": beyond["case_id"]}, beyond]) == []


# An assault, and the police told.


def test_an_injury_observation_is_never_an_assault_however_suspicious() -> None:
    case_id = new_case_id()
    suspected = injury(case_id, D, suspected_non_accidental=True, explanation_consistent=False)
    assert found("assault_not_reported_to_police", [suspected]) == []


def test_an_assault_seen_by_an_agency_that_is_not_statutory_is_left_to_its_own_rule() -> None:
    """A charity's physical-abuse concern is not judged for the police (the charity refers to
    children's social care: `concern_not_referred`); the same concern by a school is."""
    case_id = new_case_id()
    charity = concern(case_id, D)
    charity["agency"] = "example-voluntary"  # registered as voluntary: not statutory
    assert found("assault_not_reported_to_police", [charity]) == []
    school = concern(case_id, D)
    assert [f.evidence for f in found("assault_not_reported_to_police", [school])] == [
        (school["event_id"],)
    ]


def test_an_allegation_of_the_categories_is_an_assault() -> None:
    case_id = new_case_id()
    alleged = event("allegation.made", case_id, D, "la-childrens-social-care", category="SAB")
    assert [f.evidence for f in found("assault_not_reported_to_police", [alleged])] == [
        (alleged["event_id"],)
    ]
    neglect = event("allegation.made", case_id, D, "la-childrens-social-care", category="NEG")
    assert found("assault_not_reported_to_police", [neglect]) == []


def test_the_police_are_told_by_a_meeting_they_attended_where_it_was_tabled() -> None:
    case_id = new_case_id()
    seen = concern(case_id, D)

    def meeting(attending: list[str], tabled: list[str]) -> dict[str, Any]:
        return event(
            "meeting.held",
            case_id,
            D + timedelta(days=1),
            "la-childrens-social-care",
            meeting_type="strategy_discussion",
            invited_agencies=["la-childrens-social-care", "met-police"],
            attending_agencies=attending,
            facts_tabled=tabled,
        )

    both = ["la-childrens-social-care", "met-police"]
    assert found("assault_not_reported_to_police", [seen, meeting(both, [seen["event_id"]])]) == []
    absent = meeting(["la-childrens-social-care"], [seen["event_id"]])
    assert len(found("assault_not_reported_to_police", [seen, absent])) == 1
    other_facts = meeting(both, [make_event()["event_id"]])
    assert len(found("assault_not_reported_to_police", [seen, other_facts])) == 1


def test_the_police_are_told_when_they_record_an_event_resting_on_it() -> None:
    case_id = new_case_id()
    seen = concern(case_id, D)
    decided = event(
        "decision.recorded",
        case_id,
        D + timedelta(days=1),
        "met-police",
        decision_type="police_investigation",
        outcome="proceed",
        rests_on=[seen["event_id"]],
    )
    assert found("assault_not_reported_to_police", [seen, decided]) == []
    unrelated = {**decided, "payload": {**decided["payload"], "rests_on": []}}
    # A police investigation decided after the assault does not cover it unless it names it.
    assert len(found("assault_not_reported_to_police", [seen, unrelated])) == 1


def test_an_investigation_already_open_is_not_being_told_of_a_new_assault() -> None:
    """Police investigating the child since before: a new assault on the child, or on a
    sibling, is still to be reported to them; telling them (a share to them then) is what
    counts."""
    case_id = new_case_id()
    investigating = event(
        "decision.recorded",
        case_id,
        D,
        "met-police",
        decision_type="police_investigation",
        outcome="proceed",
    )
    involved = event("involvement.opened", case_id, D, "met-police", basis="police_investigation")
    on_child = concern(case_id, D + timedelta(days=10))
    on_sibling = concern(case_id, D + timedelta(days=10), about_person_id="PER-T-SIB")
    every = [investigating, involved, on_child, on_sibling]
    found_now = found("assault_not_reported_to_police", every)
    assert sorted(f.evidence for f in found_now) == sorted(
        [(on_child["event_id"],), (on_sibling["event_id"],)]
    )
    told = event(
        "information.shared",
        case_id,
        D + timedelta(days=10),
        "school-north-primary",
        to_agency="met-police",
        facts=[on_child["event_id"]],
    )
    assert found("assault_not_reported_to_police", [*every, told]) == []


def test_the_police_are_recognised_by_kind_whatever_their_id() -> None:
    """A renamed force: the registry says police, so its share and its investigation count."""
    renamed = registry({"force-7": "police", "school-9": "education"})
    case_id = new_case_id()
    seen = {**concern(case_id, D), "agency": "school-9"}
    shared = event(
        "information.shared", case_id, D, "school-9", to_agency="force-7", facts=[seen["event_id"]]
    )
    for documents, expected in (([seen], 1), ([seen, shared], 0)):
        findings = [
            f
            for f in evaluate(as_events(documents), cutoff(FAR), POLICY, agencies=renamed)
            if f.rule.name == "assault_not_reported_to_police"
        ]
        assert len(findings) == expected


# One finding per situation.


def test_a_cluster_is_one_finding_whose_evidence_grows_under_its_first_id() -> None:
    """Weekly injuries for ten weeks: one finding, dated and named by its first three; a gap
    of more than the window ends it and the next cluster is a finding of its own."""
    days = int(rule("injury_cluster").params["days"])
    case_id = new_case_id()
    weekly = [injury(case_id, D + timedelta(days=7 * n)) for n in range(10)]
    [first] = found("injury_cluster", weekly[:3])
    [grown] = found("injury_cluster", weekly)
    assert grown.evidence == tuple(e["event_id"] for e in weekly)
    assert (grown.alert_id, grown.fired_at) == (first.alert_id, first.fired_at)
    assert "10 injury observations" in grown.summary
    resumed = D + timedelta(days=7 * 9 + days + 1)
    again = [injury(case_id, resumed + timedelta(days=n)) for n in range(3)]
    clusters = found("injury_cluster", [*weekly, *again])
    assert [len(c.evidence) for c in clusters] == [10, 3]
    assert clusters[0].alert_id == first.alert_id


def test_an_undated_injury_joins_no_cluster() -> None:
    """Two dated injuries and an undated one recorded between them: no cluster of three."""
    case_id = new_case_id()
    dated = [injury(case_id, D + timedelta(days=n)) for n in (0, 2)]
    undated = example("injury.observed", 2)
    del undated["occurred_at"]
    undated.update(
        event_id=make_event()["event_id"],
        case_id=case_id,
        occurred_precision="undated",
        recorded_at=at(D + timedelta(days=1)),
    )
    undated["payload"].update(suspected_non_accidental=False, explanation_consistent=None)
    assert found("injury_cluster", [*dated, undated]) == []
    assert len(found("injury_cluster", [*dated, injury(case_id, D + timedelta(days=1))])) == 1


def test_a_cases_doubtful_explanations_are_one_finding_growing_under_its_first_id() -> None:
    case_id = new_case_id()
    doubtful = [
        injury(case_id, D + timedelta(days=14 * n), explanation_consistent=False) for n in range(8)
    ]
    [first] = found("explanations_in_doubt", doubtful[:3])
    [grown] = found("explanations_in_doubt", doubtful)
    assert grown.evidence == tuple(e["event_id"] for e in doubtful)
    assert (grown.alert_id, grown.fired_at) == (first.alert_id, first.fired_at)


# Recipients: the lead then, the agencies involved then.


def test_an_alert_goes_to_the_lead_then_and_only_to_agencies_involved_then() -> None:
    """Lead changes from one social care to another: a finding before the change goes to the
    first, after it to the second. A hospital whose involvement closed before the finding is
    not sent it; one that recorded an event and never closed is."""
    case_id = new_case_id()
    opened = event("case.opened", case_id, D, "example-childrens-social-care")
    opened["payload"]["lead_agency"] = "example-childrens-social-care"
    moved = event(
        "lead.changed",
        case_id,
        D + timedelta(days=40),
        "example-childrens-social-care",
        lead_agency="example-social-care-east",
    )
    hospital_in = event("involvement.opened", case_id, D, "example-hospital", basis="health_care")
    hospital_out = event(
        "involvement.closed", case_id, D + timedelta(days=2), "example-hospital", reason="other"
    )
    gp_seen = event("contact.recorded", case_id, D, "example-gp")
    wide = RulePolicy(
        "t",
        "t",
        (
            Rule(
                "absent",
                "invitee_absent",
                ("lead", "hospital", "gp"),
                {"meeting_types": ["initial_cp_conference"], "agency_kinds": ["legal"]},
            ),
        ),
    )

    def meeting(day: int) -> dict[str, Any]:
        return event(
            "meeting.held",
            case_id,
            D + timedelta(days=day),
            "example-childrens-social-care",
            meeting_type="initial_cp_conference",
            invited_agencies=["example-legal"],
            attending_agencies=[],
        )

    before, after = meeting(20), meeting(50)
    documents = [opened, hospital_in, gp_seen, hospital_out, before, moved, after]
    early, late = found("absent", documents, policy=wide)
    assert early.sent_to == ("example-childrens-social-care", "example-gp")
    assert late.sent_to == ("example-social-care-east", "example-gp")
    in_hospital = found("absent", [opened, hospital_in, gp_seen, before], policy=wide)
    assert in_hospital[0].sent_to == (
        "example-childrens-social-care",
        "example-hospital",
        "example-gp",
    )


def test_with_no_role_resolved_the_lead_then_is_sent_it() -> None:
    case_id = new_case_id()
    opened = event("case.opened", case_id, D, "example-childrens-social-care")
    opened["payload"]["lead_agency"] = "example-childrens-social-care"
    school = event("contact.recorded", case_id, D, "example-school")
    only_police = ABSENT_TO_POLICE
    meeting = event(
        "meeting.held",
        case_id,
        D + timedelta(days=1),
        "example-school",
        meeting_type="core_group",
        invited_agencies=["example-gp"],
        attending_agencies=[],
    )
    [one] = found("absent", [opened, school, meeting], policy=only_police)
    assert one.sent_to == ("example-childrens-social-care",)


def test_the_adult_unknown_to_the_lead_names_the_lead_then() -> None:
    """The lead moves; an adult the police link after the move is the new lead's to know:
    the old lead having linked them does not count, and the finding names the new lead."""
    case_id = new_case_id()
    opened = event("case.opened", case_id, D, "example-childrens-social-care")
    opened["payload"]["lead_agency"] = "example-childrens-social-care"
    moved = event(
        "lead.changed",
        case_id,
        D + timedelta(days=10),
        "example-childrens-social-care",
        lead_agency="example-social-care-east",
    )

    def linked(agency: str, day: int) -> dict[str, Any]:
        return event(
            "person.linked",
            case_id,
            D + timedelta(days=day),
            agency,
            person_id="PER-T-PARTNER",
            role="partner_of_parent",
            is_adult=True,
            identity_verified=True,
            lives_in_household=True,
        )

    old_lead = linked("example-childrens-social-care", 2)
    police = linked("example-police", 20)
    [one] = found("adult_unknown_to_lead_agency", [opened, old_lead, moved, police])
    assert "not in example-social-care-east's" in one.summary
    assert "example-social-care-east" in one.sent_to
    new_lead = linked("example-social-care-east", 22)
    assert found("adult_unknown_to_lead_agency", [opened, old_lead, moved, police, new_lead]) == []


# Re-referral: the decision on the referral is not one it follows.


def test_the_decision_on_a_referral_is_not_one_it_follows() -> None:
    """An NFA the same day as the referral (even dated earlier that day, or written up days
    later), or one resting on the referral: no re-referral. An NFA decided on an earlier day,
    recorded before it or after it: a re-referral."""
    case_id = new_case_id()
    referral = event("referral.made", case_id, datetime(2007, 3, 10, 15))

    def nfa(when: datetime, recorded: datetime | None = None, **more: Any) -> dict[str, Any]:
        made = event(
            "decision.recorded",
            case_id,
            when,
            "la-childrens-social-care",
            decision_type="no_further_action",
            outcome="other",
            **more,
        )
        made["recorded_at"] = at(recorded or when)
        return made

    same_day = nfa(datetime(2007, 3, 10, 9))
    same_day_written_up_late = nfa(datetime(2007, 3, 10, 16), recorded=datetime(2007, 3, 14))
    resting = nfa(datetime(2007, 3, 9, 9), rests_on=[referral["event_id"]])
    for decision in (same_day, same_day_written_up_late, resting):
        assert found("rereferral_after_nfa", [decision, referral]) == []
    written_up_after = nfa(datetime(2007, 3, 1, 9), recorded=datetime(2007, 3, 15, 9))
    [late] = found("rereferral_after_nfa", [referral, written_up_after])
    assert late.evidence == (written_up_after["event_id"], referral["event_id"])
    assert late.fired_at == datetime(2007, 3, 15, 9, tzinfo=UTC)
    earlier = nfa(datetime(2007, 2, 1, 9))
    [one] = found("rereferral_after_nfa", [earlier, referral])
    assert one.evidence == (earlier["event_id"], referral["event_id"])
    assert "re-referral 37 days after" in one.summary


def test_events_at_the_same_instant_are_ordered_by_when_they_were_recorded() -> None:
    """A plan started and a suspected NAI both dated 10:00: the plan recorded at 10:00 and
    the injury written up at noon came first, wherever the log holds them; recorded the
    other way round, the injury came before the plan."""
    case_id = new_case_id()
    plan = event("plan.started", case_id, D, plan_id="PLAN-T-1")
    hurt = injury(case_id, D, suspected_non_accidental=True)
    hurt["recorded_at"] = at(D, 12)
    assert len(found("nai_on_plan", [hurt, plan])) == 1
    plan["recorded_at"] = at(D, 13)
    assert found("nai_on_plan", [plan, hurt]) == []


def test_child_a_by_25_july_2007_one_finding_a_situation() -> None:
    """Child A: one injury cluster, one set of doubtful explanations and one run of suspected
    NAIs on the plan, growing; two assaults not reported to the police (the family centre's
    "pummelling" concern of 16 May 2007 and the slap of a sibling); the absent GP and
    paediatrician; the partner unknown to social care; injuries seen by several agencies."""
    from collections import Counter

    from sgl.demo.child_a import POLICE, SIBLING_1, SOCIAL_CARE, child_a

    documents = child_a()
    findings = evaluate(as_events(documents), cutoff("2007-07-25"), POLICY, agencies=AGENCIES)
    assert Counter(f.rule.name for f in findings) == {
        "nai_on_plan": 1,
        "injury_cluster": 1,
        "explanations_in_doubt": 1,
        "assault_not_reported_to_police": 2,
        "key_agency_absent": 1,
        "adult_unknown_to_lead_agency": 1,
        "injuries_seen_apart": 1,
    }
    pummelling, assault = [f for f in findings if f.rule.name == "assault_not_reported_to_police"]
    [slap] = [
        d
        for d in documents
        if d["type"] == "concern.raised" and d["payload"].get("about_person_id") == SIBLING_1
    ]
    [centre] = [
        d
        for d in documents
        if d["type"] == "concern.raised" and d["payload"].get("about_person_id") is None
    ]
    assert (pummelling.evidence, assault.evidence) == ((centre["event_id"],), (slap["event_id"],))
    assert assault.sent_to == (SOCIAL_CARE, POLICE)
    injuries = [d["event_id"] for d in documents if d["type"] == "injury.observed"]
    [cluster] = [f for f in findings if f.rule.name == "injury_cluster"]
    assert set(cluster.evidence) < set(injuries) and len(cluster.evidence) > 50
    assert cluster.fired_at.date().isoformat() == "2007-01-12"


def test_a_finding_is_dated_when_the_ledger_held_its_evidence_not_before() -> None:
    """A plan written up a week late: the NAI during it is known once both are. A link or a
    threshold decision written up after its deadline: known when written up."""
    case_id = new_case_id()
    plan = event("plan.started", case_id, D, plan_id="PLAN-T-1")
    plan["recorded_at"] = at(D + timedelta(days=7))
    hurt = injury(case_id, D + timedelta(days=1), suspected_non_accidental=True)
    [one] = found("nai_on_plan", [plan, hurt])
    assert one.fired_at == cutoff(at(D + timedelta(days=7)))
    link = unverified_adult(case_id)
    link["recorded_at"] = at(D + timedelta(days=30))
    [late] = found("adult_identity_unverified", [link])
    assert late.fired_at == cutoff(at(D + timedelta(days=30)))
    met = event(
        "decision.recorded",
        case_id,
        D,
        "la-legal-services",
        decision_type="threshold_care_proceedings",
        outcome="met",
    )
    met["recorded_at"] = at(D + timedelta(days=20))
    [unfollowed] = found("threshold_met_no_step", [met])
    assert unfollowed.fired_at == cutoff(at(D + timedelta(days=20)))


def test_an_nfa_made_before_a_referral_and_written_up_after_it_is_one_it_follows() -> None:
    """Decided 10 January, written up 25 January; a new referral on 20 January follows it."""
    case_id = new_case_id()
    decision = event(
        "decision.recorded",
        case_id,
        datetime(2022, 1, 10, 11),
        "la-childrens-social-care",
        decision_type="no_further_action",
        outcome="other",
    )
    decision["recorded_at"] = at(date(2022, 1, 25))
    referral = event("referral.made", case_id, datetime(2022, 1, 20, 11))
    [one] = found("rereferral_after_nfa", [referral, decision], as_of="2022-12-31")
    assert "re-referral 10 days after no_further_action" in one.summary


def answer(case_id: str, alert_id: str, when: date) -> dict[str, Any]:
    """An answer to the alert by social care on the day."""
    return event(
        "alert.answered",
        case_id,
        when,
        "la-childrens-social-care",
        alert_id=alert_id,
        response="action_taken",
    )


def test_a_cluster_answered_ends_there_and_later_injuries_need_count_anew() -> None:
    count = int(rule("injury_cluster").params["count"])
    case_id = new_case_id()
    weekly = [injury(case_id, D + timedelta(days=7 * n)) for n in range(count + 1)]
    [first] = found("injury_cluster", weekly[:count])
    answered = answer(case_id, first.alert_id, D + timedelta(days=7 * count - 1))
    [still] = found("injury_cluster", [*weekly, answered])
    assert still.evidence == tuple(e["event_id"] for e in weekly[:count])
    later = [injury(case_id, D + timedelta(days=7 * n)) for n in range(count + 1, 2 * count)]
    [same, new] = found("injury_cluster", [*weekly, answered, *later])
    assert same.alert_id == first.alert_id
    assert new.evidence == tuple(e["event_id"] for e in [weekly[count], *later])
    assert new.alert_id != first.alert_id


def test_doubtful_explanations_after_the_answer_are_a_new_finding_at_count_anew() -> None:
    count = int(rule("explanations_in_doubt").params["count"])
    case_id = new_case_id()
    doubtful = [
        injury(case_id, D + timedelta(days=14 * n), explanation_consistent=False)
        for n in range(3 * count)
    ]
    [first] = found("explanations_in_doubt", doubtful[:count])
    answered = answer(case_id, first.alert_id, D + timedelta(days=14 * count - 7))
    [one] = found("explanations_in_doubt", [*doubtful[: 2 * count - 1], answered])
    assert one.evidence == tuple(e["event_id"] for e in doubtful[:count])
    old, new = found("explanations_in_doubt", [*doubtful, answered])
    assert old.alert_id == first.alert_id
    assert new.evidence == tuple(e["event_id"] for e in doubtful[count:])


def test_a_backdated_doubtful_explanation_joins_without_changing_id_or_date() -> None:
    """Three doubtful explanations; a fourth that happened before them all, recorded on day
    60: the finding grows, dated and named by the three the ledger held first."""
    count = int(rule("explanations_in_doubt").params["count"])
    case_id = new_case_id()
    doubtful = [
        injury(case_id, D + timedelta(days=14 * n), explanation_consistent=False)
        for n in range(count)
    ]
    [first] = found("explanations_in_doubt", doubtful)
    earlier = injury(case_id, D - timedelta(days=30), explanation_consistent=False)
    earlier["recorded_at"] = at(D + timedelta(days=60))
    [grown] = found("explanations_in_doubt", [earlier, *doubtful])
    assert grown.evidence[0] == earlier["event_id"] and len(grown.evidence) == count + 1
    assert (grown.alert_id, grown.fired_at) == (first.alert_id, first.fired_at)
    assert first.fired_at == cutoff(at(D + timedelta(days=14 * (count - 1))))


def test_a_backdated_injury_joins_a_cluster_without_changing_id_or_date() -> None:
    count = int(rule("injury_cluster").params["count"])
    case_id = new_case_id()
    weekly = [injury(case_id, D + timedelta(days=7 * n)) for n in range(count)]
    [first] = found("injury_cluster", weekly)
    earlier = injury(case_id, D - timedelta(days=3))
    earlier["recorded_at"] = at(D + timedelta(days=60))
    [grown] = found("injury_cluster", [earlier, *weekly])
    assert grown.evidence == (earlier["event_id"], *(e["event_id"] for e in weekly))
    assert (grown.alert_id, grown.fired_at) == (first.alert_id, first.fired_at)


# Recipients: effective records, fixed at the finding's date, recent records only.


def child_b_findings(documents: list[dict[str, Any]], as_of: str) -> list[Firing]:
    """Every finding of the bundled policy in Child B's events as of the end of the day."""
    from projections.agencies import AgencyTable
    from sgl.demo.agencies import demo_registry

    agencies = AgencyTable(as_events(demo_registry()))
    return evaluate(as_events(documents), cutoff(as_of), POLICY, agencies=agencies)


def test_an_entry_retracted_makes_its_agency_no_recipient() -> None:
    """A police force records a contact on Child B's case by mistake and retracts it: it is
    sent none of the case's alerts."""
    from sgl.demo.child_b import CASE, child_b

    stray = event("contact.recorded", CASE, date(2022, 3, 1), "met-police")
    retracted = event("entry.retracted", CASE, date(2022, 3, 2), "met-police", reason="wrong case")
    retracted["amends"] = stray["event_id"]
    findings = child_b_findings([*child_b(), stray, retracted], "2023-08-31")
    assert {f.rule.name for f in findings} >= {
        "step_ended_without_contact",
        "allegation_closed_uninvestigated",
    }
    assert [f.rule.name for f in findings if "met-police" in f.sent_to] == []


def test_a_findings_recipients_do_not_change_as_its_evidence_grows() -> None:
    """Child B's unseen winter, dated 13 January 2023, goes to the social care leading then,
    whether asked the next day or after the family moved on and the evidence grew."""
    from sgl.demo.child_b import child_b

    def unseen(as_of: str) -> Firing:
        [one] = [
            f
            for f in child_b_findings(child_b(), as_of)
            if f.rule.name == "unseen_by_statutory_agency"
        ]
        return one

    early, late = unseen("2023-01-14"), unseen("2023-02-20")
    assert len(late.evidence) > len(early.evidence)
    assert early.alert_id == late.alert_id
    assert early.sent_to == late.sent_to == ("castlebury-childrens-services",)


def test_an_agency_silent_beyond_the_window_is_no_longer_involved() -> None:
    """A police force that recorded once, two years before a meeting, is sent none of its
    alerts (the lead is, no police being involved); one that recorded within the window, or
    whose involvement is still open, is."""
    from projections.rules import RECORD_WINDOW

    case_id = new_case_id()
    opened = event("case.opened", case_id, D - timedelta(days=800), "example-childrens-social-care")
    opened["payload"]["lead_agency"] = "example-childrens-social-care"
    to_police = ABSENT_TO_POLICE
    meeting = event(
        "meeting.held",
        case_id,
        D,
        "example-childrens-social-care",
        meeting_type="core_group",
        invited_agencies=["example-gp"],
        attending_agencies=[],
    )

    def sent(*more: dict[str, Any]) -> tuple[str, ...]:
        [one] = found("absent", [opened, *more, meeting], policy=to_police)
        return one.sent_to

    long_ago = event("contact.recorded", case_id, D - timedelta(days=730), "example-police")
    assert sent(long_ago) == ("example-childrens-social-care",)
    edge = D - RECORD_WINDOW
    assert sent(event("contact.recorded", case_id, edge, "example-police")) == ("example-police",)
    beyond = event("contact.recorded", case_id, edge - timedelta(days=1), "example-police")
    assert sent(beyond) == ("example-childrens-social-care",)
    still_open = event(
        "involvement.opened",
        case_id,
        D - timedelta(days=730),
        "example-police",
        basis="police_investigation",
    )
    assert sent(still_open) == ("example-police",)
