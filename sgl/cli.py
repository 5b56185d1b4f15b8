"""The `sgl` command: parses arguments and calls the library; nothing else."""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import click

from ledger.errors import LedgerError
from ledger.settings import Settings
from sgl.encoding import dumps
from sgl.publish import LineResult


def _settings(ctx: click.Context) -> Settings:
    settings: Settings = ctx.obj
    return settings


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
@click.option("--host", default=None, help="Address to listen on (loopback by default).")
@click.option("--port", type=int, default=None, help="Port (SGL_HTTP_PORT, default 8000).")
@click.option(
    "--consumer/--no-consumer",
    default=True,
    help="Also run the consumers (case view, clock view, alerter, sealer) here; on by default.",
)
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None, consumer: bool) -> None:
    """Serve the HTTP API.

    Example: sgl serve --port 8000
    """
    settings = _settings(ctx)
    _serve(settings, host or settings.http_host, port or settings.http_port, consumer)


def _serve(
    settings: Settings, host: str, port: int, consumer: bool, also: tuple[str, ...] = ()
) -> None:
    import uvicorn

    from sgl.api import create_app
    from sgl.bootstrap import bootstrap, tune_gc

    container = bootstrap(settings)
    app = create_app(container, run_consumer=consumer)
    tune_gc()
    click.echo(
        f"Safeguarding Ledger on the {settings.backend} backend "
        f"(data in {settings.data_dir.resolve()})",
        err=True,
    )
    click.echo(
        f"  API:      http://{host}:{port}/v1/events (POST), /v1/cases/CASE_ID (GET)", err=True
    )
    click.echo(f"  API docs: http://{host}:{port}/docs (OpenAPI: /openapi.json)", err=True)
    for path in also:
        click.echo(f"  Look at:  http://{host}:{port}{path}", err=True)
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning")
    finally:
        container.close()


@cli.command()
@click.option("--host", default=None, help="Address to listen on (loopback by default).")
@click.option("--port", type=int, default=None, help="Port (SGL_HTTP_PORT, default 8000).")
@click.option("--serve/--no-serve", default=True, help="Serve the API after loading.")
@click.option(
    "--cases",
    type=int,
    default=300,
    show_default=True,
    help="Synthetic background cases to load beside Child A.",
)
@click.option(
    "--seed",
    type=int,
    default=2007,
    show_default=True,
    help="Seed of the background cases (the same seed gives the same cases).",
)
@click.pass_context
def demo(
    ctx: click.Context, host: str | None, port: int | None, serve: bool, cases: int, seed: int
) -> None:
    """Load the demo (Child A and background cases; idempotent) and serve the API.

    Example: sgl demo --cases 10000 --no-serve
    """
    from sgl.bootstrap import bootstrap
    from sgl.demo import DEMO_CASE, demo_events, load_demo

    settings = _settings(ctx)
    total = sum(1 for _ in demo_events(cases, seed))
    container = bootstrap(settings)
    try:
        with click.progressbar(length=total, label="loading the demo", file=sys.stderr) as bar:
            receipts = load_demo(container.ledger, cases, seed, progress=bar.update)
    finally:
        container.close()
    added = sum(r.status == "accepted" for r in receipts)
    click.echo(
        f"Demo: case {DEMO_CASE} and {cases} background cases; {added} events added, "
        f"{len(receipts) - added} already present.",
        err=True,
    )
    if serve:
        host, port = host or settings.http_host, port or settings.http_port
        _serve(
            settings,
            host,
            port,
            consumer=True,
            also=(
                f"/v1/cases/{DEMO_CASE}",
                f"/v1/cases/{DEMO_CASE}/alerts?as_of=2007-07-25",
                "/v1/latency?as_of=2007-07-25",
                "/v1/checkpoints/latest",
            ),
        )


PROJECTIONS = ("case_state", "clocks", "alerts")
CONSUMERS = (*PROJECTIONS, "seal")


@cli.command()
@click.option(
    "--only",
    type=click.Choice(CONSUMERS),
    multiple=True,
    help="Run only these consumers (repeat the option); default: all of them.",
)
@click.pass_context
def consume(ctx: click.Context, only: tuple[str, ...]) -> None:
    """Run the consumers until interrupted (SIGINT or SIGTERM): the case-state view, then,
    behind it, the clock view and the alerter (unless SGL_ALERTER=off), and the sealer. Each
    has its own tracked position, so each may run in a process of its own.

    Example: SGL_BACKEND=kafka sgl consume --only alerts
    """
    from sgl.bootstrap import bootstrap

    container = bootstrap(_settings(ctx))
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    loops: list[Any] = [container.runner(), *container.followers(), container.sealer()]
    chosen = [loop for loop in loops if not only or loop.name in only]
    threads = [
        threading.Thread(target=loop.run_resilient, args=(stop,), name=loop.name) for loop in chosen
    ]
    try:
        for thread in threads:
            thread.start()
        while any(t.is_alive() for t in threads) and not stop.wait(0.5):
            pass
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        container.close()


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

    container = bootstrap(_settings(ctx))
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
        f"now serving {report.path.name}",
        err=True,
    )


@cli.command()
@click.argument("file", type=click.File("r"))
@click.option("--url", default=None, help="The ledger's base URL (default: this machine's serve).")
@click.option("--atomic", is_flag=True, help="All lines or none: one batch, nothing if any is bad.")
@click.option("--batch-size", type=int, default=500, show_default=True, help="Lines per request.")
@click.option("--json", "as_json", is_flag=True, help="Print each line's result as JSON.")
@click.pass_context
def publish(
    ctx: click.Context, file: Any, url: str | None, atomic: bool, batch_size: int, as_json: bool
) -> None:
    """Publish a JSON-lines file of events: a result per line, then a summary.

    Without --atomic, invalid lines are reported and every valid line is appended; with it,
    one invalid line means nothing is appended. Exits 1 if any line was not appended.

    Example: sgl publish events.jsonl --atomic
    """
    from ledger.client import LedgerClient
    from sgl.publish import parse_lines
    from sgl.publish import publish as publish_events

    settings = _settings(ctx)
    events, bad = parse_lines(file.read().splitlines())
    if atomic and bad:
        results = bad + [
            LineResult(n, "not-sent", "--atomic: another line is invalid") for n, _ in events
        ]
    else:
        with (
            LedgerClient(url or f"http://{settings.http_host}:{settings.http_port}") as client,
            click.progressbar(length=len(events), label="publishing", file=sys.stderr) as bar,
        ):
            results = bad + publish_events(
                client, events, atomic=atomic, batch_size=batch_size, progress=bar.update
            )
    results.sort(key=lambda r: r.line)
    for result in results:
        if as_json:
            click.echo(dumps(result.as_dict()).decode())
        else:
            click.echo(f"line {result.line}: {result.status} {result.detail}".rstrip())
    counts = {
        s: sum(r.status == s for r in results)
        for s in ("accepted", "duplicate", "invalid", "not-sent")
    }
    click.echo(", ".join(f"{n} {s}" for s, n in counts.items()), err=True)
    if counts["invalid"] or counts["not-sent"]:
        sys.exit(1)


def main() -> None:
    """Entry point of the `sgl` console script: ledger errors are one line, not a traceback."""
    try:
        cli()
    except LedgerError as exc:
        click.echo(f"sgl: {type(exc).__name__}: {exc}", err=True)
        sys.exit(2)


def _add_commands() -> None:
    from sgl.cli_integrity import checkpoints, keys, proof, verify
    from sgl.cli_read import COMMANDS

    for command in (*COMMANDS, keys, verify, proof, checkpoints):
        cli.add_command(command)


_add_commands()
