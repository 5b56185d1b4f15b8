"""The case page's who-knew and clocks sections over the demo's Child A agree with the API's
JSON for the same date and role, and show what docs/demo.md says an inquiry finds there."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from ledger.envelope import parse_instant
from sgl.bootstrap import Container, bootstrap
from sgl.demo import DEMO_CASE, load_demo
from sgl.identity import Role
from sgl.queries import ContainerStores, Viewer
from sgl.web.case_knowledge import clocks_section, knowledge_section
from sgl.web.render import environment
from tests.conftest import LiveServer, private_settings

DATES = ["2006-12-22", "2007-03-01", "2007-07-25"]
# Now: the alerter's alert.raised events, recorded now, are facts known to the ledger's own
# agency (a column of the matrix the registry does not hold, so the API refuses its gaps).
NOW = None
# Agencies of the demo an inquiry reads about (docs/demo.md): the lead, and the police.
LEAD, POLICE = "la-childrens-social-care", "met-police"
LEDGER = "safeguarding-ledger"


class Demo:
    """Child A (and the rest of the demo) in a ledger on the embedded store, served."""

    def __init__(self, container: Container, server: LiveServer) -> None:
        self.container = container
        self.server = server
        self.stores = ContainerStores(container)

    def api(
        self,
        path: str,
        role: Role = "inquiry",
        reader: str | None = None,
        status: int = 200,
        **params: str | None,
    ) -> dict[str, Any]:
        """The API's JSON answer (of that status) for the demo case to the role (of the
        reader's agency)."""
        with self.server.client() as client:
            response = client.get(
                f"/v1/cases/{DEMO_CASE}{path}",
                params={k: v for k, v in params.items() if v is not None},
                headers=self.server.headers(role, reader),
            )
        assert response.status_code == status, response.text
        found: dict[str, Any] = response.json()
        return found

    def api_agencies(self) -> list[dict[str, Any]]:
        """Every agency the registry holds now, as the API lists them."""
        with self.server.client() as client:
            response = client.get("/v1/agencies", headers=self.server.headers("inquiry"))
        assert response.status_code == 200, response.text
        found: list[dict[str, Any]] = response.json()["agencies"]
        return found


def caught_up(container: Container) -> None:
    """Every view up to date with the log before the server answers."""
    runner, followers = container.runner(), container.followers()
    while runner.run_until_caught_up(120) + sum(f.run_until_caught_up(120) for f in followers):
        pass


@pytest.fixture(scope="module")
def demo(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Demo]:
    """The demo loaded once for the module (its reads write nothing but the access log), with
    the alerter on as `sgl demo` runs it."""
    settings = private_settings(
        "sqlite", tmp_path_factory.mktemp("sections"), request, alerter="on"
    )
    container = bootstrap(settings)
    try:
        refused = [r for r in load_demo(container.ledger) if r.status != "accepted"]
        assert not refused, refused[:3]
        caught_up(container)
        server = LiveServer(container).start()
        try:
            yield Demo(container, server)
        finally:
            server.stop()
    finally:
        container.close()


def render(template: str, as_of: str, **context: Any) -> str:
    return environment.get_template(template).render(case_id=DEMO_CASE, as_of=as_of, **context)


@pytest.mark.parametrize("as_of", [*DATES, NOW])
def test_the_matrix_and_gaps_agree_with_the_api(demo: Demo, as_of: str | None) -> None:
    section = knowledge_section(demo.stores, DEMO_CASE, as_of, None)
    api = demo.api("/knowledge/matrix", as_of=as_of)
    assert {a["id"] for a in section["agencies"]} == set(api["agencies"])
    assert (LEDGER in api["agencies"]) is (as_of is NOW)
    assert [f["event_id"] for f in section["facts"]] == [f["event_id"] for f in api["facts"]]
    for fact, answer in zip(section["facts"], api["facts"], strict=True):
        cells = {c["agency"]: c for c in fact["cells"]}
        known = {a: c["since"] for a, c in cells.items() if c["state"] in ("recorded", "known")}
        assert known == {a: k["since"] for a, k in answer["known"].items()}
        withheld = {a for a, c in cells.items() if c["state"] == "withheld"}
        assert withheld == set(answer["withholdings"]) - set(answer["known"])
    registered = {a["agency_id"] for a in demo.api_agencies()}
    for agency in api["agencies"]:
        missed = {
            f["event_id"]
            for f in section["facts"]
            for c in f["cells"]
            if c["agency"] == agency and c["state"] in ("gap", "withheld")
        }
        if agency not in registered:
            demo.api("/knowledge/gaps", status=422, agency=agency, as_of=as_of)
            assert as_of is NOW and missed, "the ledger's column: not known, its gaps refused"
            continue
        gaps = demo.api("/knowledge/gaps", agency=agency, as_of=as_of)
        assert missed == {g["event_id"] for g in gaps["facts"]}, agency
        column = next(a for a in section["agencies"] if a["id"] == agency)
        assert column["gaps"] == len(gaps["facts"])
        people = {
            p["person_id"]
            for p in section["people"]
            if agency in {a["agency"] for a in p["unrecorded_by"]}
        }
        assert people == {p["person_id"] for p in gaps["people"]}, agency


