"""Read routes of a case: its state, history, chronology and changes; the agency registry;
and the schemas."""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from ledger.errors import Problem
from projections.as_of import Basis
from sgl import queries
from sgl.bootstrap import Container
from sgl.exports import XLSX_MEDIA, chronology_workbook, workbook_filename
from sgl.identity import READS_ALL, access_of
from sgl.queries import Document, Viewer
from sgl.queries.stores import Stores
from sgl.responses import NO_STORE, JSONBytes

AsOf = Annotated[
    str | None, Query(description="YYYY-MM-DD (end of that day, UTC) or RFC 3339; default now")
]
BasisQuery = Annotated[
    Basis,
    Query(description="recorded: recorded_at <= as_of; appended: what the ledger held then"),
]
SCHEMA_MEDIA = "application/schema+json"
Format = Annotated[str, Query(pattern="^(json|csv)$", description="json or csv")]
ChronologyFormat = Annotated[
    str, Query(pattern="^(json|csv|xlsx)$", description="json, csv or xlsx (a spreadsheet)")
]


# A report's header fields that its CSV rows cannot carry, sent as response headers instead
# (a null field is left out): where the data end and what open runs are measured to.
REPORT_HEADERS = {
    "data_end": "X-SGL-Data-End",
    "measured_to": "X-SGL-Measured-To",
    "open_runs_measured_to": "X-SGL-Open-Runs-Measured-To",
}


def answer(document: Document, format: str, as_csv: Callable[[Document], str]) -> Response:
    """The document as JSON, or as CSV when asked, with the report's header fields as
    response headers."""
    if format == "csv":
        headers = {
            name: str(document[field])
            for field, name in REPORT_HEADERS.items()
            if document.get(field) is not None
        }
        return Response(as_csv(document), media_type="text/csv; charset=utf-8", headers=headers)
    return JSONBytes(document)


def workbook_response(
    stores: Stores,
    case_id: str,
    as_of: str | None,
    basis: Basis = "recorded",
    agencies: Collection[str] = (),
    types: Collection[str] = (),
    start: str | None = None,
    end: str | None = None,
    viewer: Viewer | None = None,
) -> Response:
    """The chronology as an .xlsx attachment named for its case and date."""
    generated_at = datetime.now(UTC)
    book = chronology_workbook(
        stores,
        case_id,
        as_of,
        basis,
        agencies,
        types,
        start,
        end,
        viewer,
        generated_at=generated_at,
    )
    name = workbook_filename(case_id, as_of, generated_at)
    return Response(
        book,
        media_type=XLSX_MEDIA,
        # A child's record in a file: kept by no browser's or proxy's cache.
        headers={"Content-Disposition": f'attachment; filename="{name}"', **NO_STORE},
    )


def viewer_of(request: Request) -> Viewer | None:
    """Whom a read of case data answers: a practitioner sees what its agency knew (a Viewer),
    an inquiry or auditor everything (None); no other role reads case data (Forbidden)."""
    caller = access_of(request).caller
    if caller.role in READS_ALL:
        return None
    if caller.role == "practitioner":
        return Viewer(caller.agency)
    raise queries.Forbidden(
        f"a {caller.role} does not read case data",
        [Problem("/role", "reads-case-data", "practitioner, inquiry or auditor only")],
    )


def knower_of(request: Request) -> Viewer | None:
    """Whose knowledge bounds what a request may see of a case's events: nobody's for an
    inquiry or auditor (None), the caller's agency's for a practitioner or publisher; an
    admin knows no case (it keeps the registry)."""
    caller = access_of(request).caller
    if caller.role in READS_ALL:
        return None
    return Viewer(caller.agency, cases=caller.role != "admin")


