"""The alerter: a finding is published as `alert.raised` to the alerts topic and the ledger,
once, whatever restarts or rebuilds; answers still match; deadline rules fire when their time
passes; a decision survives a failed publish."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from consumers.alerter import Alerter
from consumers.follower import CaseFollower
from ledger.agency_rules import LEDGER_AGENCY
from ledger.append import Ledger
from ledger.errors import LedgerUnavailable
from ledger.log import EventLog
from ledger.publish_rules import alert_event_id
from ledger.settings import Settings
from projections.alert_store import open_alert_store
from projections.rules import evaluate
from sgl.bootstrap import Container, bootstrap
from tests.agencies import with_agencies
from tests.conftest import LiveServer, wait_for
from tests.factories import make_event, meeting_held, new_case_id, unverified_adult

ROOT = Path(__file__).resolve().parents[2]


def everything(log: EventLog) -> list[dict[str, Any]]:
    """Every record on the log, decoded, in partition and offset order."""
    total = sum(log.end_offsets().values())
    reader = log.reader({})
    found: list[Any] = []
    try:
        for _ in range(100):
            if len(found) >= total:
                break
            found += reader.poll(10_000, 1.0)
    finally:
        reader.close()
    assert len(found) == total
    return [orjson.loads(r.value) for r in found]


def raised(log: EventLog) -> list[dict[str, Any]]:
    return [d for d in everything(log) if d["type"] == "alert.raised"]


def settle(container: Container, **follower: Any) -> CaseFollower:
    """The case view, then the alerter, then the case view again (it takes in the alerts)."""
    alerter = CaseFollower(container.log, container.views, container.alerts, **follower)
    container.runner().run_until_caught_up(60)
    alerter.run_until_caught_up(60)
    container.runner().run_until_caught_up(60)
    return alerter


def absent_gp(case_id: str) -> dict[str, Any]:
    return meeting_held(
        case_id,
        "initial_cp_conference",
        ["la-childrens-social-care", "gp-practice-east"],
        ["la-childrens-social-care"],
    )


def test_a_finding_is_raised_once_through_restarts_and_rebuilds(
    backend: str, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(backend)
    case_id = new_case_id()
    meeting = absent_gp(case_id)
    container = with_agencies(bootstrap(settings))
    try:
        container.ledger.submit([meeting])
        settle(container)
        [feed] = raised(container.alerts_log)
        [recorded] = raised(container.log)
        assert feed == recorded
        payload = feed["payload"]
        assert payload["rule"] == "key_agency_absent" and payload["evidence"] == [
            meeting["event_id"]
        ]
        assert feed["event_id"] == alert_event_id(payload["alert_id"])
        assert (feed["agency"], feed["case_id"], feed["occurred_at"]) == (
            LEDGER_AGENCY,
            case_id,
            "2007-03-05T12:00:00Z",
        )
        assert payload["rule_version"] == container.rule_policy.version
        # No lead named: the social care agency that recorded the meeting is sent it.
        assert payload["sent_to"] == [meeting["agency"]]
        # The case view took it in like any event: an open alert on the case.
        state = container.view.get(case_id)
        assert state is not None
        assert [(i.id, i.kind) for i in state.open_items] == [(payload["alert_id"], "alert")]
    finally:
        container.close()

    # A restart: a new process over the same data, the alerter going on from its position.
    container = with_agencies(bootstrap(settings))
    try:
        settle(container)
        assert len(raised(container.alerts_log)) == 1 and len(raised(container.log)) == 1
        # The alerter's store rebuilt from nothing: the finding is found in the ledger.
        container.rebuild_follower("alerts")
        settle(container)
        assert len(raised(container.alerts_log)) == 1 and len(raised(container.log)) == 1
        [kept] = container.alerts.current().store.raised(case_id)
        assert kept["alert_id"] == payload["alert_id"] and kept["published"]
        # An agency answers; the case view rebuilt too; the answer still matches.
        answer = make_event(
            "alert.answered",
            case_id,
            occurred_at="2007-03-07T10:00:00Z",
            recorded_at="2007-03-07T10:00:00Z",
        )
        answer["payload"].update(alert_id=payload["alert_id"], response="escalated")
        container.ledger.submit([answer])
        container.rebuild()
        container.rebuild_follower("alerts")
        settle(container)
        assert len(raised(container.alerts_log)) == 1 and len(raised(container.log)) == 1
        [finding] = evaluate(
            container.view.events(case_id),
            datetime.now(UTC),
            container.rule_policy,
            agencies=container.agencies,
        )
        assert finding.alert_id == payload["alert_id"] and finding.answer is not None
        state = container.view.get(case_id)
        assert state is not None and state.open_items == ()
    finally:
        container.close()


def test_a_deadline_rule_fires_when_its_time_passes(
    make_settings: Callable[..., Settings],
) -> None:
    """An adult linked unverified: nothing for 14 days, then the alert, dated at the deadline."""
    container = with_agencies(bootstrap(make_settings("sqlite")))
    now = [datetime(2007, 3, 6, 9, tzinfo=UTC)]
    try:
        case_id = new_case_id()
        person = unverified_adult(case_id)
        container.ledger.submit([person])
        alerter = settle(container, clock=lambda: now[0])
        assert raised(container.log) == []
        store = container.alerts.current().store
        due = datetime(2007, 3, 19, 10, tzinfo=UTC)
        assert store.due_cases(due - timedelta(seconds=1)) == []
        assert store.due_cases(due) == [case_id]
        now[0] = datetime(2007, 3, 20, 9, tzinfo=UTC)
        alerter.tick()
        [alert] = raised(container.alerts_log)
        assert alert["payload"]["rule"] == "adult_identity_unverified"
        assert (alert["occurred_at"], alert["recorded_at"]) == (
            "2007-03-19T10:00:00Z",
            "2007-03-20T09:00:00Z",
        )
        assert store.due_cases(datetime(2030, 1, 1, tzinfo=UTC)) == []
        alerter.tick()
        assert len(raised(container.alerts_log)) == 1
    finally:
        container.close()


class FailingOnce:
    """A ledger whose first append fails as if the log were down."""

    def __init__(self, inner: Ledger) -> None:
        self.inner = inner
        self.log = inner.log
        self.failed = False

    def submit(self, documents: list[dict[str, Any]]) -> Any:
        if not self.failed:
            self.failed = True
            raise LedgerUnavailable("the alerts topic is down")
        return self.inner.submit(documents)


def test_a_decided_alert_is_published_after_a_failed_publish(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    container = with_agencies(bootstrap(make_settings("sqlite")))
    try:
        case_id = new_case_id()
        [meeting] = container.ledger.submit([absent_gp(case_id)])
        container.runner().run_until_caught_up(60)
        feed = FailingOnce(Ledger(container.alerts_log, container.schemas))
        store = open_alert_store(tmp_path / "alerts.sqlite")
        record = Ledger(container.log, container.schemas)
        alerter = Alerter(
            store,
            container.rule_policy,
            record,
            feed,  # type: ignore[arg-type]
            container.agencies,
        )
        follower = CaseFollower(container.log, container.views, alerter)
        with pytest.raises(LedgerUnavailable):
            follower.run_until_caught_up(30)
        # The decision and the position were committed before publishing; nothing is out yet.
        [decided] = store.raised(case_id)
        assert not decided["published"] and raised(container.alerts_log) == []
        assert store.positions(container.log.topic, [0]) == {0: meeting.offset}
        follower.run_until_caught_up(30)  # a restart publishes the outbox
        assert len(raised(container.alerts_log)) == 1 and len(raised(container.log)) == 1
        assert store.raised(case_id)[0]["published"]
        store.datastore.close()
    finally:
        container.close()


def test_serve_raises_alerts_and_shows_them_with_the_case(
    backend: str, make_settings: Callable[..., Settings]
) -> None:
    """`sgl serve` runs the alerter: a finding shows as raised on the case's alerts, as an open
    alert in its state and in its chronology; the clock view serves the ledger-wide latency."""
    container = with_agencies(bootstrap(make_settings(backend, alerter="on")))
    server = LiveServer(container).start()
    try:
        with server.client() as http:
            case_id = new_case_id()
            meeting = absent_gp(case_id)
            assert http.post("/v1/events", json=meeting).status_code == 201

            def raised_and_applied() -> bool:
                answer = http.get(f"/v1/cases/{case_id}/alerts")
                if answer.status_code != 200:
                    return False
                found, state = answer.json(), http.get(f"/v1/cases/{case_id}").json()
                return (
                    bool(found["raised"])
                    and found["raised"][0]["published"]
                    and any(item["kind"] == "alert" for item in state.get("open_items", []))
                )

            wait_for(raised_and_applied, timeout=30, what="the alert raised and applied")
            found = http.get(f"/v1/cases/{case_id}/alerts").json()
            [alert] = found["alerts"]
            assert [r["alert_id"] for r in found["raised"]] == [alert["alert_id"]]
            chronology = http.get(f"/v1/cases/{case_id}/chronology").json()
            types = [e["type"] for e in chronology["events"]]
            assert types.count("alert.raised") == 1
            assert len(raised(container.alerts_log)) == 1
            metrics = http.get("/metrics").text
            assert 'view="alerts"' in metrics and 'view="clocks"' in metrics
            wait_for(
                lambda: container.clocks.current().positions(container.log.topic, [0, 1, 2]) != {},
                timeout=30,
                what="the clock view to follow",
            )
            assert http.get("/v1/latency").status_code == 200
    finally:
        server.stop()
        container.close()


def test_a_cluster_whose_evidence_grows_is_raised_once(
    backend: str, make_settings: Callable[..., Settings]
) -> None:
    """Three injuries in a week raise one cluster alert; three more in the next ten days
    (enough for a cluster of their own) join its evidence: the finding keeps its id and the
    alerter raises nothing new."""
    container = with_agencies(bootstrap(make_settings(backend)))
    case_id = new_case_id()

    def injury(day: int) -> dict[str, Any]:
        made = make_event(
            "injury.observed",
            case_id,
            occurred_at=f"2007-03-{day:02d}T10:00:00Z",
            recorded_at=f"2007-03-{day:02d}T12:00:00Z",
        )
        made["payload"].update(
            suspected_non_accidental=False,
            explanation_given=f"said on day {day}",
            explanation_consistent=None,
        )
        return made

    try:
        first = [injury(d) for d in (1, 3, 5)]
        container.ledger.submit(first)
        settle(container)
        [alert] = raised(container.log)
        assert alert["payload"]["rule"] == "injury_cluster"
        assert alert["payload"]["evidence"] == [e["event_id"] for e in first]
        later = [injury(d) for d in (9, 12, 15)]
        container.ledger.submit(later)
        settle(container)
        assert raised(container.log) == [alert] and raised(container.alerts_log) == [alert]
        [grown] = [
            f
            for f in evaluate(
                container.view.events(case_id),
                datetime.now(UTC),
                container.rule_policy,
                agencies=container.agencies,
            )
            if f.rule.name == "injury_cluster"
        ]
        assert grown.alert_id == alert["payload"]["alert_id"]
        assert grown.evidence == tuple(e["event_id"] for e in [*first, *later])
    finally:
        container.close()


def test_a_second_closure_sharing_evidence_with_the_first_is_raised(
    backend: str, make_settings: Callable[..., Settings]
) -> None:
    """Social care closes while the child is in hospital (no discharge), reopens and closes
    again: two findings, both with the admission; the second is a new situation, raised,
    not taken for the first regrouped."""
    container = with_agencies(bootstrap(make_settings(backend)))
    case_id = new_case_id()

    def made(event_type: str, day: int, agency: str, **payload: Any) -> dict[str, Any]:
        event = make_event(
            event_type,
            case_id,
            agency=agency,
            occurred_at=f"2007-03-{day:02d}T10:00:00Z",
            recorded_at=f"2007-03-{day:02d}T12:00:00Z",
        )
        event["payload"] = payload
        return event

    def closures(log: EventLog) -> list[dict[str, Any]]:
        return [a for a in raised(log) if a["payload"]["rule"] == "closed_while_concerns_open"]

    social_care = "la-childrens-social-care"
    try:
        container.ledger.submit(
            [
                made("involvement.opened", 1, social_care, basis="assessment"),
                made(
                    "hospital.admitted", 2, "nhs-hospital-north", episode_id="EP-T-1", via="a_and_e"
                ),
                made("involvement.closed", 5, social_care, reason="no_engagement"),
            ]
        )
        settle(container)
        [first] = closures(container.log)
        container.ledger.submit(
            [
                made("involvement.opened", 8, social_care, basis="assessment"),
                made("involvement.closed", 12, social_care, reason="no_engagement"),
            ]
        )
        settle(container)
        again, second = closures(container.log)
        assert again == first and second["payload"]["alert_id"] != first["payload"]["alert_id"]
        assert set(first["payload"]["evidence"]) & set(second["payload"]["evidence"])
    finally:
        container.close()


# Run in a process of its own: tracemalloc counts every thread's allocations, and other
# tests' threads in a shared test process can allocate while the alerter decides.
DECIDE_MEASURED = """
import json, pickle, sys, tracemalloc
from datetime import UTC, datetime
from sgl.bootstrap import bootstrap

