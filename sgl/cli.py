"""The `sgl` command: parses arguments and calls the library; nothing else."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from ledger.settings import Settings
from projections.as_of import Basis
from sgl.cli_serve import PROJECTIONS
from sgl.responses import dumps


def _settings(ctx: click.Context) -> Settings:
    settings: Settings = ctx.obj
    return settings


_as_of = click.option(
    "--as-of",
    default=None,
    help="As it stood then: YYYY-MM-DD (end of that day, UTC) or RFC 3339.",
)


def _format_of(*choices: str) -> Callable[[Any], Any]:
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(list(choices)),
        default=choices[0],
        show_default=True,
        help="How to print it.",
    )


_format = _format_of("table", "json", "csv")
_basis = click.option(
    "--basis",
    type=click.Choice(["recorded", "appended"]),
    default="recorded",
    show_default=True,
    help="recorded_at <= as-of, or what the ledger held then.",
)


def _moment(text: str | None, hint: str) -> datetime | None:
    """A date option as an instant (a date is the end of that day, UTC), or a usage error."""
    from projections.as_of import cutoff

    try:
        return None if text is None else cutoff(text)
    except ValueError:
        raise click.BadParameter("YYYY-MM-DD or RFC 3339", param_hint=hint) from None


def _as_of_or_now(as_of: str | None) -> datetime:
    """The --as-of option as an instant; now when it is not given."""
    return _moment(as_of, "--as-of") or datetime.now(UTC)


def _basis_of(basis: str) -> Basis:
    return "appended" if basis == "appended" else "recorded"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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
@click.argument("case_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@_as_of
@_basis
@click.pass_context
def case(ctx: click.Context, case_id: str, as_json: bool, as_of: str | None, basis: str) -> None:
    """Show the state of a case, now or as it stood on a date.

    Example: sgl case CASE-A0001 --as-of 2007-07-25 --json
    """
    from sgl.bootstrap import open_view

    view = open_view(_settings(ctx))
    try:
        if as_of is None:
            state = view.get(case_id)
        else:
            moment = _moment(as_of, "--as-of")
            assert moment is not None
            state = view.state_as_of(case_id, moment, _basis_of(basis))
    finally:
        view.datastore.close()
    if state is None:
        when = f" as of {as_of}" if as_of else ""
        click.echo(f"no case {case_id!r} in the view{when}", err=True)
        sys.exit(1)
    if as_json:
        click.echo(dumps(state).decode())
        return
    for name, value in _rows(state):
        click.echo(f"{name:28} {value}")


@cli.command()
@click.argument("case_id")
@_as_of
@_basis
@click.option("--agency", multiple=True, help="Only this agency (repeatable).")
@click.option("--type", "types", multiple=True, help="Only this event type (repeatable).")
@click.option("--from", "start", default=None, help="Occurred on or after this date.")
@click.option("--to", "end", default=None, help="Occurred on or before this date.")
@_format
@click.pass_context
def chronology(
    ctx: click.Context,
    case_id: str,
    as_of: str | None,
    basis: str,
    agency: tuple[str, ...],
    types: tuple[str, ...],
    start: str | None,
    end: str | None,
    fmt: str,
) -> None:
    """The multi-agency chronology of a case, ordered by when things happened.

    Example: sgl chronology CASE-A0001 --as-of 2007-07-25 --agency met-police --format csv
    """
    from projections.chronology import as_csv
    from projections.chronology import chronology as build
    from sgl.bootstrap import open_view

    view = open_view(_settings(ctx))
    try:
        events = view.events(case_id)
    finally:
        view.datastore.close()
    if not events:
        click.echo(f"no case {case_id!r} in the view", err=True)
        sys.exit(1)
    rows = build(
        events,
        _as_of_or_now(as_of),
        _basis_of(basis),
        agency,
        types,
        _moment(start, "--from"),
        _moment(end, "--to"),
    )
    if fmt == "csv":
        click.echo(as_csv(rows), nl=False)
    elif fmt == "json":
        click.echo(dumps(rows).decode())
    else:
        for row in rows:
            mark = "~" if row["occurred_approximate"] else " "
            status = "" if row["status"] == "as-recorded" else f" [{row['status']}]"
            click.echo(
                f"{row['occurred_at'][:16]}{mark} {row['agency']:30} {row['summary']}"
                f" (+{row['recording_lag_days']}d){status}"
            )


@cli.command()
@click.argument("case_id")
@_as_of
@_basis
@_format
@click.pass_context
def clocks(ctx: click.Context, case_id: str, as_of: str | None, basis: str, fmt: str) -> None:
    """Statutory and local clocks of a case, as of a date: open, met or breached.

    The clocks come from the policy file (SGL_CLOCK_POLICY, default policies/clocks.toml),
    whose version is printed with them.

    Example: sgl clocks CASE-A0001 --as-of 2007-07-25
    """
    from projections.clocks import clock_runs
    from sgl.bootstrap import clock_policy_of
    from sgl.routes_clocks import as_csv

    settings = _settings(ctx)
    policy = clock_policy_of(settings)
    moment = _as_of_or_now(as_of)
    events = _case_events(settings, case_id)
    runs = [r.as_dict() for r in clock_runs(events, moment, policy, _basis_of(basis))]
    if fmt == "csv":
        click.echo(as_csv(runs), nl=False)
    elif fmt == "json":
        click.echo(dumps({"policy": policy.version, "clocks": runs}).decode())
    else:
        click.echo(f"clock policy {policy.version}: {policy.title}")
        _print_table(
            runs,
            fmt,
            ("status", "clock", "started_at", "stopped_at", "deadline", "working_days", "limit"),
        )


@cli.command()
@click.argument("case_id", required=False)
@click.option(
    "--by",
    type=click.Choice(["clock", "agency", "case"]),
    default="clock",
    show_default=True,
    help="Group the clock runs by clock, by the agency that started them, or by case.",
)
@_as_of
@_basis
@_format
@click.pass_context
def latency(
    ctx: click.Context, case_id: str | None, by: str, as_of: str | None, basis: str, fmt: str
) -> None:
    """Decision latency against the clocks: runs, met, breached, open, working days to stop
    (median, p90, max) and each breach, for one case or (without CASE_ID) the whole ledger.

    Example: sgl latency --by agency --as-of 2007-07-25 --format csv
    """
    from projections.clocks import clock_runs
    from projections.latency import GroupBy, latency_report
    from sgl.bootstrap import clock_policy_of, open_clocks, open_view
    from sgl.routes_clocks import latency_csv

    settings = _settings(ctx)
    policy = clock_policy_of(settings)
    moment = _as_of_or_now(as_of)
    groups: dict[str, GroupBy] = {"clock": "clock", "agency": "agency", "case": "case"}
    group = groups[by]
    view = open_view(settings)
    clocks = open_clocks(settings, policy)
    try:
        if case_id is None:
            found = clocks.ledger_runs(view, moment, _basis_of(basis))
        else:
            runs = clock_runs(view.events(case_id), moment, policy, _basis_of(basis))
            found = iter([(case_id, [r.row() for r in runs])])
        rows = latency_report(found, group)
    finally:
        view.datastore.close()
        clocks.datastore.close()
    if fmt == "csv":
        click.echo(latency_csv(rows, group), nl=False)
    elif fmt == "json":
        click.echo(dumps({"policy": policy.version, "groups": rows}).decode())
    else:
        click.echo(f"clock policy {policy.version}: {policy.title}")
        _print_table(
            rows,
            fmt,
            (group, "runs", "met", "breached", "open", "median_working_days", "max_working_days"),
        )


@cli.command()
@click.argument("case_id", required=False)
@_as_of
@_basis
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--csv", "as_csv", is_flag=True, help="Ledger-wide only: one CSV row per rule.")
@click.pass_context
def alerts(
    ctx: click.Context,
    case_id: str | None,
    as_of: str | None,
    basis: str,
    as_json: bool,
    as_csv: bool,
) -> None:
    """What the threshold rules find in a case, as of a date: evidence, when each fired, and
    its answer or how long it has gone unanswered. Without CASE_ID, per rule across the
    ledger: findings, answered, unanswered, and days to answer (median, p90, max).

    The rules come from the policy file (SGL_RULE_POLICY, default policies/rules.toml).

    Example: sgl alerts CASE-A0001 --as-of 2007-07-25
    """
    from projections.rules import evaluate
    from sgl.bootstrap import rule_policy_of

    settings = _settings(ctx)
    policy = rule_policy_of(settings)
    moment = _as_of_or_now(as_of)
    if case_id is None:
        _ledger_alerts(settings, policy, moment, _basis_of(basis), as_json, as_csv)
        return
    events = _case_events(settings, case_id)
    found = [f.as_dict(moment) for f in evaluate(events, moment, policy, _basis_of(basis))]
    if as_json:
        click.echo(dumps({"policy": policy.version, "alerts": found}).decode())
        return
    click.echo(f"rule policy {policy.version}: {policy.title}")
    for f in found:
        state = (
            f"answered after {f['days_to_answer']} days ({f['response']})"
            if f["answered"]
            else f"UNANSWERED for {f['days_unanswered']} days"
        )
        click.echo(f"  {f['fired_at'][:10]} {f['rule']:28} {state}: {f['summary']}")


@cli.command("who-knew")
@click.argument("case_id", required=False)
@click.option("--agency", default=None, help="The agency (default: the case's lead agency).")
@click.option(
    "--show",
    type=click.Choice(["knowledge", "matrix", "gaps", "time-to-share"]),
    default="gaps",
    show_default=True,
    help="What the agency knew, facts x agencies, what it did not know, or delays per pair.",
)
@_as_of
@_basis
@_format_of("table", "json")
@click.pass_context
def who_knew(
    ctx: click.Context,
    case_id: str | None,
    agency: str | None,
    show: str,
    as_of: str | None,
    basis: str,
    fmt: str,
) -> None:
    """Who knew what, and when: knowledge of a case's facts by agency, as of a date.

    Without CASE_ID, --show time-to-share pools every case in the ledger.

    Example: sgl who-knew CASE-A0001 --show gaps --agency police-north --as-of 2007-07-25
    """
    from projections.knowledge import knowledge, time_to_share
    from sgl.bootstrap import open_view

    moment = _as_of_or_now(as_of)
    view = open_view(_settings(ctx))
    try:
        if case_id is None:
            if show != "time-to-share":
                raise click.UsageError("CASE_ID is needed unless --show time-to-share")
            pairs = time_to_share(
                knowledge(view.events(c), moment, _basis_of(basis)).delays()
                for c in view.all_case_ids()
            )
            _print_table(
                pairs,
                fmt,
                ("from_agency", "to_agency", "count", "median_days", "p90_days", "max_days"),
            )
            return
        found = knowledge(view.events(case_id), moment, _basis_of(basis))
    finally:
        view.datastore.close()
    if not found.facts:
        click.echo(f"no case {case_id!r} in the view by then", err=True)
        sys.exit(1)
    chosen = agency or found.lead_agency
    if chosen is None and show in ("knowledge", "gaps"):
        raise click.UsageError("the case has no lead agency by then: name one with --agency")
    chosen = chosen or ""
    if show == "knowledge":
        rows = found.of_agency(chosen)
        _print_table(rows, fmt, ("since", "via", "recorded_by_agency", "type", "summary"))
    elif show == "gaps":
        rows = found.gaps(chosen)
        people = found.people_gaps(chosen)
        if fmt == "json":
            click.echo(dumps({"agency": chosen, "facts": rows, "people": people}).decode())
            return
        click.echo(f"Known elsewhere but not to {chosen}:")
        _print_table(
            rows,
            fmt,
            ("first_known_at", "first_known_by", "known_elsewhere_days", "type", "summary"),
        )
        click.echo(f"People in the household never recorded by {chosen}:")
        _print_table(
            people,
            fmt,
            (
                "person_id",
                "role",
                "first_known_by",
                "first_known_at",
                "known_elsewhere_days",
                "told_at",
            ),
        )
    elif show == "matrix":
        _print_matrix(found.matrix(), fmt)
    else:
        _print_table(
            time_to_share([found.delays()]),
            fmt,
            ("from_agency", "to_agency", "count", "median_days", "p90_days", "max_days"),
        )


def _ledger_alerts(
    settings: Settings, policy: Any, moment: datetime, basis: Basis, as_json: bool, as_csv: bool
) -> None:
    from projections.rules import alert_report, evaluate
    from sgl.bootstrap import open_view
    from sgl.routes_clocks import alerts_csv

    view = open_view(settings)
    try:
        rows = alert_report(
            ((c, evaluate(view.events(c), moment, policy, basis)) for c in view.all_case_ids()),
            moment,
        )
    finally:
        view.datastore.close()
    if as_csv:
        click.echo(alerts_csv(rows), nl=False)
    elif as_json:
        click.echo(dumps({"policy": policy.version, "rules": rows}).decode())
    else:
        click.echo(f"rule policy {policy.version}: {policy.title}")
        _print_table(
            rows,
            "table",
            (
                "rule",
                "alerts",
                "answered",
                "unanswered",
                "median_days_to_answer",
                "max_days_to_answer",
            ),
        )


def _case_events(settings: Settings, case_id: str) -> list[Any]:
    """The case's events from the view, or exit 1 saying there is no such case."""
    from sgl.bootstrap import open_view

    view = open_view(settings)
    try:
        events: list[Any] = view.events(case_id)
    finally:
        view.datastore.close()
    if not events:
        click.echo(f"no case {case_id!r} in the view", err=True)
        sys.exit(1)
    return events


