"""The latency report's groupings, the per-run audit, where a report's data end and how open
runs are measured to it; and the clock view's data end equal to a fold of every case."""

from __future__ import annotations

import random
import uuid
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from eventsourcing.persistence import Tracking

from ledger.envelope import parse_instant
from projections.as_of import cutoff
from projections.audit import AUDIT_COLUMNS, audit_rows, data_end, latest
from projections.clock_view import open_clock_view
from projections.clocks import RunRow, clock_runs
from projections.latency import latency_report
from projections.view_files import open_case_view
from projections.working_days import england_and_wales
from tests.agencies import AGENCIES
from tests.factories import as_events, example, make_event, new_case_id
from tests.unit.test_clock_view import REFRESHED, half_caught_up
from tests.unit.test_clocks import POLICY, matching

DAYS = england_and_wales()


def run(
    clock: str = "referral_decision",
    status: str = "met",
    *,
    agency: str = "school-1",
    responsible: str | None = "csc-1",
    kind: str | None = "childrens_social_care",
    area: str | None = "north",
    days: int = 1,
) -> RunRow:
    """A stopped (or, status open, unstopped) run started on Monday 5 March 2007."""
    stopped = status != "open"
    return RunRow(
        clock,
        "1 working day",
        agency,
        status,
        str(uuid.uuid4()),
        "2007-03-05T10:00:00Z",
        str(uuid.uuid4()) if stopped else None,
        "2007-03-06T10:00:00Z" if stopped else None,
        "2007-03-06",
        days,
        float(days),
        responsible,
        kind,
        area,
    )


def test_latency_by_agency_is_the_responsible_agency_never_the_referrer() -> None:
    """A school's referrals decided late by social care count against social care; runs with
    no responsible agency, kind or area group under `unassigned`."""
    runs = [
        ("CASE-1", [run(status="breached", days=3), run(status="met")]),
        ("CASE-2", [run(status="breached", responsible="csc-2", area="south", days=2)]),
        ("CASE-3", [run(status="open", responsible=None, kind=None, area=None)]),
    ]
    by_agency = {r["agency"]: r for r in latency_report(runs, "agency")}
    assert set(by_agency) == {"csc-1", "csc-2", "unassigned"}, "never the referring school"
    assert (by_agency["csc-1"]["runs"], by_agency["csc-1"]["breached"]) == (2, 1)
    assert [b["responsible"] for b in by_agency["csc-2"]["breaches"]] == ["csc-2"]
    assert by_agency["unassigned"]["open"] == 1
    by_kind = {r["kind"]: r["runs"] for r in latency_report(runs, "kind")}
    assert by_kind == {"childrens_social_care": 3, "unassigned": 1}
    by_area = {r["area"]: (r["runs"], r["breached"]) for r in latency_report(runs, "area")}
    assert by_area == {"north": (2, 1), "south": (1, 1), "unassigned": (1, 0)}
    assert [r["case"] for r in latency_report(runs, "case")] == ["CASE-1", "CASE-2", "CASE-3"]
    assert all("limit" not in r for r in latency_report(runs, "area"))


def test_the_audit_is_one_row_per_run_with_its_outcome() -> None:
    """Every run is a row with the audit's columns, in order; `clock` keeps only its runs."""
    first, second = run(), run("assessment", "open", responsible=None)
    runs = [("CASE-1", [first, second]), ("CASE-2", [run(status="breached", days=4)])]
    rows = audit_rows(runs)
    assert [tuple(r) for r in rows] == [AUDIT_COLUMNS] * 3
    assert rows[0] == {
        "case_id": "CASE-1",
        "clock": "referral_decision",
        "responsible": "csc-1",
        "responsible_kind": "childrens_social_care",
        "area": "north",
        "started_at": first.started_at,
        "stopped_at": first.stopped_at,
        "deadline": "2007-03-06",
        "working_days": 1,
        "limit": "1 working day",
        "outcome": "met",
        "start_event": first.start_event,
        "stop_event": first.stop_event,
    }
    assert [(r["outcome"], r["responsible"]) for r in rows[1:]] == [
        ("open", None),
        ("breached", "csc-1"),
    ]
    assert [r["case_id"] for r in audit_rows(runs, "referral_decision")] == ["CASE-1", "CASE-2"]
    assert audit_rows(runs, "first_core_group") == []


