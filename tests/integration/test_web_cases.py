"""The case list page over the demo: every filter narrows the list as the API's answers for
each case say it should, the columns are the API's answers, and a practitioner lists only the
cases its agency knew, counted as the API counts them for it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from ledger.agency_rules import REGISTRY_CASE
from ledger.envelope import utc_text
from sgl.bootstrap import bootstrap
from sgl.demo import load_demo
from sgl.demo.child_a import CASE as CASE_A
from sgl.demo.child_a import SOCIAL_CARE
from sgl.demo.child_b import CASE as CASE_B
from sgl.identity import Role
from sgl.web import routes_cases
from tests.agencies import EXAMPLE_IDS, with_agencies
from tests.conftest import LiveServer, private_settings
from tests.credentials import PURPOSE
from tests.e2e.conftest import catch_up
from tests.factories import case_events, new_case_id
from tests.integration.test_web_session import sign_in

BACKGROUND_CASES = 12
# An agency of Child B's last area, in no other demo case.
CHILD_B_ONLY = "millford-childrens-services"
ROW = re.compile(
    r'<tr data-case="([^"]+)" data-alerts="(\d+)" data-breached="(\d+)" data-unseen="(\d*)">'
)


def demo_server(
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
    *batches: list[dict[str, Any]],
) -> Iterator[LiveServer]:
    """A live server over the demo (a few background cases), a quiet case of today (the
    child seen an hour ago: no alert) and the batches given, appended in turn, on the
    embedded store, with the alerter's alerts raised and every view caught up."""
    settings = private_settings("sqlite", tmp_path_factory.mktemp("cases"), request, alerter="on")
    container = with_agencies(bootstrap(settings))
    start = datetime.now(UTC) - timedelta(hours=2)
    quiet = [
        {
            **event,
            "agency": EXAMPLE_IDS[0],
            "occurred_at": utc_text(start + timedelta(minutes=n)),
            "recorded_at": utc_text(start + timedelta(minutes=n + 1)),
        }
        for n, event in enumerate(case_events(new_case_id(), contacts=1, injuries=0))
    ]
    receipts = [*load_demo(container.ledger, BACKGROUND_CASES)]
    for batch in (quiet, *batches):
        receipts += container.ledger.submit(batch)
    refused = [r for r in receipts if r.status != "accepted"]
    assert not refused, refused[:3]
    catch_up(container)
    server = LiveServer(container).start()
    yield server
    server.stop()
    container.close()


