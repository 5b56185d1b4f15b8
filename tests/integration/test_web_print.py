"""The print-ready chronology: every event the API's chronology answers the caller for that
date, in the same order, with its date in words, agency name, text and status; headed by the
case, the date and the latest checkpoint; on the access log like the API's read."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape
from typing import Any

import httpx
import pytest

from sgl.demo.child_a import CASE as CASE_A
from sgl.demo.child_b import CASE as CASE_B
from sgl.identity import Role
from tests.conftest import LiveServer
from tests.factories import case_events, new_case_id
from tests.integration.test_amendments import correction, retraction
from tests.integration.test_web_cases import CHILD_B_ONLY, demo_server, signed_in
from tests.integration.test_web_session import access_records

AMENDED = new_case_id()
EVENT_ROW = re.compile(r'<tr data-event="([^"]+)" class="status-([a-z-]+)">(.*?)</tr>', re.S)
CELL = re.compile(r"<td[^>]*>(.*?)</td>", re.S)


def amended_case() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A small case, and a correction of its first injury and a retraction of its first
    contact (appended after it)."""
    events = case_events(AMENDED)
    injury = next(e for e in events if e["type"] == "injury.observed")
    contact = next(e for e in events if e["type"] == "contact.recorded")
    return events, [correction(injury, count=5), retraction(contact)]


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[LiveServer]:
    """The demo, and the amended case."""
    events, amendments = amended_case()
    yield from demo_server(tmp_path_factory, request, events, amendments)


def printed(page: httpx.Response) -> list[tuple[str, str, list[str]]]:
    """The print page's events in order: id, status and the text of each cell."""
    assert page.status_code == 200, page.text
    return [
        (event_id, status, [text_of(cell) for cell in CELL.findall(row)])
        for event_id, status, row in EVENT_ROW.findall(page.text)
    ]


def text_of(cell: str) -> str:
    """A table cell's text, its markup left out."""
    return unescape(re.sub(r"<[^>]+>", " ", cell)).strip()


def chronology(
    server: LiveServer, case_id: str, as_of: str | None, role: Role, agency: str | None = None
) -> dict[str, Any]:
    """The API's chronology of the case for the caller."""
    with server.client() as http:
        answer = http.get(
            f"/v1/cases/{case_id}/chronology",
            params={} if as_of is None else {"as_of": as_of},
            headers=server.headers(role, agency),
        )
    assert answer.status_code == 200, answer.text
    document: dict[str, Any] = answer.json()
    return document


@pytest.mark.parametrize(
    ("case_id", "as_of"), [(CASE_A, "2007-07-25"), (CASE_B, "2023-05-31"), (CASE_B, None)]
)
def test_the_print_page_has_every_event_of_the_apis_chronology_in_order(
    served: LiveServer, case_id: str, as_of: str | None
) -> None:
    expected = chronology(served, case_id, as_of, "inquiry")["events"]
    with signed_in(served, "inquiry") as browser:
        page = browser.get(f"/cases/{case_id}/print", params={"as_of": as_of or ""})
    rows = printed(page)
    assert [r[0] for r in rows] == [e["event_id"] for e in expected]
    assert len(rows) > 20
    for (_, status, cells), event in zip(rows, expected, strict=True):
        assert status == event["status"]
        date, agency, kind, text = cells[:4]
        assert (date, agency, kind) == (event["occurred"], event["agency_name"], event["type"])
        # What was recorded: the summary, then the recorder's own words, field by field.
        assert text.startswith(event["summary"]), (text, event["summary"])
        for words in event["recorded_text"].values():
            assert " ".join(words.split()) in " ".join(text.split()), (words, text)
    assert any(e["recorded_text"] for e in expected)
    # The running header: the case, the date, and the latest checkpoint's size and root.
    with served.client() as http:
        latest = http.get("/v1/checkpoints/latest").json()["checkpoints"][0]
    header = page.text[page.text.index('<tr class="running">') : page.text.index("</thead>")]
    assert case_id in header
    assert (as_of or "now (") in header
    assert f"{latest['tree_size']} records" in header
    assert f"root {latest['root'][:16]}" in header


def test_uncertain_dates_are_written_out(served: LiveServer) -> None:
    with signed_in(served, "inquiry") as browser:
        rows = printed(browser.get(f"/cases/{CASE_B}/print"))
    dates = [cells[0] for _, _, cells in rows]
    assert any(d.startswith("between ") for d in dates)
    assert any(d.startswith("disputed: ") for d in dates)
    assert any(d.startswith("undated (recorded ") for d in dates)


def test_corrections_and_retractions_are_shown_as_such(served: LiveServer) -> None:
    expected = chronology(served, AMENDED, None, "inquiry")["events"]
    with signed_in(served, "inquiry") as browser:
        rows = printed(browser.get(f"/cases/{AMENDED}/print"))
    assert [r[0] for r in rows] == [e["event_id"] for e in expected]
    statuses = {status: cells[4] for _, status, cells in rows}
    assert statuses["corrected"].split()[0] == "corrected"
    assert statuses["retracted"].split()[0] == "retracted"
    corrected = next(e for e in expected if e["status"] == "corrected")
    assert "5" in corrected["summary"]


def test_a_practitioner_prints_what_its_agency_knew_and_no_other_case(
    served: LiveServer,
) -> None:
    own = chronology(served, CASE_B, "2023-05-31", "practitioner", CHILD_B_ONLY)["events"]
    everything = chronology(served, CASE_B, "2023-05-31", "inquiry")["events"]
    assert 0 < len(own) < len(everything)
    with signed_in(served, "practitioner", CHILD_B_ONLY) as browser:
        rows = printed(browser.get(f"/cases/{CASE_B}/print", params={"as_of": "2023-05-31"}))
        refused = browser.get(f"/cases/{CASE_A}/print")
    assert [r[0] for r in rows] == [e["event_id"] for e in own]
    assert refused.status_code == 404
    assert refused.headers["content-type"].startswith("text/html")


def test_a_bad_date_is_named_and_every_print_view_is_recorded(served: LiveServer) -> None:
    with signed_in(served, "inquiry") as browser:
        bad = browser.get(f"/cases/{CASE_B}/print", params={"as_of": "31/05/2023"})
        good = browser.get(f"/cases/{CASE_B}/print", params={"as_of": "2023-05-31"})
    assert bad.status_code == 422
    assert "<code>/as_of</code>" in bad.text
    assert good.status_code == 200
    request_id = good.headers["x-request-id"]
    records = [r for r in access_records(served.container) if r["request_id"] == request_id]
    assert [(r["route"], r["case_id"], r["outcome"]["status"]) for r in records] == [
        ("/cases/{case_id}/print", CASE_B, 200)
    ]
