"""docs/adapters.md is runnable: every python block runs, in order, against a real ledger."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from sgl.codegen import render
from tests.conftest import LiveServer

ROOT = Path(__file__).resolve().parents[2]


def test_every_python_example_in_the_adapter_guide_runs(live_server: LiveServer) -> None:
    """The blocks share one namespace, as a reader would type them, with LEDGER_URL set."""
    text = (ROOT / "docs" / "adapters.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) >= 6
    namespace: dict[str, object] = {"LEDGER_URL": live_server.url}
    for number, block in enumerate(blocks, start=1):
        exec(compile(block, f"docs/adapters.md block {number}", "exec"), namespace)


def formatted(source: str) -> str:
    """The source as `ruff format` writes it (the project's formatter)."""
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--stdin-filename", "event_types.py", "-"],
        input=source,
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return done.stdout


def test_generated_builders_are_in_step_with_the_schemas() -> None:
    """ledger/event_types.py is exactly what `python -m sgl.codegen` writes, formatted."""
    assert (ROOT / "ledger" / "event_types.py").read_text() == formatted(render())
