"""Presence rules, as the bundled policy states them: a child unseen by statutory agencies, a
closure while others still hold concerns, concerns never passed on by agencies that are not
statutory, injuries seen by different agencies. Each fires at its threshold and not one below,
once per situation, with an id that holds as its evidence grows, whatever the agencies are
called."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from ledger.envelope import parse_instant
from projections.agencies import AgencyLookup, AgencyTable
from projections.policy_file import PolicyError
from projections.rule_kinds import derived_id
from projections.rules import Firing, Rule, RulePolicy, evaluate, load_rule_policy
from sgl.demo.agencies import demo_registry
from sgl.demo.child_a import child_a
from sgl.demo.child_b import child_b
from tests.agencies import REGISTERED_AT, registration_event, registry, update_event
from tests.factories import as_events
from tests.involvement_factory import day, event, involved, seen, uninvolved

POLICY = load_rule_policy()
RULES = {r.name: r for r in POLICY.rules}
UNSEEN, CLOSED = RULES["unseen_by_statutory_agency"], RULES["closed_while_concerns_open"]
UNREFERRED, ACROSS = RULES["concern_not_referred"], RULES["injuries_seen_apart"]
KINDS = {
    "csc-t1": "childrens_social_care",
    "school-t1": "education",
    "gp-t1": "gp",
    "hosp-t1": "hospital",
    "hosp-t2": "hospital",
    "police-t1": "police",
    "charity-t1": "voluntary",
    "faith-t1": "faith",
}
AGENCIES = registry(KINDS)
CASE = "CASE-TPRESENCE1"


def at(n: float) -> datetime:
    """The instant `n` days after the start."""
    return parse_instant(day(n))


def found(
    documents: list[dict[str, Any]],
    rule: Rule,
    as_of: float = 3650,
    agencies: AgencyLookup = AGENCIES,
) -> list[Firing]:
    """The rule's findings in the case as of `as_of` days after the start."""
    policy = RulePolicy("t", "t", (rule,))
    return evaluate(as_events(documents), at(as_of), policy, agencies=agencies)


def with_params(rule: Rule, **params: Any) -> Rule:
    """The policy's rule with some parameters changed."""
    return Rule(rule.name, rule.kind, rule.send_to, {**rule.params, **params})


def injury(agency: str, n: float, nai: bool | str = True, **more: Any) -> dict[str, Any]:
    """injury.observed (version 2) by the agency, suspected non-accidental or not."""
    payload = {
        "body_region": "arm_left",
        "injury_type": "bruise",
        "count": 1,
        "suspected_non_accidental": nai,
        **more,
    }
    return event("injury.observed", CASE, agency, payload, n, version=2)


def told(
    sender: str, to: str, n: float, concern: str = "stated", kind: str = "information.shared"
) -> dict[str, Any]:
    """A share (or referral) from the sender to an agency, stating a concern or not."""
    conveyed = {"concern": concern}
    if kind == "referral.made":
        payload: dict[str, Any] = {"from_agency": sender, "to_agency": to, "reason": "Concern."}
        payload["conveyed"] = conveyed
    else:
        payload = {"from_agency": sender, "to_agency": to, "channel": "email"}
        payload["facts"] = [str(uuid.uuid4())]
        payload["conveyed"] = conveyed
    return event(kind, CASE, sender, payload, n, version=2)


def admitted(n: float, episode: str = "EP-T-1") -> dict[str, Any]:
    """hospital.admitted by the hospital."""
    return event("hospital.admitted", CASE, "hosp-t1", {"episode_id": episode, "via": "a_and_e"}, n)


def discharged(n: float, episode: str = "EP-T-1") -> dict[str, Any]:
    """hospital.discharged by the hospital."""
    payload = {"episode_id": episode, "discharged_to": "home"}
    return event("hospital.discharged", CASE, "hosp-t1", payload, n)


