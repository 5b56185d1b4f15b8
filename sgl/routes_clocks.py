"""Statutory and local clocks of a case, as of any date, under the configured policy."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from projections.as_of import known_by
from projections.clocks import clock_runs
from sgl.bootstrap import Container
from sgl.responses import JSONBytes, problem_response
from sgl.routes_knowledge import AsOf, BasisQuery
from sgl.routes_read import parse_moments

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

    @router.get("/v1/cases/{case_id}/clocks", summary="Clocks of a case: open, met or breached")
    def get_clocks(
        case_id: str,
        as_of: AsOf = None,
        basis: BasisQuery = "recorded",
        format: Annotated[str, Query(pattern="^(json|csv)$")] = "json",
    ) -> Response:
        """Every run of every clock of the policy, with its start, stop, deadline and length."""
        parsed = parse_moments({"/as_of": as_of})
        if isinstance(parsed, Response):
            return parsed
        moment = parsed["/as_of"] or datetime.now(UTC)
        events = container.view.events(case_id)
        if not known_by(events, moment, basis):
            return problem_response(
                404, "not-found", "No such case", f"the ledger knew no case {case_id!r} by then"
            )
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

    return router


def as_csv(runs: list[dict[str, Any]]) -> str:
    """Clock runs as CSV, one row each, the CSV_COLUMNS in order."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for run in runs:
        writer.writerow(["" if run[c] is None else run[c] for c in CSV_COLUMNS])
    return out.getvalue()
