"""What an inquiry files, taken from the case page in the browser: the chronology as a
spreadsheet (read back: agencies by name, dates as dates) and the print-ready chronology."""

from __future__ import annotations

import io
from datetime import datetime

import httpx
from openpyxl import load_workbook
from playwright.sync_api import Page

from sgl.exports import COLUMNS
from sgl.identity import PURPOSE_HEADER
from tests.e2e.conftest import Workbench
from tests.e2e.session import data_of, sign_in

CHILD_A = "CASE-A0001"
DAY = "2007-07-25"


def test_the_spreadsheet_from_the_case_page_is_the_chronology_of_that_day(
    page: Page, workbench: Workbench
) -> None:
    sign_in(page, workbench, "inquiry", next=f"/cases/{CHILD_A}?as_of={DAY}")
    shown = data_of(page, "#chronology-table tbody tr", "event")
    with page.expect_download() as download:
        page.get_by_role("link", name="Spreadsheet (XLSX)").click()
    assert download.value.suggested_filename == f"{CHILD_A}-chronology-{DAY}.xlsx"
    book = load_workbook(io.BytesIO(download.value.path().read_bytes()))
    sheet = book["Chronology"]
    header = next(row[0].row for row in sheet.iter_rows() if row[0].value == COLUMNS[0][0])
    titles = [c.value for c in sheet[header]]
    rows = [
        dict(zip(titles, row, strict=True))
        for row in sheet.iter_rows(min_row=header + 1, values_only=True)
    ]
    # The rows the page showed, in its order; every agency by its registered name.
    assert [r["Event id"] for r in rows] == shown
    api = httpx.get(
        f"{workbench.url}/v1/agencies",
        headers={
            "Authorization": f"Bearer {workbench.token('inquiry')}",
            PURPOSE_HEADER: workbench.purpose,
        },
    ).json()
    names = {a["agency_id"]: a["name"] for a in api["agencies"]}
    for row in rows:
        assert row["Agency"] == names.get(row["Agency code"], row["Agency code"]), row
        assert isinstance(row["Recorded (UTC)"], datetime)
    assert "Ashbridge Children's Social Care" in {r["Agency"] for r in rows}
    assert all(r["Recorded (UTC)"] <= datetime(2007, 7, 26) for r in rows)


def test_the_print_ready_chronology_is_linked_for_the_same_day(
    page: Page, workbench: Workbench
) -> None:
    sign_in(page, workbench, "inquiry", next=f"/cases/{CHILD_A}?as_of={DAY}")
    page.get_by_role("link", name="Print-ready chronology").click()
    page.wait_for_url(f"**/cases/{CHILD_A}/print?as_of={DAY}")
    assert CHILD_A in page.locator("h1").inner_text()
