"""Deciding not to share is on the record: a withheld fact shows as withheld (by whom, when,
why) in the who-knew view and the gaps, a share made anyway wins from its time, and a
withholding naming a fact the ledger does not hold is refused at the door."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ledger.append import Ledger
from ledger.errors import BatchRejected, InvalidEvent
from ledger.schemas import SchemaRegistry
from ledger.sqlite_log import SQLiteEventLog
from projections.as_of import cutoff
from projections.case_state import CaseState, project_all
from projections.chronology import chronology, summary
from projections.knowledge import knowledge
from projections.rules import evaluate, load_rule_policy
from tests.agencies import registry
from tests.factories import as_events, make_event, new_case_id

# Agencies of this test's own, of the kinds the policies read.
SC = "wh-childrens-social-care"
POLICE = "wh-police"
SCHOOL = "wh-primary-school"
GP = "wh-gp-practice"
KINDS = {SC: "childrens_social_care", POLICE: "police", SCHOOL: "education", GP: "gp"}
DAY0 = datetime(2007, 3, 1, 9, tzinfo=UTC)
REASON = "would_prejudice_investigation"
EXPLANATION = "Joint enquiry under way; the school is to be told after the interviews."


def at(day: float) -> str:
    return (DAY0 + timedelta(days=day)).strftime("%Y-%m-%dT%H:%M:%SZ")


class Case:
    """A case written event by event: agency, day it happened, day it was recorded."""

    def __init__(self) -> None:
        self.case_id = new_case_id()
        self.documents: list[dict[str, Any]] = []
        opened = make_event("case.opened")["payload"]
        self.add("case.opened", SC, 0, payload={**opened, "lead_agency": SC})

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

    def withhold(
        self,
        agency: str,
        day: float,
        facts: list[str],
        withheld_from: list[str],
        reason: str = REASON,
        recorded: float | None = None,
    ) -> str:
        payload = {
            "facts": facts,
            "withheld_from": withheld_from,
            "reason": reason,
            "explanation": EXPLANATION,
        }
        return self.add("information.withheld", agency, day, recorded, payload=payload)

    def at_day(self, day: float) -> Any:
        return knowledge(as_events(self.documents), DAY0 + timedelta(days=day, hours=12))


def test_a_fact_withheld_then_shared_is_withheld_until_the_share_and_history_after() -> None:
    """Police withhold their enquiry from the school on day 3 and tell it on day 10: a
    withheld gap until then, known via the share from day 10, the withholding kept beside it."""
    case = Case()
    enquiry = case.add("involvement.opened", POLICE, 2)
    decision = case.withhold(POLICE, 3, [enquiry], [SCHOOL], recorded=4)
    case.add("contact.recorded", SCHOOL, 5)

    before = case.at_day(8)
    assert SCHOOL not in before.known[enquiry], "a withholding conveys nothing"
    gap = {g["event_id"]: g for g in before.gaps(SCHOOL)}[enquiry]
    expected = {
        "by": POLICE,
        "at": at(3),
        "reason": REASON,
        "explanation": EXPLANATION,
        "through": decision,
        "withholder_knew_since": at(2),
    }
    assert gap["withheld"] is True
    assert gap["withholdings"] == [expected]
    assert gap["known_to"] == [POLICE]
    cell = {r["event_id"]: r for r in before.matrix()["facts"]}[enquiry]
    assert cell["known"].keys() == {POLICE}
    assert cell["withholdings"] == {SCHOOL: [expected]}

    share = case.share(POLICE, SCHOOL, 10, [enquiry])
    after = case.at_day(12)
    knowing = after.known[enquiry][SCHOOL]
    assert (knowing.via, knowing.through, knowing.since) == ("shared", share, cutoff(at(10)))
    assert enquiry not in {g["event_id"] for g in after.gaps(SCHOOL)}
    row = {r["event_id"]: r for r in after.matrix()["facts"]}[enquiry]
    assert row["known"][SCHOOL]["via"] == "shared"
    assert row["withholdings"] == {SCHOOL: [expected]}, "the withholding stays as history"
    # As of a date before the share, the same log still answers withheld.
    assert {g["event_id"]: g for g in case.at_day(9).gaps(SCHOOL)}[enquiry]["withheld"] is True


def test_a_decision_not_to_share_what_the_agency_already_knew_changes_no_knowledge() -> None:
    """Told on day 2, withheld from on day 3 (the withholder did not know it had been told):
    known since day 2, no gap, the decision in the matrix only."""
    case = Case()
    concern = case.add("concern.raised", SCHOOL, 1)
    case.share(SC, GP, 2, [concern])
    decision = case.withhold(SCHOOL, 3, [concern], [GP])
    k = case.at_day(5)
    assert k.known[concern][GP].since == cutoff(at(2))
    assert concern not in {g["event_id"] for g in k.gaps(GP)}
    row = {r["event_id"]: r for r in k.matrix()["facts"]}[concern]
    assert [w["through"] for w in row["withholdings"][GP]] == [decision]


def test_withheld_from_one_agency_and_shared_with_another() -> None:
    """The school's concern is shared with social care and withheld from the GP: the GP's gap
    is withheld, social care knows it with no withholding, the police's gap is plain unknown."""
    case = Case()
    concern = case.add("concern.raised", SCHOOL, 1)
    case.add("contact.recorded", GP, 1)
    case.add("contact.recorded", POLICE, 1)
    case.share(SCHOOL, SC, 2, [concern])
    case.withhold(SCHOOL, 2, [concern], [GP], reason="not_relevant_to_recipient")
    k = case.at_day(6)
    assert k.known[concern][SC].via == "shared"
    gp = {g["event_id"]: g for g in k.gaps(GP)}[concern]
    assert gp["withheld"] is True
    assert [w["reason"] for w in gp["withholdings"]] == ["not_relevant_to_recipient"]
    police = {g["event_id"]: g for g in k.gaps(POLICE)}[concern]
    assert police["withheld"] is False and police["withholdings"] == []
    assert concern not in {g["event_id"] for g in k.gaps(SC)}
    row = {r["event_id"]: r for r in k.matrix()["facts"]}[concern]
    assert set(row["withholdings"]) == {GP}
    assert set(row["known"]) == {SCHOOL, SC}


