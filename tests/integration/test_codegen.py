"""ledger/event_types.py is generated from the schemas and kept in step with them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sgl.codegen import render

ROOT = Path(__file__).resolve().parents[2]


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
