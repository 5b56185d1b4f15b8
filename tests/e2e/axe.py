"""axe-core run in the page under test, from the copy the `axe-playwright-python` package
ships (never fetched from the network)."""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from typing import Any

from playwright.sync_api import Page

# The impacts the acceptance criteria forbid; "minor" and "moderate" are reported by axe too.
FORBIDDEN = ("serious", "critical")


@cache
def axe_source() -> str:
    """axe.min.js as the installed package ships it."""
    return (files("axe_playwright_python") / "axe.min.js").read_text(encoding="utf-8")


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """The page's accessibility violations of serious or critical impact, as axe reports them
    (id, impact, help, nodes with their selectors)."""
    page.evaluate(axe_source())
    results: dict[str, Any] = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [v for v in results["violations"] if v.get("impact") in FORBIDDEN]


def describe(violations: list[dict[str, Any]]) -> str:
    """The violations one line each (rule, impact, the first offending elements), for an
    assertion's message."""
    return "\n".join(
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + ", ".join(str(node["target"]) for node in v["nodes"][:3])
        for v in violations
    )
