"""Threshold rules: each kind fires on its evidence and not without it; alert ids are stable;
answers are matched; policies that cannot be used are refused."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from projections.as_of import cutoff
from projections.policy_file import PolicyError
from projections.rules import Firing, evaluate, load_rule_policy
from tests.agencies import AGENCIES, registry, update_event
from tests.factories import as_events, make_event, new_case_id

POLICY = load_rule_policy()


def on(day: date, hour: int = 10) -> dict[str, str]:
    text = f"{day.isoformat()}T{hour:02d}:00:00Z"
    return {"occurred_at": text, "recorded_at": text}


def event(event_type: str, case_id: str, day: date, **payload: Any) -> dict[str, Any]:
    made = make_event(event_type, case_id, **on(day))
    made["payload"] = {**made["payload"], **payload}
    return made


def fired(documents: list[dict[str, Any]], as_of: str = "2008-12-31") -> dict[str, list[Firing]]:
    out: dict[str, list[Firing]] = {}
    for firing in evaluate(as_events(documents), cutoff(as_of), POLICY, agencies=AGENCIES):
        out.setdefault(firing.rule.name, []).append(firing)
    return out


D = date(2007, 3, 1)


def test_a_suspected_nai_while_a_plan_is_in_force() -> None:
    """Fires during the plan; not before it started nor after it ended."""
    case_id = new_case_id()
    before = event("injury.observed", case_id, D, suspected_non_accidental=True)
    plan = event("plan.started", case_id, D + timedelta(days=2), plan_id="PLAN-T-1")
    during = event("injury.observed", case_id, D + timedelta(days=5), suspected_non_accidental=True)
    accidental = event(
        "injury.observed", case_id, D + timedelta(days=6), suspected_non_accidental=False
    )
    ended = event("plan.ended", case_id, D + timedelta(days=8), plan_id="PLAN-T-1")
    after = event("injury.observed", case_id, D + timedelta(days=40), suspected_non_accidental=True)
    found = fired([before, plan, during, accidental, ended, after])["nai_on_plan"]
    assert [f.evidence for f in found] == [(during["event_id"],)]


def test_three_injuries_within_28_days_and_then_three_more() -> None:
    """Injuries on days 0, 10, 27 fire; day 60 alone does not; 61 and 62 complete the next."""
    case_id = new_case_id()
    injuries = [
        event("injury.observed", case_id, D + timedelta(days=n), suspected_non_accidental=False)
        for n in (0, 10, 27, 60, 61, 62)
    ]
    found = fired(injuries)["injury_cluster"]
    assert [len(f.evidence) for f in found] == [3, 3]
    assert found[0].evidence == tuple(i["event_id"] for i in injuries[:3])
    spread = [
        event(
            "injury.observed", new_case_id(), D + timedelta(days=n), suspected_non_accidental=False
        )
        for n in (0, 20, 40)
    ]
    assert "injury_cluster" not in fired(spread)


def test_an_adult_in_the_household_unverified_for_14_days() -> None:
    """Fires 14 days after the link, unless verified by then; as of day 13 nothing yet."""
    case_id = new_case_id()
    link = event(
        "person.linked",
        case_id,
        D,
        person_id="PER-T-1",
        is_adult=True,
        identity_verified=False,
        lives_in_household=True,
    )
    [finding] = fired([link])["adult_identity_unverified"]
    assert finding.fired_at == cutoff(f"{(D + timedelta(days=14)).isoformat()}T10:00:00Z")
    assert "adult_identity_unverified" not in fired([link], (D + timedelta(days=13)).isoformat())
    verified = event(
        "person.linked",
        case_id,
        D + timedelta(days=3),
        person_id="PER-T-1",
        is_adult=True,
        identity_verified=True,
        lives_in_household=True,
    )
    assert "adult_identity_unverified" not in fired([link, verified])


def test_a_gp_invited_to_a_conference_and_absent() -> None:
    """Invited and absent GP or NHS agencies fire; an absent school does not."""
    case_id = new_case_id()
    meeting = event(
        "meeting.held",
        case_id,
        D,
        meeting_type="initial_cp_conference",
        invited_agencies=["la-childrens-social-care", "gp-practice-east", "school-north"],
        attending_agencies=["la-childrens-social-care"],
    )
    [finding] = fired([meeting])["key_agency_absent"]
    assert "gp-practice-east" in finding.summary and "school-north" not in finding.summary
    meeting["payload"]["attending_agencies"].append("gp-practice-east")
    assert "key_agency_absent" not in fired([meeting])


def test_threshold_met_with_no_pre_proceedings_step_within_10_days() -> None:
    """Fires on day 10 without a step; a step on day 9 prevents it."""
    case_id = new_case_id()
    met = event(
        "decision.recorded", case_id, D, decision_type="threshold_care_proceedings", outcome="met"
    )
    [finding] = fired([met])["threshold_met_no_step"]
    assert finding.rule.send_to == ("lead", "childrens_social_care", "legal")
    assert finding.fired_at == cutoff(f"{(D + timedelta(days=10)).isoformat()}T10:00:00Z")
    step = event(
        "decision.recorded",
        case_id,
        D + timedelta(days=9),
        decision_type="pre_proceedings",
        outcome="proceed",
    )
    assert "threshold_met_no_step" not in fired([met, step])
    not_yet = event(
        "decision.recorded",
        new_case_id(),
        D,
        decision_type="threshold_care_proceedings",
        outcome="not_at_present",
    )
    assert "threshold_met_no_step" not in fired([not_yet])


def test_alert_ids_are_stable_and_answers_are_matched() -> None:
    """Evaluating twice gives the same ids; an answer with the id closes the alert, and the
    time to answer is measured; before the answer was recorded the alert is unanswered."""
    case_id = new_case_id()
    meeting = event(
        "meeting.held",
        case_id,
        D,
        meeting_type="review_cp_conference",
        invited_agencies=["nhs-hospital-north"],
        attending_agencies=[],
    )
    first = fired([meeting])["key_agency_absent"][0]
    assert first.alert_id == fired([meeting])["key_agency_absent"][0].alert_id
    assert first.alert_id.startswith("ALERT-key-agency-absent-")
    answer = event(
        "alert.answered",
        case_id,
        D + timedelta(days=3),
        alert_id=first.alert_id,
        response="action_taken",
    )
    [closed] = fired([meeting, answer])["key_agency_absent"]
    shown = closed.as_dict(cutoff("2008-12-31"))
    assert shown["answered"] and shown["response"] == "action_taken"
    assert shown["days_to_answer"] == 3.0
    [still] = fired([meeting, answer], (D + timedelta(days=2)).isoformat())["key_agency_absent"]
    assert still.as_dict(cutoff((D + timedelta(days=2)).isoformat()))["days_unanswered"] > 2


def test_the_demo_as_of_25_july_2007_lists_unanswered_alerts_with_their_age() -> None:
    """The GP and paediatrician absent from the conference, NAIs on the plan, injury clusters:
    all unanswered, the oldest for over 200 days."""
    from sgl.demo.child_a import child_a

    moment = cutoff("2007-07-25")
    found = [
        f.as_dict(moment) for f in evaluate(as_events(child_a()), moment, POLICY, agencies=AGENCIES)
    ]
    rules = {f["rule"] for f in found}
    assert {"key_agency_absent", "nai_on_plan", "injury_cluster"} <= rules
    assert not any(f["answered"] for f in found)
    absent = next(f for f in found if f["rule"] == "key_agency_absent")
    assert absent["fired_at"].startswith("2006-12-2") and absent["days_unanswered"] > 200


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('title = "t"\n', "top level: 'version' is missing; 'rule' is missing [required]"),
        ('version = "1"\ntitle = "t"\nrule = []\n', "rule: must not be empty"),
        (
            'version = "1"\ntitle = "t"\n[[rule]]\nname = "x"\nkind = "hunch"\n'
            'send_to = ["lead"]\n',
            "rule[0].kind (rule 'x'): 'hunch' is not one of injury_on_plan, injuries_within, "
            "adult_unverified, invitee_absent, decision_without_followup, explanations_in_doubt, "
            "assault_unreported, adult_unknown_to_lead, rereferral, ",
        ),
        (
            'version = "1"\ntitle = "t"\n[[rule]]\nname = "x"\nkind = "injuries_within"\n'
            'count = 3\nweeks = 4\nsend_to = ["lead"]\n',
            "rule[0] (rule 'x'): 'days' is missing: injuries_within takes count, days [required];"
            " rule[0] (rule 'x'): 'weeks' not allowed here: injuries_within takes count, days "
            "[additionalProperties]",
        ),
        (
            'version = "1"\ntitle = "t"\n[[rule]]\nname = "x"\nkind = "injuries_within"\n'
            'count = "3"\ndays = 0\nsend_to = ["lead"]\n',
            "rule[0].count (rule 'x'): must be a whole number, not '3' [type]; "
            "rule[0].days (rule 'x'): must be at least 1, not 0 [minimum]",
        ),
        (
            'version = "1"\ntitle = "t"\n[[rule]]\nname = "x"\nkind = "invitee_absent"\n'
            'meeting_types = "core_group"\nagency_kinds = ["gp"]\nsend_to = ["lead"]\n',
            "rule[0].meeting_types (rule 'x'): must be a list, not 'core_group' [type]",
        ),
        (
            'version = "1"\ntitle = "t"\n[[rule]]\nname = "x"\nkind = "injury_on_plan"\n',
            "rule[0] (rule 'x'): 'send_to' is missing: a rule takes name, kind, send_to",
        ),
        (
            'version = "1"\ntitle = "t"\n[[rule]]\nname = "x"\nkind = "injury_on_plan"\n'
            'send_to = ["lead"]\n'
            '[[rule]]\nname = "x"\nkind = "injury_on_plan"\nsend_to = ["legal"]\n',
            "rule[1].name: 'x' is used twice",
        ),
        (
            'version = "1"\ntitle = "t"\n[[rule]]\nname = "x"\nkind = "injury_on_plan"\n'
            'send_to = ["lead", "example-childrens-social-care"]\n',
            "rule[0].send_to[1] (rule 'x'): 'example-childrens-social-care' is not one of lead, "
            "childrens_social_care, police, hospital, gp,",
        ),
        (
            'version = "1"\ntitle = "t"\n[[rule]]\nname = "x"\nkind = "invitee_absent"\n'
            'meeting_types = ["core_group"]\nagency_kinds = ["gp-practice-east"]\n'
            'send_to = ["lead"]\n',
            "rule[0].agency_kinds[0] (rule 'x'): 'gp-practice-east' is not one of "
            "childrens_social_care, police,",
        ),
        (
            'version = "1"\ntitle = "t"\n[[rule]]\nname = "x"\nkind = "assault_unreported"\n'
            'concern_categories = ["PHY"]\nworking_days = 1\npolice_marker = "police"\n'
            'send_to = ["lead"]\n',
            "rule[0] (rule 'x'): 'notify_kinds' is missing: assault_unreported takes "
            "concern_categories, working_days, notify_kinds [required]; rule[0] (rule 'x'): "
            "'police_marker' not allowed here",
        ),
        (
            'version = "1"\ntitle = "t"\n[[rule]]\nname = "Nai"\nkind = "injury_on_plan"\n'
            'send_to = ["lead"]\n',
            "rule[0].name (rule 'Nai'): 'Nai' does not match ^[a-z][a-z0-9_]*$: a name like "
            "`nai_on_plan`",
        ),
    ],
)
def test_a_rule_policy_that_cannot_be_used_is_refused(
    tmp_path: Path, text: str, message: str
) -> None:
    """Each mistake names the file, the rule and the parameter."""
    path = tmp_path / "rules.toml"
    path.write_text(text)
    with pytest.raises(PolicyError) as raised:
        load_rule_policy(path)
    assert str(raised.value).startswith(f"{path}: ")
    assert message in str(raised.value)


def test_the_rule_policy_schema_knows_every_kind_the_ledger_implements() -> None:
    """The schema's `kind` enum and its per-kind parameters cover exactly the kinds in code."""
    import json
    from importlib.resources import files

    from projections.rules import KINDS

    schema = json.loads((files("policies") / "rule-policy.schema.json").read_text())
    item = schema["properties"]["rule"]["items"]
    assert item["properties"]["kind"]["enum"] == list(KINDS)
    assert [c["if"]["properties"]["kind"]["const"] for c in item["allOf"]] == list(KINDS)


