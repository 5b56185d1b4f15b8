"""Hospital stays, visits, police protection, assessments, allegations, whereabouts, incidents,
what was not known, and what a referral or share conveyed: the fold, the upcasters, the
chronology lines and the who-knew cells."""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from ledger.envelope import Event
from ledger.schemas import SchemaRegistry
from ledger.upcasting import upcast_payload
from projections.as_of import cutoff
from projections.case_state import CaseState, project_all
from projections.chronology import chronology, summary
from projections.knowledge import knowledge
from projections.rules import evaluate, load_rule_policy
from tests.agencies import AGENCIES
from tests.factories import as_events, example, new_case_id

REGISTRY = SchemaRegistry()
POLICY = load_rule_policy()
NOW = datetime(2027, 1, 1, tzinfo=UTC)
CSC = "example-childrens-social-care"
HOSPITAL = "example-hospital"
GP = "example-gp"
SCHOOL = "example-school"
NEW_TYPES = (
    "hospital.admitted",
    "hospital.discharged",
    "visit.planned",
    "visit.cancelled",
    "visit.no_access",
    "police_protection.taken",
    "police_protection.ended",
    "assessment.started",
    "assessment.completed",
    "assessment.ended_incomplete",
    "allegation.made",
    "allegation.withdrawn",
    "whereabouts.unknown",
    "whereabouts.found",
    "incident.notified",
)


def ev(
    kind: str,
    case_id: str,
    payload: dict[str, Any] | None = None,
    version: int | None = None,
    **changes: Any,
) -> dict[str, Any]:
    """The type's example (newest version unless given) with a fresh id, the case, payload
    fields replaced by `payload`, and envelope fields by `changes`."""
    event = example(kind, version or REGISTRY.latest(kind))
    event.update(event_id=str(uuid.uuid4()), case_id=case_id, **changes)
    event["payload"].update(payload or {})
    return event


def fold(documents: list[dict[str, Any]]) -> CaseState:
    return project_all(None, as_events(documents))


def at(day: int, hour: int = 10) -> dict[str, str]:
    """Envelope times: it happened on that day of February 2026, recorded an hour later."""
    return {
        "occurred_at": f"2026-02-{day:02d}T{hour:02d}:00:00Z",
        "recorded_at": f"2026-02-{day:02d}T{hour + 1:02d}:00:00Z",
    }


def open_items(state: CaseState, kind: str) -> list[str]:
    return [i.id for i in state.open_items if i.kind == kind]


@pytest.mark.parametrize(
    ("name", "version"), [(n, v) for n, vs in REGISTRY.event_types.items() for v in vs]
)
def test_every_schema_example_folds(name: str, version: int) -> None:
    """Every example of every version decodes (upcast to the newest) and folds into a state
    that survives its JSON round trip."""
    documents = [
        {**copy.deepcopy(e), "event_id": str(uuid.uuid4())}
        for e in REGISTRY.docs[(name, version)].document["examples"]
    ]
    state = fold(documents)
    assert state.events == len(documents)
    assert CaseState.from_dict(orjson.loads(orjson.dumps(state))) == state


def test_a_hospital_episode_is_open_from_admission_to_discharge() -> None:
    """Admission opens the episode (with how the child came in); its discharge closes it;
    another episode stays open."""
    case_id = new_case_id()
    first = ev("hospital.admitted", case_id, {"episode_id": "EP-01", "via": "a_and_e"}, **at(3))
    second = ev("hospital.admitted", case_id, {"episode_id": "EP-02", "via": "not_known"}, **at(4))
    state = fold([first, second])
    assert state.hospital_admissions == 2
    assert [(e.id, e.detail, e.since) for e in state.in_hospital] == [
        ("EP-01", "a_and_e", "2026-02-03T10:00:00Z"),
        ("EP-02", "not_known", "2026-02-04T10:00:00Z"),
    ]
    out = ev("hospital.discharged", case_id, {"episode_id": "EP-01"}, **at(5))
    state = fold([first, second, out])
    assert [e.id for e in state.in_hospital] == ["EP-02"]
    assert state.hospital_admissions == 2


