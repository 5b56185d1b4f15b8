"""`sgl serve`, `sgl demo`, `sgl consume`, `sgl publish`: the commands that run or feed a ledger."""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import socket
import sys
import threading
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import click

from sgl.cli_context import settings_of, token_option

if TYPE_CHECKING:
    from ledger.settings import Settings
    from sgl.bootstrap import Container

PROJECTIONS = ("case_state", "clocks", "alerts")
# The access log's consumers: its seal and its index by case.
ACCESS_CONSUMERS = ("access_seal", "access_index")
CONSUMERS = (*PROJECTIONS, "seal", *ACCESS_CONSUMERS, "notes_index")
# What `sgl serve --role` runs: the HTTP API, the views' and indexes' consumers, the sealers.
ROLES = ("api", "consumer", "sealer")


def parse_roles(given: tuple[str, ...], consumer: bool | None) -> frozenset[str]:
    """The roles `--role` names (repeated, or comma lists; all of them when not given), or
    with `--no-consumer` the API alone."""
    if given and consumer is not None:
        raise click.UsageError("give --role or --consumer/--no-consumer, not both")
    if not given:
        return frozenset(ROLES if consumer is not False else ("api",))
    roles = {part.strip() for each in given for part in each.split(",") if part.strip()}
    unknown = sorted(roles - set(ROLES))
    if unknown or not roles:
        raise click.BadParameter(
            f"{', '.join(unknown) or 'nothing'} is not a role; the roles are {', '.join(ROLES)}",
            param_hint="--role",
        )
    return frozenset(roles)