def test_the_alert_report_pools_findings_per_rule_with_days_to_answer() -> None:
    """Two absent-GP findings in two cases, one answered after 2 days: per rule, counted."""
    from projections.rules import alert_report

    per_case = []
    for answered in (True, False):
        case_id = new_case_id()
        meeting = event(
            "meeting.held",
            case_id,
            D,
            meeting_type="initial_cp_conference",
            invited_agencies=["gp-practice-east"],
            attending_agencies=[],
        )
        documents = [meeting]
        if answered:
            finding = fired([meeting])["key_agency_absent"][0]
            documents.append(
                event(
                    "alert.answered",
                    case_id,
                    D + timedelta(days=2),
                    alert_id=finding.alert_id,
                    response="action_taken",
                )
            )
        found = evaluate(as_events(documents), cutoff("2007-03-31"), POLICY, agencies=AGENCIES)
        per_case.append((case_id, found))
    [row] = alert_report(per_case, cutoff("2007-03-31"))
    assert (row["rule"], row["alerts"], row["answered"], row["unanswered"]) == (
        "key_agency_absent",
        2,
        1,
        1,
    )
    assert row["median_days_to_answer"] == row["max_days_to_answer"] == 2.0
    [waiting] = row["unanswered_alerts"]
    assert waiting["case_id"] == per_case[1][0] and waiting["days_unanswered"] > 29