def test_a_planned_visit_is_open_until_cancelled_or_no_access() -> None:
    """Planned visits are open items due at their planned time; a cancellation or a
    no-access naming one closes it; a no-access naming none only counts."""
    case_id = new_case_id()
    planned = [
        ev("visit.planned", case_id, {"visit_id": v, "planned_for": "2026-02-10T14:00:00Z"})
        for v in ("VIS-1", "VIS-2", "VIS-3")
    ]
    state = fold(planned)
    assert open_items(state, "visit") == ["VIS-1", "VIS-2", "VIS-3"]
    assert [i.due for i in state.open_items] == ["2026-02-10T14:00:00Z"] * 3
    cancelled = ev("visit.cancelled", case_id, {"visit_id": "VIS-1"}, **at(9))
    no_access = ev("visit.no_access", case_id, {"visit_id": "VIS-2"}, **at(10, 14))
    unplanned = ev("visit.no_access", case_id, **at(11))
    assert "visit_id" not in unplanned["payload"]
    state = fold([*planned, cancelled, no_access, unplanned])
    assert open_items(state, "visit") == ["VIS-3"]
    assert (state.visits_planned, state.visits_cancelled, state.visits_no_access) == (3, 1, 2)


@pytest.mark.parametrize(
    ("agency", "contact_type", "day", "held"),
    [
        (CSC, "home_visit", 10, True),
        (CSC, "home_visit", 12, True),
        (CSC, "home_visit", 9, False),
        (CSC, "phone", 10, False),
        (SCHOOL, "home_visit", 10, False),
    ],
)
def test_a_face_to_face_contact_by_the_planner_on_or_after_the_day_holds_the_visit(
    agency: str, contact_type: str, day: int, held: bool
) -> None:
    """Only the planning agency's contact in person, on or after the planned day, holds it."""
    case_id = new_case_id()
    planned = ev("visit.planned", case_id, {"visit_id": "VIS-1"}, agency=CSC, **at(6))
    assert planned["payload"]["planned_for"].startswith("2026-02-10")
    contact = ev("contact.recorded", case_id, {"contact_type": contact_type}, **at(day, 15))
    contact["agency"] = agency
    state = fold([planned, contact])
    assert open_items(state, "visit") == ([] if held else ["VIS-1"])
    assert state.visits_planned == 1


def test_police_protection_is_open_from_taken_to_ended() -> None:
    """police_protection_since is when the open protection began; ending it clears it."""
    case_id = new_case_id()
    taken = ev("police_protection.taken", case_id, **at(3, 2))
    state = fold([taken])
    assert state.police_protection_since == "2026-02-03T02:00:00Z"
    assert open_items(state, "police_protection") == ["PP-2026-0007"]
    ended = ev("police_protection.ended", case_id, **at(4))
    state = fold([taken, ended])
    assert state.police_protection_since is None
    assert open_items(state, "police_protection") == []
    assert state.police_protections == 1


def test_assessments_open_until_completed_or_ended_incomplete() -> None:
    """Each assessment is an open item until completed or ended; an abandoned one counts."""
    case_id = new_case_id()
    started = [
        ev("assessment.started", case_id, {"assessment_id": a}, **at(3)) for a in ("ASM-1", "ASM-2")
    ]
    state = fold(started)
    assert open_items(state, "assessment") == ["ASM-1", "ASM-2"]
    done = ev("assessment.completed", case_id, {"assessment_id": "ASM-1"}, **at(20))
    abandoned = ev("assessment.ended_incomplete", case_id, {"assessment_id": "ASM-2"}, **at(21))
    state = fold([*started, done, abandoned])
    assert open_items(state, "assessment") == []
    assert (state.assessments_started, state.assessments_completed) == (2, 1)
    assert state.assessments_ended_incomplete == 1


