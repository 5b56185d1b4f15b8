"""Read routes: case state and the published schemas."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query
from fastapi.responses import Response

from ledger.errors import Problem
from projections.as_of import Basis, cutoff
from projections.chronology import as_csv, changes, chronology
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
            state = container.view.state_as_of(case_id, moment, basis)
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

    @router.get("/v1/cases/{case_id}/chronology", summary="The multi-agency chronology")
    def get_chronology(
        case_id: str,
        as_of: Annotated[str | None, Query(description="as for /v1/cases/{case_id}")] = None,
        basis: Annotated[Basis, Query(description="recorded or appended")] = "recorded",
        agency: Annotated[list[str] | None, Query(description="only these agencies")] = None,
        type: Annotated[list[str] | None, Query(description="only these event types")] = None,
        start: Annotated[str | None, Query(alias="from", description="occurred from")] = None,
        end: Annotated[str | None, Query(alias="to", description="occurred until")] = None,
        format: Annotated[str, Query(pattern="^(json|csv)$")] = "json",
    ) -> Response:
        """Events known by as_of, as then corrected, ordered by occurred_at; JSON or CSV."""
        moments = parse_moments({"/as_of": as_of, "/from": start, "/to": end})
        if isinstance(moments, Response):
            return moments
        events = container.view.events(case_id)
        if not events:
            return problem_response(
                404, "not-found", "No such case", f"the ledger has no case {case_id!r} (yet)"
            )
        rows = chronology(
            events,
            moments["/as_of"] or datetime.now(UTC),
            basis,
            agency or (),
            type or (),
            moments["/from"],
            moments["/to"],
        )
        if format == "csv":
            return Response(as_csv(rows), media_type="text/csv; charset=utf-8")
        return JSONBytes({"case_id": case_id, "as_of": as_of, "basis": basis, "events": rows})

    @router.get("/v1/cases/{case_id}/changes", summary="What was added, corrected, retracted")
    def get_changes(
        case_id: str,
        start: Annotated[str, Query(alias="from", description="recorded after this")],
        end: Annotated[str, Query(alias="to", description="and on or before this")],
    ) -> Response:
        """Event ids recorded in (from, to]: added, corrected and retracted."""
        moments = parse_moments({"/from": start, "/to": end})
        if isinstance(moments, Response):
            return moments
        start_at, end_at = moments["/from"], moments["/to"]
        assert start_at is not None and end_at is not None  # both parameters are required
        found = changes(container.view.events(case_id), start_at, end_at)
        return JSONBytes({"case_id": case_id, "from": start, "to": end, **found})

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


def parse_moments(texts: dict[str, str | None]) -> dict[str, datetime | None] | Response:
    """Parse date parameters by pointer; a problem naming every bad one."""
    out: dict[str, datetime | None] = {}
    problems = []
    for pointer, text in texts.items():
        try:
            out[pointer] = None if text is None else cutoff(text)
        except ValueError:
            problems.append(Problem(pointer, "format", f"{text!r} is not YYYY-MM-DD or RFC 3339"))
    if problems:
        return problem_response(
            422,
            "invalid-request",
            "Invalid date",
            "dates are YYYY-MM-DD (end of day, UTC) or RFC 3339",
            problems,
        )
    return out


def as_of_moment(as_of: str | None) -> datetime | Response:
    """The instant an `as_of` parameter names (now when absent), or a 422 naming `/as_of`."""
    parsed = parse_moments({"/as_of": as_of})
    if isinstance(parsed, Response):
        return parsed
    return parsed["/as_of"] or datetime.now(UTC)