def test_injuries_whose_explanation_is_inconsistent_or_repeated() -> None:
    """The third doubtful explanation fires (the policy's count): judged inconsistent, or
    repeating an earlier explanation word for word (in any case and spacing)."""
    case_id = new_case_id()

    def injury(day: int, said: str, consistent: bool | None) -> dict[str, Any]:
        return event(
            "injury.observed",
            case_id,
            D + timedelta(days=day),
            explanation_given=said,
            explanation_consistent=consistent,
            suspected_non_accidental=False,
        )

    first = injury(0, "Fell off the sofa", None)
    odd = injury(10, "Walked into a door", False)
    again = injury(40, "fell off  the SOFA", None)
    third = injury(45, "Skin condition", False)
    found = fired([first, odd, again, third])["explanations_in_doubt"]
    assert [f.evidence for f in found] == [(odd["event_id"], again["event_id"], third["event_id"])]
    fine = injury(50, "Fell at nursery", True)
    assert "explanations_in_doubt" not in fired([first, fine, odd, again])


def test_an_observed_assault_not_reported_to_the_police_within_a_working_day() -> None:
    """A physical-abuse concern on a Friday: a share with the police on Monday is in time;
    none by Tuesday fires, dated when Monday ended (or when the concern was recorded, if
    later); a concern the police recorded themselves needs no notification."""
    case_id = new_case_id()
    friday = date(2007, 3, 2)
    concern = event("concern.raised", case_id, friday, category="PHY", severity="medium")
    [finding] = fired([concern])["assault_not_reported_to_police"]
    assert finding.evidence == (concern["event_id"],)
    assert finding.fired_at == cutoff("2007-03-06T00:00:00Z")
    assert "assault_not_reported_to_police" not in fired([concern], "2007-03-05T23:59:59Z")
    monday = event(
        "information.shared",
        case_id,
        date(2007, 3, 5),
        from_agency="la-childrens-social-care",
        to_agency="met-police",
        facts=[concern["event_id"]],
    )
    assert "assault_not_reported_to_police" not in fired([concern, monday])
    tuesday = {**monday, **on(date(2007, 3, 6)), "event_id": str(uuid.uuid4())}
    assert "assault_not_reported_to_police" in fired([concern, tuesday])
    written_up_late = {**concern, "recorded_at": "2007-03-09T10:00:00Z"}
    [late] = fired([written_up_late])["assault_not_reported_to_police"]
    assert late.fired_at == cutoff("2007-03-09T10:00:00Z")
    by_police = {**concern, "agency": "met-police"}
    neglect = event("concern.raised", case_id, friday, category="NEG", severity="high")
    assert "assault_not_reported_to_police" not in fired([by_police, neglect])