def test_an_open_run_is_measured_to_where_the_data_end_not_to_now(tmp_path: Path) -> None:
    """A referral on Monday 5 March, undecided, and one decided the next day: the open run is
    open measured to its last day and breached measured to the day after, from stored rows as
    from a fold; the stopped one is the same either way."""
    clock = next(c for c in POLICY.clocks if c.name == "referral_decision")
    # This clock alone: a referral starts others too (first contact, child seen, assessment).
    policy = replace(POLICY, clocks=(clock,))
    waiting, decided = new_case_id(), new_case_id()
    log = as_events(
        [
            matching(clock, "start", waiting, date(2007, 3, 5)),
            matching(clock, "start", decided, date(2007, 3, 5)),
            matching(clock, "stop", decided, date(2007, 3, 6)),
        ]
    )
    view = open_case_view(tmp_path / "cases.sqlite")
    view.apply(log, [Tracking("case_state:t:0", 2)])
    clocks = open_clock_view(tmp_path / "clocks.sqlite", policy, AGENCIES)
    now = datetime(2026, 11, 30, tzinfo=UTC)
    [(_, [stale])] = [r for r in clocks.ledger_runs(view, now) if r[0] == waiting]
    assert (stale.status, stale.working_days > 4000) == ("breached", True), "measured to now"
    for refreshed in (False, True):
        if refreshed:
            clocks.refresh(view, [waiting, decided], [Tracking("clocks:t:0", 2)], now)
        for end, status, days in (
            (cutoff("2007-03-06"), "open", 1),
            (cutoff("2007-03-07"), "breached", 2),
        ):
            found = dict(clocks.ledger_runs(view, now, measured_to=end))
            [run] = found[waiting]
            assert (run.status, run.working_days, run.stop_event) == (status, days, None)
            assert [r.status for r in found[decided]] == ["met"]
            for case_id, runs in found.items():
                folded = clock_runs(
                    view.events(case_id), now, policy, agencies=AGENCIES, measured_to=end
                )
                assert runs == [r.row() for r in folded], (refreshed, case_id)


def test_across_the_ledger_each_case_is_measured_to_its_own_data_end(tmp_path: Path) -> None:
    """One case's data end on Friday 3 August 2007, another's in June 2023, each with an
    undecided referral two working days before. Across the ledger, with no date asked, each
    open run is measured to its own case's end (2 working days), not to the latest case's
    (thousands), from stored rows as from a fold."""
    clock = next(c for c in POLICY.clocks if c.name == "referral_decision")
    policy = replace(POLICY, clocks=(clock,))
    early, late = new_case_id(), new_case_id()
    documents = []
    for case_id, referred, ends in (
        (early, date(2007, 8, 1), "2007-08-03T10:00:00Z"),
        (late, date(2023, 6, 5), "2023-06-07T10:00:00Z"),
    ):
        documents += [
            matching(clock, "start", case_id, referred),
            make_event("contact.recorded", case_id, occurred_at=ends, recorded_at=ends),
        ]
    log = as_events(documents)
    view = open_case_view(tmp_path / "cases.sqlite")
    view.apply(log, [Tracking("case_state:t:0", len(log) - 1)])
    clocks = open_clock_view(tmp_path / "clocks.sqlite", policy, AGENCIES)
    now = datetime(2026, 11, 30, tzinfo=UTC)
    ends = {c: data_end(view.events(c), now) for c in (early, late)}
    assert clocks.data_end(view, now) == ends[late]
    for refreshed in (False, True):
        if refreshed:
            clocks.refresh(view, [early, late], [Tracking("clocks:t:0", len(log) - 1)], now)
        found = dict(clocks.ledger_runs(view, now, to_case_end=True))
        for case_id in (early, late):
            [run] = found[case_id]
            assert (run.status, run.working_days) == ("breached", 2), (refreshed, case_id)
            folded = clock_runs(
                view.events(case_id), now, policy, agencies=AGENCIES, measured_to=ends[case_id]
            )
            assert [run] == [r.row() for r in folded], (refreshed, case_id)
        # Measured to the ledger's end instead, the 2007 referral would be years late.
        [stretched] = dict(clocks.ledger_runs(view, now, ends[late]))[early]
        assert stretched.working_days > 4000


