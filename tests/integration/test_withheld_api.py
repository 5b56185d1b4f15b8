"""A decision not to share over HTTP, on both backends: published by the withholding agency,
shown withheld in the gaps and the matrix, overtaken by a later share; one naming a fact the
ledger does not hold is refused (422) and nothing is appended."""

from __future__ import annotations

from typing import Any

import httpx
from click.testing import CliRunner

from sgl.bootstrap import Container
from sgl.cli import cli
from tests.agencies import registrations
from tests.conftest import wait_for
from tests.factories import make_event, new_case_id

# Agencies of this test's own, of the kinds tests/agencies.py names.
SC = "wh-api-childrens-social-care"
POLICE = "wh-api-police"
SCHOOL = "wh-api-primary-school"
KINDS = {SC: "childrens_social_care", POLICE: "police", SCHOOL: "education"}
EXPLANATION = "Joint enquiry under way; the school is to be told after the interviews."


def _register(container: Container) -> None:
    container.ledger.submit(
        registrations(
            [
                {"agency_id": a, "name": f"Test {a}", "kind": k, "statutory": True}
                for a, k in KINDS.items()
            ]
        )
    )


def _event(kind: str, case_id: str, agency: str, day: int, **fields: Any) -> dict[str, Any]:
    when = f"2007-03-{day:02d}T09:00:00Z"
    return make_event(kind, case_id, agency=agency, occurred_at=when, recorded_at=when, **fields)


def _publish(http: httpx.Client, *events: dict[str, Any]) -> None:
    """One request per event: each is published by its own agency."""
    for event in events:
        response = http.post("/v1/events", json=[event])
        assert response.status_code == 201, response.text


def _settled(http: httpx.Client, case_id: str, count: int) -> None:
    wait_for(
        lambda: http.get(f"/v1/cases/{case_id}").json().get("events") == count,
        timeout=20,
        what="the case in the view",
    )


def _publish_case(container: Container, http: httpx.Client) -> dict[str, dict[str, Any]]:
    """Police withhold their enquiry from the school (day 3) and tell it later (day 10)."""
    _register(container)
    case_id = new_case_id()
    opened = _event("case.opened", case_id, SC, 1)
    opened["payload"]["lead_agency"] = SC
    enquiry = _event("involvement.opened", case_id, POLICE, 2)
    contact = _event("contact.recorded", case_id, SCHOOL, 2)
    withheld = _event(
        "information.withheld",
        case_id,
        POLICE,
        3,
        payload={
            "facts": [enquiry["event_id"]],
            "withheld_from": [SCHOOL],
            "reason": "would_prejudice_investigation",
            "explanation": EXPLANATION,
        },
    )
    share = _event(
        "information.shared",
        case_id,
        POLICE,
        10,
        payload={
            "from_agency": POLICE,
            "to_agency": SCHOOL,
            "facts": [enquiry["event_id"]],
            "channel": "secure_email",
        },
    )
    _publish(http, opened, enquiry, contact, withheld, share)
    _settled(http, case_id, 5)
    return {"opened": opened, "enquiry": enquiry, "withheld": withheld}


def test_a_withheld_fact_shows_withheld_until_shared(
    container: Container, http: httpx.Client
) -> None:
    """The school's gaps mark the enquiry withheld, with the decision, until the share; then
    it is known, and the matrix keeps the withholding beside the share."""
    events = _publish_case(container, http)
    opened, enquiry, withheld = events["opened"], events["enquiry"], events["withheld"]
    base = f"/v1/cases/{opened['case_id']}/knowledge"

    gaps = http.get(f"{base}/gaps", params={"agency": SCHOOL, "as_of": "2007-03-05"})
    assert gaps.status_code == 200, gaps.text
    gap = {g["event_id"]: g for g in gaps.json()["facts"]}[enquiry["event_id"]]
    assert gap["withheld"] is True
    assert gap["withholdings"] == [
        {
            "by": POLICE,
            "at": "2007-03-03T09:00:00Z",
            "reason": "would_prejudice_investigation",
            "explanation": EXPLANATION,
            "through": withheld["event_id"],
            "withholder_knew_since": "2007-03-02T09:00:00Z",
        }
    ]
    plain = {g["event_id"]: g for g in gaps.json()["facts"]}[opened["event_id"]]
    assert plain["withheld"] is False and plain["withholdings"] == []

    after = http.get(f"{base}/gaps", params={"agency": SCHOOL, "as_of": "2007-03-12"}).json()
    assert enquiry["event_id"] not in {g["event_id"] for g in after["facts"]}
    known = http.get(base, params={"agency": SCHOOL, "as_of": "2007-03-12"}).json()
    cell = {f["event_id"]: f for f in known["facts"]}[enquiry["event_id"]]
    assert (cell["via"], cell["since"]) == ("shared", "2007-03-10T09:00:00Z")

    matrix = http.get(f"{base}/matrix", params={"as_of": "2007-03-12"}).json()
    row = {f["event_id"]: f for f in matrix["facts"]}[enquiry["event_id"]]
    assert row["known"][SCHOOL]["via"] == "shared"
    assert [w["through"] for w in row["withholdings"][SCHOOL]] == [withheld["event_id"]]
    summary = {f["event_id"]: f for f in matrix["facts"]}[withheld["event_id"]]["summary"]
    assert summary == f"1 fact(s) withheld from {SCHOOL}: would prejudice investigation"


def test_sgl_who_knew_marks_withheld_cells_and_gaps(
    container: Container, http: httpx.Client
) -> None:
    """The matrix table marks the school's withheld cell W; the gaps table says withheld."""
    events = _publish_case(container, http)
    runner = CliRunner()
    args = ["--data-dir", str(container.settings.data_dir), "who-knew", events["opened"]["case_id"]]
    matrix = runner.invoke(cli, [*args, "--show", "matrix", "--as-of", "2007-03-05"])
    assert matrix.exit_code == 0, matrix.output
    codes = dict(line.strip().split(" = ") for line in matrix.output.splitlines() if " = " in line)
    columns = {agency: i for i, agency in enumerate(codes.values())}
    [row] = [line for line in matrix.output.splitlines() if " involvement.opened " in line]
    marks = row.split()[2:]
    assert marks[columns[SCHOOL]] == "W" and marks[columns[POLICE]] == "R"
    assert "W withheld (not known)" in matrix.output
    gaps = runner.invoke(cli, [*args, "--agency", SCHOOL, "--as-of", "2007-03-05"])
    assert gaps.exit_code == 0, gaps.output
    [gap] = [line for line in gaps.output.splitlines() if "involvement.opened" in line]
    assert "True" in gap.split()


def test_withholding_a_fact_the_ledger_does_not_hold_is_refused(
    container: Container, http: httpx.Client
) -> None:
    """422 naming the fact and the rule; nothing appended."""
    _register(container)
    case_id = new_case_id()
    missing = "6f3d2a10-0c4b-4d8e-9a7f-1b2c3d4e5f61"
    withheld = _event(
        "information.withheld",
        case_id,
        POLICE,
        3,
        payload={
            "facts": [missing],
            "withheld_from": [SCHOOL],
            "reason": "would_place_child_at_greater_risk",
            "explanation": EXPLANATION,
        },
    )
    ends = container.log.end_offsets()
    response = http.post("/v1/events", json=[withheld])
    assert response.status_code == 422, response.text
    problems = {(p["pointer"], p["rule"]) for p in response.json()["errors"]}
    assert ("/payload/facts/0", "fact-exists") in problems
    assert container.log.end_offsets() == ends