def test_each_presence_rule_is_in_the_bundled_policy_with_its_source() -> None:
    """The policy file states each rule's kind, parameters, recipients, description and source
    (Working Together 2023 or a practice theme)."""
    assert (UNSEEN.kind, UNSEEN.params["days"]) == ("unseen_by_statutory", 56)
    assert (CLOSED.kind, CLOSED.params["closing_kinds"]) == (
        "closed_while_open",
        ["childrens_social_care"],
    )
    assert (UNREFERRED.kind, UNREFERRED.params["working_days"]) == ("unreferred_concern", 1)
    assert (ACROSS.kind, ACROSS.params["count"], ACROSS.params["days"]) == (
        "injuries_across",
        2,
        28,
    )
    for rule in (UNSEEN, CLOSED, UNREFERRED, ACROSS):
        assert rule.send_to == ("lead", "childrens_social_care")
        assert rule.description
        source = rule.source
        assert source.startswith(("practice: ", "Working Together to Safeguard Children 2023"))


@pytest.mark.parametrize(
    ("kind", "params", "message"),
    [
        ("unseen_by_statutory", "", "'days' is missing: unseen_by_statutory takes days"),
        ("unseen_by_statutory", "days = 0\n", "rule[0].days (rule 'x'): must be at least 1"),
        (
            "closed_while_open",
            'closing_kinds = ["csc-t1"]\n',
            "rule[0].closing_kinds[0] (rule 'x'): 'csc-t1' is not one of childrens_social_care",
        ),
        (
            "unreferred_concern",
            "days = 1\n",
            "'days' not allowed here: unreferred_concern takes working_days "
            "[additionalProperties]; rule[0] (rule 'x'): 'working_days' is missing",
        ),
        ("injuries_across", "count = 2\n", "'days' is missing: injuries_across takes count, days"),
    ],
)
def test_a_presence_rule_with_a_wrong_parameter_is_refused(
    tmp_path: Path, kind: str, params: str, message: str
) -> None:
    """A missing or wrong parameter, or an agency id where a kind belongs, is named."""
    path = tmp_path / "rules.toml"
    path.write_text(
        f'version = "1"\ntitle = "t"\n[[rule]]\nname = "x"\nkind = "{kind}"\n{params}'
        'send_to = ["lead"]\n'
    )
    with pytest.raises(PolicyError) as raised:
        load_rule_policy(path)
    assert message in str(raised.value)


# unseen_by_statutory_agency


def unseen_case(next_seen: float | None) -> list[dict[str, Any]]:
    """Social care involved from day 0 and seeing the child on day 1; then seen again by the
    school on `next_seen` (or never), with a visit that does not see her on day 20."""
    documents = [
        involved(CASE, "csc-t1", 0),
        seen(CASE, "csc-t1", 1),
        seen(CASE, "csc-t1", 20, child_seen="no"),
    ]
    return documents + ([] if next_seen is None else [seen(CASE, "school-t1", next_seen)])


def test_unseen_fires_when_the_days_have_passed_and_not_a_moment_before() -> None:
    """Seen on day 1 and not again: nothing as of a second before day 57; as of day 57 a
    finding dated then, its evidence the last sighting and the visit that did not see her."""
    documents = unseen_case(None)
    assert found(documents, UNSEEN, as_of=57 - 1 / 86400) == []
    [finding] = found(documents, UNSEEN, as_of=57)
    assert finding.fired_at == at(1 + 56)
    assert finding.evidence == (documents[1]["event_id"], documents[2]["event_id"])
    assert "for 56 days or more: last seen 2007-01-02" in finding.summary


@pytest.mark.parametrize(("next_seen", "fires"), [(56, False), (57, False), (57.01, True)])
def test_unseen_stretch_of_exactly_the_days_does_not_fire_one_longer_does(
    next_seen: float, fires: bool
) -> None:
    """Seen on day 1, then by the school on `next_seen`: 55 or 56 days unseen is within the
    threshold; a moment longer fires, dated when the 56 days ran out (as of day 100, before
    the stretch after the school's sighting could)."""
    findings = found(unseen_case(next_seen), UNSEEN, as_of=100)
    assert bool(findings) is fires
    if fires:
        assert findings[0].fired_at == at(57)
        assert "until 2007-02-27" in findings[0].summary