settings, cases = pickle.loads(sys.stdin.buffer.read())
container = bootstrap(settings)
alerter = container.alerts.current()
alerter.publish = lambda: 0  # deciding alone: publishing is the append path's to test
view = container.view
tracemalloc.start()
loaded = [view.events(c) for c in cases]
every_event = tracemalloc.get_traced_memory()[0]
del loaded
tracemalloc.reset_peak()
start = tracemalloc.get_traced_memory()[0]
decided = alerter.refresh(view, cases, [], datetime.now(UTC))
peak = tracemalloc.get_traced_memory()[1] - start
tracemalloc.stop()
raised = sorted({a["case_id"] for a in alerter.store.raised()})
container.close()
print(json.dumps({"every_event": every_event, "peak": peak, "decided": decided, "raised": raised}))
"""


def test_a_refresh_holds_one_case_of_events_at_a_time(
    make_settings: Callable[..., Settings],
) -> None:
    """Deciding on many long cases that each raise an alert keeps no case's events past its
    own evaluation: the peak of memory allocated while deciding stays well under the batch's
    events (every event of each case that fired was held: 1 GiB in the five-minute load)."""
    settings = make_settings("sqlite")
    container = with_agencies(bootstrap(settings))
    cases = [new_case_id() for _ in range(40)]
    try:
        container.ledger.submit(
            [make_event("injury.observed", c) for _ in range(3) for c in cases]
            + [make_event("contact.recorded", c) for _ in range(80) for c in cases]
        )
        container.runner().run_until_caught_up(60)
    finally:
        container.close()
    run = subprocess.run(
        [sys.executable, "-c", DECIDE_MEASURED],
        input=pickle.dumps((settings, cases)),
        capture_output=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *sys.path])},
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr.decode()[-3000:]
    measured = orjson.loads(run.stdout.splitlines()[-1])
    assert measured["decided"] == len(cases)
    assert measured["raised"] == sorted(cases)
    assert measured["peak"] < measured["every_event"] / 3
