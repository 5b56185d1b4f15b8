"""`sgl access-log CASE`: who read a child's record, when, why, and with what outcome."""

from __future__ import annotations

import click

from sgl.cli_context import settings_of
from sgl.encoding import dumps


@click.command("access-log")
@click.argument("case_id")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv", "fhir"]),
    default="table",
    show_default=True,
    help="How to print it: fhir is a FHIR R4 Bundle of IHE BALP AuditEvents.",
)
@click.pass_context
def access_log(ctx: click.Context, case_id: str, fmt: str) -> None:
    """Print every read of the case's data on the record (no cap), oldest first: the caller
    (agency, role, person, token id), purpose, route, parameters and status, as the
    access-log route answers. Reads this data directory's access log index, and exits 1
    without a report while the index has not taken in every access record.

    Example: sgl access-log CASE-A0001 --format csv
    """
    from sgl.access_report import AccessLogBehind, access_csv, access_fhir, access_report
    from sgl.bootstrap import access_index_of, build_log
    from sgl.cli_read import table

    settings = settings_of(ctx)
    index = access_index_of(settings)
    log = build_log(settings, "access")
    try:
        report = access_report(index, log, case_id, wait=0.0)
    except AccessLogBehind as behind:
        raise click.ClickException(
            f"no report: {behind.missing} access record(s) are not yet indexed, so it would "
            "miss reads (run `sgl consume --only access_index`, or wait for `sgl serve`'s)"
        ) from behind
    finally:
        log.close()
        index.close()
    if fmt == "json":
        click.echo(dumps(report).decode())
    elif fmt == "fhir":
        click.echo(dumps(access_fhir(report)).decode())
    elif fmt == "csv":
        click.echo(access_csv(report), nl=False)
    else:
        table(
            [
                {
                    "recorded_at": r["recorded_at"],
                    "agency": r["caller"]["agency"],
                    "role": r["caller"]["role"],
                    "purpose": r["purpose"],
                    "route": r["route"],
                    "status": r["outcome"]["status"],
                }
                for r in report["records"]
            ],
            ["recorded_at", "agency", "role", "purpose", "route", "status"],
        )
