"""Render docs/cli.md from the commands' own help, so the reference cannot drift."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from sgl.cli import cli


def render() -> str:
    """The CLI reference as Markdown."""
    parts = [
        "# `sgl` command reference",
        "",
        "Generated from `--help` by `python -m sgl.cli_docs`; do not edit by hand.",
        "",
    ]
    root = _context(cli, "sgl", None)
    parts += ["## sgl", "", "```", cli.get_help(root), "```", ""]
    for name in sorted(cli.list_commands(root)):
        command = cli.get_command(root, name)
        assert command is not None
        ctx = _context(command, name, root)
        parts += [f"## sgl {name}", "", "```", command.get_help(ctx), "```", ""]
        if isinstance(command, click.Group):
            for sub_name in sorted(command.list_commands(ctx)):
                sub = command.get_command(ctx, sub_name)
                assert sub is not None
                sub_ctx = _context(sub, sub_name, ctx)
                parts += [f"### sgl {name} {sub_name}", "", "```", sub.get_help(sub_ctx), "```", ""]
    return "\n".join(parts)


def _context(command: click.Command, name: str, parent: click.Context | None) -> click.Context:
    # A fixed width, so the file does not depend on the terminal that generated it.
    return click.Context(
        command,
        parent=parent,
        info_name=name,
        terminal_width=100,
        max_content_width=100,
        help_option_names=["-h", "--help"],
    )


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/cli.md")
    target.write_text(render())
