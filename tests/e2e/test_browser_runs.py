"""The browser suite's own ground: Debian's Chromium renders the app's pages with nothing
fetched beyond loopback, and screenshots land where `make screenshots` wants them."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import Page, Request

from sgl.demo import CHILD_B_CASE, DEMO_CASE
from sgl.demo.child_a import child_a
from sgl.identity import PURPOSE_HEADER
from tests.e2e.conftest import PHONE, Workbench

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ROOT = Path(__file__).resolve().parents[2]


def recorded(page: Page) -> list[str]:
    """Every URL the page requests from now on, in order."""
    urls: list[str] = []

    def record(request: Request) -> None:
        urls.append(request.url)

    page.on("request", record)
    return urls


def off_loopback(urls: list[str]) -> list[str]:
    """The URLs that would leave the machine: any not on 127.0.0.1 but inline data."""
    return [
        url
        for url in urls
        if urlsplit(url).scheme != "data" and urlsplit(url).hostname != "127.0.0.1"
    ]


def test_the_api_docs_render_from_loopback_alone(
    page: Page, workbench: Workbench, screenshot: Callable[[Page, str], Path]
) -> None:
    """/docs runs Swagger UI over the app's OpenAPI document with every script, style, image
    and the document itself served by the app; the screenshot is a real PNG."""
    urls = recorded(page)
    page.goto(f"{workbench.url}/docs")
    page.locator(".swagger-ui .opblock").first.wait_for()
    page.wait_for_load_state("networkidle")
    assert page.locator(".swagger-ui .opblock-summary-path", has_text="/v1/events").count() > 0
    assert f"{workbench.url}/openapi.json" in urls
    assert any(url.endswith("/swagger-ui-bundle.js") for url in urls)
    assert off_loopback(urls) == []
    shot = screenshot(page, "api-docs")
    assert shot.read_bytes().startswith(PNG_SIGNATURE)


def test_the_phone_page_is_a_narrow_touch_screen(phone_page: Page, workbench: Workbench) -> None:
    """The phone fixture's page lays out at 390 px wide, with touch and the mobile viewport."""
    urls = recorded(phone_page)
    phone_page.goto(f"{workbench.url}/docs")
    phone_page.locator(".swagger-ui .opblock").first.wait_for()
    width, touch = phone_page.evaluate("[window.innerWidth, navigator.maxTouchPoints]")
    assert (width, touch > 0) == (PHONE["width"], True)
    assert off_loopback(urls) == []


def test_the_workbench_serves_the_demo_as_sgl_demo_leaves_it(workbench: Workbench) -> None:
    """Child A's whole history is in the view with the alerts the alerter raised on it, and
    Child B's case is there too, read with the workbench's inquiry token and purpose."""
    headers = {
        "Authorization": f"Bearer {workbench.token('inquiry')}",
        PURPOSE_HEADER: workbench.purpose,
    }
    with workbench.server.client() as http:
        history = http.get(f"/v1/cases/{DEMO_CASE}/history", headers=headers).json()["entries"]
        child_b_case = http.get(f"/v1/cases/{CHILD_B_CASE}", headers=headers)
    raised = [e for e in history if e["type"] == "alert.raised"]
    assert raised and len(history) == len(child_a()) + len(raised)
    assert child_b_case.status_code == 200, child_b_case.text


def run_axe_tests_without_chromium(ci: str) -> subprocess.CompletedProcess[str]:
    """This suite's axe tests run by pytest with SGL_CHROMIUM naming no file, CI set to `ci`."""
    env = {**os.environ, "SGL_CHROMIUM": str(ROOT / "no-such-chromium"), "CI": ci}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-rfEs",
            "tests/e2e/test_axe.py",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_missing_chromium_fails_under_ci_and_is_skipped_elsewhere() -> None:
    """CI=true turns the missing browser into errors naming the package to install; on a
    developer's machine the same tests are skipped with the same advice."""
    in_ci = run_axe_tests_without_chromium("true")
    assert in_ci.returncode == 1, in_ci.stdout[-2000:]
    assert "2 errors" in in_ci.stdout and "apt-get install chromium" in in_ci.stdout
    elsewhere = run_axe_tests_without_chromium("")
    assert elsewhere.returncode == 0, elsewhere.stdout[-2000:]
    assert "2 skipped" in elsewhere.stdout and "apt-get install chromium" in elsewhere.stdout
