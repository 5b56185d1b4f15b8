"""schemathesis over the app's own OpenAPI document, against a live server on the embedded store:
no 5xx, and no status, media type or body the document does not describe."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from itertools import groupby
from pathlib import Path

from ledger.settings import Settings
from sgl.bootstrap import bootstrap
from sgl.demo.child_a import child_a
from sgl.identity import PURPOSE_HEADER
from tests.agencies import with_agencies
from tests.conftest import LiveServer, wait_for
from tests.credentials import PURPOSE

CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
)
EXAMPLES_PER_OPERATION = 25
# A fixed seed: the same cases every run, so a failure reproduces (`st replay` names it).
SEED = 14


def test_schemathesis_finds_no_server_error_and_no_undocumented_response(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    """Examples, coverage and fuzzing phases on every operation, bounded per operation."""
    container = with_agencies(bootstrap(make_settings("sqlite")))
    server = LiveServer(container).start()
    try:
        # Child A's case gives the reads something to answer about.
        with server.client(timeout=60) as client:
            # Each agency publishes its own events, in the case's order.
            for _, run in groupby(child_a(), key=lambda event: event["agency"]):
                loaded = client.post("/v1/events", json=list(run))
                assert loaded.status_code == 201, loaded.text
            wait_for(
                lambda: client.get("/v1/cases/CASE-A0001").status_code == 200,
                what="Child A in the view",
            )
        # Called as an inquiry team (every read; publishing is refused, as documented).
        token = server.credentials.token("inquiry")
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "schemathesis.cli",
                "run",
                server.url + "/openapi.json",
                "--checks",
                ",".join(CHECKS),
                "--phases",
                "examples,coverage,fuzzing",
                "--max-examples",
                str(EXAMPLES_PER_OPERATION),
                "--seed",
                str(SEED),
                "--workers",
                "1",
                "--request-timeout",
                "10",
                "--suppress-health-check",
                "all",
                "--header",
                f"Authorization: Bearer {token}",
                "--header",
                f"{PURPOSE_HEADER}: {PURPOSE}",
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    finally:
        server.stop()
        container.close()
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-6000:]
    tested = re.search(r"Tested: (\d+)", output)
    generated = re.search(r"(\d+) generated, (\d+) passed", output)
    assert tested is not None and int(tested.group(1)) >= 22, output[-3000:]
    assert generated is not None and generated.group(1) == generated.group(2), output[-3000:]