def test_what_an_agency_knew_leaves_out_withholdings_from_it() -> None:
    """The GP's own knowledge lists nothing of a fact withheld from it (nor the withholding,
    the school's record); the school's lists the withholding as a fact it recorded."""
    case = Case()
    concern = case.add("concern.raised", SCHOOL, 1)
    decision = case.withhold(SCHOOL, 2, [concern], [GP])
    k = case.at_day(4)
    assert {f["event_id"] for f in k.of_agency(GP)} == set()
    school = {f["event_id"]: f for f in k.of_agency(SCHOOL)}
    assert decision in school
    assert school[decision]["summary"] == (
        f"1 fact(s) withheld from {GP}: would prejudice investigation"
    )
    assert GP in k.agencies, "an agency withheld from is a column, whatever else it did"


def test_a_withholding_by_an_agency_the_ledger_never_shows_knowing_says_so() -> None:
    """The GP withholds the school's concern it was never told of in the ledger: the view
    records the decision and says the withholder's knowledge is not shown (null)."""
    case = Case()
    concern = case.add("concern.raised", SCHOOL, 1)
    case.withhold(GP, 3, [concern], [POLICE])
    [withholding] = {g["event_id"]: g for g in case.at_day(5).gaps(POLICE)}[concern]["withholdings"]
    assert withholding["by"] == GP and withholding["withholder_knew_since"] is None


def test_a_retracted_withholding_no_longer_marks_the_fact() -> None:
    """Retracting the withholding (a mistaken entry) leaves a plain gap from then on."""
    case = Case()
    concern = case.add("concern.raised", SCHOOL, 1)
    decision = case.withhold(SCHOOL, 2, [concern], [GP])
    case.add(
        "entry.retracted",
        SCHOOL,
        5,
        amends=decision,
        payload={"reason": "Recorded against the wrong child."},
    )
    assert {g["event_id"]: g for g in case.at_day(3).gaps(GP)}[concern]["withheld"] is True
    assert {g["event_id"]: g for g in case.at_day(6).gaps(GP)}[concern]["withheld"] is False


def test_the_decisions_of_one_cell_are_in_time_order_whatever_the_log_order() -> None:
    """Two decisions not to share, the later one recorded first: earliest first."""
    case = Case()
    concern = case.add("concern.raised", SCHOOL, 1)
    late = case.withhold(SCHOOL, 4, [concern], [GP], reason="other")
    early = case.withhold(SC, 2, [concern], [GP], recorded=5)
    gap = {g["event_id"]: g for g in case.at_day(6).gaps(GP)}[concern]
    assert [w["through"] for w in gap["withholdings"]] == [early, late]


def test_the_chronology_line_names_the_agencies_the_reason_and_a_suspected_injury() -> None:
    """The line says how many facts, from whom (by name where names are given), why, and
    whether the facts withheld include an injury suspected non-accidental."""
    case = Case()
    injury = case.add("injury.observed", GP, 1)
    case.documents[-1]["payload"]["suspected_non_accidental"] = True
    decision = case.withhold(GP, 2, [injury], [SCHOOL, POLICE], reason="other")
    events = as_events(case.documents)
    by_id = {e.event_id: e for e in events}
    line = summary(by_id[decision], by_id, name_of=lambda a: a.upper())
    assert line == (
        f"1 fact(s) withheld from {SCHOOL.upper()}, {POLICE.upper()}: other; "
        "the facts named include 1 injury record(s) suspected non-accidental"
    )
    rows = chronology(events, DAY0 + timedelta(days=5))
    assert [r["summary"] for r in rows if r["event_id"] == decision] == [
        f"1 fact(s) withheld from {SCHOOL}, {POLICE}: other; "
        "the facts named include 1 injury record(s) suspected non-accidental"
    ]


def test_the_case_state_counts_withholdings_and_no_share() -> None:
    """A withholding is counted as such, never as information shared."""
    case = Case()
    concern = case.add("concern.raised", SCHOOL, 1)
    case.withhold(SCHOOL, 2, [concern], [GP])
    state: CaseState = project_all(None, as_events(case.documents))
    assert (state.information_withheld, state.information_shared) == (1, 0)
    assert state.conveyed == ()


