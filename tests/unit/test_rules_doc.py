"""docs/rules.md covers every clock and rule of the bundled policies, each defined as the
policy file has it and citing its source, and every example it gives from a demo case is
what the ledger finds in that case (a constructed example only where no demo case has one)."""

from __future__ import annotations

import re
import tomllib
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from ledger.envelope import Event, parse_instant, utc_text
from projections.agencies import AgencyTable
from projections.clock_policy import load_clock_policy
from projections.clocks import ClockRun, clock_runs
from projections.rules import Firing, evaluate, load_rule_policy
from sgl.demo.agencies import demo_registry
from sgl.demo.child_a import CASE as CHILD_A
from sgl.demo.child_a import child_a
from sgl.demo.child_b import CASE as CHILD_B
from sgl.demo.child_b import child_b
from tests.factories import as_events

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "rules.md"
CLOCKS = load_clock_policy()
RULES = load_rule_policy()
# Long after both demo cases: every finding they hold has fired by then.
LATER = datetime.fromisoformat("2030-01-01T00:00:00+00:00")
TOML = re.compile(r"^```toml\n(.*?)^```$", re.M | re.S)
DEMO = re.compile(r"\*\*Example \(demo `(CASE-[A-Z0-9]+)`\)\*\*")
CONSTRUCTED = "**Example (constructed: no demo case has one)**"
FINDING = re.compile(
    r"\*\*Example \(demo `(CASE-[A-Z0-9]+)`\)\*\*: fired `([^`]+)`, sent to `([^`]+)`: "
    r"`([^`]+)`"
)
RUN = re.compile(
    r"\*\*Example \(demo `(CASE-[A-Z0-9]+)`\)\*\*: started `([^`]+)`, "
    r"(?:stopped `([^`]+)`|not stopped by the data end `([^`]+)`), deadline `([^`]+)`, "
    r"`(met|breached|open)` after (\d+) working days?, responsible `([^`]+)`"
)


def sections() -> dict[str, str]:
    """Each `### `name`` section of the page, its text joined into single spaces (the
    TOML blocks kept as they are)."""
    text = PAGE.read_text()
    found = {}
    parts = re.split(r"^### `(\w+)`\n", text, flags=re.M)
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        found[name] = body.split("\n## ", 1)[0]
    return found


def prose(section: str) -> str:
    return " ".join(section.split())


def policy_entry(kind: str, name: str) -> dict[str, Any]:
    """The entry of the bundled policy file, as written."""
    path = ROOT / "policies" / ("clocks.toml" if kind == "clock" else "rules.toml")
    entries = tomllib.loads(path.read_text())[kind]
    return next(e for e in entries if e["name"] == name)


@cache
def demo() -> dict[str, tuple[list[Firing], list[ClockRun], str]]:
    """Each demo case's findings (as of long after it) and clock runs (open ones measured to
    the case's data end), and that data end, as `sgl alerts` and `sgl clocks` give them."""
    agencies = AgencyTable(as_events(demo_registry()))
    out = {}
    for case, documents in ((CHILD_A, child_a()), (CHILD_B, child_b())):
        events: list[Event] = as_events(documents)
        end = max(
            (e for e in events if e.type != "alert.raised"),
            key=lambda e: parse_instant(e.occurred_at),
        ).occurred_at
        findings = evaluate(events, LATER, RULES, agencies=agencies)
        runs = clock_runs(events, LATER, CLOCKS, agencies=agencies, measured_to=parse_instant(end))
        out[case] = (findings, runs, end)
    return out


def test_every_clock_and_rule_has_one_section_and_nothing_else_does() -> None:
    names = [c.name for c in CLOCKS.clocks] + [r.name for r in RULES.rules]
    assert sorted(sections()) == sorted(names)


@pytest.mark.parametrize(
    ("kind", "name", "source"),
    [("clock", c.name, c.source) for c in CLOCKS.clocks]
    + [("rule", r.name, r.source) for r in RULES.rules],
)
def test_each_section_defines_it_as_the_policy_does_and_quotes_its_source(
    kind: str, name: str, source: str
) -> None:
    """Its TOML block is the policy entry (so a changed parameter fails here until the page
    follows), and its prose quotes the source."""
    section = sections()[name]
    [block] = TOML.findall(section)
    assert tomllib.loads(block) == {kind: [policy_entry(kind, name)]}
    assert source and f"Source: {source}" in prose(section.replace(block, ""))


@pytest.mark.parametrize("name", [c.name for c in CLOCKS.clocks])
def test_each_clock_example_from_a_demo_case_is_a_run_of_that_case(name: str) -> None:
    """Start, stop (or the data end it is measured to), deadline, outcome, working days and
    responsible agency are those of a run of the clock in the demo case named; a clock with
    no run in either demo case says so and gives a constructed example."""
    text = prose(sections()[name])
    examples = RUN.findall(text)
    assert len(examples) == len(DEMO.findall(text))
    if not examples:
        assert CONSTRUCTED in text
        assert not any(r.clock.name == name for _, runs, _ in demo().values() for r in runs)
    for case, started, stopped, end, deadline, outcome, days, responsible in examples:
        _, runs, data_end = demo()[case]
        if end:
            assert end == data_end
        shown = (started, stopped or None, deadline, outcome, int(days), responsible)
        assert shown in [
            (
                r.started_at,
                None if r.stop is None else r.stop.occurred_at,
                r.deadline,
                r.status,
                r.working_days,
                r.responsible,
            )
            for r in runs
            if r.clock.name == name
        ]


@pytest.mark.parametrize("name", [r.name for r in RULES.rules])
def test_each_rule_example_from_a_demo_case_is_a_finding_of_that_case(name: str) -> None:
    """Date fired, recipients and summary are those of a finding of the rule in the demo case
    named; a rule with no finding in either demo case says so and gives a constructed
    example."""
    text = prose(sections()[name])
    examples = FINDING.findall(text)
    assert len(examples) == len(DEMO.findall(text))
    if not examples:
        assert CONSTRUCTED in text
        assert not any(f.rule.name == name for found, _, _ in demo().values() for f in found)
    for case, fired, sent_to, summary in examples:
        findings, _, _ = demo()[case]
        assert (fired, sent_to, summary) in [
            (utc_text(f.fired_at), ", ".join(f.sent_to), f.summary)
            for f in findings
            if f.rule.name == name
        ]
