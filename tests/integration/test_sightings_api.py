"""Involvements and sightings over HTTP and the CLI, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import orjson
from click.testing import CliRunner

from sgl import queries
from sgl.bootstrap import Container
from sgl.cli import cli
from tests.conftest import wait_for
from tests.credentials import post_by_caller
from tests.factories import new_case_id
from tests.involvement_factory import closed, day, involved, opened, registry, seen

CSC, POLICE, CHARITY = "example-childrens-social-care", "example-police", "example-voluntary"


def publish_case(http: httpx.Client) -> str:
    """A case opened by social care, the police involved and closing, three sightings."""
    case_id = new_case_id()
    events = [
        opened(case_id, CSC, 0, responsible_area="E08000001"),
        involved(case_id, POLICE, 1, "police_investigation"),
        seen(case_id, POLICE, 2, seen_alone="no", role="police_officer"),
        seen(case_id, CSC, 5, recorded=6, seen_alone="yes"),
        seen(case_id, CHARITY, 8, role="volunteer", source={"kind": "relative"}),
        closed(case_id, POLICE, 9),
    ]
    assert {r.status_code for r in post_by_caller(http, events)} == {201}
    wait_for(
        lambda: http.get(f"/v1/cases/{case_id}").json().get("events") == len(events),
        timeout=20,
        what="the case in the view",
    )
    return case_id


def test_the_case_shows_involvements_lead_and_area_as_of_a_date(http: httpx.Client) -> None:
    """GET /v1/cases/{id}: each agency's episodes, open or not, and the lead and area then."""
    case_id = publish_case(http)
    now = http.get(f"/v1/cases/{case_id}").json()
    assert [(i["agency"], i["open"]) for i in now["involvements"]] == [
        (CSC, True),
        (POLICE, False),
    ]
    (police_episode,) = now["involvements"][1]["episodes"]
    assert police_episode == {
        "opened_at": day(1),
        "basis": "police_investigation",
        "closed_at": day(9),
        "reason": "no_further_action",
        "cin_closure_reason": "RC8",
    }
    assert (now["lead_agency"], now["responsible_area"], now["closed"]) == (CSC, "E08000001", False)
    # Social care, registered as statutory, is still involved.
    assert now["any_statutory_involvement_open"] is True
    then = http.get(f"/v1/cases/{case_id}", params={"as_of": "2007-01-05"}).json()
    assert [(i["agency"], i["open"]) for i in then["involvements"]] == [(CSC, True), (POLICE, True)]


def test_sightings_as_of_a_date(http: httpx.Client) -> None:
    """GET /v1/cases/{id}/sightings: each agency's and each source's last sighting by then."""
    case_id = publish_case(http)
    path = f"/v1/cases/{case_id}/sightings"
    early = http.get(path, params={"as_of": "2007-01-06"}).json()
    assert early["as_of"] == "2007-01-06" and early["case_id"] == case_id
    assert [(s["agency"], s["last_seen_at"]) for s in early["by_agency"]] == [(POLICE, day(2))]
    late = http.get(path).json()
    assert [
        (s["agency"], s["last_seen_at"], s["seen_alone"], s["role"]) for s in late["by_agency"]
    ] == [
        (CSC, day(5), "yes", "social_worker"),
        (POLICE, day(2), "no", "police_officer"),
    ]
    assert late["by_source"] == [
        {"kind": "relative", "person_id": None, "last_seen_at": day(8), "reported_to": CHARITY}
    ]
    assert late["by_unregistered_agency"] == [] and late["by_non_statutory_agency"] == []
    assert late["last_seen_by_statutory_agency"]["agency"] == CSC
    assert late["last_seen_by_statutory_agency"]["name"] == "Example Council Children's Social Care"
    bad = http.get(path, params={"as_of": "06/01/2007"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["pointer"] == "/as_of"
    missing = http.get(f"/v1/cases/{new_case_id()}/sightings")
    assert missing.status_code == 404


def test_statutory_sightings_and_involvement_with_a_registry(
    http: httpx.Client, container: Container
) -> None:
    """The registry decides what counts as statutory: with one that holds social care as not
    statutory, the last statutory sighting is the police's, and once the police have closed,
    no statutory involvement is open."""
    case_id = publish_case(http)
    stores = queries.ContainerStores(container)
    agencies = registry({CSC: False, POLICE: True, CHARITY: False})
    found = queries.case_sightings(stores, case_id, "2007-01-20", agencies=agencies)
    assert found["last_seen_by_statutory_agency"]["agency"] == POLICE
    # From 3 January 00:00 to the end of 20 January.
    assert found["days_unseen"] == 17
    assert [s["agency"] for s in found["by_non_statutory_agency"]] == [CSC]
    assert found["by_unregistered_agency"] == []
    during = queries.case_document(stores, case_id, "2007-01-05", agencies=agencies)
    assert during["any_statutory_involvement_open"] is True
    after = queries.case_document(stores, case_id, "2007-01-20", agencies=agencies)
    assert after["any_statutory_involvement_open"] is False
    now = queries.case_sightings(stores, case_id, agencies=agencies)
    since = datetime(2007, 1, 3, tzinfo=UTC)
    assert now["days_unseen"] == (datetime.now(UTC) - since).days


def test_sgl_sightings_prints_a_table_and_the_routes_document(
    http: httpx.Client, container: Container
) -> None:
    """`sgl sightings` shows each agency's last sighting; --json is the route's document."""
    case_id = publish_case(http)
    runner = CliRunner()
    args = ["--data-dir", str(container.settings.data_dir), "sightings", case_id]
    table = runner.invoke(cli, [*args, "--as-of", "2007-01-20"])
    assert table.exit_code == 0, table.output
    assert (
        "Last seen by a statutory agency: 2007-01-06T00:00 by Example Council Children's Social"
        " Care (14 days unseen)"
    ) in table.output
    assert "Example Police Child Protection Team" in table.output
    assert "not registered" not in table.output
    shown = runner.invoke(cli, [*args, "--as-of", "2007-01-20", "--json"])
    route = http.get(f"/v1/cases/{case_id}/sightings", params={"as_of": "2007-01-20"})
    assert orjson.loads(shown.stdout) == route.json()
