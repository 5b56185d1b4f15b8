"""Clocks of a case, decision latency and the rules' findings, under the configured policies."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from projections.latency import GroupBy
from sgl import queries
from sgl.bootstrap import Container
from sgl.responses import JSONBytes
from sgl.routes_read import AsOf, BasisQuery, Format, answer, viewer_of

By = Annotated[
    GroupBy,
    Query(
        description="group by clock, by the agency responsible for stopping the run (as of "
        "its start), by its kind, by the case's area then, or by case"
    ),
]
StartedFrom = Annotated[
    str | None,
    Query(alias="from", description="only runs started from then (a day: its start)"),
]
StartedTo = Annotated[
    str | None, Query(alias="to", description="only runs started until then (a day: its end)")
]
ClockName = Annotated[str | None, Query(description="only this clock's runs")]
Negotiated = Annotated[
    str | None,
    Query(
        pattern="^(json|csv)$",
        description="json or csv; default: csv if the Accept header asks for text/csv, else json",
    ),
]


def _chosen(format: str | None, request: Request) -> str:
    """The format asked for, or the one the Accept header prefers."""
    if format is not None:
        return format
    return "csv" if "text/csv" in request.headers.get("accept", "") else "json"


def clocks_router(container: Container) -> APIRouter:
    """The clock, latency and alert routes over a wired container."""
    router = APIRouter()
    stores = queries.ContainerStores(container)

    @router.get("/v1/cases/{case_id}/clocks", summary="Clocks of a case: open, met or breached")
    def get_clocks(
        request: Request,
        case_id: str,
        as_of: AsOf = None,
        basis: BasisQuery = "recorded",
        format: Format = "json",
    ) -> Response:
        """Every run of every clock of the policy, with its start, stop, deadline and length
        (a practitioner: the runs its agency was responsible for)."""
        found = queries.clocks(stores, case_id, as_of, basis, viewer_of(request))
        return answer(found, format, queries.clocks_csv)

    @router.get("/v1/cases/{case_id}/alerts", summary="What the threshold rules find in a case")
    def get_alerts(
        request: Request, case_id: str, as_of: AsOf = None, basis: BasisQuery = "recorded"
    ) -> Response:
        """Every finding of every rule as of as_of: evidence, when it fired, and its answer or
        how long it has gone unanswered; and the alerts the ledger had raised by then (a
        practitioner: those sent to its agency)."""
        viewer = viewer_of(request)
        return JSONBytes(queries.case_alerts(stores, case_id, as_of, basis, viewer))

    @router.get("/v1/alerts", summary="What the rules find across the ledger, per rule")
    def get_ledger_alerts(
        request: Request,
        as_of: AsOf = None,
        basis: BasisQuery = "recorded",
        format: Format = "json",
    ) -> Response:
        """Per rule: findings, answered and not, days to answer, every unanswered one."""
        found = queries.ledger_alerts(stores, as_of, basis, viewer_of(request))
        return answer(found, format, queries.alerts_csv)

    @router.get("/v1/audit", summary="Every clock run across the ledger, one row each")
    def get_audit(
        request: Request,
        as_of: AsOf = None,
        basis: BasisQuery = "recorded",
        clock: ClockName = None,
        start: StartedFrom = None,
        end: StartedTo = None,
        format: Negotiated = None,
    ) -> Response:
        """One row per clock run (started in [from, to], when given): case, clock, responsible
        agency, its kind, area, start, stop, deadline, working days, limit and outcome; open
        runs measured to `as_of`, or each to its own case's data end."""
        viewer = viewer_of(request)
        found = queries.audit(stores, None, as_of, basis, clock, viewer, start, end)
        return answer(found, _chosen(format, request), queries.audit_csv)

    @router.get("/v1/cases/{case_id}/audit", summary="Every clock run of one case, one row each")
    def get_case_audit(
        request: Request,
        case_id: str,
        as_of: AsOf = None,
        basis: BasisQuery = "recorded",
        clock: ClockName = None,
        start: StartedFrom = None,
        end: StartedTo = None,
        format: Negotiated = None,
    ) -> Response:
        """One row per clock run of the case, as `/v1/audit` gives them."""
        viewer = viewer_of(request)
        found = queries.audit(stores, case_id, as_of, basis, clock, viewer, start, end)
        return answer(found, _chosen(format, request), queries.audit_csv)

    @router.get(
        "/v1/latency",
        summary="Decision latency across the ledger, per clock, responsible agency, kind or area",
    )
    def get_latency(
        request: Request,
        as_of: AsOf = None,
        basis: BasisQuery = "recorded",
        by: By = "clock",
        start: StartedFrom = None,
        end: StartedTo = None,
        format: Format = "json",
    ) -> Response:
        """Every case's clock runs (started in [from, to], when given) pooled: counts, working
        days to stop, breaches."""
        viewer = viewer_of(request)
        found = queries.latency(stores, None, as_of, basis, by, viewer, start, end)
        return answer(found, format, queries.latency_csv)

    @router.get("/v1/cases/{case_id}/latency", summary="Decision latency of one case")
    def get_case_latency(
        request: Request,
        case_id: str,
        as_of: AsOf = None,
        basis: BasisQuery = "recorded",
        by: By = "clock",
        start: StartedFrom = None,
        end: StartedTo = None,
        format: Format = "json",
    ) -> Response:
        """One case's clock runs pooled: counts, working days to stop, breaches."""
        viewer = viewer_of(request)
        found = queries.latency(stores, case_id, as_of, basis, by, viewer, start, end)
        return answer(found, format, queries.latency_csv)

    return router
