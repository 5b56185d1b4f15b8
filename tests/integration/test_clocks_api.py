"""Clocks over HTTP and the CLI, on both backends: JSON, CSV, and clear errors."""

from __future__ import annotations

import httpx
from click.testing import CliRunner

from sgl.bootstrap import Container
from sgl.cli import cli
from tests.conftest import wait_for
from tests.factories import make_event, new_case_id


def test_clocks_of_a_case_in_json_and_csv(http: httpx.Client, container: Container) -> None:
    """A referral on a Friday decided on the Monday: met in one working day."""
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
    )
    decision["payload"]["decision_type"] = "referral_outcome"
    assert http.post("/v1/events", json=[referral, decision]).status_code == 201
    wait_for(
        lambda: (
            http.get(f"/v1/cases/{case_id}").status_code == 200
            and http.get(f"/v1/cases/{case_id}").json()["events"] == 2
        ),
        timeout=20,
        what="the case in the view",
    )
    answer = http.get(f"/v1/cases/{case_id}/clocks").json()
    assert answer["policy"]["version"] == container.clock_policy.version
    [run] = [c for c in answer["clocks"] if c["clock"] == "referral_decision"]
    assert (run["status"], run["working_days"], run["deadline"]) == ("met", 1, "2007-03-12")
    assert run["stop_event"] == decision["event_id"]
    early = http.get(f"/v1/cases/{case_id}/clocks", params={"as_of": "2007-03-10"}).json()
    [running] = [c for c in early["clocks"] if c["clock"] == "referral_decision"]
    assert (running["status"], running["stop_event"]) == ("open", None)
    table = http.get(f"/v1/cases/{case_id}/clocks", params={"format": "csv"})
    assert table.headers["content-type"].startswith("text/csv")
    assert table.text.splitlines()[0].startswith("clock,status,limit,started_at")
    assert "referral_decision,met,1 working days" in table.text

    runner = CliRunner()
    args = ["--data-dir", str(container.settings.data_dir), "clocks", case_id]
    shown = runner.invoke(cli, args)
    assert shown.exit_code == 0, shown.output
    assert "clock policy 2026.1" in shown.output and "met  referral_decision" in shown.output
    csv_out = runner.invoke(cli, [*args, "--format", "csv", "--as-of", "2007-03-10"])
    assert "referral_decision,open" in csv_out.output


def test_clock_errors_name_the_parameter(http: httpx.Client) -> None:
    """An unreadable as_of is a 422 naming /as_of; an unknown case a 404."""
    bad = http.get(f"/v1/cases/{new_case_id()}/clocks", params={"as_of": "tomorrow"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["pointer"] == "/as_of"
    assert http.get(f"/v1/cases/{new_case_id()}/clocks").status_code == 404
    wrong = http.get(f"/v1/cases/{new_case_id()}/clocks", params={"format": "xml"})
    assert wrong.status_code == 422