@pytest.mark.parametrize("as_of", DATES)
def test_the_clocks_and_findings_agree_with_the_api(demo: Demo, as_of: str) -> None:
    section = clocks_section(demo.stores, DEMO_CASE, as_of, None)
    runs = demo.api("/clocks", as_of=as_of)["clocks"]
    assert [
        (r["clock"], r["started_day"], r["breached"], r["running"]) for r in section["runs"]
    ] == [
        (r["clock"], _day(r["started_at"]), r["status"] == "breached", r["stopped_at"] is None)
        for r in runs
    ]
    alerts = demo.api("/alerts", as_of=as_of)
    assert [
        (a["alert_id"], a["answered"], [e["event_id"] for e in a["evidence"]])
        for a in section["findings"]
    ] == [(a["alert_id"], a["answered"], a["evidence"]) for a in alerts["alerts"]]
    assert section["unanswered"] == alerts["unanswered"]


def _day(instant: str) -> str:
    """The day the section shows for an instant (3 Aug 2007)."""
    moment = parse_instant(instant)
    return f"{moment.day} {moment:%b %Y}"


def test_the_sections_show_what_the_demo_documents_on_25_july_2007(demo: Demo) -> None:
    """docs/demo.md: the slap of 22 May known to social care alone, the partner known to the
    police and never recorded by social care, the legal planning meeting 35 working days
    against 10, the core group and review conference breached and open, and the alerts."""
    as_of = "2007-07-25"
    knowledge = render(
        "sections/knowledge.html",
        as_of,
        knowledge=knowledge_section(demo.stores, DEMO_CASE, as_of, None),
    )
    [slap] = [
        f
        for f in demo.api("/knowledge/matrix", as_of=as_of)["facts"]
        if f["type"] == "concern.raised" and f["occurred_at"].startswith("2007-05-22")
    ]
    row = re.search(rf'<tr data-event="{slap["event_id"]}".*?</tr>', knowledge, re.S)
    assert row is not None
    police = re.search(rf'data-agency="{POLICE}" data-state="gap"[^>]*>not known</td>', row[0])
    assert police is not None, "the police never learned of the slap"
    assert re.search(rf'data-agency="{LEAD}" data-state="recorded"[^>]*>recorded', row[0])
    partner = re.search(r'<tr data-person="PER-A-PARTNER">.*?</tr>', knowledge, re.S)
    assert partner is not None, "the partner, never recorded by social care"
    assert "Metropolitan Police" in partner[0] and "20 Feb 2007" in partner[0]
    assert f'<li data-agency="{LEAD}">' in partner[0]
    assert f'<li data-agency="{POLICE}">' not in partner[0]

    clocks = render(
        "sections/clocks.html", as_of, clocks=clocks_section(demo.stores, DEMO_CASE, as_of, None)
    )
    legal = re.search(r'<tr data-clock="legal_planning_meeting".*?</tr>', clocks, re.S)
    assert legal is not None
    assert "35 working days" in legal[0] and "Breached</strong>" in legal[0]
    assert "6 Jun 2007" in legal[0] and "25 Jul 2007" in legal[0]
    for clock in ("first_core_group", "first_review_conference"):
        run = re.search(rf'<tr data-clock="{clock}".*?</tr>', clocks, re.S)
        assert run is not None and "Breached, still running" in run[0], clock
    for rule in ("key_agency_absent", "injuries_seen_apart", "adult_unknown_to_lead_agency"):
        finding = re.search(rf'<li class="finding finding-unanswered" data-rule="{rule}"', clocks)
        assert finding is not None, rule
    assert clocks.count('data-rule="assault_not_reported_to_police"') == 2, "16 and 22 May"
    assert f'href="/cases/{DEMO_CASE}/events/{slap["event_id"]}?as_of=2007-07-25"' in clocks


def test_a_practitioner_sees_its_own_agencys_row_only_as_the_api_answers_it(demo: Demo) -> None:
    """The police's section: what the police knew (not the slap), no other agency's column."""
    as_of = "2007-07-25"
    section = knowledge_section(demo.stores, DEMO_CASE, as_of, Viewer(POLICE))
    assert [a["id"] for a in section["agencies"]] == [POLICE]
    own = demo.api("/knowledge", role="practitioner", reader=POLICE, as_of=as_of)
    assert [f["event_id"] for f in section["facts"]] == [f["event_id"] for f in own["facts"]]
    page = render("sections/knowledge.html", as_of, knowledge=section)
    assert set(re.findall(r'data-agency="([^"]+)"', page)) == {POLICE}
    assert "not known" not in page, "no gap is answered to a practitioner"
    everyone = knowledge_section(demo.stores, DEMO_CASE, as_of, None)
    assert 0 < len(section["facts"]) < len(everyone["facts"])
    slap = [
        f["event_id"]
        for f in everyone["facts"]
        if f["type"] == "concern.raised" and f["recorded_at"].startswith("2007-05-25")
    ]
    assert slap and slap[0] not in page


@pytest.mark.parametrize("agency", [POLICE, LEAD])
def test_a_practitioners_clocks_and_findings_are_the_apis(demo: Demo, agency: str) -> None:
    as_of = "2007-07-25"
    clocks = clocks_section(demo.stores, DEMO_CASE, as_of, Viewer(agency))
    runs = demo.api("/clocks", role="practitioner", reader=agency, as_of=as_of)["clocks"]
    assert [(r["clock"], r["status"]) for r in clocks["runs"]] == [
        (r["clock"], r["status"]) for r in runs
    ]
    alerts = demo.api("/alerts", role="practitioner", reader=agency, as_of=as_of)["alerts"]
    assert [a["alert_id"] for a in clocks["findings"]] == [a["alert_id"] for a in alerts]
    if agency == LEAD:
        assert clocks["breached"] > 0 and clocks["findings"], "social care's own clocks and alerts"