@pytest.fixture(scope="module")
def demo(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[LiveServer]:
    """The demo served (`demo_server`)."""
    yield from demo_server(tmp_path_factory, request)


@dataclass(frozen=True)
class Listed:
    """One row of the list as the page shows it."""

    alerts: int
    breached: int
    days_unseen: int | None


def listed(page: httpx.Response) -> dict[str, Listed]:
    """The rows of a case list page, by case id, in the page's order."""
    assert page.status_code == 200, page.text
    return {
        case_id: Listed(int(alerts), int(breached), int(unseen) if unseen else None)
        for case_id, alerts, breached, unseen in ROW.findall(page.text)
    }


@contextmanager
def signed_in(server: LiveServer, role: Role, agency: str | None = None) -> Iterator[httpx.Client]:
    """A browser signed in as the role (an inquiry with the test purpose)."""
    with server.browser() as browser:
        token = server.credentials.token(role, agency)
        answer = sign_in(browser, token, PURPOSE if role != "practitioner" else "")
        assert answer.status_code == 303, answer.text
        yield browser


@dataclass(frozen=True)
class Said:
    """What the API answers a caller about one case now."""

    state: dict[str, Any]
    alerts: int
    breached: int
    days_unseen: int | None


def api_says(server: LiveServer, role: Role, agency: str | None = None) -> dict[str, Said]:
    """Every case the API answers the caller about, with its state, unanswered alerts,
    breached clocks and days unseen."""
    headers = server.headers(role, agency)
    found = {}
    with server.client() as http:
        for case_id in server.container.view.all_case_ids():
            if case_id == REGISTRY_CASE:
                continue
            state = http.get(f"/v1/cases/{case_id}", headers=headers)
            if state.status_code == 404:
                continue
            assert state.status_code == 200, state.text
            clocks = http.get(f"/v1/cases/{case_id}/clocks", headers=headers).json()
            alerts = http.get(f"/v1/cases/{case_id}/alerts", headers=headers).json()
            seen = http.get(f"/v1/cases/{case_id}/sightings", headers=headers).json()
            found[case_id] = Said(
                state.json(),
                alerts["unanswered"],
                sum(c["status"] == "breached" for c in clocks["clocks"]),
                seen["days_unseen"],
            )
    return found


@pytest.fixture(scope="module")
def inquiry_view(demo: LiveServer) -> dict[str, Said]:
    """What the API answers an inquiry about every case."""
    return api_says(demo, "inquiry")


def test_every_case_is_listed_with_what_the_api_says_of_it(
    demo: LiveServer, inquiry_view: dict[str, Said]
) -> None:
    with signed_in(demo, "inquiry") as browser:
        page = browser.get("/cases")
    rows = listed(page)
    assert list(rows) == sorted(inquiry_view)
    assert {CASE_A, CASE_B} <= set(rows)
    for case_id, said in inquiry_view.items():
        assert rows[case_id] == Listed(said.alerts, said.breached, said.days_unseen), case_id
    # The demo's known findings are there: Child A's and Child B's alerts and breaches.
    assert rows[CASE_A].alerts > 0 and rows[CASE_A].breached > 0
    assert rows[CASE_B].alerts > 0
    assert f'href="/cases/{CASE_A}"' in page.text


@pytest.mark.parametrize(
    ("query", "keeps"),
    [
        ({"q": "a000"}, lambda case_id, said: "a000" in case_id.lower()),
        ({"q": "B00000"}, lambda case_id, said: "B00000" in case_id),
        ({"alerts": "on"}, lambda case_id, said: said.alerts > 0),
        ({"breached": "on"}, lambda case_id, said: said.breached > 0),
        (
            {"involvement": "open"},
            lambda case_id, said: any(i["open"] for i in said.state["involvements"]),
        ),
        (
            {"involvement": "closed"},
            lambda case_id, said: (
                bool(said.state["involvements"])
                and not any(i["open"] for i in said.state["involvements"])
            ),
        ),
        (
            {"agency": CHILD_B_ONLY},
            lambda case_id, said: (
                CHILD_B_ONLY in said.state["agencies"]
                or any(i["agency"] == CHILD_B_ONLY for i in said.state["involvements"])
            ),
        ),
        (
            {"agency": SOCIAL_CARE, "involvement": "open"},
            lambda case_id, said: any(
                i["agency"] == SOCIAL_CARE and i["open"] for i in said.state["involvements"]
            ),
        ),
        (
            {"area": "E08000993"},
            lambda case_id, said: said.state["responsible_area"] == "E08000993",
        ),
        (
            {"alerts": "on", "breached": "on", "q": "b"},
            lambda case_id, said: said.alerts > 0 and said.breached > 0 and "b" in case_id.lower(),
        ),
    ],
)
def test_each_filter_keeps_the_cases_the_api_says_it_should(
    demo: LiveServer, inquiry_view: dict[str, Said], query: dict[str, str], keeps: Any
) -> None:
    expected = sorted(c for c, said in inquiry_view.items() if keeps(c, said))
    with signed_in(demo, "inquiry") as browser:
        rows = listed(browser.get("/cases", params=query))
    assert list(rows) == expected
    # Each filter narrows: it keeps some cases and drops some.
    assert 0 < len(expected) < len(inquiry_view), query


def test_days_unseen_keeps_the_cases_unseen_at_least_that_long(
    demo: LiveServer, inquiry_view: dict[str, Said]
) -> None:
    days = sorted(s.days_unseen for s in inquiry_view.values() if s.days_unseen is not None)
    # A threshold some cases reach and some do not: the median.
    least = days[len(days) // 2]
    expected = sorted(
        c for c, s in inquiry_view.items() if s.days_unseen is not None and s.days_unseen >= least
    )
    with signed_in(demo, "inquiry") as browser:
        rows = listed(browser.get("/cases", params={"unseen": str(least)}))
    assert list(rows) == expected
    assert 0 < len(expected) < len(inquiry_view)


def test_a_practitioner_lists_only_the_cases_its_agency_knew_as_it_knew_them(
    demo: LiveServer, inquiry_view: dict[str, Said]
) -> None:
    own = api_says(demo, "practitioner", CHILD_B_ONLY)
    assert CASE_B in own and CASE_A not in own
    with signed_in(demo, "practitioner", CHILD_B_ONLY) as browser:
        page = browser.get("/cases")
        rows = listed(page)
        assert list(rows) == sorted(own)
        for case_id, said in own.items():
            assert rows[case_id] == Listed(said.alerts, said.breached, said.days_unseen)
        # Counted as the API counts them for the agency, not as an inquiry sees them.
        assert rows[CASE_B].alerts < inquiry_view[CASE_B].alerts
        searched = listed(browser.get("/cases", params={"q": CASE_A}))
    assert searched == {}
    assert CASE_A not in page.text


def test_the_list_is_paged_with_links_that_keep_the_search(
    demo: LiveServer, inquiry_view: dict[str, Said], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(routes_cases, "PAGE_SIZE", 4)
    expected = sorted(c for c, said in inquiry_view.items() if said.breached > 0)
    seen: list[str] = []
    with signed_in(demo, "inquiry") as browser:
        address: str | None = "/cases?breached=on"
        while address is not None:
            page = browser.get(address)
            rows = listed(page)
            assert 0 < len(rows) <= 4
            seen += rows
            following = re.search(r'<a href="([^"]+)" rel="next"', page.text)
            address = None if following is None else following.group(1).replace("&amp;", "&")
            if address is not None:
                assert "breached=on" in address
    assert seen == expected
    assert len(expected) > 4


@pytest.mark.parametrize(
    ("query", "pointer"),
    [
        ({"unseen": "many"}, "/unseen"),
        ({"unseen": "-1"}, "/unseen"),
        ({"involvement": "sometimes"}, "/involvement"),
        ({"page": "0"}, "/page"),
    ],
)
def test_a_bad_search_field_is_named_on_an_error_page(
    demo: LiveServer, query: dict[str, str], pointer: str
) -> None:
    with signed_in(demo, "inquiry") as browser:
        page = browser.get("/cases", params=query)
    assert page.status_code == 422
    assert page.headers["content-type"].startswith("text/html")
    assert f"<code>{pointer}</code>" in page.text
