"""The chronology as a workbook over HTTP, on each backend: the rows the JSON form answers for
the same parameters and caller, in the same order, with agencies by name and dates as dates;
a practitioner's workbook holds only what its agency knew."""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any

import httpx
from openpyxl import load_workbook

from ledger.envelope import parse_instant
from sgl.exports import COLUMNS, XLSX_MEDIA
from tests.conftest import LiveServer, wait_for
from tests.credentials import PURPOSE
from tests.factories import new_case_id
from tests.integration.test_need_to_know import AT_SHARE, GP, POLICE, SC, publish
from tests.integration.test_web_session import sign_in


def rows_of(response: httpx.Response) -> list[dict[str, Any]]:
    """The workbook's rows, each cell's value by its column's header."""
    sheet = load_workbook(io.BytesIO(response.content))["Chronology"]
    header = next(row[0].row for row in sheet.iter_rows() if row[0].value == COLUMNS[0][0])
    titles = [c.value for c in sheet[header]]
    return [
        dict(zip(titles, row, strict=True))
        for row in sheet.iter_rows(min_row=header + 1, values_only=True)
    ]


def naive(text: str) -> datetime:
    """An instant as a spreadsheet holds it: UTC, without its zone."""
    return parse_instant(text).replace(tzinfo=None)


def test_the_workbook_holds_the_chronology_each_caller_is_answered(
    live_server: LiveServer,
) -> None:
    """For inquiry and for a practitioner, now and as of a date, with and without filters:
    the workbook's rows are the JSON form's events in its order, agencies by registered name
    with the code beside it, occurred and recorded as datetimes; social care's holds the GP's
    injury once shared and never the police's contact; the file is named by case and date."""
    case_id = new_case_id()
    ids = publish(live_server, case_id)
    url = f"/v1/cases/{case_id}/chronology"
    inquiry = live_server.headers("inquiry")
    social_care = live_server.headers("practitioner", SC)
    asked: list[tuple[dict[str, str], dict[str, Any]]] = [
        (inquiry, {}),
        (inquiry, {"as_of": "2007-03-06"}),
        (inquiry, {"agency": [GP, POLICE], "from": "2007-03-02", "to": "2007-03-06"}),
        (social_care, {}),
        (social_care, {"as_of": AT_SHARE}),
        (social_care, {"type": "injury.observed"}),
    ]
    seen: dict[str, set[str]] = {}
    books: list[tuple[str, str]] = []
    with live_server.client() as http:
        for headers, params in asked:
            answer = http.get(url, params=params, headers=headers)
            assert answer.status_code == 200, answer.text
            events = answer.json()["events"]
            book = http.get(url, params={**params, "format": "xlsx"}, headers=headers)
            assert book.status_code == 200, book.text
            assert book.headers["content-type"] == XLSX_MEDIA
            rows = rows_of(book)
            assert [r["Event id"] for r in rows] == [e["event_id"] for e in events], params
            assert [r["Agency"] for r in rows] == [e["agency_name"] for e in events]
            assert [r["Agency code"] for r in rows] == [e["agency"] for e in events]
            assert all(r["Agency"] != r["Agency code"] for r in rows)
            assert [r["Recorded (UTC)"] for r in rows] == [naive(e["recorded_at"]) for e in events]
            assert [r["Occurred (UTC)"] for r in rows] == [naive(e["occurred_at"]) for e in events]
            role = "inquiry" if headers is inquiry else "practitioner"
            seen.setdefault(role, set()).update(r["Event id"] for r in rows)
            books.append((role, book.headers["X-Request-Id"]))
        named = http.get(url, params={"format": "xlsx", "as_of": "2007-03-06"}, headers=inquiry)
        assert named.headers["content-disposition"] == (
            f'attachment; filename="{case_id}-chronology-2007-03-06.xlsx"'
        )
        corrected = {r["Event id"]: r for r in rows_of(http.get(url, params={"format": "xlsx"}))}
        injury = corrected[ids["injury"]]
        assert injury["Status"] == "corrected"
        assert injury["Amended by"].endswith(f": Recount at review. ({ids['correction']})")
        missing = http.get(
            f"/v1/cases/{new_case_id()}/chronology", params={"format": "xlsx"}, headers=inquiry
        )
        assert missing.status_code == 404
        assert missing.headers["content-type"].startswith("application/problem+json")
        documented = http.get("/openapi.json").json()["paths"]["/v1/cases/{case_id}/chronology"][
            "get"
        ]["responses"]["200"]
        assert XLSX_MEDIA in documented["content"]

        def recorded() -> dict[str, dict[str, Any]]:
            report = http.get(
                f"/v1/cases/{case_id}/access-log",
                headers=live_server.headers("auditor", purpose="audit"),
            )
            return {r["request_id"]: r for r in report.json()["records"]}

        # Each workbook is a read on the access log, as its JSON form is.
        wait_for(
            lambda: all(request_id in recorded() for _, request_id in books),
            timeout=30,
            what="the workbook reads on the access log",
        )
        records = recorded()
        for role, request_id in books:
            record = records[request_id]
            assert record["route"] == "/v1/cases/{case_id}/chronology"
            assert (record["caller"]["role"], record["outcome"]["status"]) == (role, 200)
            assert ["format", "xlsx"] in record["query"]
    assert seen["inquiry"] == set(ids.values())
    assert ids["injury"] in seen["practitioner"]
    assert ids["contact"] not in seen["practitioner"]
    assert ids["correction"] not in seen["practitioner"]


def test_the_workbench_downloads_the_workbook_the_api_answers(live_server: LiveServer) -> None:
    """Signed in on the workbench (a cookie, no bearer token), the download holds the rows
    the API's workbook holds for the same caller and date, and is on the access log; a
    practitioner's holds what its agency knew."""
    case_id = new_case_id()
    publish(live_server, case_id)
    for role, agency, purpose in (("inquiry", None, PURPOSE), ("practitioner", SC, "")):
        token = live_server.credentials.token(role, agency)  # type: ignore[arg-type]
        with live_server.browser() as browser:
            assert sign_in(browser, token, purpose).status_code == 303
            page = browser.get(f"/cases/{case_id}/chronology.xlsx", params={"as_of": AT_SHARE})
        api = httpx.get(
            f"{live_server.url}/v1/cases/{case_id}/chronology",
            params={"as_of": AT_SHARE, "format": "xlsx"},
            headers=live_server.headers(role, agency),  # type: ignore[arg-type]
        )
        assert page.status_code == api.status_code == 200, page.text
        assert page.headers["content-type"] == XLSX_MEDIA
        assert page.headers["content-disposition"] == api.headers["content-disposition"]
        assert page.headers["cache-control"] == api.headers["cache-control"] == "no-store"
        ids = [row["Event id"] for row in rows_of(page)]
        assert ids and ids == [row["Event id"] for row in rows_of(api)], role