def test_an_allegation_stays_counted_when_withdrawn() -> None:
    """A withdrawn allegation leaves the open list and is counted as withdrawn, once."""
    case_id = new_case_id()
    made = ev("allegation.made", case_id, **at(12))
    other = ev("allegation.made", case_id, {"allegation_id": "ALG-2", "category": "NEG"}, **at(13))
    withdrawn = ev("allegation.withdrawn", case_id, **at(14))
    again = ev("allegation.withdrawn", case_id, **at(15))
    unknown = ev("allegation.withdrawn", case_id, {"allegation_id": "ALG-9"}, **at(15))
    state = fold([made, other, withdrawn, again, unknown])
    assert state.allegations == 2
    assert state.allegations_withdrawn == 1
    assert [(a.id, a.detail) for a in state.allegations_open] == [("ALG-2", "NEG")]


def test_whereabouts_unknown_since_the_first_report_until_found() -> None:
    """A second agency's report keeps the first date; found clears it."""
    case_id = new_case_id()
    first = ev("whereabouts.unknown", case_id, **at(16))
    second = ev("whereabouts.unknown", case_id, agency=CSC, **at(17))
    assert fold([first, second]).whereabouts_unknown_since == "2026-02-16T10:00:00Z"
    found = ev("whereabouts.found", case_id, **at(20))
    assert fold([first, second, found]).whereabouts_unknown_since is None


def test_incidents_are_listed_with_their_date_or_not_known() -> None:
    """Each notification is kept, a date not known as `not_known`."""
    case_id = new_case_id()
    known = ev("incident.notified", case_id)
    unknown = ev("incident.notified", case_id, {"incident_date": "not_known"})
    state = fold([known, unknown])
    assert [i.incident_date for i in state.incidents] == ["2026-03-31", "not_known"]
    assert {i.notified_to for i in state.incidents} == {"national_review_panel"}


def test_not_known_injury_counts_and_suspicions_are_counted_apart() -> None:
    """A count not known adds no injuries (never a guessed 1); a suspicion not known is not a
    suspicion; an explanation not known is not inconsistent."""
    case_id = new_case_id()
    known = ev("injury.observed", case_id)
    vague = ev("injury.observed", case_id, version=2)
    vague["payload"] = copy.deepcopy(
        REGISTRY.docs[("injury.observed", 2)].document["examples"][1]["payload"]
    )
    state = fold([known, vague])
    assert (state.injury_observations, state.injuries, state.injury_counts_not_known) == (2, 2, 1)
    assert (state.suspected_non_accidental, state.suspected_non_accidental_not_known) == (1, 1)
    assert state.inconsistent_explanations == 1


def test_a_concern_of_severity_not_known_is_counted_apart() -> None:
    """concern.raised v2 with severity `not_known` is a concern, counted apart too."""
    case_id = new_case_id()
    state = fold(
        [
            ev("concern.raised", case_id, {"severity": "high"}),
            ev("concern.raised", case_id, {"severity": "not_known"}),
        ]
    )
    assert (state.concerns, state.concerns_severity_not_known) == (2, 1)


def test_a_denial_or_statement_conveyed_is_kept_and_silence_is_only_counted() -> None:
    """Shares and referrals that stated or denied a concern are kept with the sender's words;
    old ones, and new ones that said neither, are only counted."""
    case_id = new_case_id()
    old = ev("referral.made", case_id, version=1)
    silent = ev("information.shared", case_id)
    del silent["payload"]["conveyed"]
    denied = ev("information.shared", case_id)
    by_person = ev("referral.made", case_id)
    by_person["payload"] = copy.deepcopy(
        REGISTRY.docs[("referral.made", 2)].document["examples"][1]["payload"]
    )
    state = fold([old, silent, denied, by_person])
    assert (state.referrals, state.information_shared) == (2, 2)
    assert [
        (c.kind, c.from_agency, c.source_kind, c.concern, c.statement) for c in state.conveyed
    ] == [
        ("share", HOSPITAL, None, "denied", "No child protection concerns."),
        ("referral", None, "neighbour", "stated", None),
    ]
    assert state.conveyed[0].event_id == denied["event_id"]
    assert state.conveyed[0].facts == 1


