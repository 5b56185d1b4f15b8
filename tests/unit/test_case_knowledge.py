"""The case page's who-knew and clocks sections: the knowledge documents the API answers with
become cells shaded by how late each agency learned each fact, gaps and withheld facts say so
in words, and the clocks and findings carry their breaches, answers and evidence links."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from projections.knowledge import Knowledge, knowledge
from sgl.web.case_knowledge import clocks_view, matrix_view, own_knowledge
from sgl.web.render import environment
from tests.factories import as_events, make_event, new_case_id

SC = "ck-childrens-social-care"
POLICE = "ck-police"
SCHOOL = "ck-primary-school"
GP = "ck-gp-practice"
NAMES = {
    SC: "Zed Borough Children's Services",
    POLICE: "Ash Police Child Protection",
    SCHOOL: "Elm Primary School",
    GP: "Oak Surgery",
}
DAY0 = datetime(2007, 3, 1, 9, tzinfo=UTC)


def at(day: float) -> str:
    return (DAY0 + timedelta(days=day)).strftime("%Y-%m-%dT%H:%M:%SZ")


def name_of(agency: str) -> str:
    return NAMES.get(agency, agency)


class Case:
    """A case written event by event: agency, the day it happened and was recorded."""

    def __init__(self) -> None:
        self.case_id = new_case_id()
        self.documents: list[dict[str, Any]] = []
        opened = make_event("case.opened")["payload"]
        self.add("case.opened", SC, 0, payload={**opened, "lead_agency": SC})

    def add(self, event_type: str, agency: str, day: float, **fields: Any) -> str:
        event = make_event(
            event_type, self.case_id, agency=agency, occurred_at=at(day), recorded_at=at(day)
        )
        event.update(fields)
        self.documents.append(event)
        return str(event["event_id"])

    def share(self, source: str, target: str, day: float, facts: list[str]) -> str:
        payload = {"from_agency": source, "to_agency": target, "facts": facts, "channel": "phone"}
        return self.add("information.shared", source, day, payload=payload)

    def withhold(self, agency: str, day: float, facts: list[str], withheld_from: list[str]) -> str:
        payload = {
            "facts": facts,
            "withheld_from": withheld_from,
            "reason": "would_prejudice_investigation",
            "explanation": "Joint enquiry under way.",
        }
        return self.add("information.withheld", agency, day, payload=payload)

    def known(self, day: float) -> Knowledge:
        return knowledge(as_events(self.documents), DAY0 + timedelta(days=day, hours=12))


def documents(found: Knowledge, as_of: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The matrix and each agency's gaps as the query layer answers them."""
    header = {"case_id": found.case_id, "as_of": as_of, "basis": "recorded"}
    missed = {
        a: {**header, "agency": a, "facts": found.gaps(a), "people": found.people_gaps(a)}
        for a in found.agencies
    }
    return {**header, **found.matrix()}, missed


def a_case() -> tuple[Case, dict[str, str]]:
    """The school's concern shared with social care at once, with the GP after 10 days and
    the police after 40; the police's enquiry withheld from the school; a GP contact nobody
    else learned of."""
    case = Case()
    concern = case.add("concern.raised", SCHOOL, 1)
    case.share(SCHOOL, SC, 1.2, [concern])
    case.share(SCHOOL, GP, 4, [concern])
    enquiry = case.add("involvement.opened", POLICE, 2)
    case.withhold(POLICE, 3, [enquiry], [SCHOOL])
    contact = case.add("contact.recorded", GP, 5)
    case.share(SCHOOL, POLICE, 41, [concern])
    return case, {"concern": concern, "enquiry": enquiry, "contact": contact}


def cells_of(view: dict[str, Any], event_id: str) -> dict[str, dict[str, Any]]:
    [row] = [f for f in view["facts"] if f["event_id"] == event_id]
    return {c["agency"]: c for c in row["cells"]}


def render(template: str, **context: Any) -> str:
    return environment.get_template(template).render(**context)


def test_each_cell_says_when_the_agency_learned_the_fact_shaded_by_how_late() -> None:
    case, ids = a_case()
    view = matrix_view(*documents(case.known(45), "2007-04-15"), name_of)
    assert [a["name"] for a in view["agencies"]] == sorted(NAMES.values())
    concern = cells_of(view, ids["concern"])
    assert (concern[SCHOOL]["state"], concern[SCHOOL]["band"]) == ("recorded", "recorded")
    assert (concern[SC]["state"], concern[SC]["band"]) == ("known", "same-day")
    assert (concern[GP]["band"], concern[GP]["since_day"]) == ("week", "5 Mar 2007")
    assert concern[POLICE]["band"] == "later"
    assert concern[POLICE]["lag_days"] == 40.0
    assert (
        "Ash Police Child Protection learned it on 11 Apr 2007 through a share"
        in (concern[POLICE]["note"])
    )


