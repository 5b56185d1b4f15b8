"""What a workbench page costs against the API reads it shows, in one run.

The demo (Child A, Child B and BACKGROUND cases) on the embedded store, served by uvicorn on
loopback. For each page, a signed-in browser-like client fetches the page, and an API client
fetches the JSON reads that hold the same data (the raw baseline: no rendering, no second
pass); requests alternate one at a time. Printed: each page's median and p95 in ms, the
baseline's, and the ratio page/baseline (a page should cost about what its reads cost; the
goal is every page under a second).
Usage: python benchmarks/pages.py [ROUNDS] [BACKGROUND]   (default 30 300)
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from _common import machine
from access import served

from ledger.settings import Settings
from sgl.api import create_app
from sgl.bootstrap import bootstrap
from sgl.demo import load_demo
from sgl.identity import PURPOSE_HEADER
from sgl.logs import configure_logging
from sgl.tokens import TokenStore
from tests.e2e.conftest import catch_up

PURPOSE = "practice-review"
CHILD_A, CHILD_B = "CASE-A0001", "CASE-B0001"
# Each page, and the API reads that carry what it shows.
PAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("/cases", ("/v1/audit",)),
    (
        f"/cases/{CHILD_A}?as_of=2007-07-25",
        tuple(
            f"/v1/cases/{CHILD_A}{tail}?as_of=2007-07-25"
            for tail in (
                "",
                "/chronology",
                "/sightings",
                "/knowledge/matrix",
                "/clocks",
                "/alerts",
            )
        ),
    ),
    (
        f"/cases/{CHILD_B}?as_of=2023-05-31",
        tuple(
            f"/v1/cases/{CHILD_B}{tail}?as_of=2023-05-31"
            for tail in ("", "/chronology", "/sightings", "/knowledge/matrix", "/clocks", "/alerts")
        ),
    ),
    (
        f"/cases/{CHILD_A}/print?as_of=2007-07-25",
        (f"/v1/cases/{CHILD_A}/chronology?as_of=2007-07-25",),
    ),
    ("/audit", ("/v1/latency", "/v1/audit")),
)


def ms(values: list[float]) -> str:
    """Median and p95 of seconds, in ms."""
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return f"median {statistics.median(values) * 1000:6.1f} ms, p95 {p95 * 1000:6.1f} ms"


def main() -> None:
    """Load the demo, then time each page against its reads."""
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    background = int(sys.argv[2]) if len(sys.argv) > 2 else 300
    root = Path(tempfile.mkdtemp(prefix="sgl-bench-pages-"))
    settings = Settings.from_env(
        {}, backend="sqlite", data_dir=root, alerter="on", log_level="warning"
    )
    configure_logging(settings)
    container = bootstrap(settings)
    try:
        load_demo(container.ledger, background)
        catch_up(container)
        expires = datetime.now(UTC) + timedelta(days=1)
        token = TokenStore(settings.tokens_db).create("bench-inquiry", "inquiry", expires)
        print(f"machine: {machine()}; embedded store; demo with {background} background cases")
        with (
            served(create_app(container, run_consumer=False)) as url,
            httpx.Client(base_url=url, timeout=60) as api,
            httpx.Client(base_url=url, timeout=60) as browser,
        ):
            api.headers.update({"Authorization": f"Bearer {token.token}", PURPOSE_HEADER: PURPOSE})
            signed = browser.post("/login", data={"token": token.token, "purpose": PURPOSE})
            assert signed.status_code == 303, signed.text
            for page, reads in PAGES:
                pages: list[float] = []
                raws: list[float] = []
                for _ in range(rounds):
                    started = time.perf_counter()
                    answer = browser.get(page)
                    pages.append(time.perf_counter() - started)
                    assert answer.status_code == 200, (page, answer.status_code)
                    started = time.perf_counter()
                    for read in reads:
                        assert api.get(read).status_code == 200, read
                    raws.append(time.perf_counter() - started)
                ratio = statistics.median(pages) / statistics.median(raws)
                print(
                    f"{page:<40} page {ms(pages)}; its {len(reads)} API reads {ms(raws)}; "
                    f"page/reads {ratio:.2f}"
                )
    finally:
        container.close()


if __name__ == "__main__":
    main()
