"""Statutory and local clocks of a case, as of any date, under the configured policy."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from ledger.envelope import Event
from projections.as_of import Basis, known_by
from projections.clocks import RunRow, clock_runs
from projections.latency import GroupBy, latency_report
from projections.rules import alert_report, evaluate
from sgl.bootstrap import Container
from sgl.responses import JSONBytes, problem_response
from sgl.routes_knowledge import AsOf, BasisQuery
from sgl.routes_read import as_of_moment

ALERT_COLUMNS = (
    "rule",
    "alerts",
    "answered",
    "unanswered",
    "median_days_to_answer",
    "p90_days_to_answer",
    "max_days_to_answer",
)
LATENCY_COLUMNS = (
    "runs",
    "met",
    "breached",
    "open",
    "median_working_days",
    "p90_working_days",
    "max_working_days",
)
CSV_COLUMNS = (
    "clock",
    "status",
    "limit",
    "started_at",
    "stopped_at",
    "deadline",
    "working_days",
    "calendar_days",
    "agency",
    "start_event",
    "stop_event",
)


def clocks_router(container: Container) -> APIRouter:
    """The clocks route over a wired container."""
    router = APIRouter()

    def case_at(
        case_id: str, as_of: str | None, basis: Basis
    ) -> tuple[list[Event], datetime] | Response:
        """The case's events and the moment asked about; a problem for a bad date or a case
        the ledger did not know by then."""
        moment = as_of_moment(as_of)
        if isinstance(moment, Response):
            return moment
        events = container.view.events(case_id)
        if not known_by(events, moment, basis):
            return problem_response(
                404, "not-found", "No such case", f"the ledger knew no case {case_id!r} by then"
            )
        return events, moment

    @router.get("/v1/cases/{case_id}/clocks", summary="Clocks of a case: open, met or breached")
    def get_clocks(
        case_id: str,
        as_of: AsOf = None,
        basis: BasisQuery = "recorded",
        format: Annotated[str, Query(pattern="^(json|csv)$")] = "json",
    ) -> Response:
        """Every run of every clock of the policy, with its start, stop, deadline and length."""
        found = case_at(case_id, as_of, basis)
        if isinstance(found, Response):
            return found
        events, moment = found
        policy = container.clock_policy
        runs = [r.as_dict() for r in clock_runs(events, moment, policy, basis)]
        if format == "csv":
            return Response(as_csv(runs), media_type="text/csv; charset=utf-8")
        return JSONBytes(
            {
                "case_id": case_id,
                "as_of": as_of,
                "basis": basis,
                "policy": {"version": policy.version, "title": policy.title},
                "clocks": runs,
            }
        )

    @router.get("/v1/cases/{case_id}/alerts", summary="What the threshold rules find in a case")
    def get_alerts(case_id: str, as_of: AsOf = None, basis: BasisQuery = "recorded") -> Response:
        """Every finding of every rule as of as_of: evidence, when it fired, and its answer or
        how long it has gone unanswered."""
        found = case_at(case_id, as_of, basis)
        if isinstance(found, Response):
            return found
        events, moment = found
        policy = container.rule_policy
        alerts = [f.as_dict(moment) for f in evaluate(events, moment, policy, basis)]
        return JSONBytes(
            {
                "case_id": case_id,
                "as_of": as_of,
                "basis": basis,
                "policy": {"version": policy.version, "title": policy.title},
                "unanswered": sum(not a["answered"] for a in alerts),
                "alerts": alerts,
                "raised": container.alerts.current().store.raised(case_id),
            }
        )

    @router.get("/v1/alerts", summary="What the rules find across the ledger, per rule")
    def get_ledger_alerts(
        as_of: AsOf = None,
        basis: BasisQuery = "recorded",
        format: Annotated[str, Query(pattern="^(json|csv)$")] = "json",
    ) -> Response:
        """Per rule: findings, answered and not, days to answer, every unanswered one."""
        moment = as_of_moment(as_of)
        if isinstance(moment, Response):
            return moment
        view, policy = container.view, container.rule_policy
        rows = alert_report(
            ((c, evaluate(view.events(c), moment, policy, basis)) for c in view.all_case_ids()),
            moment,
        )
        if format == "csv":
            return Response(alerts_csv(rows), media_type="text/csv; charset=utf-8")
        return JSONBytes(
            {
                "as_of": as_of,
                "basis": basis,
                "policy": {"version": policy.version, "title": policy.title},
                "rules": rows,
            }
        )

    @router.get("/v1/latency", summary="Decision latency across the ledger, per clock or agency")
    def get_latency(
        as_of: AsOf = None,
        basis: BasisQuery = "recorded",
        by: Annotated[GroupBy, Query(description="group by clock, agency or case")] = "clock",
        format: Annotated[str, Query(pattern="^(json|csv)$")] = "json",
    ) -> Response:
        """Every case's clock runs pooled: counts, working days to stop, breaches."""
        return _latency(None, as_of, basis, by, format)

    @router.get("/v1/cases/{case_id}/latency", summary="Decision latency of one case")
    def get_case_latency(
        case_id: str,
        as_of: AsOf = None,
        basis: BasisQuery = "recorded",
        by: Annotated[GroupBy, Query(description="group by clock or agency")] = "clock",
        format: Annotated[str, Query(pattern="^(json|csv)$")] = "json",
    ) -> Response:
        """One case's clock runs pooled: counts, working days to stop, breaches."""
        return _latency(case_id, as_of, basis, by, format)

    def _latency(
        case_id: str | None, as_of: str | None, basis: Basis, by: GroupBy, format: str
    ) -> Response:
        moment = as_of_moment(as_of)
        if isinstance(moment, Response):
            return moment
        policy = container.clock_policy
        rows = latency_report(ledger_or_case_runs(container, case_id, moment, basis), by)
        if format == "csv":
            return Response(latency_csv(rows, by), media_type="text/csv; charset=utf-8")
        scope = {} if case_id is None else {"case_id": case_id}
        return JSONBytes(
            {
                **scope,
                "as_of": as_of,
                "basis": basis,
                "by": by,
                "policy": {"version": policy.version, "title": policy.title},
                "groups": rows,
            }
        )

    return router


def ledger_or_case_runs(
    container: Container, case_id: str | None, moment: datetime, basis: Basis
) -> Iterator[tuple[str, list[RunRow]]]:
    """One case's clock runs as of the moment, or every case's from the clock view."""
    view = container.view
    if case_id is None:
        yield from container.clocks.current().ledger_runs(view, moment, basis)
        return
    runs = clock_runs(view.events(case_id), moment, container.clock_policy, basis)
    yield case_id, [r.row() for r in runs]


def latency_csv(rows: list[dict[str, Any]], by: str) -> str:
    """The latency report as CSV, one row per group (breaches counted, not listed)."""
    return _csv([by, *(["limit"] if by == "clock" else []), *LATENCY_COLUMNS], rows)


def as_csv(runs: list[dict[str, Any]]) -> str:
    """Clock runs as CSV, one row each, the CSV_COLUMNS in order."""
    return _csv(list(CSV_COLUMNS), runs)


def alerts_csv(rows: list[dict[str, Any]]) -> str:
    """The ledger-wide alert report as CSV, one row per rule (unanswered counted, not listed)."""
    return _csv(list(ALERT_COLUMNS), rows)


def _csv(columns: list[str], rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row[c] is None else row[c] for c in columns])
    return out.getvalue()