def test_unseen_needs_a_statutory_agency_still_involved_when_the_days_run_out() -> None:
    """Involvement closed on day 50 (before the threshold): nothing; closed on day 60: the
    finding on day 57 stands. No involvement at all: nothing."""
    closed_early = [*unseen_case(None), uninvolved(CASE, "csc-t1", 50)]
    assert found(closed_early, UNSEEN) == []
    closed_late = [*unseen_case(None), uninvolved(CASE, "csc-t1", 60)]
    assert [f.fired_at for f in found(closed_late, UNSEEN)] == [at(57)]
    assert found([seen(CASE, "csc-t1", 1)], UNSEEN) == []


def test_only_a_statutory_agency_seeing_the_child_itself_is_a_sighting() -> None:
    """A charity seeing her, a sighting someone reported to social care, or an undated
    contact do not end the stretch; an injury observed by the GP does."""
    reported = seen(CASE, "csc-t1", 30, source={"kind": "relative", "person_id": "PER-T-1"})
    undated = seen(CASE, "school-t1", 30)
    undated["occurred_precision"] = "undated"
    del undated["occurred_at"]
    documents = [*unseen_case(None), seen(CASE, "charity-t1", 30), reported, undated]
    assert [f.fired_at for f in found(documents, UNSEEN)] == [at(57)]
    assert found([*unseen_case(None), injury("gp-t1", 30, nai=False)], UNSEEN, as_of=80) == []


def test_a_stay_in_hospital_is_not_an_unseen_stretch() -> None:
    """Admitted on day 10 and discharged on day 100: seen throughout; the stretch counts again
    from the discharge."""
    documents = [*unseen_case(None), admitted(10), discharged(100)]
    assert found(documents, UNSEEN, as_of=155) == []
    [finding] = found(documents, UNSEEN, as_of=157)
    assert finding.fired_at == at(156)
    assert finding.evidence[0] == documents[-1]["event_id"]


def test_an_admission_with_no_discharge_ends_at_a_sighting_elsewhere_or_after_max_stay() -> None:
    """Admitted on day 10, no discharge recorded, social care visiting on day 60 without
    seeing her: in hospital for 28 days at most, so unseen from day 38 and found on day 94;
    seen at home by the school on day 20 (a phone call does not count, nor the hospital's own
    contact), the stay ended there and the finding comes on day 76. Where the record simply
    ends after the admission, the ledger cannot tell she left: no finding."""
    stay = admitted(10)
    assert found([*unseen_case(None), stay], UNSEEN, as_of=400) == []
    documents = [*unseen_case(None), stay, seen(CASE, "csc-t1", 60, child_seen="no")]
    assert found(documents, UNSEEN, as_of=94 - 1 / 86400) == []
    [finding] = found(documents, UNSEEN, as_of=94)
    assert (finding.fired_at, finding.evidence[0]) == (at(94), stay["event_id"])
    call = seen(CASE, "gp-t1", 15, contact_type="phone")
    own = seen(CASE, "hosp-t1", 16, contact_type="other")
    assert [f.fired_at for f in found([*documents, call, own], UNSEEN)] == [at(94)]
    home = seen(CASE, "school-t1", 20)
    [sooner] = found([*documents, home], UNSEEN)
    assert (sooner.fired_at, sooner.evidence[0]) == (at(76), home["event_id"])


def test_unseen_from_the_start_of_an_involvement_says_so() -> None:
    """Social care involved from day 0 and never seeing her: a finding on day 56 whose
    evidence starts with the opening of the involvement."""
    opened = involved(CASE, "csc-t1", 0)
    [finding] = found([opened], UNSEEN)
    assert (finding.fired_at, finding.evidence) == (at(56), (opened["event_id"],))
    assert "involved from 2007-01-01" in finding.summary


def test_one_unseen_finding_per_stretch_its_evidence_growing_under_one_id() -> None:
    """As of day 60 and as of day 90 (two more visits that did not see her): one finding, the
    same id, the later one's evidence a superset; the stretch ending on day 95 brings no
    second one (as of day 150, before the next stretch could)."""
    documents = unseen_case(None)
    early = found(documents, UNSEEN, as_of=60)
    later_visits = [seen(CASE, "csc-t1", n, child_seen="no") for n in (70, 80)]
    documents += [*later_visits, seen(CASE, "school-t1", 95)]
    late = found(documents, UNSEEN, as_of=90)
    ended = found(documents, UNSEEN, as_of=150)
    assert len(early) == len(late) == len(ended) == 1
    assert early[0].alert_id == late[0].alert_id == ended[0].alert_id
    assert set(early[0].evidence) < set(late[0].evidence)
    assert late[0].evidence[-2:] == tuple(v["event_id"] for v in later_visits)


