"""The audit page in a real browser: accessible, its period filter a plain form whose address
holds the dates, its charts images with their numbers, and no sideways scrolling on a phone."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from playwright.sync_api import Page

from tests.e2e.axe import axe_violations, describe
from tests.e2e.conftest import Workbench
from tests.e2e.session import sign_in


def test_an_auditor_filters_the_audit_by_period(
    page: Page, workbench: Workbench, screenshot: Callable[[Page, str], Path]
) -> None:
    sign_in(page, workbench, "auditor", next="/audit")
    assert page.get_by_role("heading", level=1).inner_text() == "Audit of the clocks"
    charts = page.get_by_role("img")
    assert charts.count() == 2
    violations = axe_violations(page)
    assert not violations, describe(violations)
    screenshot(page, "audit-page")
    everything = int(page.locator("#run-count").inner_text())

    page.get_by_label("Started from").fill("2007-01-01")
    page.get_by_label("Started to").fill("2007-06-30")
    page.get_by_label("Group the latency by").select_option("kind")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**/audit?*")
    asked = parse_qs(urlparse(page.url).query)
    assert asked == {"from": ["2007-01-01"], "to": ["2007-06-30"], "by": ["kind"]}
    assert page.get_by_label("Started from").input_value() == "2007-01-01"
    assert page.get_by_label("Started to").input_value() == "2007-06-30"
    assert page.get_by_role("heading", name="Decision latency by kind of agency").is_visible()
    assert 0 < int(page.locator("#run-count").inner_text()) < everything
    violations = axe_violations(page)
    assert not violations, describe(violations)


def test_the_charts_are_named_images_with_their_numbers_described(
    page: Page, workbench: Workbench
) -> None:
    sign_in(page, workbench, "inquiry", next="/audit")
    distribution = page.get_by_role("img", name="Working days to stop, per clock")
    breaches = page.get_by_role("img", name="Breached clock runs per month of their deadline")
    assert distribution.is_visible() and breaches.is_visible()
    described = distribution.evaluate("svg => svg.querySelector('desc').textContent")
    first_clock = page.locator("#per-clock tbody th").first.inner_text()
    assert first_clock in described
    total = sum(int(c) for c in page.locator("#breaches tbody td").all_inner_texts())
    assert f"({total} in all)" in breaches.evaluate("svg => svg.querySelector('desc').textContent")


def test_at_phone_width_only_the_tables_and_charts_scroll_sideways(
    phone_page: Page, workbench: Workbench
) -> None:
    sign_in(phone_page, workbench, "inquiry", next="/audit")
    width = phone_page.evaluate("document.documentElement.clientWidth")
    assert phone_page.evaluate("document.body.scrollWidth") <= width
    for selector in ("#latency", "#per-clock", "svg.chart"):
        box = phone_page.locator(selector).first.bounding_box()
        assert box is not None and box["width"] > 0, selector
    violations = axe_violations(phone_page)
    assert not violations, describe(violations)
