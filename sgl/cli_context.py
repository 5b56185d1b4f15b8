"""What every `sgl` command takes from its click context."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from ledger.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])


def settings_of(ctx: click.Context) -> Settings:
    """The settings the `sgl` group read from the environment and its options."""
    settings: Settings = ctx.obj
    return settings


def token_option(function: F) -> F:
    """`--token`: the bearer token a command that talks to a server calls with."""
    return click.option(
        "--token",
        envvar="SGL_TOKEN",
        default=None,
        metavar="TOKEN",
        help="The bearer token to call the ledger with (default: SGL_TOKEN); never printed.",
    )(function)
