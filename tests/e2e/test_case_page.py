"""The case page in a real browser: Child A and Child B on the dates docs/demo.md gives, the
keyboard's steps, an event's record and its proof, accessibility and phone width."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page

from tests.e2e.axe import axe_violations, describe
from tests.e2e.conftest import Workbench
from tests.e2e.session import data_of, sign_in

CHILD_A = "CASE-A0001"
CHILD_B = "CASE-B0001"


def slap_concern(workbench: Workbench) -> str:
    """The id of Child A's concern about the slap outside school (22 May 2007, recorded three
    days later, on 25 May)."""
    events = workbench.container.view.events(CHILD_A)
    found = [
        e.event_id
        for e in events
        if e.type == "concern.raised" and "slapped" in e.payload.get("description", "")
    ]
    assert len(found) == 1, found
    return found[0]


def rows(page: Page) -> list[str]:
    """The event ids of the chronology table's rows."""
    return data_of(page, "#chronology-table tbody tr", "event")


def test_child_a_shows_an_entry_only_from_the_day_it_was_recorded(
    page: Page, workbench: Workbench, screenshot: Callable[[Page, str], Path]
) -> None:
    slap = slap_concern(workbench)
    sign_in(page, workbench, "inquiry", next=f"/cases/{CHILD_A}?as_of=2007-05-24")
    assert slap not in rows(page)
    assert page.locator(f'svg.timeline-marks a[data-event="{slap}"]').count() == 0
    page.keyboard.press("]")
    page.wait_for_url(f"**/cases/{CHILD_A}?as_of=2007-05-25")
    assert slap in rows(page)
    row = page.locator(f'#chronology-table tr[data-event="{slap}"]')
    assert "PHY concern, medium" in row.inner_text()
    assert "Ashbridge Children's Social Care" in row.inner_text()
    assert page.locator(f'svg.timeline-marks a[data-event="{slap}"]').count() == 1
    assert page.get_by_label("Show the case as of").input_value() == "2007-05-25"
    violations = axe_violations(page)
    assert not violations, describe(violations)
    screenshot(page, "case-page")


def test_child_a_on_the_day_of_the_legal_planning_meeting(page: Page, workbench: Workbench) -> None:
    sign_in(page, workbench, "inquiry", next=f"/cases/{CHILD_A}?as_of=2007-07-24")
    table = page.locator("#chronology-table")
    assert "meeting requested" in table.inner_text()
    assert "not_at_present" not in table.inner_text()
    page.get_by_label("Show the case as of").fill("2007-07-25")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(f"**/cases/{CHILD_A}?as_of=2007-07-25")
    assert "not_at_present" in page.locator("#chronology-table").inner_text()
    # A week on by its link, then back to the previous day an entry was recorded.
    page.get_by_role("link", name="Week on").click()
    page.wait_for_url(f"**/cases/{CHILD_A}?as_of=2007-08-01")
    page.keyboard.press(",")
    page.wait_for_url(f"**/cases/{CHILD_A}?as_of=2007-07-*")


def test_child_b_unseen_for_194_days_on_31_may_2023(page: Page, workbench: Workbench) -> None:
    sign_in(page, workbench, "auditor", next=f"/cases/{CHILD_B}?as_of=2023-05-31")
    unseen = page.locator(".unseen")
    assert "2022-11-18" in unseen.inner_text()
    assert "Hillview Primary School" in unseen.inner_text()
    assert page.locator("#days-unseen").get_attribute("data-days") == "194"
    leads = page.locator("#leads").inner_text()
    assert "Castlebury Children's Services" in leads and "Millford Children's Services" in leads
    # The disputed move and the range a source gave are drawn as such on the timeline.
    assert page.locator("svg.timeline-marks a.disputed").count() >= 1
    assert page.locator("svg.timeline-marks a.ranged").count() >= 1


def test_an_entry_s_record_and_its_proof(
    page: Page, workbench: Workbench, tmp_path: Path, screenshot: Callable[[Page, str], Path]
) -> None:
    slap = slap_concern(workbench)
    sign_in(page, workbench, "inquiry", next=f"/cases/{CHILD_A}?as_of=2007-07-25")
    row = page.locator(f'#chronology-table tr[data-event="{slap}"]')
    row.get_by_role("link", name="Record").click()
    page.wait_for_url(f"**/cases/{CHILD_A}/events/{slap}?as_of=2007-07-25")
    assert page.locator("#record").get_attribute("data-event") == slap
    assert "Mother slapped a sibling's cheek" in page.locator("main").inner_text()
    violations = axe_violations(page)
    assert not violations, describe(violations)
    screenshot(page, "event-page")
    with page.expect_download() as download:
        page.locator("#proof-link").click()
    assert download.value.suggested_filename == f"{slap}-proof.json"
    saved = tmp_path / "proof.json"
    download.value.save_as(saved)
    bundle = json.loads(saved.read_text())
    assert bundle["event_id"] == slap
    assert bundle["tree_size"] > bundle["offset"]


def test_the_case_page_fits_a_phone(phone_page: Page, workbench: Workbench) -> None:
    sign_in(phone_page, workbench, "inquiry", next=f"/cases/{CHILD_A}?as_of=2007-07-25")
    wide = phone_page.evaluate("document.documentElement.scrollWidth")
    assert wide <= phone_page.evaluate("window.innerWidth"), wide
    violations = axe_violations(phone_page)
    assert not violations, describe(violations)
