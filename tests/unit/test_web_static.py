"""The workbench's style sheet is whole: every block it opens it closes (a rule lost inside
an unclosed media query applies only at phone width, or only in print)."""

from __future__ import annotations

import re

from sgl.web.render import STATIC


def test_every_block_of_the_style_sheet_is_closed_where_it_should_be() -> None:
    css = re.sub(r"/\*.*?\*/", "", (STATIC / "site.css").read_text(), flags=re.S)
    depth = 0
    for number, line in enumerate(css.splitlines(), 1):
        depth += line.count("{") - line.count("}")
        assert 0 <= depth <= 2, f"site.css line {number}: {depth} blocks open"
        # A rule's selector at the start of a line is only ever inside a media query or @page.
        if depth == 2:
            assert line.startswith("  "), f"site.css line {number} is nested twice: {line}"
    assert depth == 0