def test_an_adult_known_to_another_agency_and_not_to_the_lead_agency() -> None:
    """The police link a partner living in the household; social care leads. Not linked by
    social care within 5 days: fires on day 5. Linked by social care on day 3: nothing."""
    case_id = new_case_id()
    opened = event("case.opened", case_id, D, lead_agency="la-childrens-social-care")
    opened["agency"] = "la-childrens-social-care"

    def linked(agency: str, day: int) -> dict[str, Any]:
        made = event(
            "person.linked",
            case_id,
            D + timedelta(days=day),
            person_id="PER-T-PARTNER",
            role="partner_of_parent",
            is_adult=True,
            identity_verified=True,
            lives_in_household=True,
        )
        made["agency"] = agency
        return made

    police = linked("met-police", 1)
    [finding] = fired([opened, police])["adult_unknown_to_lead_agency"]
    assert finding.evidence == (police["event_id"],)
    assert finding.fired_at == cutoff(f"{(D + timedelta(days=6)).isoformat()}T10:00:00Z")
    assert "adult_unknown_to_lead_agency" not in fired(
        [opened, police, linked("la-childrens-social-care", 3)]
    )
    assert "adult_unknown_to_lead_agency" in fired(
        [opened, police, linked("la-childrens-social-care", 9)]
    )
    assert "adult_unknown_to_lead_agency" not in fired([police])  # no lead agency known