def _check_port(host: str, port: int) -> None:
    """Stop with a clear message, before anything is loaded, when an address the host name
    gives is taken (a name such as localhost may give an IPv4 and an IPv6 address)."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise click.ClickException(f"cannot listen on {host!r}: {exc}") from None
    errors: list[OSError] = []
    for family, kind, proto, _, address in found:
        with socket.socket(family, kind, proto) as probe:
            # As the server will: a port left in TIME_WAIT by a stopped server is free.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(address)
            except OSError as exc:
                errors.append(exc)
    taken = [e for e in errors if e.errno == errno.EADDRINUSE]
    # An address of a family this machine cannot use does not matter while another binds.
    if taken or len(errors) == len(found):
        raise click.ClickException(
            f"cannot listen on {host}:{port} ({(taken or errors)[0].strerror}): another server "
            "holds it; stop it, or choose another port with --port or SGL_HTTP_PORT"
        )


@click.command()
@click.option("--host", default=None, help="Address to listen on (loopback by default).")
@click.option("--port", type=int, default=None, help="Port (SGL_HTTP_PORT, default 8000).")
@click.option(
    "--role",
    "roles",
    multiple=True,
    metavar="api|consumer|sealer",
    help="What this process runs (repeat the option, or a comma list; default: all): `api` the "
    "HTTP API; `consumer` the case-state view, the clock view, the alerter (unless "
    "SGL_ALERTER=off) and the access and notes indexes, each as a member of its consumer group "
    "on Kafka (run as many such processes as the topic has partitions); `sealer` the ledger's "
    "and the access log's sealers (one process).",
)
@click.option(
    "--consumer/--no-consumer",
    default=None,
    help="All roles (the default), or with --no-consumer the API alone.",
)
@click.pass_context
def serve(
    ctx: click.Context,
    host: str | None,
    port: int | None,
    roles: tuple[str, ...],
    consumer: bool | None,
) -> None:
    """Serve the HTTP API and run the consumers, or only the roles given (on Kafka, one
    process per role: SGL_BACKEND=kafka sgl serve --role consumer).

    Example: sgl serve --port 8000
    """
    from sgl.bootstrap import bootstrap

    chosen = parse_roles(roles, consumer)
    settings = settings_of(ctx)
    host, port = host or settings.http_host, port or settings.http_port
    if "api" in chosen:
        _check_port(host, port)
    container = bootstrap(settings)
    try:
        if "api" in chosen:
            _serve(
                container,
                host,
                port,
                "consumer" in chosen,
                sealer="sealer" in chosen,
            )
        else:
            loops: list[Any] = []
            if "consumer" in chosen:
                loops += [
                    container.runner(),
                    *container.followers(),
                    container.access_indexer(),
                    container.notes_indexer(),
                ]
            if "sealer" in chosen:
                loops += [container.sealer(), container.access_sealer()]
            _run_loops(container, loops)
    finally:
        container.close()


# Idle keep-alive connections close after 5 s and a request's headers may take 16 KiB; a body
# has SGL_BODY_TIMEOUT_SECONDS to arrive whole (the app answers 408 after that).
KEEP_ALIVE_SECONDS = 5
MAX_HEADER_BYTES = 16 * 1024


def _serve(
    container: Container,
    host: str,
    port: int,
    consumer: bool,
    also: tuple[str, ...] = (),
    notes: tuple[str, ...] = (),
    sealer: bool | None = None,
) -> None:
    """Serve until interrupted; the addresses (and any notes) are printed once the server
    listens. The sealers run with the consumers unless `sealer` says otherwise."""
    import uvicorn

    from sgl.api import create_app
    from sgl.bootstrap import tune_gc

    settings = container.settings
    lines = [
        f"Safeguarding Ledger on the {settings.backend} backend "
        f"(data in {settings.data_dir.resolve()})",
        f"  API:      http://{host}:{port}/v1/events (POST), /v1/cases/CASE_ID (GET)",
        f"  API docs: http://{host}:{port}/docs (OpenAPI: /openapi.json)",
        f"  Pages:    http://{host}:{port}/ (the workbench: sign in with a reading token)",
        *(f"  Look at:  http://{host}:{port}{path}" for path in also),
        *notes,
        "Stop with Ctrl-C.",
    ]

    budget = settings.shutdown_seconds

    class _Announcing(uvicorn.Server):
        """Prints the addresses once the socket is bound, so they are the last lines; on a
        stop signal, ends the process within SGL_SHUTDOWN_SECONDS whatever is still running."""

        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if self.started:
                click.echo("\n".join(lines), err=True)

        def handle_exit(self, sig: int, frame: Any) -> None:
            if not self.should_exit:
                threading.Thread(
                    target=_exit_after, args=(budget,), name="shutdown-deadline", daemon=True
                ).start()
            super().handle_exit(sig, frame)

    app = create_app(container, run_consumer=consumer, run_sealer=sealer)
    tune_gc()
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        h11_max_incomplete_event_size=MAX_HEADER_BYTES,
        # Requests still running get a third of the budget; the rest closes the log.
        timeout_graceful_shutdown=max(1, budget // 3),
    )
    # uvicorn shuts down cleanly on a stop signal, then raises it again under the handler
    # that was there before: an interrupt, so that the caller closes the log (for SIGTERM the
    # default would end the process before the receipts are written).
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        with contextlib.suppress(KeyboardInterrupt):
            _Announcing(config).run()
    finally:
        signal.signal(signal.SIGTERM, previous)


def _interrupt(signum: int, frame: Any) -> None:
    """A stop signal, as Ctrl-C: unwinds to the caller, which closes what it opened."""
    raise KeyboardInterrupt


def _exit_after(seconds: float) -> None:
    """End the process if it is still shutting down after `seconds` (something is stuck)."""
    time.sleep(seconds)
    os.write(2, f"shutdown took over {seconds:g} s; exiting now\n".encode())
    os._exit(1)


@click.command()
@click.option("--host", default=None, help="Address to listen on (loopback by default).")
@click.option("--port", type=int, default=None, help="Port (SGL_HTTP_PORT, default 8000).")
@click.option("--serve/--no-serve", default=True, help="Serve the API after loading.")
@click.option(
    "--cases",
    type=int,
    default=300,
    show_default=True,
    help="Synthetic background cases to load beside Child A and Child B.",
)
@click.option(
    "--seed",
    type=int,
    default=2007,
    show_default=True,
    help="Seed of the background cases (the same seed gives the same cases).",
)
@click.option(
    "--verbose",
    is_flag=True,
    help="Log at SGL_LOG_LEVEL; by default only warnings, beside one line per step.",
)
@click.pass_context
def demo(
    ctx: click.Context,
    host: str | None,
    port: int | None,
    serve: bool,
    cases: int,
    seed: int,
    verbose: bool,
) -> None:
    """Load the demo (Child A, Child B and background cases; idempotent), bring the views up to
    date and, unless --no-serve, serve the API; the addresses are printed last.

    Example: sgl demo --cases 10000 --no-serve
    """
    settings = settings_of(ctx)
    host, port = host or settings.http_host, port or settings.http_port
    if serve:
        _check_port(host, port)
    if not verbose:
        from sgl.logs import configure_logging

        # The steps below print one line each; the consumers' per-item logs would bury them.
        configure_logging(replace(settings, log_level="warning"))
    from sgl.bootstrap import bootstrap
    from sgl.demo import CHILD_B_CASE, DEMO_CASE, demo_events, load_demo

    total = sum(1 for _ in demo_events(cases, seed))
    container = bootstrap(settings)
    try:
        with click.progressbar(length=total, label="loading the demo", file=sys.stderr) as bar:
            receipts = load_demo(container.ledger, cases, seed, progress=bar.update)
        added = sum(r.status == "accepted" for r in receipts)
        click.echo(
            f"Demo: cases {DEMO_CASE} (Child A) and {CHILD_B_CASE} (Child B), {cases} background "
            f"cases; {added} events added, {len(receipts) - added} already present.",
            err=True,
        )
        # Caught up either way: `sgl case` and the other reads answer from the views.
        _catch_up(container)
        notes = _token_lines(settings, f"http://{host}:{port}")
        if not serve:
            click.echo("\n".join(notes), err=True)
        if serve:
            _serve(
                container,
                host,
                port,
                consumer=True,
                also=(
                    f"/cases/{DEMO_CASE}?as_of=2007-07-25",
                    f"/v1/cases/{DEMO_CASE}",
                    f"/v1/cases/{DEMO_CASE}/alerts?as_of=2007-07-25",
                    f"/v1/cases/{CHILD_B_CASE}",
                    f"/v1/cases/{CHILD_B_CASE}/chronology",
                    "/v1/latency?as_of=2007-07-25",
                    "/v1/checkpoints/latest",
                ),
                notes=notes,
            )
    finally:
        container.close()


def _token_lines(settings: Settings, url: str) -> tuple[str, ...]:
    """The demo's token per role, where they are kept, and a read that uses one."""
    from sgl.authorize import purposes_of
    from sgl.demo import DEMO_CASE
    from sgl.demo.tokens import demo_tokens, tokens_file
    from sgl.identity import PURPOSE_HEADER

    tokens = demo_tokens(settings)
    purpose = purposes_of(settings)[0]
    inquiry = next(t for t in tokens if t.role == "inquiry")
    return (
        f"  Tokens:   one per role, also in {tokens_file(settings).resolve()} (mode 0600)",
        *(f"    {t.role:<12} {t.agency:<28} {t.token}" for t in tokens),
        f"  Try:      curl -H 'Authorization: Bearer {inquiry.token}' "
        f"-H '{PURPOSE_HEADER}: {purpose}' {url}/v1/cases/{DEMO_CASE}",
    )