def read_router(container: Container) -> APIRouter:
    """Case state and schema routes over a wired container."""
    router = APIRouter()
    stores = queries.ContainerStores(container)

    @router.get("/v1/cases/{case_id}", summary="The state of a case, now or as of a date")
    def get_case(
        request: Request, case_id: str, as_of: AsOf = None, basis: BasisQuery = "recorded"
    ) -> Response:
        """The case-state view for one case, or its state as of a moment, with whether a
        statutory agency's involvement was open then; 404 if none."""
        viewer = viewer_of(request)
        return JSONBytes(queries.case_document(stores, case_id, as_of, basis, viewer=viewer))

    @router.get("/v1/cases/{case_id}/sightings", summary="Who last saw the child, and when")
    def get_sightings(
        request: Request, case_id: str, as_of: AsOf = None, basis: BasisQuery = "recorded"
    ) -> Response:
        """When each agency and each source last saw the child, the latest sighting by a
        statutory agency, and whole days unseen since, as of a moment; 404 if no case."""
        viewer = viewer_of(request)
        return JSONBytes(queries.case_sightings(stores, case_id, as_of, basis, viewer=viewer))

    @router.get(
        "/v1/cases/{case_id}/history", summary="A case's events as recorded and as corrected"
    )
    def get_history(
        request: Request, case_id: str, as_of: AsOf = None, basis: BasisQuery = "recorded"
    ) -> Response:
        """Every event known by as_of in log order with its lags, its status and what amended
        it by then."""
        viewer = viewer_of(request)
        return JSONBytes(queries.case_history(stores, case_id, as_of, basis, viewer))

    @router.get("/v1/cases/{case_id}/chronology", summary="The multi-agency chronology")
    def get_chronology(
        request: Request,
        case_id: str,
        as_of: AsOf = None,
        basis: BasisQuery = "recorded",
        agency: Annotated[list[str] | None, Query(description="only these agencies")] = None,
        type: Annotated[list[str] | None, Query(description="only these event types")] = None,
        start: Annotated[
            str | None, Query(alias="from", description="occurred from (a day: its start)")
        ] = None,
        end: Annotated[str | None, Query(alias="to", description="occurred until")] = None,
        format: ChronologyFormat = "json",
    ) -> Response:
        """Events known by as_of, as then corrected, ordered by occurred_at; JSON, CSV, or an
        XLSX workbook (agencies by name, dates as dates, the text as recorded)."""
        viewer = viewer_of(request)
        if format == "xlsx":
            return workbook_response(
                stores, case_id, as_of, basis, agency or (), type or (), start, end, viewer
            )
        found = queries.case_chronology(
            stores, case_id, as_of, basis, agency or (), type or (), start, end, viewer
        )
        return answer(found, format, queries.chronology_csv)

    @router.get("/v1/cases/{case_id}/changes", summary="What was added, corrected, retracted")
    def get_changes(
        request: Request,
        case_id: str,
        start: Annotated[str, Query(alias="from", description="recorded after this")],
        end: Annotated[str, Query(alias="to", description="and on or before this")],
    ) -> Response:
        """Entries recorded in (from, to]: added, corrected and retracted, with what changed."""
        viewer = viewer_of(request)
        return JSONBytes(queries.case_changes(stores, case_id, start, end, viewer))

    @router.get("/v1/agencies", summary="The agency registry, now or as of a date")
    def list_agencies(as_of: AsOf = None) -> Response:
        """Every agency registered by as_of, as registered then. Agencies are registered by
        posting `agency.registered` events (case SGL-REGISTRY) to /v1/events."""
        return JSONBytes(queries.agencies(stores, as_of))

    @router.get("/v1/agencies/{agency_id}", summary="One registered agency")
    def get_agency(agency_id: str, as_of: AsOf = None) -> Response:
        """The agency as registered at as_of (default now); 404 if it was not."""
        return JSONBytes(queries.agency(stores, agency_id, as_of))

    @router.get("/v1/schemas", summary="Every event type and its schema versions")
    def list_schemas() -> dict[str, Any]:
        """Types, versions and where to fetch each schema."""
        return {
            "event_types": [
                {
                    "type": name,
                    "versions": versions,
                    "links": [f"/v1/schemas/{name}/{v}" for v in versions],
                }
                for name, versions in container.schemas.event_types.items()
            ],
            "envelope": "/v1/schemas/envelope/1",
        }

    @router.get(
        "/v1/schemas/{name}/{version}",
        summary="One JSON Schema (draft 2020-12)",
        response_class=Response,
        responses={
            200: {
                "description": "The schema document",
                "content": {SCHEMA_MEDIA: {"schema": {"type": "object"}}},
            }
        },
    )
    def get_schema(name: str, version: int) -> Response:
        """The schema document, exactly as published."""
        doc = container.schemas.schema(name, version)
        if doc is None:
            raise queries.NoSuchSchema(name, version)
        return Response(orjson.dumps(doc.document), media_type=SCHEMA_MEDIA)

    return router