def test_gaps_and_withheld_facts_are_cells_of_their_own_with_the_decision() -> None:
    case, ids = a_case()
    view = matrix_view(*documents(case.known(10), "2007-03-11"), name_of)
    enquiry = cells_of(view, ids["enquiry"])
    assert enquiry[SCHOOL]["state"] == "withheld"
    [decision] = enquiry[SCHOOL]["withholdings"]
    assert decision == {
        "by": NAMES[POLICE],
        "day": "4 Mar 2007",
        "reason": "would prejudice investigation",
        "explanation": "Joint enquiry under way.",
        "through": decision["through"],
    }
    assert enquiry[GP]["state"] == "gap" and enquiry[GP]["withholdings"] == []
    assert enquiry[GP]["known_elsewhere_days"] == 8.5
    police = next(a for a in view["agencies"] if a["id"] == POLICE)
    assert police["gaps"] == police["facts"] - 2, "it knew its enquiry and the withholding"


def test_the_matrix_renders_as_a_table_with_words_beside_the_shades() -> None:
    case, ids = a_case()
    view = matrix_view(*documents(case.known(10), "2007-03-11"), name_of)
    page = render("sections/knowledge.html", knowledge=view, case_id=case.case_id, as_of="x")
    assert '<h2 id="who-knew">' in page
    for name in NAMES.values():
        assert f">{name}".replace("'", "&#39;") in page
    head = re.search(r"<thead>.*?</thead>", page, re.S)
    assert head is not None and SC not in re.sub(r'data-agency="[^"]*"', "", head.group(0))
    school_cell = re.search(
        rf'<tr data-event="{ids["enquiry"]}".*?data-agency="{SCHOOL}"[^>]*>(.*?)</td>', page, re.S
    )
    assert school_cell is not None
    assert "<strong>withheld</strong>" in school_cell.group(1)
    assert "by Ash Police Child Protection on 4 Mar 2007" in school_cell.group(1)
    gp_cell = re.search(
        rf'<tr data-event="{ids["enquiry"]}".*?data-agency="{GP}" data-state="gap"[^>]*>(.*?)</td>',
        page,
        re.S,
    )
    assert gp_cell is not None and gp_cell.group(1).strip() == "not known"
    assert f'href="/cases/{case.case_id}/events/{ids["contact"]}?as_of=x"' in page
    for words in ("never learned by this date", "another agency decided not to share"):
        assert words in page, "the legend explains each shade"


def test_a_practitioner_sees_one_column_its_own() -> None:
    case, ids = a_case()
    found = case.known(10)
    own = {
        "case_id": case.case_id,
        "as_of": "2007-03-11",
        "basis": "recorded",
        "agency": GP,
        "facts": found.of_agency(GP),
    }
    view = own_knowledge(own, name_of)
    assert [a["id"] for a in view["agencies"]] == [GP]
    shown_facts = {f["event_id"] for f in view["facts"]}
    assert shown_facts == {f["event_id"] for f in found.of_agency(GP)}
    assert ids["concern"] in shown_facts and ids["enquiry"] not in shown_facts
    page = render("sections/knowledge.html", knowledge=view, case_id=case.case_id, as_of="")
    assert "What <strong>Oak Surgery</strong> knew" in page
    shown = set(re.findall(r'<td[^>]*data-agency="([^"]+)"', page))
    assert shown == {GP}
    assert NAMES[SC] not in re.sub(r'<th scope="row">.*?</th>', "", page, flags=re.S)
    assert "not known" not in page and "withheld" not in page


RUN = {
    "clock": "legal_planning_meeting",
    "description": "A legal planning meeting held within 10 working days of the request.",
    "limit": "10 working days",
    "agency": SC,
    "responsible": SC,
    "responsible_kind": "childrens_social_care",
    "area": "E09000001",
}


def clock_documents() -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    """Clocks, alerts and chronology documents as the query layer answers them."""
    header = {"case_id": "CASE-T1", "as_of": "2007-07-25", "basis": "recorded"}
    runs = {
        **header,
        "measured_to": "2007-07-25T23:59:59.999999Z",
        "policy": {"version": "1", "title": "Test timescales"},
        "clocks": [
            {
                **RUN,
                "status": "breached",
                "start_event": "e-start",
                "started_at": "2007-06-06T10:00:00Z",
                "stop_event": None,
                "stopped_at": None,
                "deadline": "2007-06-20",
                "working_days": 35,
                "calendar_days": 49.6,
            },
            {
                **RUN,
                "clock": "strategy_discussion",
                "responsible": None,
                "status": "met",
                "start_event": "e-start",
                "started_at": "2007-06-06T10:00:00Z",
                "stop_event": "e-stop",
                "stopped_at": "2007-06-07T10:00:00Z",
                "deadline": "2007-06-07",
                "working_days": 1,
                "calendar_days": 1.0,
            },
        ],
    }
    evidence = [f"e-{n}" for n in range(7)]
    alerts = {
        **header,
        "policy": {"version": "1", "title": "Test thresholds"},
        "unanswered": 1,
        "alerts": [
            {
                "alert_id": "ALERT-injury-cluster-1",
                "rule": "injury_cluster",
                "summary": "7 injury observations",
                "evidence": evidence,
                "fired_at": "2007-01-12T15:48:00Z",
                "sent_to": [SC],
                "answered": False,
                "answered_at": None,
                "response": None,
                "days_unanswered": 194.34,
            },
            {
                "alert_id": "ALERT-key-agency-absent-1",
                "rule": "key_agency_absent",
                "summary": "invited and absent",
                "evidence": ["e-start"],
                "fired_at": "2006-12-25T11:00:00Z",
                "sent_to": [SC, GP],
                "answered": True,
                "answered_at": "2007-01-02T09:00:00Z",
                "response": "action_taken",
                "days_to_answer": 7.92,
            },
        ],
        "raised": [
            {
                "alert_id": "ALERT-key-agency-absent-1",
                "event_id": "e-raised",
                "decided_at": "2006-12-25T11:00:01Z",
            }
        ],
    }
    told = [
        {
            "event_id": "e-0",
            "occurred": "9 Jan 2007 10:00",
            "agency_name": "Oak Surgery",
            "type": "injury.observed",
            "summary": "bruise to arm",
        }
    ]
    return runs, alerts, told


