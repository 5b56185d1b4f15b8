"""Read routes: case state and the published schemas."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query
from fastapi.responses import Response

from ledger.errors import Problem
from projections.as_of import Basis, cutoff, state_as_of
from projections.effective import history
from sgl.bootstrap import Container
from sgl.responses import JSONBytes, problem_response


def read_router(container: Container) -> APIRouter:
    """Case state and schema routes over a wired container."""
    router = APIRouter()

    @router.get("/v1/cases/{case_id}", summary="The state of a case, now or as of a date")
    def get_case(
        case_id: str,
        as_of: Annotated[
            str | None, Query(description="YYYY-MM-DD (end of that day, UTC) or RFC 3339")
        ] = None,
        basis: Annotated[
            Basis,
            Query(
                description="recorded: recorded_at <= as_of; appended: what the ledger held then"
            ),
        ] = "recorded",
    ) -> Response:
        """The case-state view for one case, or its state as of a moment; 404 if none."""
        if as_of is None:
            state = container.view.get(case_id)
        else:
            try:
                moment = cutoff(as_of)
            except ValueError:
                return problem_response(
                    422,
                    "invalid-request",
                    "Invalid as_of",
                    "as_of must be a date or timestamp",
                    [Problem("/as_of", "format", f"{as_of!r} is not YYYY-MM-DD or RFC 3339")],
                )
            state = state_as_of(container.view.events(case_id), moment, basis)
        if state is None:
            return problem_response(
                404, "not-found", "No such case", f"the ledger has no case {case_id!r} (yet)"
            )
        return JSONBytes(state)

    @router.get(
        "/v1/cases/{case_id}/history", summary="A case's events as recorded and as corrected"
    )
    def get_history(case_id: str) -> Response:
        """Every event in log order with its lags, its status and what amended it."""
        events = container.view.events(case_id)
        if not events:
            return problem_response(
                404, "not-found", "No such case", f"the ledger has no case {case_id!r} (yet)"
            )
        return JSONBytes({"case_id": case_id, "entries": [e.as_dict() for e in history(events)]})

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

    @router.get("/v1/schemas/{name}/{version}", summary="One JSON Schema (draft 2020-12)")
    def get_schema(name: str, version: int) -> Response:
        """The schema document, exactly as published."""
        doc = container.schemas.schema(name, version)
        if doc is None:
            return problem_response(
                404, "not-found", "No such schema", f"no schema {name!r} version {version}"
            )
        return Response(orjson.dumps(doc.document), media_type="application/schema+json")

    return router
