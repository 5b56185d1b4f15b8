"""`sgl serve --role`: which parts of the ledger a process runs."""

from __future__ import annotations

import click
import pytest

from sgl.cli_serve import parse_roles


def test_no_role_runs_everything_and_no_consumer_the_api_alone() -> None:
    assert parse_roles((), None) == {"api", "consumer", "sealer"}
    assert parse_roles((), True) == {"api", "consumer", "sealer"}
    assert parse_roles((), False) == {"api"}


def test_roles_are_repeated_or_comma_lists() -> None:
    assert parse_roles(("consumer",), None) == {"consumer"}
    assert parse_roles(("api,sealer",), None) == {"api", "sealer"}
    assert parse_roles(("api", " consumer , sealer"), None) == {"api", "consumer", "sealer"}


def test_an_unknown_role_is_named() -> None:
    with pytest.raises(click.BadParameter, match="worker is not a role; the roles are api"):
        parse_roles(("api,worker",), None)
    with pytest.raises(click.BadParameter, match="nothing is not a role"):
        parse_roles((",",), None)


def test_role_and_consumer_flag_together_are_refused() -> None:
    with pytest.raises(click.UsageError, match="not both"):
        parse_roles(("api",), False)