# closed_while_concerns_open


def closing(reason: str = "no_engagement", agency: str = "csc-t1") -> dict[str, Any]:
    """The agency closes its involvement on day 30."""
    return uninvolved(CASE, agency, 30, reason=reason)


def test_closing_while_the_child_is_in_hospital_fires() -> None:
    """Social care closes on day 30 while she is in hospital since day 20: a finding with the
    closure and the admission; discharged on day 29 (or day 30 exactly): nothing."""
    opened, stay, closure = involved(CASE, "csc-t1", 0), admitted(20), closing()
    [finding] = found([opened, stay, closure], CLOSED)
    assert finding.evidence == (closure["event_id"], stay["event_id"])
    assert finding.fired_at == at(30)
    assert "hospital admission EP-T-1" in finding.summary
    for left in (29, 30):
        assert found([opened, stay, discharged(left), closing()], CLOSED) == []


def test_an_admission_with_no_discharge_is_no_stay_after_a_sighting_at_home_or_28_days() -> None:
    """Admitted on day 20 with no discharge: social care closing on day 30 fires; not if the
    school saw the child at home on day 25; admitted on day 2, 28 days before the closure
    (social care still recording then), not either."""
    opened, closure = involved(CASE, "csc-t1", 0), closing()
    assert len(found([opened, admitted(20), closure], CLOSED)) == 1
    home = seen(CASE, "school-t1", 25)
    assert found([opened, admitted(20), home, closure], CLOSED) == []
    assert len(found([opened, admitted(2.01), closure], CLOSED)) == 1
    assert found([opened, admitted(2), closure], CLOSED) == []


def test_each_closure_while_open_is_its_own_finding_named_by_the_closure() -> None:
    """Social care closes while the child is in hospital, reopens and closes again: two
    findings, both with the admission, each with the id of its closure, the first unchanged
    by the second."""
    stay, first_closure = admitted(20), uninvolved(CASE, "csc-t1", 22, reason="no_engagement")
    base = [involved(CASE, "csc-t1", 0), stay, first_closure]
    [alone] = found(base, CLOSED)
    documents = [*base, involved(CASE, "csc-t1", 24), closing()]
    first, second = found(documents, CLOSED)
    assert first.alert_id == alone.alert_id != second.alert_id
    assert stay["event_id"] in first.evidence and stay["event_id"] in second.evidence
    assert second.evidence[0] == documents[-1]["event_id"]
    assert second.alert_id == derived_id(CLOSED.name, (documents[-1]["event_id"],))


def test_closing_with_an_alert_to_it_unanswered_fires() -> None:
    """An alert sent to social care on day 10, unanswered at the closure: a finding; answered
    on day 30 or before, or sent to another agency: nothing."""
    raised = event(
        "alert.raised",
        CASE,
        "safeguarding-ledger",
        {
            "alert_id": "ALERT-T-0001",
            "rule": "injury_cluster",
            "rule_version": "1",
            "evidence": [str(uuid.uuid4())],
            "sent_to": ["csc-t1"],
        },
        10,
        version=2,
    )
    answer = event(
        "alert.answered",
        CASE,
        "csc-t1",
        {
            "alert_id": "ALERT-T-0001",
            "response": "action_taken",
            "answered_by": {"id": "P-TM-0001", "role": "team_manager"},
        },
        30,
        version=2,
    )
    opened = involved(CASE, "csc-t1", 0)
    [finding] = found([opened, raised, closing()], CLOSED)
    assert finding.evidence[1] == raised["event_id"]
    assert "unanswered alert ALERT-T-0001" in finding.summary
    assert found([opened, raised, answer, closing()], CLOSED) == []
    elsewhere = {**raised, "payload": {**raised["payload"], "sent_to": ["police-t1"]}}
    assert found([opened, elsewhere, closing()], CLOSED) == []


