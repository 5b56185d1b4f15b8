"""The per-child access report over HTTP: `GET /v1/cases/{case_id}/access-log`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from sgl import access_report, queries
from sgl.access_log import RETRY_AFTER_SECONDS
from sgl.bootstrap import Container
from sgl.encoding import dumps
from sgl.openapi import problem
from sgl.responses import JSONBytes, problem_response
from sgl.routes_read import viewer_of

ReportFormat = Annotated[
    str,
    Query(
        pattern="^(json|csv|fhir)$",
        description="json, csv, or fhir (a FHIR R4 Bundle of IHE BALP AuditEvents)",
    ),
]


def access_router(container: Container) -> APIRouter:
    """The access report route over a wired container."""
    router = APIRouter()
    stores = queries.ContainerStores(container)

    @router.get(
        "/v1/cases/{case_id}/access-log",
        summary="Who read this child's record, when, why, and with what outcome",
        responses={
            200: {
                "description": "Every access record of the case, oldest first",
                "content": {
                    "text/csv": {"schema": {"type": "string"}},
                    access_report.FHIR_MEDIA: {"schema": {"type": "object"}},
                },
            },
            503: problem(
                "The access index has not taken in every read yet (a report now would miss "
                "some): retry (see Retry-After)"
            ),
        },
    )
    def get_access_log(request: Request, case_id: str, format: ReportFormat = "json") -> Response:
        """Every read of the case's data on the record (no cap), oldest first: the caller
        (agency, role, person, token id), purpose, route, parameters, as_of, status and
        time; a case never read has none. This report's own reads are recorded too. To a
        practitioner, only for a case its agency is or was involved in (any other is, to it,
        no such case), and only its own agency's reads, without token ids or network
        addresses; an auditor sees every read."""
        viewer = viewer_of(request)
        if viewer is not None and not queries.involved(stores, case_id, viewer):
            raise queries.NoSuchCase(case_id)
        try:
            report = access_report.access_report(
                container.access_index, container.access_log, case_id
            )
        except access_report.AccessLogBehind as behind:
            return problem_response(
                503,
                "access-log-behind",
                "The access log is not yet all indexed",
                str(behind),
                headers={"Retry-After": RETRY_AFTER_SECONDS},
            )
        if viewer is not None:
            report = access_report.agency_report(report, viewer.agency)
        if format == "csv":
            return Response(access_report.access_csv(report), media_type="text/csv; charset=utf-8")
        if format == "fhir":
            return Response(
                dumps(access_report.access_fhir(report)), media_type=access_report.FHIR_MEDIA
            )
        return JSONBytes(report)

    return router