def _catch_up(container: Container, timeout: float = 900.0) -> None:
    """Bring every view up to date before serving, one line per view."""
    started = time.monotonic()
    applied = container.runner().run_until_caught_up(timeout)
    click.echo(
        f"Case view: {applied} events applied in {time.monotonic() - started:.1f} s.", err=True
    )
    for follower in container.followers():
        started = time.monotonic()
        feed_before = sum(container.alerts_log.end_offsets().values())
        refreshed = follower.run_until_caught_up(timeout)
        raised = sum(container.alerts_log.end_offsets().values()) - feed_before
        what = f", {raised} alerts raised" if follower.name == "alerts" else ""
        click.echo(
            f"View {follower.name}: {refreshed} case refreshes{what} "
            f"in {time.monotonic() - started:.1f} s.",
            err=True,
        )
    started = time.monotonic()
    sealed = container.sealer().run_until_caught_up(timeout)
    click.echo(
        f"Sealed {sealed} records and signed a checkpoint in {time.monotonic() - started:.1f} s.",
        err=True,
    )
    container.access_sealer().run_until_caught_up(timeout)
    container.access_indexer().run_until_caught_up(timeout)
    container.notes_indexer().run_until_caught_up(timeout)


@click.command()
@click.option(
    "--only",
    type=click.Choice(CONSUMERS),
    multiple=True,
    help="Run only these consumers (repeat the option); default: all of them.",
)
@click.pass_context
def consume(ctx: click.Context, only: tuple[str, ...]) -> None:
    """Run the consumers until interrupted (SIGINT or SIGTERM): the case-state view, then,
    behind it, the clock view and the alerter (unless SGL_ALERTER=off), the sealer, the
    access log's sealer and index by case, and the inquiry notes' index by case. Each
    has its own tracked position, so each may run in a process of its own. When one stops on
    an error, the others are stopped and the command exits 1 naming it.

    Example: SGL_BACKEND=kafka sgl consume --only alerts
    """
    from sgl.bootstrap import CASE_STATE, bootstrap

    container = bootstrap(settings_of(ctx))
    # Only the chosen loops are built: the sealer creates a signing key when there is none.
    loops: list[Any] = [container.runner()] if not only or CASE_STATE in only else []
    loops += [f for f in container.followers() if not only or f.name in only]
    if not only or "seal" in only:
        loops.append(container.sealer())
    if not only or "access_seal" in only:
        loops.append(container.access_sealer())
    if not only or "access_index" in only:
        loops.append(container.access_indexer())
    if not only or "notes_index" in only:
        loops.append(container.notes_indexer())
    try:
        _run_loops(container, loops)
    finally:
        container.close()