def test_clock_runs_and_findings_become_rows_with_names_and_days() -> None:
    view = clocks_view(*clock_documents(), name_of)
    late, met = view["runs"]
    assert (late["breached"], late["running"], late["responsible"]) == (True, True, NAMES[SC])
    assert (late["started_day"], late["deadline_day"]) == ("6 Jun 2007", "20 Jun 2007")
    assert (met["breached"], met["running"], met["responsible"]) == (False, False, None)
    assert (view["breached"], view["running"], view["unanswered"]) == (1, 1, 1)
    cluster, absent = view["findings"]
    assert cluster["evidence"][0]["label"] == (
        "9 Jan 2007 10:00, Oak Surgery: injury.observed (bruise to arm)"
    )
    assert cluster["evidence"][1]["label"] == "e-1", "an event the chronology lacks: its id"
    assert cluster["days"] == 194.34 and absent["days"] == 7.92
    assert absent["sent_to"] == [NAMES[SC], NAMES[GP]]
    assert (absent["raised_day"], absent["raised_event"]) == ("25 Dec 2006", "e-raised")


def test_the_clocks_section_marks_breaches_and_unanswered_findings_in_words() -> None:
    view = clocks_view(*clock_documents(), name_of)
    page = render("sections/clocks.html", clocks=view, case_id="CASE-T1", as_of="2007-07-25")
    assert '<h2 id="clocks">' in page
    late = re.search(r'<tr data-clock="legal_planning_meeting".*?</tr>', page, re.S)
    assert late is not None
    assert "Breached, still running" in late.group(0) and "running</td>" in late.group(0)
    assert "Zed Borough Children&#39;s Services" in late.group(0)
    met = re.search(r'<tr data-clock="strategy_discussion".*?</tr>', page, re.S)
    assert met is not None and ">Met</td>" in met.group(0) and "not resolved" in met.group(0)
    cluster = re.search(r'<li class="finding finding-unanswered".*?</li>\s*</ul>', page, re.S)
    assert cluster is not None and "Unanswered</strong> for 194.34 days" in cluster.group(0)
    assert "<details" in cluster.group(0), "a long list of evidence folds away"
    for n in range(7):
        assert f'href="/cases/CASE-T1/events/e-{n}?as_of=2007-07-25"' in cluster.group(0)
    assert "Answered</span> on 2 Jan 2007 after 7.92 days (action taken)" in page
    assert (
        'raised by the ledger on <a href="/cases/CASE-T1/events/e-raised?as_of=2007-07-25">' in page
    )
    assert "1 unanswered" in page and "1 breached" in page


def test_an_adult_in_the_household_lists_every_agency_that_never_recorded_them() -> None:
    """The police link the partner; the GP is told of it and never records them itself."""
    case, _ = a_case()
    linked = make_event("person.linked")["payload"]
    partner = case.add("person.linked", POLICE, 6, payload={**linked, "person_id": "PER-T-P1"})
    case.share(POLICE, GP, 8, [partner])
    view = matrix_view(*documents(case.known(10), "2007-03-11"), name_of)
    [person] = view["people"]
    assert (person["person_id"], person["role"]) == ("PER-T-P1", "partner of parent")
    assert person["known_to"] == [NAMES[POLICE]] and person["first_known_day"] == "7 Mar 2007"
    unrecorded = {a["name"]: a["told_day"] for a in person["unrecorded_by"]}
    assert unrecorded == {NAMES[SCHOOL]: None, NAMES[GP]: "9 Mar 2007", NAMES[SC]: None}
    page = render("sections/knowledge.html", knowledge=view, case_id=case.case_id, as_of="")
    row = re.search(r'<tr data-person="PER-T-P1">.*?</tr>', page, re.S)
    assert row is not None and 'Oak Surgery <span class="kn-meta">told 9 Mar 2007' in row[0]
    assert f'href="/cases/{case.case_id}/events/{partner}"' in row[0]
