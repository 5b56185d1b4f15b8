"""The case list and the print-ready chronology in a real browser: search, follow, filter,
print to PDF; accessible, and usable at phone width."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page

from sgl.demo.child_a import CASE as CASE_A
from tests.e2e.axe import axe_violations, describe
from tests.e2e.conftest import Workbench
from tests.e2e.session import data_of, sign_in

# A page object of a PDF (not the /Pages tree that holds them).
PDF_PAGE = re.compile(rb"/Type\s*/Page(?![a-zA-Z])")


def case_ids(page: Page) -> list[str]:
    """The case ids the list shows, in order."""
    return data_of(page, "#cases tbody tr[data-case]", "case")


def test_an_inquiry_searches_for_a_case_and_follows_it(
    page: Page, workbench: Workbench, screenshot: Callable[[Page, str], Path]
) -> None:
    sign_in(page, workbench, "inquiry")
    every = case_ids(page)
    assert CASE_A in every and len(every) > 2
    violations = axe_violations(page)
    assert not violations, describe(violations)
    screenshot(page, "case-list")
    page.get_by_label("Case id contains").fill(CASE_A.lower())
    page.get_by_role("button", name="Search").click()
    page.wait_for_url(re.compile(r"/cases\?q="))
    assert case_ids(page) == [CASE_A]
    link = page.get_by_role("link", name=CASE_A, exact=True)
    assert link.get_attribute("href") == f"/cases/{CASE_A}"


def test_filtering_by_breached_clocks_keeps_only_cases_with_breaches(
    page: Page, workbench: Workbench
) -> None:
    sign_in(page, workbench, "inquiry")
    total = len(case_ids(page))
    page.get_by_label("With breached clocks").check()
    page.get_by_role("button", name="Search").click()
    page.wait_for_url(re.compile(r"breached=on"))
    rows = page.locator("#cases tbody tr[data-case]")
    breached = [int(b) for b in rows.evaluate_all("rows => rows.map(r => r.dataset.breached)")]
    assert breached and all(b > 0 for b in breached)
    assert len(breached) < total
    assert page.get_by_label("With breached clocks").is_checked()
    violations = axe_violations(page)
    assert not violations, describe(violations)


def test_the_print_page_prints_to_a_pdf_of_several_pages(
    page: Page, workbench: Workbench, screenshot: Callable[[Page, str], Path]
) -> None:
    address = f"/cases/{CASE_A}/print?as_of=2007-07-25"
    sign_in(page, workbench, "inquiry", next=address)
    events = page.locator("#chronology tbody tr[data-event]")
    assert events.count() > 100
    assert page.locator("#chronology thead tr.running").inner_text().startswith(CASE_A)
    violations = axe_violations(page)
    assert not violations, describe(violations)
    screenshot(page, "print-chronology")
    page.emulate_media(media="print")
    # In print the navigation is gone and the running header is the table's head, which
    # Chromium repeats at the top of every printed page.
    assert not page.locator("header.masthead").is_visible()
    assert not page.locator("form.print-date").is_visible()
    assert page.locator("#chronology thead").evaluate("h => getComputedStyle(h).display") == (
        "table-header-group"
    )
    pdf = page.pdf(format="A4", print_background=False)
    assert pdf.startswith(b"%PDF")
    assert len(PDF_PAGE.findall(pdf)) > 1


def test_the_list_and_the_print_page_fit_a_phone(phone_page: Page, workbench: Workbench) -> None:
    sign_in(phone_page, workbench, "inquiry")
    for address in ("/cases", f"/cases/{CASE_A}/print?as_of=2007-07-25"):
        phone_page.goto(f"{workbench.url}{address}")
        overflow = phone_page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{address} is {overflow}px wider than the phone"
        button = "Search" if address == "/cases" else "Show"
        assert phone_page.get_by_role("button", name=button).is_visible()
