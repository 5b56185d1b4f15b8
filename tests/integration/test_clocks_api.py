"""Clocks over HTTP and the CLI, on both backends: JSON, CSV, and clear errors."""

from __future__ import annotations

from typing import Any

import httpx
from click.testing import CliRunner

from ledger.append import Ledger
from ledger.publish_rules import alert_event_id
from projections.audit import AUDIT_COLUMNS
from sgl.bootstrap import Container
from sgl.cli import cli
from tests.conftest import wait_for
from tests.credentials import post_by_caller
from tests.factories import make_event, meeting_held, new_case_id


def published(http: httpx.Client, case_id: str, events: list[dict[str, Any]]) -> None:
    """Append the events (all to case_id) and wait until the view has every one of them."""
    assert {r.status_code for r in post_by_caller(http, events)} == {201}
    wait_for(
        lambda: (
            http.get(f"/v1/cases/{case_id}").status_code == 200
            and http.get(f"/v1/cases/{case_id}").json()["events"] == len(events)
        ),
        timeout=20,
        what="the case in the view",
    )


def test_clocks_of_a_case_in_json_and_csv(http: httpx.Client, container: Container) -> None:
    """A referral on a Friday decided on the Monday by the social care it went to: met in one
    working day, and named as that service's clock."""
    case_id = new_case_id()
    referral = make_event(
        "referral.made",
        case_id,
        occurred_at="2007-03-09T15:00:00Z",
        recorded_at="2007-03-09T16:00:00Z",
    )
    referral["payload"]["to_agency"] = "la-childrens-social-care"
    decision = make_event(
        "decision.recorded",
        case_id,
        occurred_at="2007-03-12T11:00:00Z",
        recorded_at="2007-03-12T12:00:00Z",
        agency="la-childrens-social-care",
    )
    decision["payload"]["decision_type"] = "referral_outcome"
    published(http, case_id, [referral, decision])
    answer = http.get(f"/v1/cases/{case_id}/clocks").json()
    assert answer["policy"]["version"] == container.clock_policy.version
    [run] = [c for c in answer["clocks"] if c["clock"] == "referral_decision"]
    assert (run["status"], run["working_days"], run["deadline"]) == ("met", 1, "2007-03-12")
    assert run["stop_event"] == decision["event_id"]
    assert (run["responsible"], run["responsible_kind"]) == (
        "la-childrens-social-care",
        "childrens_social_care",
    )
    early = http.get(f"/v1/cases/{case_id}/clocks", params={"as_of": "2007-03-10"}).json()
    [running] = [c for c in early["clocks"] if c["clock"] == "referral_decision"]
    assert (running["status"], running["stop_event"]) == ("open", None)
    table = http.get(f"/v1/cases/{case_id}/clocks", params={"format": "csv"})
    assert table.headers["content-type"].startswith("text/csv")
    assert table.text.splitlines()[0].startswith("clock,status,limit,started_at")
    assert "referral_decision,met,1 working day" in table.text

    runner = CliRunner()
    args = ["--data-dir", str(container.settings.data_dir), "clocks", case_id]
    shown = runner.invoke(cli, args)
    assert shown.exit_code == 0, shown.output
    assert f"clock policy {container.clock_policy.version}" in shown.output
    header, *rows = shown.output.splitlines()[2:]
    assert header.split()[:3] == ["status", "clock", "started_at"]
    assert any(row.split()[:2] == ["met", "referral_decision"] for row in rows)
    csv_out = runner.invoke(cli, [*args, "--format", "csv", "--as-of", "2007-03-10"])
    assert "referral_decision,open" in csv_out.output


