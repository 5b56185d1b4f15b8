"""The accessibility check itself: axe-core, injected from its local copy, finds a missing
label and passes a page without faults."""

from __future__ import annotations

from playwright.sync_api import Page

from tests.e2e.axe import axe_violations, describe

PAGE = """<!doctype html>
<html lang="en"><head><title>Search cases</title></head>
<body><main><h1>Search cases</h1><form>{field}<button>Search</button></form></main></body>
</html>"""


def test_an_unlabelled_input_is_a_critical_violation(page: Page) -> None:
    """A text box with no label of any kind is reported as axe's `label` rule, critical."""
    page.set_content(PAGE.format(field='<input type="text" name="case">'))
    found = axe_violations(page)
    assert [(v["id"], v["impact"]) for v in found] == [("label", "critical")], describe(found)
    assert found[0]["nodes"][0]["target"] == ["input"]


def test_a_labelled_form_has_no_serious_violation(page: Page) -> None:
    """The same form with its input labelled passes."""
    page.set_content(
        PAGE.format(field='<label for="case">Case id</label><input id="case" name="case">')
    )
    assert axe_violations(page) == []
