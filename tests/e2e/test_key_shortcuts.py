"""The case page's single-key shortcuts can be turned off, and stay off in that browser
(WCAG 2.1.4): with them off a key press is only a key press."""

from __future__ import annotations

from playwright.sync_api import Page

from tests.e2e.conftest import Workbench
from tests.e2e.session import sign_in

CHILD_A = "CASE-A0001"
PRESS = (
    "document.body.dispatchEvent("
    "new KeyboardEvent('keydown', {key: ']', bubbles: true, cancelable: true}))"
)


def test_the_shortcuts_turn_off_and_on(page: Page, workbench: Workbench) -> None:
    sign_in(page, workbench, "inquiry", next=f"/cases/{CHILD_A}?as_of=2007-05-24")
    button = page.locator("button.key-shortcuts")
    assert button.get_attribute("aria-pressed") == "true"
    button.click()
    assert button.get_attribute("aria-pressed") == "false"
    assert button.inner_text() == "Key shortcuts: off"
    # Off: the key is not taken (not prevented, no step followed), after a reload too.
    assert page.evaluate(PRESS) is True
    page.reload()
    assert page.locator("button.key-shortcuts").inner_text() == "Key shortcuts: off"
    assert page.evaluate(PRESS) is True
    assert page.url.endswith("as_of=2007-05-24")
    page.locator("button.key-shortcuts").click()
    # A key pressed on the button is the button's: leave it first, as a person would.
    page.evaluate("document.activeElement.blur()")
    page.keyboard.press("]")
    page.wait_for_url(f"**/cases/{CHILD_A}?as_of=2007-05-25")