def test_clock_errors_name_the_parameter(http: httpx.Client) -> None:
    """An unreadable as_of is a 422 naming /as_of; an unknown case a 404."""
    bad = http.get(f"/v1/cases/{new_case_id()}/clocks", params={"as_of": "tomorrow"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["pointer"] == "/as_of"
    assert http.get(f"/v1/cases/{new_case_id()}/clocks").status_code == 404
    wrong = http.get(f"/v1/cases/{new_case_id()}/clocks", params={"format": "xml"})
    assert wrong.status_code == 422


def test_latency_across_the_ledger_and_for_one_case(
    http: httpx.Client, container: Container
) -> None:
    """A breached legal planning meeting shows, with its evidence, ledger-wide and per case."""
    case_id = new_case_id()
    request = make_event(
        "meeting.requested",
        case_id,
        occurred_at="2007-06-06T10:00:00Z",
        recorded_at="2007-06-06T11:00:00Z",
    )
    request["payload"].update(meeting_type="legal_planning_meeting", meeting_id="MTG-T-L1")
    held = make_event(
        "meeting.held",
        case_id,
        occurred_at="2007-07-25T10:00:00Z",
        recorded_at="2007-07-25T16:00:00Z",
    )
    held["payload"].update(meeting_type="legal_planning_meeting", meeting_id="MTG-T-L1")
    published(http, case_id, [request, held])
    ledger = http.get("/v1/latency", params={"as_of": "2007-12-31"}).json()
    [legal] = [g for g in ledger["groups"] if g["clock"] == "legal_planning_meeting"]
    assert legal["breached"] >= 1 and legal["max_working_days"] == 35
    breach = next(b for b in legal["breaches"] if b["case_id"] == case_id)
    assert (breach["start_event"], breach["stop_event"]) == (request["event_id"], held["event_id"])
    one = http.get(f"/v1/cases/{case_id}/latency", params={"by": "agency"}).json()
    assert one["case_id"] == case_id and [g["runs"] for g in one["groups"]] == [1]
    table = http.get("/v1/latency", params={"format": "csv", "by": "clock"}).text
    assert table.splitlines()[0] == (
        "clock,limit,runs,met,breached,open,median_working_days,p90_working_days,max_working_days"
    )
    assert http.get("/v1/latency", params={"by": "month"}).status_code == 422
    shown = CliRunner().invoke(
        cli,
        ["--data-dir", str(container.settings.data_dir), "latency", case_id, "--format", "csv"],
    )
    assert shown.exit_code == 0 and "legal_planning_meeting,10 working days,1,0,1,0,35" in (
        shown.output
    )


def referral(case_id: str, occurred_at: str) -> dict[str, Any]:
    """A referral to children's social care, recorded an hour after it was made."""
    made = make_event(
        "referral.made",
        case_id,
        occurred_at=occurred_at,
        recorded_at=occurred_at.replace("T10:", "T11:"),
    )
    made["payload"]["to_agency"] = "la-childrens-social-care"
    return made


def test_the_audit_measures_open_runs_to_where_the_data_end(
    http: httpx.Client, container: Container
) -> None:
    """A referral decided in time, and one undecided in a case whose data end the next day:
    one audit row each; across the ledger as in its case's own audit, the undecided one is
    open, measured to its own case's end (not to the other case's later decision), and
    breached as of a date past its deadline. CSV answers carry where the data end and what
    open runs are measured to as response headers; the command prints them on stderr."""
    decided, undecided = new_case_id(), new_case_id()
    first = referral(decided, "2007-03-09T10:00:00Z")
    decision = make_event(
        "decision.recorded",
        decided,
        occurred_at="2007-03-12T10:30:00Z",
        recorded_at="2007-03-12T12:00:00Z",
    )
    decision["payload"]["decision_type"] = "referral_outcome"
    # Decided by the social care the referral went to: only its decision stops the clock.
    decision["agency"] = "la-childrens-social-care"
    published(http, decided, [first, decision])
    second = referral(undecided, "2007-03-05T10:00:00Z")
    contact = make_event(
        "contact.recorded",
        undecided,
        occurred_at="2007-03-06T10:00:00Z",
        recorded_at="2007-03-06T11:00:00Z",
    )
    published(http, undecided, [second, contact])

    ledger = http.get("/v1/audit", params={"clock": "referral_decision"}).json()
    assert (ledger["data_end"], ledger["measured_to"], ledger["open_runs_measured_to"]) == (
        "2007-03-12T10:30:00Z",
        None,
        "case_data_end",
    )
    rows = {r["case_id"]: r for r in ledger["runs"]}
    assert set(rows) == {decided, undecided}
    assert list(rows[decided]) == list(AUDIT_COLUMNS)
    assert (rows[decided]["outcome"], rows[decided]["stop_event"]) == ("met", decision["event_id"])
    waiting = rows[undecided]
    assert (waiting["outcome"], waiting["working_days"], waiting["deadline"]) == (
        "open",
        1,
        "2007-03-06",
    )
    assert (waiting["start_event"], waiting["stop_event"]) == (second["event_id"], None)
    one = http.get(f"/v1/cases/{undecided}/audit").json()
    assert (one["case_id"], one["data_end"], one["measured_to"]) == (
        undecided,
        "2007-03-06T10:00:00Z",
        "2007-03-06T10:00:00Z",
    )
    # A referral to social care starts its decision, first contact, child seen and
    # assessment clocks: all open, measured to the case's end.
    assert {(r["clock"], r["outcome"], r["working_days"]) for r in one["runs"]} == {
        (name, "open", 1)
        for name in (
            "referral_decision",
            "referral_first_contact",
            "referral_child_seen",
            "assessment",
        )
    }
    assert [r for r in one["runs"] if r["clock"] == "referral_decision"] == [waiting]
    then = http.get(
        "/v1/audit", params={"as_of": "2007-03-06", "clock": "referral_decision"}
    ).json()
    assert (then["measured_to"], then["open_runs_measured_to"]) == (
        "2007-03-06T23:59:59.999999Z",
        "as_of",
    )
    assert [(r["case_id"], r["outcome"]) for r in then["runs"]] == [(undecided, "open")]
    past = http.get("/v1/audit", params={"as_of": "2007-03-07", "clock": "referral_decision"})
    late = {r["case_id"]: r for r in past.json()["runs"]}[undecided]
    assert (late["outcome"], late["working_days"]) == ("breached", 2)
    latency = http.get("/v1/latency", params={"by": "kind"}).json()
    assert latency["data_end"] == ledger["data_end"] and latency["by"] == "kind"
    assert sum(g["runs"] for g in latency["groups"]) == len(http.get("/v1/audit").json()["runs"])

    table = http.get(f"/v1/cases/{undecided}/audit", params={"format": "csv"})
    assert table.headers["content-type"].startswith("text/csv")
    assert (table.headers["x-sgl-data-end"], table.headers["x-sgl-measured-to"]) == (
        "2007-03-06T10:00:00Z",
        "2007-03-06T10:00:00Z",
    )
    whole = http.get("/v1/audit", params={"format": "csv"})
    assert whole.headers["x-sgl-data-end"] == "2007-03-12T10:30:00Z"
    assert "x-sgl-measured-to" not in whole.headers
    assert whole.headers["x-sgl-open-runs-measured-to"] == "case_data_end"
    for route in ("/v1/latency", f"/v1/cases/{undecided}/clocks"):
        dated = http.get(route, params={"format": "csv", "as_of": "2007-03-07"})
        assert dated.headers["x-sgl-measured-to"] == "2007-03-07T23:59:59.999999Z", route
        assert dated.headers["x-sgl-open-runs-measured-to"] == "as_of", route
    assert table.text.splitlines()[0] == ",".join(AUDIT_COLUMNS)
    accepted = http.get(f"/v1/cases/{undecided}/audit", headers={"Accept": "text/csv"})
    assert accepted.headers["content-type"].startswith("text/csv") and accepted.text == table.text
    asked = http.get(
        f"/v1/cases/{undecided}/audit", params={"format": "json"}, headers={"Accept": "text/csv"}
    )
    assert asked.json() == one
    shown = CliRunner().invoke(
        cli, ["--data-dir", str(container.settings.data_dir), "audit", undecided, "--csv"]
    )
    assert shown.exit_code == 0 and shown.stdout == table.text
    assert shown.stderr.splitlines()[-1] == (
        "data end 2007-03-06T10:00:00Z; open runs measured to 2007-03-06T10:00:00Z"
    )
    ledger_csv = CliRunner().invoke(
        cli, ["--data-dir", str(container.settings.data_dir), "audit", "--csv"]
    )
    assert ledger_csv.exit_code == 0 and ledger_csv.stdout == whole.text
    assert ledger_csv.stderr.splitlines()[-1] == (
        "data end 2007-03-12T10:30:00Z; open runs measured to each case's own data end"
    )
    spec = http.get("/openapi.json").json()["paths"]
    for path in ("/v1/audit", "/v1/latency", "/v1/cases/{case_id}/clocks"):
        documented = spec[path]["get"]["responses"]["200"]["headers"]
        assert set(documented) == {
            "X-SGL-Data-End",
            "X-SGL-Measured-To",
            "X-SGL-Open-Runs-Measured-To",
        }, path
    wrong = http.get("/v1/audit", params={"clock": "referral_decisions"})
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["pointer"] == "/clock"


def test_alerts_of_a_case_over_http_and_the_cli(http: httpx.Client, container: Container) -> None:
    """An absent GP at a conference: one unanswered alert; answered, it shows the response."""
    case_id = new_case_id()
    meeting = meeting_held(
        case_id,
        "initial_cp_conference",
        ["la-childrens-social-care", "gp-practice-east"],
        ["la-childrens-social-care"],
    )
    published(http, case_id, [meeting])
    found = http.get(f"/v1/cases/{case_id}/alerts").json()
    [alert] = [a for a in found["alerts"] if a["rule"] == "key_agency_absent"]
    assert found["unanswered"] == 1 and alert["evidence"] == [meeting["event_id"]]
    # Raised as the alerter raises it (this ledger runs none): an answer follows its alert.
    raised = make_event("alert.raised", case_id, event_id=alert_event_id(alert["alert_id"]))
    raised["payload"].update({k: alert[k] for k in ("alert_id", "rule", "evidence", "sent_to")})
    Ledger(container.log, container.schemas).submit([raised])
    answer = make_event(
        "alert.answered",
        case_id,
        occurred_at="2007-03-07T10:00:00Z",
        recorded_at="2007-03-07T10:00:00Z",
    )
    answer["payload"].update(alert_id=alert["alert_id"], response="escalated")
    assert http.post("/v1/events", json=answer).status_code == 201
    wait_for(
        lambda: http.get(f"/v1/cases/{case_id}/alerts").json()["unanswered"] == 0,
        timeout=20,
        what="the answer applied",
    )
    [closed] = http.get(f"/v1/cases/{case_id}/alerts").json()["alerts"]
    assert (closed["response"], closed["days_to_answer"]) == ("escalated", 1.92)  # from 12:00
    assert http.get(f"/v1/cases/{new_case_id()}/alerts").status_code == 404
    shown = CliRunner().invoke(
        cli, ["--data-dir", str(container.settings.data_dir), "alerts", case_id]
    )
    assert shown.exit_code == 0 and "answered after 1.92 days (escalated)" in shown.output


def test_alerts_across_the_ledger(http: httpx.Client, container: Container) -> None:
    """The ledger-wide report lists an unanswered finding with its case, in JSON and CSV."""
    case_id = new_case_id()
    meeting = meeting_held(case_id, "review_cp_conference", ["nhs-hospital-north"], [])
    published(http, case_id, [meeting])
    report = http.get("/v1/alerts", params={"as_of": "2007-04-05"}).json()
    [row] = [r for r in report["rules"] if r["rule"] == "key_agency_absent"]
    waiting = [a for a in row["unanswered_alerts"] if a["case_id"] == case_id]
    assert len(waiting) == 1 and waiting[0]["evidence"] == [meeting["event_id"]]
    table = http.get("/v1/alerts", params={"format": "csv"}).text.splitlines()
    assert table[0].startswith("rule,alerts,answered,unanswered")
    assert any(line.startswith("key_agency_absent,") for line in table[1:])
    shown = CliRunner().invoke(
        cli, ["--data-dir", str(container.settings.data_dir), "alerts", "--csv"]
    )
    assert shown.exit_code == 0 and "key_agency_absent," in shown.output
