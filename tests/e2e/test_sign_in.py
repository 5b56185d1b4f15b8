"""Signing in through the form in a real browser, and what the case list then shows."""

from __future__ import annotations

from playwright.sync_api import Browser, Page

from tests.e2e.axe import axe_violations, describe
from tests.e2e.conftest import Workbench
from tests.e2e.session import data_of, sign_in


def test_an_inquiry_signs_in_and_sees_the_demo_cases(page: Page, workbench: Workbench) -> None:
    page.goto(f"{workbench.url}/cases")
    assert page.url.startswith(f"{workbench.url}/login?next=")
    assert not axe_violations(page), describe(axe_violations(page))
    sign_in(page, workbench, "inquiry")
    cases = set(data_of(page, "#cases tbody tr", "case"))
    assert {"CASE-A0001", "CASE-B0001"} <= cases
    assert page.get_by_text("inquiry · ").is_visible()
    violations = axe_violations(page)
    assert not violations, describe(violations)


def test_a_wrong_token_is_told_so_on_the_form(page: Page, workbench: Workbench) -> None:
    page.goto(f"{workbench.url}/login")
    page.get_by_label("Token").fill("sgl_000000000000_not-a-token")
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").inner_text().startswith("That token is not current")
    page.goto(f"{workbench.url}/cases")
    assert "/login" in page.url


def test_a_case_that_is_not_there_is_a_page_that_says_so(page: Page, workbench: Workbench) -> None:
    sign_in(page, workbench, "inquiry")
    answer = page.goto(f"{workbench.url}/cases/CASE-T000NOTHERE")
    assert answer is not None and answer.status == 404
    assert page.get_by_role("alert").is_visible()
    violations = axe_violations(page)
    assert not violations, describe(violations)


def test_a_case_link_from_another_site_opens_signed_in_until_signing_out(
    page: Page, workbench: Workbench, browser: Browser
) -> None:
    """The cookie holds a session's secret (HttpOnly, SameSite=Lax), so a case's address in
    another site's page opens signed in; after signing out, a copy of it opens nothing."""
    sign_in(page, workbench, "inquiry")
    [cookie] = page.context.cookies()
    assert cookie["name"] == "sgl_session" and cookie["value"].startswith("sgls_")
    assert cookie["value"] != workbench.token("inquiry")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    case = f"{workbench.url}/cases/CASE-A0001?as_of=2007-07-25"
    # Another site's page, answered by the browser itself (nothing leaves the machine).
    page.route(
        "http://elsewhere.test/",
        lambda route: route.fulfill(
            content_type="text/html", body=f'<a href="{case}">Child A on 25 July 2007</a>'
        ),
    )
    page.goto("http://elsewhere.test/")
    page.get_by_role("link", name="Child A on 25 July 2007").click()
    page.wait_for_url(case)
    assert page.get_by_role("button", name="Sign out").is_visible()
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{workbench.url}/login")
    copied = browser.new_context()
    try:
        copied.add_cookies([{"name": cookie["name"], "value": cookie["value"], "url": case}])
        replayed = copied.new_page()
        replayed.goto(case)
        assert replayed.url.startswith(f"{workbench.url}/login?next=")
    finally:
        copied.close()