def _print_matrix(matrix: dict[str, Any], fmt: str) -> None:
    if fmt == "json":
        click.echo(dumps(matrix).decode())
        return
    codes = {a: chr(ord("A") + i) for i, a in enumerate(matrix["agencies"])}
    for name, code in codes.items():
        click.echo(f"  {code} = {name}")
    click.echo(f"{'recorded':10} {'type':22} " + " ".join(codes.values()))
    for fact in matrix["facts"]:
        marks = " ".join(
            (_VIA[fact["known"][a]["via"]] if a in fact["known"] else ".") for a in codes
        )
        click.echo(f"{fact['recorded_at'][:10]} {fact['type']:22} {marks}")
    click.echo(", ".join(f"{mark} {via}" for via, mark in _VIA.items()) + ", . not known")


_VIA = {
    "recorded": "R",
    "shared": "S",
    "referral": "F",
    "meeting": "M",
    "alert": "A",
    "acknowledged": "K",
}


def _print_table(rows: list[dict[str, Any]], fmt: str, columns: tuple[str, ...]) -> None:
    if fmt == "json":
        click.echo(dumps(rows).decode())
        return
    if not rows:
        click.echo("  (none)")
    for row in rows:
        click.echo("  " + "  ".join(str(row[c] if row[c] is not None else "-") for c in columns))