def test_the_data_end_leaves_out_alerts_amendments_and_undated_events() -> None:
    """The latest instant anything happened in the case, as amended and as known then."""
    case_id = new_case_id()
    contact = make_event(
        "contact.recorded",
        case_id,
        occurred_at="2007-03-05T10:00:00Z",
        recorded_at="2007-03-05T12:00:00Z",
    )
    later = make_event(
        "contact.recorded",
        case_id,
        occurred_at="2007-04-02T10:00:00Z",
        recorded_at="2007-04-10T12:00:00Z",
    )
    correction = make_event(
        "correction.recorded",
        case_id,
        occurred_at="2007-06-01T10:00:00Z",
        recorded_at="2007-06-01T12:00:00Z",
        amends=later["event_id"],
        payload={
            "corrected_payload": later["payload"],
            "corrected_occurred_at": "2007-04-20T10:00:00Z",
            "reason": "the date was wrong",
        },
    )
    alert = make_event(
        "alert.raised",
        case_id,
        agency="sgl-ledger",
        occurred_at="2007-08-01T10:00:00Z",
        recorded_at="2007-08-01T10:00:00Z",
    )
    undated = example("meeting.held", 2)
    del undated["occurred_at"]
    undated.update(
        event_id=str(uuid.uuid4()),
        case_id=case_id,
        occurred_precision="undated",
        recorded_at="2007-09-01T09:00:00Z",
    )
    events = as_events([contact, later, correction, alert, undated])
    expected = {
        "2007-03-31": "2007-03-05T10:00:00Z",
        "2007-04-30": "2007-04-02T10:00:00Z",
        "2007-12-31": "2007-04-20T10:00:00Z",
    }
    for as_of, end in expected.items():
        assert data_end(events, cutoff(as_of)) == parse_instant(end), as_of
    assert data_end(events, cutoff("2007-03-01")) is None
    assert latest([None, parse_instant(end), None]) == parse_instant(end)
    assert latest([None]) is None


@pytest.mark.parametrize("seed", range(3))
def test_the_clock_views_data_end_equals_a_fold_of_every_case(
    tmp_path: Path, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stored ends where the stored runs hold, the case's events where they do not (a case
    the clock view has not caught up with, or one changed after the date), on either basis;
    caught up, it reads no events."""
    view, clocks, last = half_caught_up(tmp_path, random.Random(seed), 15)
    now = REFRESHED
    for moment in (now, cutoff("2007-06-30"), cutoff("2008-01-15"), cutoff("2006-01-01")):
        for basis in ("recorded", "appended"):
            folded = latest(data_end(view.events(c), moment, basis) for c in view.all_case_ids())
            assert clocks.data_end(view, moment, basis) == folded, (moment, basis)
    expected = latest(data_end(view.events(c), now) for c in view.all_case_ids())
    clocks.refresh(view, list(view.all_case_ids()), [Tracking("clocks:t:0", last)], now)

    def no_reads(*_: object) -> object:
        raise AssertionError("read the case's events")

    monkeypatch.setattr(view, "events", no_reads)
    assert clocks.data_end(view, now) == expected is not None
