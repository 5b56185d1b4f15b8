"""Screenshots of the pages as the tests see them: into SGL_SCREENSHOTS when set (`make
screenshots` sets it to docs/screenshots, where the README's tour finds them), else into the
test's temporary directory."""

from __future__ import annotations

import os
import re
from pathlib import Path

from playwright.sync_api import Page

NAME = re.compile(r"[a-z0-9][a-z0-9-]*")


def screenshot(page: Page, name: str, under: Path) -> Path:
    """Save what the viewport shows as NAME.png and return where; `under` is used when
    SGL_SCREENSHOTS is unset (pass the test's tmp_path)."""
    if not NAME.fullmatch(name):
        raise ValueError(f"a screenshot's name is lowercase letters, digits and '-': {name!r}")
    chosen = os.environ.get("SGL_SCREENSHOTS")
    folder = Path(chosen) if chosen else under
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=path)
    return path
