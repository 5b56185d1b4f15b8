"""The `sgl` command: parses arguments and calls the library; nothing else."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from ledger.errors import LedgerError
from ledger.settings import Settings
from sgl.cli_context import settings_of
from sgl.cli_serve import PROJECTIONS


class _Sgl(click.Group):
    """The `sgl` group: a read that cannot be answered as asked is one line and an exit
    status (1 when there is nothing to answer about, 2 when a parameter is wrong)."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command, saying why a read could not be answered."""
        try:
            return super().invoke(ctx)
        except LedgerError as exc:
            from sgl.queries.errors import BadRequest, QueryError

            if isinstance(exc, BadRequest):
                raise click.UsageError(
                    "; ".join(f"{_option(p.pointer)}: {p.detail}" for p in exc.problems)
                ) from None
            if isinstance(exc, QueryError):
                raise click.ClickException(exc.detail) from None
            raise


def _option(pointer: str) -> str:
    """The option a query parameter's pointer stands for: /as_of is --as-of."""
    return "--" + pointer.lstrip("/").replace("_", "-")


@click.group(cls=_Sgl, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Where the embedded log and the views live (SGL_DATA_DIR, default ./var).",
)
@click.option(
    "--backend",
    type=click.Choice(["sqlite", "kafka"]),
    default=None,
    help="The log: embedded SQLite or Kafka (SGL_BACKEND, default sqlite).",
)
@click.pass_context
def cli(ctx: click.Context, data_dir: Path | None, backend: str | None) -> None:
    """Safeguarding Ledger: who knew what, and when.

    Example: sgl serve --port 8000
    """
    overrides: dict[str, Any] = {}
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    if backend is not None:
        overrides["backend"] = backend
    settings = Settings.from_env(os.environ, **overrides)
    from sgl.logs import configure_logging

    configure_logging(settings)
    ctx.obj = settings


@cli.command()
@click.argument("projection", type=click.Choice(PROJECTIONS))
@click.pass_context
def rebuild(ctx: click.Context, projection: str) -> None:
    """Rebuild a view from offset 0 beside the live one, then swap it in.

    The live view serves throughout; a running `sgl serve` or `sgl consume` moves to the
    rebuilt view on its next poll. Prints the throughput. `clocks` and `alerts` are rebuilt
    from the case-state view; a rebuilt alerter raises nothing the ledger already holds.

    Example: sgl rebuild case_state
    """
    from sgl.bootstrap import bootstrap

    container = bootstrap(settings_of(ctx))
    try:
        if projection == "case_state":
            total = sum(container.log.end_offsets().values())
            with click.progressbar(
                length=total, label=f"rebuilding {projection}", file=sys.stderr
            ) as bar:
                report = container.rebuild(progress=bar.update)
        else:
            report = container.rebuild_follower(projection)
    finally:
        container.close()
    done = "events applied" if projection == "case_state" else "case refreshes"
    click.echo(
        f"rebuilt {projection}: {report.records:,} records read, {report.applied:,} {done} "
        f"in {report.seconds:.1f} s ({report.records_per_second:,.0f} records/s); "
        f"now serving {report.generation}",
        err=True,
    )


def main() -> None:
    """Entry point of the `sgl` console script: ledger errors are one line, not a traceback."""
    try:
        cli()
    except LedgerError as exc:
        click.echo(f"sgl: {type(exc).__name__}: {exc}", err=True)
        sys.exit(2)


def _add_commands() -> None:
    from sgl.cli_access import access_log
    from sgl.cli_agencies import agencies
    from sgl.cli_integrity import checkpoints, keys, proof, verify
    from sgl.cli_read import COMMANDS
    from sgl.cli_serve import consume, demo, publish, serve
    from sgl.cli_tokens import token

    for command in (
        serve,
        demo,
        consume,
        publish,
        *COMMANDS,
        agencies,
        keys,
        verify,
        proof,
        checkpoints,
        access_log,
        token,
    ):
        cli.add_command(command)


_add_commands()
