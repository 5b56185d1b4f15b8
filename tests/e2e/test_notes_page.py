"""Inquiry notes in a real browser, on a server of this test's own (the shared workbench is
never written to): an inquiry writes a note from the case page's form with the keyboard only
and sees it beside the record."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page

from ledger.settings import Settings
from sgl.bootstrap import bootstrap
from tests.agencies import with_agencies
from tests.conftest import LiveServer
from tests.e2e.axe import axe_violations, describe
from tests.e2e.conftest import Workbench
from tests.e2e.session import sign_in
from tests.integration.test_notes import a_case


@pytest.fixture
def own_workbench(make_settings: Callable[..., Settings]) -> Iterator[Workbench]:
    """A live server over a fresh embedded store with the example agencies."""
    container = with_agencies(bootstrap(make_settings("sqlite")))
    server = LiveServer(container).start()
    try:
        yield Workbench(server)
    finally:
        server.stop()
        container.close()


def tab_to(page: Page, selector: str, most: int = 12) -> None:
    """Press Tab until the element has the focus (a date field takes a Tab per part)."""
    target = page.locator(selector)
    for _ in range(most):
        page.keyboard.press("Tab")
        if target.evaluate("element => element === document.activeElement"):
            return
    raise AssertionError(f"{most} presses of Tab never reached {selector}")


def test_an_inquiry_writes_a_note_with_the_keyboard_and_sees_it_beside_the_record(
    page: Page, own_workbench: Workbench, screenshot: Callable[[Page, str], Path]
) -> None:
    case_id, events = a_case(own_workbench.server)
    sign_in(page, own_workbench, "inquiry", next=f"/cases/{case_id}")
    assert page.locator("#no-notes").is_visible()
    # From the form's heading (the contents list's target), Tab steps through its fields.
    page.goto(f"{own_workbench.url}/cases/{case_id}#add-note")
    page.keyboard.press("Tab")
    about = page.get_by_label("About an entry")
    assert about.evaluate("element => element === document.activeElement")
    page.keyboard.press("ArrowDown")
    chosen = about.input_value()
    assert chosen in {e["event_id"] for e in events}
    tab_to(page, "#note-text")
    page.keyboard.type("Why was the child not seen alone?")
    tab_to(page, ".note-form button[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/cases/{case_id}?as_of=*#notes")
    note = page.locator("#notes-list li.note")
    assert note.count() == 1
    assert "Why was the child not seen alone?" in note.inner_text()
    link = note.locator(".note-about a")
    assert link.get_attribute("href") is not None
    assert chosen in (link.get_attribute("href") or "")
    row = page.locator(f'#chronology-table tr[data-event="{chosen}"]')
    assert row.locator("a.note-count").inner_text().startswith("1 note")
    violations = axe_violations(page)
    assert not violations, describe(violations)
    screenshot(page, "case-notes")