def _run_loops(container: Container, loops: list[Any]) -> None:
    """Run consumer loops, each in a thread, until SIGINT or SIGTERM, their metrics served on
    SGL_METRICS_HOST:SGL_METRICS_PORT; when one stops on an error, stop the others and exit 1
    naming it."""
    from sgl.bootstrap import tune_gc
    from sgl.metrics import loop_metrics, metrics_endpoint

    # As the API process does: a consumer's batches otherwise set off full collections over
    # everything the process holds, about a quarter of its CPU.
    tune_gc()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    failed: list[str] = []

    def run(loop: Any) -> None:
        try:
            loop.run_resilient(stop)
        except Exception:
            # run_resilient logged it (consumer.failed); a process running part of its
            # consumers would look healthy to its supervisor, so all of them stop.
            failed.append(loop.name)
            stop.set()

    threads = {
        loop.name: threading.Thread(target=run, args=(loop,), name=loop.name) for loop in loops
    }
    settings = container.settings
    metrics = loop_metrics(container, loops, threads)
    with metrics_endpoint(metrics, settings.metrics_host, settings.metrics_port):
        try:
            for thread in threads.values():
                thread.start()
            while any(t.is_alive() for t in threads.values()) and not stop.wait(0.5):
                pass
        finally:
            stop.set()
            for thread in threads.values():
                thread.join()
    if failed:
        raise click.ClickException(
            f"consumer {', '.join(failed)} stopped on an error (logged as consumer.failed); "
            "the other consumers were stopped"
        )


@click.command()
@click.argument("file", type=click.File("r"))
@click.option("--url", default=None, help="The ledger's base URL (default: SGL_URL).")
@click.option("--atomic", is_flag=True, help="All lines or none: one batch, nothing if any is bad.")
@click.option("--batch-size", type=int, default=500, show_default=True, help="Lines per request.")
@click.option("--json", "as_json", is_flag=True, help="Print each line's result as JSON.")
@token_option
@click.pass_context
def publish(
    ctx: click.Context,
    file: Any,
    url: str | None,
    atomic: bool,
    batch_size: int,
    as_json: bool,
    token: str | None,
) -> None:
    """Publish a JSON-lines file of events: a result per line, then a summary naming the
    ledger written to.

    Without --atomic, invalid lines are reported and every valid line is appended; with it,
    one invalid line means nothing is appended. Exits 1 if any line was not appended. The
    token (SGL_TOKEN) is a publisher's, and every line's agency must be its agency.

    Example: SGL_URL=http://127.0.0.1:8000 sgl publish events.jsonl --atomic
    """
    from ledger.client import LedgerClient
    from sgl.encoding import dumps
    from sgl.publish import LineResult, parse_lines
    from sgl.publish import publish as publish_events

    settings = settings_of(ctx)
    if url is not None:
        settings = replace(settings, url=url)
        settings.check()
    target = settings.url
    events, bad = parse_lines(file.read().splitlines())
    if atomic and bad:
        results = bad + [
            LineResult(n, "not-sent", "--atomic: another line is invalid") for n, _ in events
        ]
    else:
        with (
            LedgerClient(target, token or None) as client,
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
    click.echo(f"ledger: {_describe(target)}", err=True)
    if counts["invalid"] or counts["not-sent"]:
        sys.exit(1)


def _describe(url: str) -> str:
    """The ledger at this address, with its backend and topic if its readiness check says."""
    import httpx

    try:
        ready = httpx.get(url.rstrip("/") + "/readyz", timeout=2).json()
        return f"{url} ({ready['backend']} backend, topic {ready['topic']})"
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        return f"{url} (its backend did not say)"