def _rows(state: Any) -> list[tuple[str, str]]:
    from dataclasses import asdict

    shown: dict[str, Callable[[dict[str, Any]], str]] = {
        "latest_decisions": lambda d: (
            f"{d['occurred_at'][:10]} {d['decision_type']}={d['outcome']}"
        ),
        "people": lambda p: (
            f"{p['person_id']} ({p['role']}"
            f"{', verified' if p['identity_verified'] else ', NOT verified'}"
            f"{', in household' if p['in_household'] else ''}; "
            f"linked by {p['linked_by']})"
        ),
        "open_items": lambda i: f"{i['kind']} {i['id']} since {i['since'][:10]}",
    }
    rows = []
    for name, value in asdict(state).items():
        if name in shown:
            text = "; ".join(shown[name](item) for item in value)
        elif name == "plan" and value:
            text = f"{value['plan_id']} {value['category']} from {value['start_date']}"
        elif isinstance(value, (list, tuple)):
            text = ", ".join(value)
        else:
            text = "" if value is None else str(value)
        rows.append((name, text or "-"))
    return rows


def main() -> None:
    """Entry point of the `sgl` console script: ledger errors are one line, not a traceback."""
    from ledger.errors import LedgerError

    try:
        cli()
    except LedgerError as exc:
        click.echo(f"sgl: {type(exc).__name__}: {exc}", err=True)
        sys.exit(2)


def _add_commands() -> None:
    from sgl.cli_integrity import keys, proof, verify
    from sgl.cli_serve import consume, demo, publish, serve

    for command in (serve, demo, consume, publish, keys, verify, proof):
        cli.add_command(command)


_add_commands()