@pytest.mark.parametrize(
    ("name", "v1_payload"),
    [
        ("referral.made", example("referral.made", 1)["payload"]),
        ("information.shared", example("information.shared", 1)["payload"]),
        ("concern.raised", example("concern.raised", 1)["payload"]),
        ("injury.observed", example("injury.observed", 1)["payload"]),
    ],
)
def test_each_upcast_payload_is_a_valid_version_2_payload(
    name: str, v1_payload: dict[str, Any]
) -> None:
    """Version 1 reads as version 2: a share or referral conveyed nothing said; the others
    stand as they were."""
    up = upcast_payload(name, 1, 2, copy.deepcopy(v1_payload))
    assert REGISTRY.payload_problems(name, 2, up, "/payload") == []
    if name in ("referral.made", "information.shared"):
        assert up == {**v1_payload, "conveyed": {"concern": "not_stated"}}
    else:
        assert up == v1_payload


def test_old_events_fold_to_the_same_values_as_written_anew() -> None:
    """A log of version 1 injuries, concerns, referrals and shares folds to the state of the
    same facts written in version 2 (conveyed: not stated)."""
    case_id = new_case_id()
    names = ("injury.observed", "concern.raised", "referral.made", "information.shared")
    old = [ev(n, case_id, version=1) for n in names]
    new = []
    for event in old:
        written = copy.deepcopy(event)
        written["schema_version"] = 2
        written["payload"] = upcast_payload(event["type"], 1, 2, event["payload"])
        new.append(written)
    assert fold(old) == fold(new)
    state = fold(old)
    assert (state.injuries, state.suspected_non_accidental, state.concerns) == (2, 1, 1)
    assert state.conveyed == ()


LINES = {
    "hospital.admitted": "admitted to hospital (a and e)",
    "hospital.discharged": "discharged from hospital to home; safeguarding plan in place: no",
    "visit.planned": "statutory visit planned for 2026-02-10 14:00",
    "visit.cancelled": "visit cancelled by family",
    "visit.no_access": "visit: no access",
    "police_protection.taken": "police protection taken",
    "police_protection.ended": "police protection ended: placed with relative",
    "assessment.started": "single assessment started",
    "assessment.completed": "assessment completed: child in need plan",
    "assessment.ended_incomplete": "assessment ended incomplete: family disengaged",
    "allegation.made": "PHY allegation made by relative",
    "allegation.withdrawn": "allegation withdrawn by relative",
    "whereabouts.unknown": "whereabouts unknown; last known in area E08000001",
    "whereabouts.found": "whereabouts known again (area E08000002)",
    "incident.notified": "serious harm notified to national review panel; incident date 2026-03-31",
}


def test_every_new_type_has_a_line_and_it_is_listed_here() -> None:
    """The chronology names each new type in its own words, not the type's code."""
    assert set(LINES) == set(NEW_TYPES)


@pytest.mark.parametrize("name", NEW_TYPES)
def test_chronology_line_of_each_new_type(name: str) -> None:
    """Short and neutral: codes as words, no free text from the payload."""
    (event,) = as_events([ev(name, new_case_id())])
    assert summary(event) == LINES[name]


@pytest.mark.parametrize(
    ("payload", "line"),
    [
        ({"count": "not_known"}, "bruise to face count not known"),
        ({"suspected_non_accidental": "not_known"}, "whether non-accidental not known"),
        ({"explanation_consistent": "not_known"}, "(consistency not known)"),
        ({"suspected_non_accidental": False}, "(inconsistent)"),
    ],
)
def test_injury_lines_say_what_was_not_known(payload: dict[str, Any], line: str) -> None:
    """Not known is said, never shown as a value or as a suspicion."""
    (event,) = as_events([ev("injury.observed", new_case_id(), payload)])
    assert line in summary(event)
    if payload.get("suspected_non_accidental") is not None:
        assert "suspected non-accidental" not in summary(event)


def test_concern_line_with_severity_not_known() -> None:
    """A severity not known reads as such."""
    (event,) = as_events([ev("concern.raised", new_case_id(), {"severity": "not_known"})])
    assert summary(event) == "NEG concern, severity not known"


def downgraded_case() -> tuple[list[Event], dict[str, Any], dict[str, Any]]:
    """A hospital suspects a non-accidental injury, then tells the GP it has no concerns."""
    case_id = new_case_id()
    injury = ev("injury.observed", case_id, agency=HOSPITAL, **at(3))
    share = ev(
        "information.shared",
        case_id,
        {"facts": [injury["event_id"].upper()], "from_agency": HOSPITAL, "to_agency": GP},
        agency=HOSPITAL,
        **at(5),
    )
    return as_events([injury, share]), injury, share


