"""What every `sgl` command takes from its click context."""

from __future__ import annotations

import click

from ledger.settings import Settings


def settings_of(ctx: click.Context) -> Settings:
    """The settings the `sgl` group read from the environment and its options."""
    settings: Settings = ctx.obj
    return settings
