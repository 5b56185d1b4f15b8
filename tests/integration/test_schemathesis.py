"""schemathesis over the app's own OpenAPI document, against a live server on the embedded store,
once with each role's token and once with none: no 5xx, no status, media type or body the
document does not describe, and no case or fact outside the caller's scope."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from ledger.envelope import parse_instant
from ledger.settings import Settings
from projections.rules import LEDGER_AGENCY
from sgl.bootstrap import Container, bootstrap
from sgl.demo.child_a import child_a
from sgl.identity import READS_ALL, Role
from sgl.queries.scope import visible
from tests.agencies import with_agencies
from tests.conftest import LiveServer, wait_for
from tests.factories import new_case_id
from tests.integration.test_need_to_know import GP, POLICE, SC, case_events, post_by_agency

CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "within_need_to_know",
)
# A fixed seed: the same cases every run, so a failure reproduces (`st replay` names it).
SEED = 14
HOOKS = Path(__file__).resolve().parents[1] / "need_to_know_check.py"
CHILD_A = "CASE-A0001"
# Examples per operation for each caller, and the phases run: the roles that read everything
# get the full run; the others fewer examples, as most of what they may not call is the same
# 403. The auditor reads as the inquiry does, the admin calls what the publisher does (the
# registry's events), and a caller without a token meets 401 on every route but the public
# ones: fuzzing alone covers them.
FULL = "examples,coverage,fuzzing"
RUNS: tuple[tuple[Role | None, int, str], ...] = (
    ("inquiry", 25, FULL),
    ("practitioner", 10, FULL),
    ("auditor", 3, "fuzzing"),
    ("publisher", 5, FULL),
    ("admin", 3, "fuzzing"),
    (None, 3, "fuzzing"),
)


def scope_of(
    role: Role | None, untouched: tuple[str, list[str]], container: Container
) -> tuple[str | None, list[str], list[str]]:
    """The caller's agency, and the cases and facts outside its scope: for a practitioner,
    the agency that learned most of Child A from others, every fact of Child A it never knew
    at any moment, and a case it never touched; nothing for inquiry and auditor; every case
    and fact for the roles that read no case."""
    case_id, untouched_ids = untouched
    events = container.view.events(CHILD_A)
    if role in READS_ALL:
        return None, [], []
    if role != "practitioner":
        return None, [CHILD_A, case_id], [e.event_id for e in events] + untouched_ids
    elsewhere = {SC, GP, POLICE}
    now = datetime.now(UTC)
    told = {
        agency: sum(e.agency != agency for e in visible(events, agency, now, "recorded"))
        for agency in sorted({e.agency for e in events} - elsewhere - {LEDGER_AGENCY})
    }
    agency = max(told, key=lambda a: (told[a], a))
    # What it knew at any moment: a fact later retracted was in scope while it stood.
    moments = {parse_instant(e.recorded_at) for e in events} | {now}
    known = {e.event_id for m in moments for e in visible(events, agency, m, "recorded")}
    assert told[agency] > 0 and len(known) < len(events)
    outside = [e.event_id for e in events if e.event_id not in known]
    return agency, [case_id], outside + untouched_ids


@pytest.mark.parametrize("role", [role for role, _, _ in RUNS], ids=lambda r: r or "no-token")
def test_schemathesis_finds_no_server_error_and_no_undocumented_response(
    role: Role | None, make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    """The phases RUNS names on every operation, bounded per operation, with
    the role's token (or none): no 5xx, nothing the document does not describe, and no
    response carrying a case or fact outside the role's scope (case ids drawn from Child A's
    and a case the practitioner's agency never touched)."""
    container = with_agencies(bootstrap(make_settings("sqlite")))
    server = LiveServer(container).start()
    try:
        # Child A's case gives the reads something to answer about.
        with server.client(timeout=60) as http:
            # Each agency publishes its own events, in the case's order.
            post_by_agency(http, child_a())
            untouched_id = new_case_id()
            events, ids = case_events(untouched_id)
            post_by_agency(http, events)
        wait_for(
            lambda: (
                len(container.view.events(untouched_id)) == len(events)
                and bool(container.view.events(CHILD_A))
            ),
            what="both cases in the view",
        )
        agency, cases, facts = scope_of(role, (untouched_id, list(ids.values())), container)
        headers = [] if role is None else server.headers(role, agency).items()
        config = tmp_path / "schemathesis.toml"
        # Event ids drawn from both cases, in scope or not, for the proof route.
        drawn = [e.event_id for e in container.view.events(CHILD_A)[:4]] + list(ids.values())
        config.write_text(
            f'[dictionaries.cases]\nvalues = ["{CHILD_A}", "{untouched_id}"]\n\n'
            f"[dictionaries.events]\nvalues = {orjson.dumps(drawn).decode()}\n\n"
            '[parameters]\n"path.case_id" = { dictionary = "cases", probability = 0.7 }\n'
            '"path.event_id" = { dictionary = "events", probability = 0.7 }\n'
        )
        [(examples, phases)] = [(n, p) for r, n, p in RUNS if r == role]
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "schemathesis.cli",
                "--config-file",
                str(config),
                "run",
                server.url + "/openapi.json",
                "--checks",
                ",".join(CHECKS),
                "--phases",
                phases,
                "--max-examples",
                str(examples),
                "--seed",
                str(SEED),
                "--workers",
                "1",
                "--request-timeout",
                "10",
                "--suppress-health-check",
                "all",
                *(f"--header={name}: {value}" for name, value in headers),
            ],
            cwd=tmp_path,
            env={
                **os.environ,
                "SCHEMATHESIS_HOOKS": str(HOOKS),
                "SGL_OUT_OF_SCOPE_CASES": ",".join(cases),
                "SGL_OUT_OF_SCOPE_FACTS": ",".join(facts),
            },
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    finally:
        server.stop()
        container.close()
    output = run.stdout + run.stderr
    # An error's details come before the summary: show both.
    errors = output.find("ERRORS")
    assert run.returncode == 0, (output[errors : errors + 4000] if errors >= 0 else "") + (
        output[-6000:]
    )
    tested = re.search(r"Tested: (\d+)", output)
    generated = re.search(r"(\d+) generated, (\d+) passed", output)
    assert tested is not None and int(tested.group(1)) >= 22, output[-3000:]
    assert generated is not None and generated.group(1) == generated.group(2), output[-3000:]
