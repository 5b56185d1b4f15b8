"""The audit page: decision latency against the clocks across the ledger, for the runs started
in a period, as charts and the tables behind them, from the queries `/v1/latency` and
`/v1/audit` answer with."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from sgl import queries
from sgl.bootstrap import Container
from sgl.routes_read import viewer_of
from sgl.web import PageRoute
from sgl.web.charts import breaches_svg, distribution_svg, distributions, monthly_breaches
from sgl.web.render import render

# The groupings a reader picks for the latency table; per clock is always shown, by the
# distribution chart.
PageGrouping = Literal["agency", "kind", "area"]
GROUPINGS: dict[str, str] = {
    "agency": "Responsible agency",
    "kind": "Kind of agency",
    "area": "Area",
}
Day = Annotated[str | None, Query(description="YYYY-MM-DD; empty for no bound")]


def number(value: Any) -> str:
    """A count or a number of days as the tables show it: a whole number without a decimal
    point, a half as .5; none as an en dash."""
    if value is None:
        return "\u2013"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def audit_router(container: Container) -> APIRouter:
    """The audit page."""
    router = APIRouter(route_class=PageRoute, include_in_schema=False)
    stores = queries.ContainerStores(container)

    @router.get("/audit")
    def audit_page(
        request: Request,
        start: Annotated[str | None, Query(alias="from")] = None,
        end: Annotated[str | None, Query(alias="to")] = None,
        by: PageGrouping = "agency",
    ) -> Response:
        """Latency per clock, and by the grouping chosen, for the runs started from `from`
        to `to` (an empty field: no bound)."""
        viewer = viewer_of(request)
        start, end = start or None, end or None
        per_clock = queries.latency(stores, None, None, "recorded", "clock", viewer, start, end)
        grouped = queries.latency(stores, None, None, "recorded", by, viewer, start, end)
        runs = queries.audit(stores, None, None, "recorded", None, viewer, start, end)["runs"]
        months = monthly_breaches(runs)
        return render(
            request,
            "audit.html",
            start=start or "",
            end=end or "",
            by=by,
            groupings=GROUPINGS,
            per_clock=per_clock,
            grouped=grouped,
            runs=len(runs),
            distribution=distribution_svg(distributions(runs)),
            breaches=breaches_svg(months),
            months=[(m, c) for m, c in months if c],
            number=number,
        )

    return router