def test_closing_while_an_agency_that_told_it_of_a_concern_is_still_involved_fires() -> None:
    """The charity, involved, tells social care of a concern on day 12; social care closes on
    day 30 without seeing her since: a finding. Not if social care saw her after the concern,
    the charity closed first, or the share denied a concern; a closure after an earlier one
    answers only for concerns told since."""
    charity = involved(CASE, "charity-t1", 5, basis="support_service")
    concern = told("charity-t1", "csc-t1", 12)
    base = [involved(CASE, "csc-t1", 0), charity, concern]
    [finding] = found([*base, closing()], CLOSED)
    assert finding.evidence[1:] == (concern["event_id"],)
    assert "1 concern(s) told by charity-t1, still involved" in finding.summary
    assert found([*base, seen(CASE, "csc-t1", 20), closing()], CLOSED) == []
    assert found([*base, uninvolved(CASE, "charity-t1", 25), closing()], CLOSED) == []
    denied = told("charity-t1", "csc-t1", 12, concern="denied")
    assert found([base[0], charity, denied, closing()], CLOSED) == []
    first_closure = uninvolved(CASE, "csc-t1", 15, reason="no_engagement")
    reopened = [*base, first_closure, involved(CASE, "csc-t1", 20), closing()]
    assert [f.evidence[0] for f in found(reopened, CLOSED)] == [first_closure["event_id"]]


def test_a_handover_or_another_kind_of_agency_closing_is_not_this_finding() -> None:
    """A transfer to another area and a hospital closing its own involvement do not fire;
    with `closing_kinds = ["hospital"]` the hospital's closure does."""
    base = [involved(CASE, "csc-t1", 0), involved(CASE, "hosp-t1", 1), admitted(20)]
    assert found([*base, closing("case_transferred")], CLOSED) == []
    rc5 = event("case.closed", CASE, "csc-t1", {"reason": "RC5", "closed_on": "2007-01-31"}, 30)
    assert found([*base, rc5], CLOSED, as_of=40) == []
    hospital_closes = closing("service_complete", agency="hosp-t1")
    assert found([*base, hospital_closes], CLOSED) == []
    by_hospital = with_params(CLOSED, closing_kinds=["hospital"])
    assert len(found([*base, hospital_closes], by_hospital)) == 1


# concern_not_referred

# 2007-01-03 (day 2) is a Wednesday, 2007-01-05 (day 4) a Friday.
WEDNESDAY, FRIDAY = 2, 4


def concern_seen(agency: str, n: float, noted: bool | str = True) -> dict[str, Any]:
    """A contact seeing the child, with concerns noted (or not)."""
    return seen(CASE, agency, n + 11 / 24, concerns_noted=noted)


@pytest.mark.parametrize(
    ("noticed", "shared", "fires_on"),
    [
        (WEDNESDAY, WEDNESDAY + 1, None),  # shared on the last working day (Thursday)
        (WEDNESDAY, WEDNESDAY + 2, WEDNESDAY + 2),  # Friday: a day late
        (FRIDAY, FRIDAY + 3, None),  # Friday's concern shared on Monday
        (FRIDAY, FRIDAY + 4, FRIDAY + 4),  # Tuesday: a day late
    ],
)
def test_a_concern_not_shared_by_the_end_of_the_next_working_day_fires(
    noticed: int, shared: int, fires_on: int | None
) -> None:
    """A charity's concern (seen on `noticed`) shared with social care on `shared`: on time
    up to the end of the next working day; otherwise a finding at the start of the day after
    that last day."""
    concern = concern_seen("charity-t1", noticed)
    findings = found([concern, told("charity-t1", "csc-t1", shared + 0.5)], UNREFERRED)
    assert [f.fired_at for f in findings] == ([] if fires_on is None else [at(fires_on)])
    if fires_on is not None:
        assert findings[0].evidence == (concern["event_id"],)
        assert found([concern], UNREFERRED, as_of=fires_on - 1 / 86400) == []


