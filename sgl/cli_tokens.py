"""`sgl token`: the API's bearer tokens made, listed and revoked, on the ledger's data
directory (the token store); a token's text is shown once, when it is made."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import click

from sgl.cli_context import settings_of
from sgl.cli_read import _json, _output, table
from sgl.identity import ROLES, Role
from sgl.tokens import TokenStore

DEFAULT_DAYS = 90
COLUMNS = (
    "token_id",
    "agency",
    "role",
    "person",
    "label",
    "created_at",
    "expires_at",
    "revoked_at",
)


@click.group()
def token() -> None:
    """Bearer tokens for the API: one per system or person, with an agency, a role and an
    expiry; stored only as hashes.

    Example: sgl token create --agency example-police --role publisher
    """


@token.command("create")
@click.option("--agency", required=True, help="The agency the token acts for.")
@click.option("--role", required=True, type=click.Choice(ROLES), help="What the token may do.")
@click.option("--person", default=None, help="The person it names: their events' recorded_by.")
@click.option(
    "--days",
    default=DEFAULT_DAYS,
    show_default=True,
    type=click.IntRange(min=1),
    help="Days until it expires.",
)
@click.option("--label", default=None, help="A note for `sgl token list` (what it is for).")
@click.pass_context
def create(
    ctx: click.Context,
    agency: str,
    role: Role,
    person: str | None,
    days: int,
    label: str | None,
) -> None:
    """Make a token and print it once (stdout); its id and expiry go to stderr.

    Example: sgl token create --agency example-police --role publisher --days 30 --label crm
    """
    store = TokenStore(settings_of(ctx).tokens_db)
    try:
        issued = store.create(
            agency, role, datetime.now(UTC) + timedelta(days=days), person=person, label=label
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--agency") from None
    finally:
        store.close()
    click.echo(issued.token)
    click.echo(
        f"token {issued.info.token_id}: {role} of {agency}, expires {issued.info.expires_at} "
        "(shown once: keep it secret)",
        err=True,
    )


@token.command("revoke")
@click.argument("token_id")
@click.pass_context
def revoke(ctx: click.Context, token_id: str) -> None:
    """Revoke a token by its id: refused from the next request on (exits 1 if there is no
    such token, or it was already revoked).

    Example: sgl token revoke $(sgl token create --agency example-police --role admin | cut -c5-16)
    """
    store = TokenStore(settings_of(ctx).tokens_db)
    try:
        done = store.revoke(token_id)
    finally:
        store.close()
    if not done:
        click.echo(f"sgl: no token {token_id!r} to revoke (unknown, or already revoked)", err=True)
        ctx.exit(1)
    click.echo(f"revoked {token_id}", err=True)


@token.command("list")
@_output("table", "json")
@click.pass_context
def list_tokens(ctx: click.Context, fmt: str) -> None:
    """Every token made, oldest first, without secrets: revoked and expired ones too.

    Example: sgl token list --json
    """
    store = TokenStore(settings_of(ctx).tokens_db)
    try:
        found = [{column: getattr(info, column) for column in COLUMNS} for info in store.tokens()]
    finally:
        store.close()
    if fmt == "json":
        _json({"tokens": found})
    else:
        table(found, COLUMNS)
