"""The demo's agencies stay in the demo: code, policies, schemas and docs never name them."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from sgl.demo.agencies import CHILD_A, CHILD_B
from sgl.demo.background import background_events

ROOT = Path(__file__).resolve().parent.parent
# Where a demo agency may be named: the demo data, the tests, and the demo's walkthrough.
ALLOWED_DIRECTORIES = ("sgl/demo/", "tests/")
# The demo guide, and the rules guide whose examples are the demo cases' real findings.
ALLOWED_FILES = ("docs/demo.md", "docs/rules.md")


def demo_agency_ids() -> set[str]:
    """Every agency id of Child A, Child B and the background cases."""
    ids = {a["agency_id"] for a in CHILD_A + CHILD_B}
    return ids | {e["agency"] for e in background_events(100)}


def test_no_file_outside_the_demo_names_a_demo_agency() -> None:
    """No tracked file outside sgl/demo/, tests/, docs/demo.md and docs/rules.md contains the id
    of an agency of either demo case or of the background cases, as a whole id (not inside a
    longer one such as `example-...`). The rule, exactly: every file `git ls-files` lists, read as
    bytes, whatever its type; README.md and the other docs may name the demo cases
    (`CASE-A0001`, `CASE-B0001`) but not their agencies, and show the example agencies
    (docs/examples/agencies.json) instead; code, policies and schema examples name kinds or
    example agencies, never a demo one."""
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    names = sorted(demo_agency_ids(), key=len, reverse=True)
    pattern = re.compile(
        rb"(?<![A-Za-z0-9_-])("
        + b"|".join(re.escape(n.encode()) for n in names)
        + rb")(?![A-Za-z0-9_-])"
    )
    found: dict[str, list[str]] = {}
    for raw in filter(None, listed):
        path = raw.decode()
        if path.startswith(ALLOWED_DIRECTORIES) or path in ALLOWED_FILES:
            continue
        file = ROOT / path
        if not file.is_file():
            continue
        hits = sorted({m.decode() for m in pattern.findall(file.read_bytes())})
        if hits:
            found[path] = hits
    assert found == {}, "demo agencies named outside the demo: " + "; ".join(
        f"{path}: {', '.join(hits)}" for path, hits in sorted(found.items())
    )
