"""The case list: every case the caller may read, with what it is and who holds it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ledger.agency_rules import REGISTRY_CASE
from sgl.bootstrap import Container
from sgl.identity import READS_ALL, access_of
from sgl.queries.scope import Viewer, involved
from sgl.queries.stores import ContainerStores
from sgl.web import PageRoute
from sgl.web.render import render


def case_rows(container: Container, agency: str | None) -> list[dict[str, Any]]:
    """A row per case (for an agency, the cases it has been involved in): its id, whether
    it is open, its lead agency and area, the agencies in it and its events."""
    view = container.view
    stores = ContainerStores(container)
    rows = []
    for case_id in view.all_case_ids():
        state = view.get(case_id)
        if state is None or case_id == REGISTRY_CASE:
            continue
        if (
            agency is not None
            and agency not in state.agencies
            and not involved(stores, case_id, Viewer(agency))
        ):
            continue
        rows.append(
            {
                "case_id": case_id,
                "open": state.opened and not state.closed,
                "lead_agency": state.lead_agency,
                "area": state.responsible_area,
                "agencies": list(state.agencies),
                "events": state.events,
                "last_recorded_at": state.last_recorded_at,
            }
        )
    return rows


def cases_router(container: Container) -> APIRouter:
    """The case list page."""
    router = APIRouter(route_class=PageRoute, include_in_schema=False)

    @router.get("/cases")
    def case_list(request: Request) -> Response:
        """Every case the caller may read."""
        caller = access_of(request).caller
        agency = None if caller.role in READS_ALL else caller.agency
        return render(request, "cases.html", rows=case_rows(container, agency))

    return router
