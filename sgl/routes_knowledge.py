"""Who knew what, and when: knowledge of a case's facts by agency, as of any date."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from sgl import queries
from sgl.bootstrap import Container
from sgl.responses import JSONBytes
from sgl.routes_read import AsOf, BasisQuery, viewer_of

Agency = Annotated[
    str | None,
    Query(description="the agency; default the case's lead agency (a practitioner's own)"),
]


def knowledge_router(container: Container) -> APIRouter:
    """Knowledge, matrix, gaps and time-to-share routes over a wired container."""
    router = APIRouter()
    stores = queries.ContainerStores(container)

    @router.get("/v1/cases/{case_id}/knowledge", summary="What one agency knew, and since when")
    def get_knowledge(
        request: Request,
        case_id: str,
        agency: Agency = None,
        as_of: AsOf = None,
        basis: BasisQuery = "recorded",
    ) -> Response:
        """Every fact the agency knew by as_of: since when, through which event, acknowledged
        (a practitioner: its own agency's only)."""
        viewer = viewer_of(request)
        return JSONBytes(queries.agency_knowledge(stores, case_id, agency, as_of, basis, viewer))

    @router.get(
        "/v1/cases/{case_id}/knowledge/matrix", summary="Facts x agencies, first-known times"
    )
    def get_matrix(
        request: Request, case_id: str, as_of: AsOf = None, basis: BasisQuery = "recorded"
    ) -> Response:
        """For each fact, each agency that knew it by as_of, since when and how."""
        viewer = viewer_of(request)
        return JSONBytes(queries.matrix(stores, case_id, as_of, basis, viewer))

    @router.get(
        "/v1/cases/{case_id}/knowledge/gaps", summary="What others knew and this agency did not"
    )
    def get_gaps(
        request: Request,
        case_id: str,
        agency: Agency = None,
        as_of: AsOf = None,
        basis: BasisQuery = "recorded",
    ) -> Response:
        """Facts known elsewhere but not to the agency by as_of, and household adults it never
        recorded itself, each with how long it had been known elsewhere."""
        viewer = viewer_of(request)
        return JSONBytes(queries.gaps(stores, case_id, agency, as_of, basis, viewer))

    @router.get(
        "/v1/cases/{case_id}/knowledge/time-to-share",
        summary="How long facts took to reach each agency, per pair of agencies",
    )
    def get_case_time_to_share(
        request: Request, case_id: str, as_of: AsOf = None, basis: BasisQuery = "recorded"
    ) -> Response:
        """Per (recording agency, receiving agency): count, median, p90 and max in days."""
        viewer = viewer_of(request)
        return JSONBytes(queries.case_time_to_share(stores, case_id, as_of, basis, viewer))

    @router.get(
        "/v1/knowledge/time-to-share",
        summary="Time-to-share per pair of agencies across the whole ledger",
    )
    def get_ledger_time_to_share(
        request: Request, as_of: AsOf = None, basis: BasisQuery = "recorded"
    ) -> Response:
        """The same statistics pooled over every case in the view."""
        viewer = viewer_of(request)
        return JSONBytes(queries.ledger_time_to_share(stores, as_of, basis, viewer))

    return router