def test_only_concerns_of_agencies_that_are_not_statutory_and_shares_to_statutory_count() -> None:
    """A school's concern never fires it; a charity contact with no concern noted (or not
    known) neither; a share to the faith group does not answer the charity's concern; a
    referral to the police does."""
    assert found([concern_seen("school-t1", WEDNESDAY)], UNREFERRED) == []
    for noted in (False, "not_known"):
        assert found([concern_seen("charity-t1", WEDNESDAY, noted)], UNREFERRED) == []
    concern = concern_seen("charity-t1", WEDNESDAY)
    assert len(found([concern, told("charity-t1", "faith-t1", WEDNESDAY)], UNREFERRED)) == 1
    referral = told("charity-t1", "police-t1", WEDNESDAY, kind="referral.made")
    assert found([concern, referral], UNREFERRED) == []


def test_a_raised_concern_counts_and_one_recorded_late_fires_when_recorded() -> None:
    """A faith group's concern.raised on Wednesday, recorded ten days later: a finding dated
    when it was recorded."""
    payload = {"category": "PHY", "severity": "not_known", "description": "A bruise."}
    late = event("concern.raised", CASE, "faith-t1", payload, WEDNESDAY, WEDNESDAY + 10, version=2)
    [finding] = found([late], UNREFERRED)
    assert finding.fired_at == at(WEDNESDAY + 10)
    assert "faith-t1: 1 concern(s) from 2007-01-03" in finding.summary


def test_an_agencys_unshared_concerns_are_one_finding_until_it_next_shares() -> None:
    """Concerns on days 2, 9 and 16, nothing shared: one finding, its id that of the first
    day, the others joining as their days pass; a share on day 12 splits off the third."""
    concerns = [concern_seen("charity-t1", n) for n in (2, 9, 16)]
    early = found(concerns[:1], UNREFERRED, as_of=5)
    grown = found(concerns, UNREFERRED, as_of=10)
    full = found(concerns, UNREFERRED)
    assert len(early) == len(grown) == len(full) == 1
    assert early[0].alert_id == grown[0].alert_id == full[0].alert_id
    assert len(grown[0].evidence) == 1 and len(full[0].evidence) == 3
    split = found([*concerns, told("charity-t1", "csc-t1", 12)], UNREFERRED)
    assert [len(f.evidence) for f in split] == [2, 1]


# injuries_seen_apart


@pytest.mark.parametrize(("second", "fires"), [(27, True), (28, True), (28.01, False)])
def test_injuries_of_concern_seen_by_two_agencies_within_28_days(
    second: float, fires: bool
) -> None:
    """A hospital on day 0 and the school on `second`: up to 28 days apart fires, dated when
    the second was recorded; a moment more does not."""
    documents = [injury("hosp-t1", 0), injury("school-t1", second)]
    findings = found(documents, ACROSS)
    assert [f.fired_at for f in findings] == ([at(second)] if fires else [])


def test_injuries_across_fires_only_on_injuries_of_concern_by_different_agencies() -> None:
    """Two suspected injuries by one agency do not fire; an injury judged accidental with a
    consistent explanation does not count; one whose explanation was inconsistent does."""
    assert found([injury("hosp-t1", 0), injury("hosp-t1", 5)], ACROSS) == []
    accidental = injury("school-t1", 5, nai=False, explanation_consistent=True)
    assert found([injury("hosp-t1", 0), accidental], ACROSS) == []
    unexplained = injury("school-t1", 5, nai="not_known", explanation_consistent=False)
    assert len(found([injury("hosp-t1", 0), unexplained], ACROSS)) == 1


def test_injuries_in_two_areas_fire_when_the_agencies_alone_would_not() -> None:
    """With `count = 3`, two hospitals in different areas fire; in the same area they do not."""
    rule = with_params(ACROSS, count=3)
    documents = [injury("hosp-t1", 0), injury("hosp-t2", 10)]
    assert found(documents, rule) == []
    areas = AgencyTable(
        [
            *(registration_event(a, k) for a, k in KINDS.items()),
            update_event("hosp-t1", REGISTERED_AT, area="E09000001"),
            update_event("hosp-t2", REGISTERED_AT, area="E09000002"),
        ]
    )
    assert len(found(documents, rule, agencies=areas)) == 1


