"""Signing in to the workbench in the browser, as a person would: the form, then the pages."""

from __future__ import annotations

from playwright.sync_api import Page

from sgl.identity import READS_ALL, Role
from tests.e2e.conftest import Workbench


def sign_in(
    page: Page, workbench: Workbench, role: Role, agency: str | None = None, next: str = "/cases"
) -> None:
    """Fill in and send the sign-in form with a token of the role (a purpose for an inquiry
    or auditor) and wait for the page asked for."""
    page.goto(f"{workbench.url}/login?next={next}")
    page.get_by_label("Token").fill(workbench.token(role, agency))
    if role in READS_ALL:
        page.get_by_label("Purpose").select_option(workbench.purpose)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{workbench.url}{next}")


def data_of(page: Page, rows: str, key: str) -> list[str]:
    """A data attribute (`data-<key>`) of each element the selector finds, in page order: the
    ids of a table's rows."""
    found: list[str] = page.locator(rows).evaluate_all(f"rows => rows.map(r => r.dataset[{key!r}])")
    return found
