"""`sgl agencies`: the agency registry listed, one agency shown, a list of agencies imported,
an agency's record changed."""

from __future__ import annotations

import sys
from dataclasses import replace
from typing import Any

import click
import orjson

from ledger.agency_rules import KINDS
from sgl.cli_context import settings_of, token_option
from sgl.cli_read import _as_of, _json, _output, _read, table


@click.group()
def agencies() -> None:
    """The agency registry: every agency events may name, with its name, kind and area.

    Example: sgl agencies list
    """


@agencies.command("list")
@_as_of
@_output("table", "json")
@click.pass_context
def list_agencies(ctx: click.Context, as_of: str | None, fmt: str) -> None:
    """Every registered agency, now or as registered at a date.

    Example: sgl agencies list --as-of 2007-01-01
    """
    from sgl import queries

    found = _read(ctx, lambda s: queries.agencies(s, as_of))
    if fmt == "json":
        _json(found)
    else:
        table(found["agencies"], queries.AGENCY_COLUMNS)


@agencies.command("show")
@click.argument("agency_id")
@_as_of
@_output("table", "json")
@click.pass_context
def show(ctx: click.Context, agency_id: str, as_of: str | None, fmt: str) -> None:
    """One registered agency (exits 1 if it is not registered).

    Example: sgl agencies show example-police
    """
    from sgl import queries

    found = _read(ctx, lambda s: queries.agency(s, agency_id, as_of))
    if fmt == "json":
        _json(found)
    else:
        table([found], queries.AGENCY_COLUMNS)


@agencies.command("import")
@click.argument("file", type=click.File("rb"))
@click.option("--url", default=None, help="The ledger's base URL (default: SGL_URL).")
@token_option
@click.pass_context
def import_agencies(ctx: click.Context, file: Any, url: str | None, token: str | None) -> None:
    """Register the agencies of a JSON list of `agency.registered` payloads, in one batch
    (all or none); agencies already registered are skipped, so importing again is safe. The
    token (SGL_TOKEN) is an admin's: only the admin keeps the registry.

    Example: SGL_URL=http://127.0.0.1:8000 sgl agencies import docs/examples/agencies.json
    """
    from ledger.client import LedgerClient
    from sgl.registry import unregistered

    try:
        payloads = orjson.loads(file.read())
    except orjson.JSONDecodeError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="FILE") from None
    if not isinstance(payloads, list) or not all(isinstance(p, dict) for p in payloads):
        raise click.BadParameter("must be a JSON list of agency objects", param_hint="FILE")
    settings = settings_of(ctx)
    if url is not None:
        settings = replace(settings, url=url)
        settings.check()
    with LedgerClient(settings.url, token or None) as client:
        known = {a["agency_id"] for a in client.agencies()}
        fresh = unregistered(payloads, known.__contains__)
        fresh = _publish(client, fresh)
    click.echo(
        f"{len(fresh)} agencies registered, {len(payloads) - len(fresh)} already registered "
        f"({settings.url})",
        file=sys.stderr,
    )


@agencies.command("update")
@click.argument("agency_id")
@click.option("--name", default=None, help="Its display name now.")
@click.option("--kind", type=click.Choice(KINDS), default=None, help="Its kind now.")
@click.option("--statutory/--not-statutory", default=None, help="Whether it is statutory now.")
@click.option("--area", default=None, help="The local authority area (ONS code) it serves now.")
@click.option("--parent", default=None, help="Its parent organisation now.")
@click.option("--by", "by", default="P-SGL-REGISTRAR", show_default=True, help="Who records it.")
@click.option("--url", default=None, help="The ledger's base URL (default: SGL_URL).")
@token_option
@click.pass_context
def update(
    ctx: click.Context,
    agency_id: str,
    name: str | None,
    kind: str | None,
    statutory: bool | None,
    area: str | None,
    parent: str | None,
    by: str,
    url: str | None,
    token: str | None,
) -> None:
    """Record a change to a registered agency (`agency.updated`, effective now): what it
    was before stays on the record, and reads as of an earlier date still see it. The token
    (SGL_TOKEN) is an admin's.

    Example: SGL_URL=http://127.0.0.1:8000 sgl agencies update example-police --area E08000002
    """
    from ledger.client import LedgerClient
    from sgl.registry import change

    changes = {
        k: v
        for k, v in {
            "name": name,
            "kind": kind,
            "statutory": statutory,
            "area": area,
            "parent": parent,
        }.items()
        if v is not None
    }
    if not changes:
        raise click.UsageError(
            "nothing to change: give --name, --kind, --statutory, --area or --parent"
        )
    settings = settings_of(ctx)
    if url is not None:
        settings = replace(settings, url=url)
        settings.check()
    with LedgerClient(settings.url, token or None) as client:
        receipt = client.publish_batch([change(agency_id, changes, by)])[0]
    click.echo(
        f"{agency_id} updated ({receipt.status} at {receipt.partition}:{receipt.offset})", err=True
    )


def _publish(client: Any, fresh: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Register the payloads; those the ledger says are registered already (the list it
    answered was behind its log) are left out and the rest sent again. Returns those
    registered."""
    from ledger.errors import BatchRejected
    from sgl.registry import registration

    while fresh:
        try:
            client.publish_batch([registration(p) for p in fresh])
        except BatchRejected as exc:
            taken = {p.item for p in exc.problems if p.rule == "already-registered"}
            if not taken or any(p.item not in taken for p in exc.problems):
                raise
            fresh = [p for i, p in enumerate(fresh) if i not in taken]
        else:
            break
    return fresh