def test_a_referral_within_12_months_of_no_further_action() -> None:
    case_id = new_case_id()
    nfa = event("decision.recorded", case_id, D, decision_type="no_further_action", outcome="other")
    soon = event("referral.made", case_id, D + timedelta(days=200))
    late = event("referral.made", case_id, D + timedelta(days=400))
    before = event("referral.made", case_id, D - timedelta(days=5))
    [finding] = fired([before, nfa, soon, late], "2009-12-31")["rereferral_after_nfa"]
    assert finding.evidence == (nfa["event_id"], soon["event_id"])
    assert "200 days" in finding.summary


def test_a_raised_finding_keeps_its_id_when_a_late_entry_regroups_its_evidence() -> None:
    """Three injuries raise a cluster alert; an injury written up later but dated earlier
    joins it and one of the three is retracted, which regroups the window. The finding keeps
    the id it was raised under, and the answer to that id still matches."""
    from projections.rules import alert_document, evaluate_with_due

    case_id = new_case_id()
    injuries = [
        event("injury.observed", case_id, D + timedelta(days=d), suspected_non_accidental=False)
        for d in (0, 5, 10)
    ]
    [first] = fired(injuries)["injury_cluster"]
    raised = alert_document(first, case_id, POLICY, cutoff("2007-03-12"))
    late = event("injury.observed", case_id, D - timedelta(days=3), suspected_non_accidental=False)
    late["recorded_at"] = "2007-03-20T10:00:00Z"
    answer = event("alert.answered", case_id, D + timedelta(days=25), alert_id=first.alert_id)
    answer["payload"].update(response="action_taken")
    retracted = event("entry.retracted", case_id, D + timedelta(days=20), reason="wrong case")
    retracted["amends"] = injuries[2]["event_id"]
    documents = [*injuries, raised, late, retracted, answer]
    [regrouped] = fired(documents)["injury_cluster"]
    assert late["event_id"] in regrouped.evidence and set(regrouped.evidence) != set(first.evidence)
    assert regrouped.alert_id == first.alert_id and regrouped.answer is not None
    # Without the raised alert it would be a new id: the adoption is what keeps it.
    regroup = [*injuries, late, retracted]
    assert fired(regroup)["injury_cluster"][0].alert_id != first.alert_id
    # An event recorded a little ahead of the moment asked about is looked at again then.
    ahead = event("contact.recorded", case_id, D)
    ahead["recorded_at"] = "2007-03-01T10:00:20Z"
    _, due = evaluate_with_due(
        as_events([ahead]), cutoff("2007-03-01T10:00:00Z"), POLICY, agencies=AGENCIES
    )
    assert due == cutoff("2007-03-01T10:00:20Z")


def test_kind_not_id_picks_the_absent_invitees_and_the_police() -> None:
    """Any GP or hospital is a key agency, whatever its id; an agency the registry did not
    hold when the meeting was recorded is of no kind; a share with any police force counts,
    a share with an unregistered agency does not."""
    case_id = new_case_id()
    meeting = event(
        "meeting.held",
        case_id,
        D,
        meeting_type="initial_cp_conference",
        invited_agencies=["example-gp", "example-school", "unregistered-clinic"],
        attending_agencies=[],
    )
    [finding] = fired([meeting])["key_agency_absent"]
    assert finding.summary.endswith("invited and absent: example-gp")
    # The absent are named in the order the meeting invited them, not in order of code.
    both = event(
        "meeting.held",
        case_id,
        D,
        meeting_type="initial_cp_conference",
        invited_agencies=["example-hospital", "example-school", "example-gp"],
        attending_agencies=[],
    )
    [named] = fired([both])["key_agency_absent"]
    assert named.summary.endswith("invited and absent: example-hospital, example-gp")
    # The kind in effect when the meeting was recorded: a registration made later describes
    # the agency then too; a change of kind made later does not.
    later = registry({"example-gp": "gp"}, at="2007-03-02T00:00:00Z")
    assert evaluate(as_events([meeting]), cutoff("2008-12-31"), POLICY, agencies=later)
    rekinded = registry({"example-gp": "other"})
    rekinded.apply(update_event("example-gp", "2007-03-02T00:00:00Z", kind="gp"))
    assert not evaluate(as_events([meeting]), cutoff("2008-12-31"), POLICY, agencies=rekinded)

    concern = event("concern.raised", case_id, D, category="PHY")
    concern["agency"] = "example-school"

    def shared_with(agency: str) -> dict[str, Any]:
        return event(
            "information.shared", case_id, D, to_agency=agency, facts=[concern["event_id"]]
        )

    assert "assault_not_reported_to_police" not in fired([concern, shared_with("example-police")])
    assert "assault_not_reported_to_police" in fired([concern, shared_with("unregistered-force")])
    assert "assault_not_reported_to_police" in fired([concern, shared_with("example-hospital")])
    assert "assault_not_reported_to_police" not in fired([{**concern, "agency": "example-police"}])