def test_a_downgraded_suspicion_shows_the_denial_and_the_suspicion() -> None:
    """The share's line carries the sender's denial in its words and the suspected
    non-accidental injury among the facts it named: both, with no judgement."""
    events, _, share = downgraded_case()
    rows = chronology(events, NOW)
    line = next(r["summary"] for r in rows if r["event_id"] == share["event_id"])
    assert line == (
        f"1 fact(s) {HOSPITAL} -> {GP} by letter: concern denied - "
        "'No child protection concerns.'; the facts named include 1 injury record(s) "
        "suspected non-accidental"
    )


def test_a_denial_over_facts_without_a_suspicion_names_none() -> None:
    """Only a suspected non-accidental injury among the facts is named beside a denial."""
    case_id = new_case_id()
    injury = ev("injury.observed", case_id, {"suspected_non_accidental": False}, **at(3))
    share = ev("information.shared", case_id, {"facts": [injury["event_id"]]}, **at(5))
    rows = chronology(as_events([injury, share]), NOW)
    line = rows[-1]["summary"]
    assert "concern denied" in line and "suspected non-accidental" not in line


def test_a_referral_line_says_what_was_conveyed_and_by_whom() -> None:
    """A referral by a person names what they are to the child; a stated concern, its words
    and urgency are in the line; a v1 referral's line is as before."""
    case_id = new_case_id()
    by_agency, by_person = (
        copy.deepcopy(e) for e in REGISTRY.docs[("referral.made", 2)].document["examples"]
    )
    old = ev("referral.made", case_id, version=1)
    lines = [summary(e) for e in as_events([{**by_agency, "case_id": case_id}, by_person, old])]
    assert lines == [
        f"referral {HOSPITAL} -> {CSC}: concern stated - 'Non-accidental injury suspected.'"
        "; urgent",
        f"referral neighbour -> {CSC}: concern stated",
        f"referral {old['payload']['from_agency']} -> {old['payload']['to_agency']}",
    ]


def test_who_knew_shows_what_the_share_conveyed() -> None:
    """The GP knew the injury through the share, and the cell says the sender denied any
    concern; the hospital's own cell carries nothing conveyed."""
    events, injury, share = downgraded_case()
    known = knowledge(events, NOW)
    cells = known.matrix()["facts"][0]["known"]
    assert cells[GP]["through"] == share["event_id"]
    assert cells[GP]["conveyed"] == share["payload"]["conveyed"]
    assert cells[HOSPITAL]["conveyed"] is None
    (row,) = [r for r in known.of_agency(GP) if r["event_id"] == share["event_id"]]
    assert "concern denied" in row["summary"] and "suspected non-accidental" in row["summary"]
    assert injury["event_id"] in known.facts


def test_a_suspicion_not_known_fires_no_rule_that_needs_a_suspicion() -> None:
    """An injury whose suspicion is not known, while a plan is in force, is not taken as a
    suspected non-accidental injury; the same injury suspected is."""
    case_id = new_case_id()
    plan = ev("plan.started", case_id, **at(2))
    unknown = ev("injury.observed", case_id, {"suspected_non_accidental": "not_known"}, **at(5))
    suspected = ev("injury.observed", case_id, **at(6))
    fired = [
        f
        for f in evaluate(
            as_events([plan, unknown, suspected]), cutoff("2026-12-31"), POLICY, agencies=AGENCIES
        )
        if f.rule.name == "nai_on_plan"
    ]
    assert [f.evidence for f in fired] == [(suspected["event_id"],)]


def test_a_visit_line_gives_the_planned_time_in_utc_and_says_unannounced() -> None:
    """A planned time sent with an offset reads in UTC, like every instant the ledger shows."""
    planned = ev(
        "visit.planned",
        new_case_id(),
        {"planned_for": "2026-02-10T15:00:00+01:00", "announced": False},
    )
    (event,) = as_events([planned])
    assert summary(event) == "statutory visit planned for 2026-02-10 14:00; unannounced"
