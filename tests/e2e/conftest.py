"""Fixtures for the workbench's end-to-end tests: Debian's Chromium driven by Playwright (which
never downloads a browser of its own), and a live server over the demo on the embedded store.

Every test collected under tests/e2e carries the `browser` marker, so `pytest -m browser` runs
these and `-m "not browser"` runs the rest.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, sync_playwright

from sgl.bootstrap import Container, bootstrap
from sgl.demo import load_demo
from sgl.identity import Role
from tests.conftest import IN_CI, LiveServer, private_settings
from tests.credentials import PURPOSE
from tests.e2e import shots

HERE = Path(__file__).resolve().parent
CHROMIUM = Path(os.environ.get("SGL_CHROMIUM", "/usr/bin/chromium"))
DESKTOP = ViewportSize(width=1280, height=800)
PHONE = ViewportSize(width=390, height=844)
# Small enough to load in a few seconds, big enough for the case list to have pages of rows.
BACKGROUND_CASES = 20


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test under tests/e2e `browser`, before `-m` selects (tryfirst)."""
    for item in items:
        if item.path.is_relative_to(HERE) and item.get_closest_marker("browser") is None:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """Debian's Chromium (or SGL_CHROMIUM's), headless; under CI=true a missing one fails.
    Playwright's synchronous API holds an event loop in the test thread while it runs: it
    stops with the browser tests' package, so no later test finds that loop running."""
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        message = (
            f"no Chromium at {CHROMIUM}: install Debian's with `apt-get install chromium`, "
            "or name another with SGL_CHROMIUM"
        )
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as playwright:
        # --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start;
        # --disable-dev-shm-usage: a container's /dev/shm (64 MB) is too small for its tabs.
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-dev-shm-usage"],
        )
        yield launched
        launched.close()


# The users' locale and clock: a date field reads 25/05/2007.
LOCALE, TIMEZONE = "en-GB", "Europe/London"


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A page in a context of its own (no cookies shared between tests) at 1280x800, in a
    British browser (dates shown day first)."""
    context = browser.new_context(viewport=DESKTOP, locale=LOCALE, timezone_id=TIMEZONE)
    yield context.new_page()
    context.close()


@pytest.fixture
def phone_page(browser: Browser) -> Iterator[Page]:
    """A page in a context of its own as a phone shows it: 390x844, mobile, touch."""
    context = browser.new_context(
        viewport=PHONE, is_mobile=True, has_touch=True, locale=LOCALE, timezone_id=TIMEZONE
    )
    yield context.new_page()
    context.close()


@pytest.fixture
def screenshot(tmp_path: Path) -> Callable[[Page, str], Path]:
    """`shots.screenshot(page, name)`: into SGL_SCREENSHOTS when set, else the test's tmp_path."""
    return partial(shots.screenshot, under=tmp_path)


class Workbench:
    """A live server over the demo (Child A, Child B and background cases) on the embedded
    store, with every view caught up before it serves."""

    purpose = PURPOSE

    def __init__(self, server: LiveServer) -> None:
        self.server = server

    @property
    def url(self) -> str:
        """The server's base address, http://127.0.0.1:PORT."""
        return self.server.url

    @property
    def container(self) -> Container:
        """The ledger the server serves."""
        return self.server.container

    def token(self, role: Role, agency: str | None = None) -> str:
        """A valid token for the role (and agency: a practitioner or publisher needs one)."""
        return self.server.credentials.token(role, agency)


def catch_up(container: Container, timeout: float = 120.0) -> None:
    """Bring every view up to date as `sgl demo` does before it serves; the alerter's alerts
    are events of the log, so the case view and its followers go round until both are idle."""
    runner, followers = container.runner(), container.followers()
    while True:
        applied = runner.run_until_caught_up(timeout)
        refreshed = sum(follower.run_until_caught_up(timeout) for follower in followers)
        if applied + refreshed == 0:
            break
    container.sealer().run_until_caught_up(timeout)
    container.access_sealer().run_until_caught_up(timeout)
    container.access_indexer().run_until_caught_up(timeout)


@pytest.fixture(scope="package")
def workbench(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Workbench]:
    """One demo for the whole browser suite (loading it per test would dominate the run):
    tests that write to it (notes) must not change what another test reads."""
    # The alerter on, as in `sgl demo`: the pages show the alerts it raises.
    settings = private_settings(
        "sqlite", tmp_path_factory.mktemp("workbench"), request, alerter="on"
    )
    container = bootstrap(settings)
    try:
        refused = [
            r for r in load_demo(container.ledger, BACKGROUND_CASES) if r.status != "accepted"
        ]
        assert not refused, f"the demo was refused: {refused[:3]}"
        catch_up(container)
        server = LiveServer(container).start()
        try:
            yield Workbench(server)
        finally:
            server.stop()
    finally:
        container.close()
