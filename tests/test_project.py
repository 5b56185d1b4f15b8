"""The project's own promises: public API, docs in step with code, CLI."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import orjson
from click.testing import CliRunner

import ledger
from ledger.schemas import SchemaRegistry
from projections.case_state import HANDLERS
from sgl.cli import cli
from sgl.cli_docs import render
from sgl.demo import DEMO_CASE, demo_events
from sgl.demo.agencies import CHILD_A
from sgl.demo.child_a import child_a
from sgl.schema_docs import render as render_events

ROOT = Path(__file__).resolve().parent.parent

# Collects as `pytest --collect-only -q -m "not kafka"` does, and prints each selected test's
# id, fixtures and parameters: a test may need the broker without "kafka" in its id.
_COLLECT_NOT_KAFKA = """
import json
import sys
import pytest

class Report:
    def pytest_collection_finish(self, session):
        for item in session.items:
            callspec = getattr(item, "callspec", None)
            params = {k: str(v) for k, v in callspec.params.items()} if callspec else {}
            fixtures = " ".join(getattr(item, "fixturenames", ()))
            print("ITEM", item.nodeid, json.dumps(params), fixtures, sep="\\t")

args = ["--collect-only", "-q", "-m", "not kafka", "-p", "no:cacheprovider", "tests"]
sys.exit(pytest.main(args, plugins=[Report()]))
"""


def test_ledger_exports_exactly_its_public_api() -> None:
    """What `ledger` exports is listed in __all__, and every listed name exists."""
    assert sorted(ledger.__all__) == ledger.__all__
    for name in ledger.__all__:
        assert getattr(ledger, name) is not None


def test_the_broker_free_selection_holds_no_case_that_needs_the_broker() -> None:
    """`pytest -m "not kafka"` collects no Kafka case: none runs on a kafka backend, none asks
    for the broker, and no id names kafka but through a parameter that is not a backend (a
    compose service of that name)."""
    done = subprocess.run(
        [sys.executable, "-c", _COLLECT_NOT_KAFKA],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    selected = [
        line.split("\t")[1:] for line in done.stdout.splitlines() if line.startswith("ITEM\t")
    ]
    assert len(selected) > 500, "the rest of the suite is still collected"
    backends = {"backend", "served"}  # the fixtures parametrized over tests.conftest.BACKENDS
    for nodeid, params, fixtures in selected:
        on_kafka = {k for k, v in orjson.loads(params).items() if v == "kafka"}
        assert not on_kafka & backends, nodeid
        assert "kafka" not in nodeid.lower() or on_kafka, nodeid
        assert "kafka_bootstrap" not in fixtures.split(), nodeid
    assert [n for n, _, _ in selected if n.endswith("_on_loopback[kafka]")], "a service's test"


def test_cli_reference_is_generated_from_the_help() -> None:
    """docs/cli.md is exactly what `python -m sgl.cli_docs` writes."""
    assert (ROOT / "docs" / "cli.md").read_text() == render()


def test_every_command_has_an_example_and_a_readme_row() -> None:
    """Each subcommand's help shows an example, and README.md lists it."""
    readme = (ROOT / "README.md").read_text()
    for name, command in cli.commands.items():
        assert "Example:" in (command.help or ""), name
        assert f"`sgl {name}" in readme, name
        for sub_name, sub in getattr(command, "commands", {}).items():
            assert "Example:" in (sub.help or ""), f"{name} {sub_name}"
            assert f"`sgl {name} {sub_name}" in readme, f"{name} {sub_name}"


def test_readme_gives_the_two_setup_commands() -> None:
    """README.md gives `make run` and `make test`, and the Makefile has both targets."""
    readme = (ROOT / "README.md").read_text()
    assert "make run" in readme and "make test" in readme
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^run:", makefile, re.M) and re.search(r"^test:", makefile, re.M)


def test_every_settings_variable_is_documented() -> None:
    """Each Settings field appears in the README's configuration table as SGL_NAME."""
    readme = (ROOT / "README.md").read_text()
    for field in ledger.Settings.__dataclass_fields__:
        assert f"SGL_{field.upper()}" in readme, field


def test_sgl_case_prints_the_demo_case(tmp_path: Path) -> None:
    """`sgl demo --no-serve` loads the case once and brings the views up to date, so
    `sgl case --json` shows it at once: Child A's events and the alerts raised on it."""
    runner = CliRunner()
    args = ["--data-dir", str(tmp_path)]
    first = runner.invoke(cli, [*args, "demo", "--no-serve", "--cases", "20"])
    assert first.exit_code == 0, first.output
    total = sum(1 for _ in demo_events(20))
    assert f"{total} events added, 0 already present" in first.output
    again = runner.invoke(cli, [*args, "demo", "--no-serve", "--cases", "20"])
    assert f"0 events added, {total} already present" in again.output
    shown = runner.invoke(cli, [*args, "case", DEMO_CASE, "--json"])
    assert shown.exit_code == 0, shown.output
    state = orjson.loads(shown.stdout)
    history = orjson.loads(runner.invoke(cli, [*args, "history", DEMO_CASE, "--json"]).stdout)
    raised = [e for e in history["entries"] if e["type"] == "alert.raised"]
    assert raised and state["events"] == len(child_a()) + len(raised) == len(history["entries"])
    decisions = {d["decision_type"]: d["outcome"] for d in state["latest_decisions"]}
    assert decisions["threshold_care_proceedings"] == "not_at_present"
    table = runner.invoke(cli, [*args, "case", DEMO_CASE])
    assert "threshold_care_proceedings=not_at_present" in table.stdout
    before = runner.invoke(cli, [*args, "case", DEMO_CASE, "--as-of", "2007-07-24", "--json"])
    kinds = {d["decision_type"] for d in orjson.loads(before.stdout)["latest_decisions"]}
    assert "cp_plan" in kinds and "threshold_care_proceedings" not in kinds
    none_yet = runner.invoke(cli, [*args, "case", DEMO_CASE, "--as-of", "2006-01-01"])
    assert none_yet.exit_code == 1
    police = runner.invoke(
        cli, [*args, "chronology", DEMO_CASE, "--agency", "met-police", "--format", "csv"]
    )
    lines = police.stdout.splitlines()
    assert lines[0].startswith("occurred_at,") and len(lines) > 3
    # Agencies by name, as the demo registers them.
    police_name = next(a["name"] for a in CHILD_A if a["agency_id"] == "met-police")
    assert all(f",{police_name}," in line for line in lines[1:])


def test_schemas_code_and_docs_are_one_to_one() -> None:
    """Every schema has a case-state handler and a section in docs/events.md, and vice versa."""
    registry = SchemaRegistry()
    types = set(registry.event_types)
    assert types == set(HANDLERS), "schemas/ and projections.case_state.HANDLERS differ"
    documented = set(
        re.findall(r"^## `([a-z._]+)` v\d+", (ROOT / "docs" / "events.md").read_text(), re.M)
    )
    assert documented == types, "docs/events.md and schemas/ differ"


def test_event_reference_is_generated_from_the_schemas() -> None:
    """docs/events.md is exactly what `python -m sgl.schema_docs` writes."""
    assert (ROOT / "docs" / "events.md").read_text() == render_events()
