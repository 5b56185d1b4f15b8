"""The read commands: each asks the query the matching route asks, and prints its document
(`--json`), a table with a header row, or CSV."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from sgl.cli_context import settings_of
from sgl.encoding import dumps

if TYPE_CHECKING:
    from sgl.queries import Document, Stores

Command = Callable[..., Any]

_as_of = click.option(
    "--as-of",
    default=None,
    help="As it stood then: YYYY-MM-DD (end of that day, UTC) or RFC 3339.",
)
_started_from = click.option(
    "--from", "start", default=None, help="Only runs started on or after this date (its start)."
)
_started_to = click.option(
    "--to", "end", default=None, help="Only runs started on or before this date (its end)."
)
_basis = click.option(
    "--basis",
    type=click.Choice(["recorded", "appended"]),
    default="recorded",
    show_default=True,
    help="recorded_at <= as-of, or what the ledger held then.",
)


def _output(*formats: str) -> Callable[[Command], Command]:
    """--format FORMAT, --json (the route's document) and, where CSV is offered, --csv: the
    command receives the one chosen as `fmt`."""

    def wrap(command: Command) -> Command:
        @functools.wraps(command)
        def chosen(*args: Any, fmt: str, as_json: bool, as_csv: bool = False, **kw: Any) -> Any:
            if as_json and as_csv:
                raise click.UsageError("--json and --csv: choose one")
            return command(*args, fmt="json" if as_json else "csv" if as_csv else fmt, **kw)

        options = [
            click.option(
                "--format",
                "fmt",
                type=click.Choice(list(formats)),
                default=formats[0],
                show_default=True,
                help="How to print it.",
            ),
            click.option(
                "--json", "as_json", is_flag=True, help="Print the JSON document the API answers."
            ),
        ]
        if "csv" in formats:
            options.append(click.option("--csv", "as_csv", is_flag=True, help="Print CSV."))
        for option in reversed(options):
            chosen = option(chosen)
        return chosen

    return wrap


def _read(ctx: click.Context, query: Callable[[Stores], Any]) -> Any:
    """What the query answers over this data directory's stores (opened for it alone)."""
    from sgl.queries import LocalStores

    with LocalStores(settings_of(ctx)) as stores:
        return query(stores)


def _json(document: Any) -> None:
    click.echo(dumps(document).decode())


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    """Rows as columns aligned under a header row (None shows as -); (none) when empty."""
    cells = [[_cell(row[c]) for c in columns] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    for line in [list(columns), *cells]:
        click.echo("  " + "  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip())
    if not rows:
        click.echo("  (none)")


def _cell(value: Any) -> str:
    return "-" if value is None else str(value)


def _print(
    document: Any,
    fmt: str,
    rows: Sequence[dict[str, Any]],
    columns: Sequence[str],
    as_csv: Callable[[Document], str] | None = None,
    title: str | None = None,
) -> None:
    """The document as JSON, as CSV (the title on standard error, so that standard output
    is the CSV alone), or the rows as a table under an optional title line."""
    if fmt == "json":
        _json(document)
    elif fmt == "csv" and as_csv is not None:
        if title is not None:
            click.echo(title, err=True)
        click.echo(as_csv(document), nl=False)
    else:
        if title is not None:
            click.echo(title)
        table(rows, columns)


def _policy(kind: str, document: Document) -> str:
    return f"{kind} policy {document['policy']['version']}: {document['policy']['title']}"


def _measures(document: Document) -> str:
    """The clock policy, where the data end and what open runs are measured to."""
    measured_to = document["measured_to"] or "each case's own data end"
    return (
        f"{_policy('clock', document)}\n"
        f"data end {document['data_end'] or '-'}; open runs measured to {measured_to}"
    )


@click.command()
@click.argument("case_id")
@_as_of
@_basis
@_output("table", "json")
@click.pass_context
def case(ctx: click.Context, case_id: str, as_of: str | None, basis: Any, fmt: str) -> None:
    """Show the state of a case, now or as it stood on a date.

    Example: sgl case CASE-A0001 --as-of 2007-07-25 --json
    """
    from sgl import queries

    state = _read(ctx, lambda s: queries.case_document(s, case_id, as_of, basis))
    if fmt == "json":
        _json(state)
        return
    for name, value in _rows(state):
        click.echo(f"{name:32} {value}")


@click.command()
@click.argument("case_id")
@_as_of
@_basis
@_output("table", "json")
@click.pass_context
def sightings(ctx: click.Context, case_id: str, as_of: str | None, basis: Any, fmt: str) -> None:
    """Who last saw the child, as of a date: each agency (statutory or not) and each source
    that told an agency, and whole days since a statutory agency last saw the child.

    Example: sgl sightings CASE-A0001 --as-of 2007-07-25
    """
    from sgl import queries

    found = _read(ctx, lambda s: queries.case_sightings(s, case_id, as_of, basis))
    if fmt == "json":
        _json(found)
        return
    last = found["last_seen_by_statutory_agency"]
    if last is None:
        click.echo("No sighting by an agency registered as statutory.")
    else:
        click.echo(
            f"Last seen by a statutory agency: {last['last_seen_at'][:16]} by "
            f"{last['name'] or last['agency']}"
            f" ({found['days_unseen']} days unseen)"
        )
    rows = [
        {**s, "agency": s["name"] or s["agency"], "statutory": _yes_no(s["statutory"])}
        for s in found["by_agency"]
    ]
    table(rows, ("last_seen_at", "agency", "statutory", "role", "seen_alone"))
    click.echo("Seen by sources, who told an agency:")
    table(found["by_source"], ("last_seen_at", "kind", "person_id", "reported_to"))


def _yes_no(value: bool | None) -> str:
    return "not registered" if value is None else "yes" if value else "no"


@click.command()
@click.argument("case_id")
@_as_of
@_basis
@_output("table", "json")
@click.pass_context
def history(ctx: click.Context, case_id: str, as_of: str | None, basis: Any, fmt: str) -> None:
    """Every event of a case known by a date, in log order and exactly as recorded, with its
    status (as-recorded, corrected, retracted) and the amendments known by then.

    Example: sgl history CASE-A0001 --as-of 2007-07-25
    """
    from sgl import queries

    found = _read(ctx, lambda s: queries.case_history(s, case_id, as_of, basis))
    _print(
        found,
        fmt,
        found["entries"],
        ("position", "recorded_at", "occurred_at", "agency", "type", "status", "event_id"),
    )


@click.command()
@click.argument("case_id")
@click.option("--from", "start", required=True, help="Recorded after this date.")
@click.option("--to", "end", required=True, help="And recorded on or before this date.")
@_output("table", "json")
@click.pass_context
def changes(ctx: click.Context, case_id: str, start: str, end: str, fmt: str) -> None:
    """What was recorded in a case between two dates: entries added, and the corrections and
    retractions (each with what it amends).

    Example: sgl changes CASE-A0001 --from 2007-07-01 --to 2007-07-31
    """
    from sgl import queries

    found = _read(ctx, lambda s: queries.case_changes(s, case_id, start, end))
    rows = [
        {"change": kind, **entry}
        for kind in ("added", "corrected", "retracted")
        for entry in found[kind]
    ]
    _print(found, fmt, rows, ("change", "recorded_at", "agency", "type", "event_id", "summary"))


@click.command()
@click.argument("case_id")
@_as_of
@_basis
@click.option("--agency", multiple=True, help="Only this agency (repeatable).")
@click.option("--type", "types", multiple=True, help="Only this event type (repeatable).")
@click.option(
    "--from", "start", default=None, help="Occurred on or after this date (a day: its start)."
)
@click.option("--to", "end", default=None, help="Occurred on or before this date.")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    help="With --format xlsx: the workbook file to write.",
)
@_output("table", "json", "csv", "xlsx")
@click.pass_context
def chronology(
    ctx: click.Context,
    case_id: str,
    as_of: str | None,
    basis: Any,
    agency: tuple[str, ...],
    types: tuple[str, ...],
    start: str | None,
    end: str | None,
    output: str | None,
    fmt: str,
) -> None:
    """The multi-agency chronology of a case, ordered by when things happened; with
    --format xlsx, written as a workbook (agencies by name, dates as dates, the text as
    recorded, lags and status) to --output.

    Example: sgl chronology CASE-A0001 --as-of 2007-07-25 --type referral.made --format csv
    """
    from sgl import queries

    if (fmt == "xlsx") != (output is not None):
        raise click.UsageError("--format xlsx and --output FILE go together")
    if output is not None:
        from sgl.exports import chronology_workbook

        book = _read(
            ctx,
            lambda s: chronology_workbook(s, case_id, as_of, basis, agency, types, start, end),
        )
        Path(output).write_bytes(book)
        click.echo(f"wrote {output}", err=True)
        return
    found = _read(
        ctx,
        lambda s: queries.case_chronology(s, case_id, as_of, basis, agency, types, start, end),
    )
    rows = [
        {
            **row,
            "lag_days": ""
            if row["recording_lag_days"] is None
            else f"+{row['recording_lag_days']}",
            "agency": row["agency_name"],
        }
        for row in found["events"]
    ]
    columns = ("occurred", "agency", "lag_days", "status", "summary")
    _print(found, fmt, rows, columns, queries.chronology_csv)


@click.command()
@click.argument("case_id")
@_as_of
@_basis
@_output("table", "json", "csv")
@click.pass_context
def clocks(ctx: click.Context, case_id: str, as_of: str | None, basis: Any, fmt: str) -> None:
    """Statutory and local clocks of a case, as of a date: open, met or breached.

    The clocks come from the policy file (SGL_CLOCK_POLICY, default policies/clocks.toml),
    whose version is printed with them, with where the case's data end and what open runs
    are measured to (on standard error with --format csv).

    Example: sgl clocks CASE-A0001 --as-of 2007-07-25
    """
    from sgl import queries

    found = _read(ctx, lambda s: queries.clocks(s, case_id, as_of, basis))
    columns = ("status", "clock", "started_at", "stopped_at", "deadline", "working_days", "limit")
    _print(found, fmt, found["clocks"], columns, queries.clocks_csv, _measures(found))


@click.command()
@click.argument("case_id", required=False)
@click.option(
    "--by",
    type=click.Choice(["clock", "agency", "kind", "area", "case"]),
    default="clock",
    show_default=True,
    help="Group the clock runs by clock, by the agency responsible for stopping them (as of "
    "their start; `unassigned` when none), by its kind, by the case's area then, or by case.",
)
@_as_of
@_basis
@_started_from
@_started_to
@_output("table", "json", "csv")
@click.pass_context
def latency(
    ctx: click.Context,
    case_id: str | None,
    by: Any,
    as_of: str | None,
    basis: Any,
    start: str | None,
    end: str | None,
    fmt: str,
) -> None:
    """Decision latency against the clocks: runs, met, breached, open, working days to stop
    (median, p90, max) and each breach, for one case or (without CASE_ID) the whole ledger.
    Open runs are measured to the --as-of date, or without one to where their own case's data
    end; where the data end and what open runs are measured to are printed first (on
    standard error with --format csv, so that standard output is the CSV alone).

    Example: sgl latency --by agency --as-of 2007-07-25 --format csv
    """
    from sgl import queries

    found = _read(ctx, lambda s: queries.latency(s, case_id, as_of, basis, by, None, start, end))
    columns = (by, "runs", "met", "breached", "open", "median_working_days", "max_working_days")
    _print(found, fmt, found["groups"], columns, queries.latency_csv, _measures(found))


@click.command()
@click.argument("case_id", required=False)
@click.option("--clock", default=None, help="Only this clock's runs (a name in the policy).")
@_as_of
@_basis
@_started_from
@_started_to
@_output("table", "json", "csv")
@click.pass_context
def audit(
    ctx: click.Context,
    case_id: str | None,
    clock: str | None,
    as_of: str | None,
    basis: Any,
    start: str | None,
    end: str | None,
    fmt: str,
) -> None:
    """Every clock run, one row each, for one case or (without CASE_ID) the whole ledger:
    the agency responsible for stopping it, its kind, the area, start, stop, deadline, working
    days, limit and outcome (met, breached or open). Open runs are measured to the --as-of
    date, or without one to where their own case's data end; where the data end and what open
    runs are measured to are printed first (on standard error with --format csv, so that
    standard output is the CSV alone).

    Example: sgl audit --clock referral_decision --as-of 2007-07-25 --format csv
    """
    from sgl import queries

    found = _read(ctx, lambda s: queries.audit(s, case_id, as_of, basis, clock, None, start, end))
    columns = (
        "case_id", "clock", "responsible", "started_at", "stopped_at", "working_days", "outcome",
    )  # fmt: skip
    _print(found, fmt, found["runs"], columns, queries.audit_csv, _measures(found))


@click.command()
@click.argument("case_id", required=False)
@_as_of
@_basis
@_output("table", "json", "csv")
@click.pass_context
def alerts(
    ctx: click.Context, case_id: str | None, as_of: str | None, basis: Any, fmt: str
) -> None:
    """What the threshold rules find in a case, as of a date: evidence, when each fired, and
    its answer or how long it has gone unanswered. Without CASE_ID, per rule across the
    ledger: findings, answered, unanswered, and days to answer (median, p90, max); CSV is
    for the ledger-wide report.

    The rules come from the policy file (SGL_RULE_POLICY, default policies/rules.toml).

    Example: sgl alerts CASE-A0001 --as-of 2007-07-25
    """
    from sgl import queries

    if case_id is not None and fmt == "csv":
        raise click.UsageError("CSV is for the ledger-wide report: leave out CASE_ID")
    found = _read(
        ctx,
        lambda s: (
            queries.ledger_alerts(s, as_of, basis)
            if case_id is None
            else queries.case_alerts(s, case_id, as_of, basis)
        ),
    )
    columns: Sequence[str] = queries.ALERT_COLUMNS
    rows = found.get("rules", [])
    if case_id is not None:
        rows = [
            {
                **f,
                "fired": f["fired_at"][:10],
                "state": f"answered after {f['days_to_answer']} days ({f['response']})"
                if f["answered"]
                else f"UNANSWERED for {f['days_unanswered']} days",
            }
            for f in found["alerts"]
        ]
        columns = ("fired", "rule", "state", "summary")
    _print(found, fmt, rows, columns, queries.alerts_csv, _policy("rule", found))


SHARE_COLUMNS = ("from_agency", "to_agency", "count", "median_days", "p90_days", "max_days")


@click.command("who-knew")
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
@_output("table", "json")
@click.pass_context
def who_knew(
    ctx: click.Context,
    case_id: str | None,
    agency: str | None,
    show: str,
    as_of: str | None,
    basis: Any,
    fmt: str,
) -> None:
    """Who knew what, and when: knowledge of a case's facts by agency, as of a date.

    Without CASE_ID, --show time-to-share pools every case in the ledger.

    Example: sgl who-knew CASE-A0001 --show matrix --as-of 2007-07-25
    """
    from sgl import queries

    if case_id is None and show != "time-to-share":
        raise click.UsageError("CASE_ID is needed unless --show time-to-share")
    ask: dict[str, Callable[[Stores], Document]] = {
        "knowledge": lambda s: queries.agency_knowledge(s, case_id or "", agency, as_of, basis),
        "matrix": lambda s: queries.matrix(s, case_id or "", as_of, basis),
        "gaps": lambda s: queries.gaps(s, case_id or "", agency, as_of, basis),
        "time-to-share": lambda s: (
            queries.ledger_time_to_share(s, as_of, basis)
            if case_id is None
            else queries.case_time_to_share(s, case_id, as_of, basis)
        ),
    }
    found = _read(ctx, ask[show])
    if fmt == "json":
        _json(found)
    elif show == "knowledge":
        columns = ("since", "via", "recorded_by_agency", "type", "summary")
        _print(found, fmt, found["facts"], columns, title=f"What {found['agency']} knew:")
    elif show == "gaps":
        click.echo(f"Known elsewhere but not to {found['agency']}:")
        table(
            found["facts"],
            (
                "first_known_at",
                "first_known_by",
                "known_elsewhere_days",
                "withheld",
                "type",
                "summary",
            ),
        )
        click.echo(f"People in the household never recorded by {found['agency']}:")
        table(
            found["people"],
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
        _print_matrix(found)
    else:
        table(found["pairs"], SHARE_COLUMNS)


def _print_matrix(matrix: Document) -> None:
    codes = {a: chr(ord("A") + i) for i, a in enumerate(matrix["agencies"])}
    for name, code in codes.items():
        click.echo(f"  {code} = {name}")
    click.echo(f"{'recorded':10} {'type':22} " + " ".join(codes.values()))
    for fact in matrix["facts"]:
        marks = " ".join(_mark(fact, a) for a in codes)
        click.echo(f"{fact['recorded_at'][:10]} {fact['type']:22} {marks}")
    click.echo(
        ", ".join(f"{mark} {via}" for via, mark in _VIA.items())
        + ", W withheld (not known), . not known"
    )


def _mark(fact: dict[str, Any], agency: str) -> str:
    """How the agency knew the fact; W when it was withheld from it and not known."""
    if agency in fact["known"]:
        return _VIA[fact["known"][agency]["via"]]
    return "W" if agency in fact["withholdings"] else "."


_VIA = {
    "recorded": "R",
    "shared": "S",
    "referral": "F",
    "meeting": "M",
    "alert": "A",
    "acknowledged": "K",
}


def _rows(state: Document) -> list[tuple[str, str]]:
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
        "involvements": lambda i: (
            f"{i['agency']} {'open' if i['open'] else 'closed'}"
            f" ({len(i['episodes'])} episode{'' if len(i['episodes']) == 1 else 's'})"
        ),
        "leads": lambda x: f"{x['agency']} from {x['since'][:10]}",
        "areas": lambda x: f"{x['area']} from {x['since'][:10]}",
        "in_hospital": lambda e: f"{e['id']} since {e['since'][:10]} ({e['agency']})",
        "allegations_open": lambda e: f"{e['id']} {e['detail']} since {e['since'][:10]}",
        "incidents": lambda i: (
            f"{i['incident_type']} on {i['incident_date']}, notified to {i['notified_to']}"
        ),
        "conveyed": lambda c: (
            f"{c['occurred_at'][:10]} {c['kind']} {c['from_agency'] or c['source_kind']}"
            f" -> {c['to_agency']}: concern {c['concern']}"
            + (f" '{c['statement']}'" if c["statement"] else "")
        ),
    }
    rows = []
    for name, value in state.items():
        if name == "sightings":
            text = "; ".join(f"{s['agency']} {s['last_seen_at'][:10]}" for s in value["by_agency"])
        elif name in shown:
            text = "; ".join(shown[name](item) for item in value)
        elif name == "plan" and value:
            text = f"{value['plan_id']} {value['category']} from {value['start_date']}"
        elif isinstance(value, (list, tuple)):
            text = ", ".join(value)
        else:
            text = "" if value is None else str(value)
        rows.append((name, text or "-"))
    return rows


COMMANDS = (
    case, sightings, history, changes, chronology, clocks, latency, audit, alerts, who_knew,
)  # fmt: skip