def test_one_injuries_across_finding_per_run_its_evidence_growing_under_one_id() -> None:
    """Injuries on days 0 and 10 fire; days 30 and 50 (each within 28 days of the one before)
    join the same finding under the same id; one on day 100 starts a run of its own."""
    documents = [injury("hosp-t1", 0), injury("school-t1", 10)]
    first = found(documents, ACROSS)
    documents += [injury("hosp-t1", 30), injury("gp-t1", 50), injury("gp-t1", 100)]
    later = found(documents, ACROSS)
    assert len(first) == len(later) == 1
    assert later[0].alert_id == first[0].alert_id
    assert later[0].evidence == tuple(d["event_id"] for d in documents[:4])


# every agency renamed


def renamed(documents: list[dict[str, Any]], codes: Mapping[str, str]) -> list[dict[str, Any]]:
    """The documents with every agency id replaced, wherever it stands."""
    out = []
    for document in documents:
        payload = dict(document["payload"])
        for field in ("from_agency", "to_agency", "lead_agency"):
            if field in payload:
                payload[field] = codes[payload[field]]
        if "sent_to" in payload:
            payload["sent_to"] = [codes[a] for a in payload["sent_to"]]
        out.append({**document, "agency": codes[document["agency"]], "payload": payload})
    return out


def test_renaming_every_agency_changes_nothing_but_the_ids() -> None:
    """A case on which every presence rule fires, with every agency renamed (same kinds):
    the same findings, evidence, dates and alert ids; summaries differ only by the codes."""
    documents = [
        *unseen_case(None),
        involved(CASE, "school-t1", 0, basis="education"),
        involved(CASE, "charity-t1", 5, basis="support_service"),
        concern_seen("charity-t1", 9),
        told("charity-t1", "csc-t1", 12),
        concern_seen("charity-t1", 16),
        closing(),
        injury("hosp-t1", 40),
        injury("school-t1", 45),
    ]
    codes = {a: f"ag-{uuid.uuid4().hex[:12]}" for a in KINDS}
    back = {new: old for old, new in codes.items()}
    agencies = registry({codes[a]: k for a, k in KINDS.items()})
    for rule in (UNSEEN, CLOSED, UNREFERRED, ACROSS):
        plain = found(documents, rule)
        other = found(renamed(documents, codes), rule, agencies=agencies)
        assert plain, rule.name
        assert [(f.alert_id, f.evidence, f.fired_at) for f in other] == [
            (f.alert_id, f.evidence, f.fired_at) for f in plain
        ]
        summaries = [re.sub(r"ag-[0-9a-f]{12}", lambda m: back[m[0]], f.summary) for f in other]
        assert summaries == [f.summary for f in plain]


# the demo cases


def demo_findings(documents: list[dict[str, Any]], as_of: str) -> list[tuple[str, str]]:
    """The presence rules' findings in a demo case as of a day: rule and day fired."""
    agencies = AgencyTable(as_events(demo_registry()))
    presence = RulePolicy("t", "t", (UNSEEN, CLOSED, UNREFERRED, ACROSS))
    moment = parse_instant(f"{as_of}T23:59:59Z")
    return [
        (f.rule.name, f.fired_at.date().isoformat())
        for f in evaluate(as_events(documents), moment, presence, agencies=agencies)
    ]


def test_child_b_fires_on_the_unseen_winter_the_closure_and_the_concerns_kept() -> None:
    """Child B, as of 31 August 2023: unseen by any statutory agency from 18 November 2022
    (fired 13 January 2023); the charity's April and May concerns and the faith group's not
    passed on; Millford's closure for no engagement while the charity, which had told it of
    a concern, was still involved (the faith group's Sunday concern counts from Tuesday 2 May,
    the next working day after the bank holiday, so it fires on 4 May). No injuries seen apart
    (each run is one agency's)."""
    assert demo_findings(child_b(), "2023-08-31") == [
        ("unseen_by_statutory_agency", "2023-01-13"),
        ("concern_not_referred", "2023-04-21"),
        ("closed_while_concerns_open", "2023-04-24"),
        ("concern_not_referred", "2023-05-04"),
    ]


def test_child_a_fires_on_injuries_seen_apart_and_nothing_else_by_its_last_day() -> None:
    """Child A, as of 4 August 2007: one finding for the injuries of concern seen by six
    agencies from January to August 2007; seen often enough, no closure, no voluntary
    agency."""
    assert demo_findings(child_a(), "2007-08-04") == [("injuries_seen_apart", "2007-03-21")]
