"""The who-knew-what-when queries over HTTP and the CLI, on both backends."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
from click.testing import CliRunner

from sgl.bootstrap import Container
from sgl.cli import cli
from tests.conftest import wait_for
from tests.credentials import post_by_caller
from tests.factories import new_case_id
from tests.integration.test_need_to_know import GP, POLICE, SC, case_events


def publish_case(http: httpx.Client) -> tuple[str, dict[str, str]]:
    """A case: a GP injury shared with social care, a police contact; the view has it all
    (the need-to-know tests' case, without its later correction)."""
    case_id = new_case_id()
    events, ids = case_events(case_id)
    events = [e for e in events if e["event_id"] != ids["correction"]]
    assert {r.status_code for r in post_by_caller(http, events)} == {201}
    wait_for(
        lambda: http.get(f"/v1/cases/{case_id}").json().get("events") == len(events),
        timeout=20,
        what="the case in the view",
    )
    return case_id, {name: ids[name] for name in ("injury", "share", "contact")}


def test_knowledge_matrix_gaps_and_time_to_share(http: httpx.Client) -> None:
    """Each query answers as of a date, with the lead agency as the default agency."""
    case_id, ids = publish_case(http)
    base = f"/v1/cases/{case_id}/knowledge"
    known = http.get(base, params={"as_of": "2007-03-05"}).json()
    assert known["agency"] == SC
    by_id = {f["event_id"]: f for f in known["facts"]}
    assert by_id[ids["injury"]]["via"] == "shared"
    assert by_id[ids["injury"]]["since"] == "2007-03-05T09:00:00Z"
    assert ids["contact"] not in by_id
    before = http.get(base, params={"as_of": "2007-03-04"}).json()
    assert ids["injury"] not in {f["event_id"] for f in before["facts"]}

    matrix = http.get(f"{base}/matrix").json()
    assert matrix["agencies"] == sorted([SC, POLICE, GP])
    row = next(f for f in matrix["facts"] if f["event_id"] == ids["injury"])
    assert set(row["known"]) == {GP, SC}

    gaps = http.get(f"{base}/gaps", params={"agency": POLICE}).json()
    assert ids["injury"] in {g["event_id"] for g in gaps["facts"]}
    sc_gaps = http.get(f"{base}/gaps").json()
    assert ids["contact"] in {g["event_id"] for g in sc_gaps["facts"]}

    pairs = http.get(f"{base}/time-to-share").json()["pairs"]
    gp_sc = next(p for p in pairs if (p["from_agency"], p["to_agency"]) == (GP, SC))
    # The injury took 2 days 23 hours to reach social care; the share itself 0.
    assert gp_sc["count"] == 2 and gp_sc["max_days"] == 2.96
    ledger = http.get("/v1/knowledge/time-to-share").json()["pairs"]
    assert any((p["from_agency"], p["to_agency"]) == (GP, SC) for p in ledger)


def test_knowledge_errors_name_the_parameter(http: httpx.Client) -> None:
    """Bad dates get 422 naming /as_of; an unknown case 404 saying it has no such case, and
    one not yet known 404 saying it knew none by then."""
    case_id, _ = publish_case(http)
    bad = http.get(f"/v1/cases/{case_id}/knowledge/matrix", params={"as_of": "25/07/2007"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["pointer"] == "/as_of"
    missing = new_case_id()
    for path in ("knowledge", "knowledge/matrix", "knowledge/gaps", "knowledge/time-to-share"):
        unknown = http.get(f"/v1/cases/{missing}/{path}", params={"as_of": "2007-07-25"})
        assert unknown.status_code == 404
        assert unknown.json()["detail"] == f"the ledger has no case {missing!r} (yet)"
    early = http.get(f"/v1/cases/{case_id}/knowledge/gaps", params={"as_of": "2007-02-01"})
    assert early.status_code == 404
    assert early.json()["detail"] == f"the ledger knew no case {case_id!r} by then"


def test_sgl_who_knew_prints_tables_and_json(http: httpx.Client, container: Container) -> None:
    """The CLI reads the same view: gaps as a table, matrix and knowledge as JSON."""
    case_id, ids = publish_case(http)
    runner = CliRunner()
    args = ["--data-dir", str(container.settings.data_dir), "who-knew", case_id]
    table = runner.invoke(cli, [*args, "--agency", POLICE])
    assert table.exit_code == 0, table.output
    assert "Known elsewhere but not to police-north:" in table.output
    assert "injury.observed" in table.output
    matrix = runner.invoke(cli, [*args, "--show", "matrix", "--format", "json"])
    facts: list[dict[str, Any]] = orjson.loads(matrix.stdout)["facts"]
    assert {f["event_id"] for f in facts} >= set(ids.values())
    shown = runner.invoke(cli, [*args, "--show", "matrix"])
    assert "R" in shown.output and "S" in shown.output
    mine = runner.invoke(cli, [*args, "--show", "knowledge", "--format", "json"])
    assert ids["injury"] in {f["event_id"] for f in orjson.loads(mine.stdout)["facts"]}
    whole = runner.invoke(
        cli,
        ["--data-dir", str(container.settings.data_dir), "who-knew", "--show", "time-to-share"],
    )
    assert whole.exit_code == 0 and GP in whole.output
    missing = runner.invoke(cli, ["--data-dir", str(container.settings.data_dir), "who-knew"])
    assert missing.exit_code == 2