def test_alerts_go_to_the_lead_and_to_the_involved_agencies_of_each_kind() -> None:
    """`send_to = ["lead", "childrens_social_care", "legal"]`: the lead named when the case
    was opened, every social-care agency that recorded an event on the case by the finding
    (by id), and legal services once they are involved; an agency involved only after the
    finding is not sent it. With no role resolved, every agency involved is."""
    case_id = new_case_id()
    opened = event("case.opened", case_id, D, lead_agency="example-social-care-east")
    opened["agency"] = "example-childrens-social-care"
    met = event(
        "decision.recorded", case_id, D, decision_type="threshold_care_proceedings", outcome="met"
    )
    met["agency"] = "example-social-care-east"
    police = {**event("contact.recorded", case_id, D), "agency": "example-police"}
    legal_later = {**event("contact.recorded", case_id, D + timedelta(days=20))}
    legal_later["agency"] = "example-legal"
    [finding] = fired([opened, met, police, legal_later])["threshold_met_no_step"]
    assert finding.sent_to == ("example-social-care-east", "example-childrens-social-care")
    assert finding.as_dict(cutoff("2008-12-31"))["sent_to"] == list(finding.sent_to)
    legal = {**legal_later, "occurred_at": opened["occurred_at"]}
    legal["recorded_at"] = opened["recorded_at"]
    [finding] = fired([opened, met, police, legal])["threshold_met_no_step"]
    assert finding.sent_to == (
        "example-social-care-east",
        "example-childrens-social-care",
        "example-legal",
    )
    from projections.rules import alert_document

    document = alert_document(finding, case_id, POLICY, cutoff("2008-12-31"))
    assert document["payload"]["sent_to"] == list(finding.sent_to)

    lone = {**met, "case_id": new_case_id(), "agency": "example-hospital"}
    [unled] = fired([lone])["threshold_met_no_step"]
    assert unled.sent_to == ("example-hospital",)


def test_the_demo_alerts_go_where_they_went_before_kinds() -> None:
    """Child A as of 25 July 2007: social care (the lead) for every alert, with legal services
    for the threshold and the police for an unreported assault, as when ids were named."""
    from sgl.demo.child_a import LEGAL, POLICE, SOCIAL_CARE, child_a

    moment = cutoff("2007-07-25")
    found = evaluate(as_events(child_a()), moment, POLICY, agencies=AGENCIES)
    to = {f.rule.name: f.sent_to for f in found}
    assert to.pop("assault_not_reported_to_police") == (SOCIAL_CARE, POLICE)
    assert to.pop("threshold_met_no_step", (SOCIAL_CARE, LEGAL)) == (SOCIAL_CARE, LEGAL)
    assert to and set(to.values()) == {(SOCIAL_CARE,)}


def test_recipients_resolved_in_one_pass_are_those_resolved_one_by_one() -> None:
    """The case state is folded on from finding to finding: each finding's recipients are
    what a fresh resolution of that finding alone gives, in any order asked."""
    from projections.rules import Recipients
    from sgl.demo.child_a import child_a

    events = as_events(child_a())
    found = evaluate(events, cutoff("2007-07-25"), POLICY, agencies=AGENCIES)
    shared = Recipients(events, AGENCIES)
    for finding in [*found, *reversed(found)]:
        alone = Recipients(events, AGENCIES).resolve(finding.rule.send_to, finding)
        assert shared.resolve(finding.rule.send_to, finding) == alone == finding.sent_to