def test_withholding_an_assault_from_the_police_is_not_telling_them() -> None:
    """The school withholds its assault concern from the police: the assault rule still
    fires, as it does with no withholding at all."""
    policy = load_rule_policy()
    case_id = new_case_id()
    when = "2007-03-01T10:00:00Z"
    concern = make_event(
        "concern.raised", case_id, agency=SCHOOL, occurred_at=when, recorded_at=when
    )
    concern["payload"] = {**concern["payload"], "category": "PHY"}
    concern["payload"].pop("about_person_id", None)
    withheld = make_event(
        "information.withheld",
        case_id,
        agency=SCHOOL,
        occurred_at=when,
        recorded_at=when,
        payload={
            "facts": [concern["event_id"]],
            "withheld_from": [POLICE],
            "reason": "would_place_child_at_greater_risk",
            "explanation": EXPLANATION,
        },
    )

    def fired(documents: list[dict[str, Any]]) -> list[str]:
        found = evaluate(
            as_events(documents), cutoff("2009-12-31"), policy, agencies=registry(KINDS)
        )
        return [f.rule.name for f in found if f.rule.name == "assault_not_reported_to_police"]

    assert fired([concern]) == ["assault_not_reported_to_police"]
    assert fired([concern, withheld]) == ["assault_not_reported_to_police"]


# At the door ------------------------------------------------------------------------------


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    """A ledger on an embedded log of its own (no agency register: names are not checked)."""
    log = SQLiteEventLog(tmp_path / "log.sqlite")
    yield Ledger(log, SchemaRegistry())
    log.close()


def _withholding(case_id: str, facts: list[str], withheld_from: list[str]) -> dict[str, Any]:
    return make_event(
        "information.withheld",
        case_id,
        payload={
            "facts": facts,
            "withheld_from": withheld_from,
            "reason": REASON,
            "explanation": EXPLANATION,
        },
    )


def test_withholding_a_fact_the_ledger_does_not_hold_is_refused(ledger: Ledger) -> None:
    """A fact never recorded: refused naming the fact's pointer, nothing appended."""
    case_id = new_case_id()
    missing = "6f3d2a10-0c4b-4d8e-9a7f-1b2c3d4e5f60"
    ends = ledger.log.end_offsets()
    with pytest.raises(InvalidEvent) as caught:
        ledger.submit_one(_withholding(case_id, [missing], [SCHOOL]))
    [problem] = caught.value.problems
    assert (problem.pointer, problem.rule) == ("/payload/facts/0", "fact-exists")
    assert missing in problem.detail
    assert ledger.log.end_offsets() == ends


def test_a_withholding_may_name_an_earlier_item_of_its_batch_but_not_a_later_one(
    ledger: Ledger,
) -> None:
    """Fact first, then its withholding: accepted; the other way round: refused, whole batch."""
    case_id = new_case_id()
    fact = make_event("concern.raised", case_id)
    later = make_event("concern.raised", case_id)
    with pytest.raises(BatchRejected) as caught:
        ledger.submit([_withholding(case_id, [later["event_id"]], [GP]), later])
    assert [(p.item, p.rule) for p in caught.value.problems] == [(0, "fact-exists")]
    receipts = ledger.submit([fact, _withholding(case_id, [fact["event_id"].upper()], [GP])])
    assert [r.status for r in receipts] == ["accepted", "accepted"]


def test_a_withholding_names_facts_of_its_own_case_and_original_entries(ledger: Ledger) -> None:
    """A fact of another case, and a correction rather than the entry it corrects: refused."""
    case_id, other = new_case_id(), new_case_id()
    elsewhere = make_event("concern.raised", other)
    original = make_event("concern.raised", case_id)
    correction = make_event(
        "correction.recorded",
        case_id,
        agency=original["agency"],
        amends=original["event_id"],
        payload={"corrected_payload": original["payload"], "reason": "Severity re-read."},
    )
    ledger.submit([elsewhere, original, correction])
    with pytest.raises(InvalidEvent) as caught:
        ledger.submit_one(
            _withholding(case_id, [elsewhere["event_id"], correction["event_id"]], [GP])
        )
    assert [(p.pointer, p.rule) for p in caught.value.problems] == [
        ("/payload/facts/0", "same-case"),
        ("/payload/facts/1", "fact-original"),
    ]


def test_an_agency_does_not_withhold_from_itself(ledger: Ledger) -> None:
    """Naming the recording agency among those withheld from is refused, naming the item."""
    case_id = new_case_id()
    fact = make_event("concern.raised", case_id)
    ledger.submit_one(fact)
    event = _withholding(case_id, [fact["event_id"]], [GP, SCHOOL])
    event["agency"] = SCHOOL
    with pytest.raises(InvalidEvent) as caught:
        ledger.submit_one(event)
    assert [(p.pointer, p.rule) for p in caught.value.problems] == [
        ("/payload/withheld_from/1", "not-self")
    ]
