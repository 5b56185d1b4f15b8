"""Who knew what, and when: knowledge of a case's facts by agency, as of any date."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from ledger.errors import Problem
from projections.as_of import Basis
from projections.knowledge import Knowledge, knowledge, time_to_share
from sgl.bootstrap import Container
from sgl.responses import JSONBytes, problem_response
from sgl.routes_read import as_of_moment

AsOf = Annotated[
    str | None, Query(description="YYYY-MM-DD (end of that day, UTC) or RFC 3339; default now")
]
BasisQuery = Annotated[
    Basis, Query(description="recorded: recorded_at <= as_of; appended: what the ledger held")
]
Agency = Annotated[str | None, Query(description="the agency; default the case's lead agency")]


def knowledge_router(container: Container) -> APIRouter:
    """Knowledge, matrix, gaps and time-to-share routes over a wired container."""
    router = APIRouter()

    def load(case_id: str, as_of: str | None, basis: Basis) -> Knowledge | Response:
        moment = as_of_moment(as_of)
        if isinstance(moment, Response):
            return moment
        found = knowledge(container.view.events(case_id), moment, basis)
        if not found.facts:
            return problem_response(
                404, "not-found", "No such case", f"the ledger knew no case {case_id!r} by then"
            )
        return found

    def agency_of(found: Knowledge, agency: str | None) -> str | Response:
        chosen = agency or found.lead_agency
        if chosen is None:
            return problem_response(
                422,
                "invalid-request",
                "Which agency?",
                "the case has no lead agency yet: name one",
                [Problem("/agency", "required", "no lead agency is known by then")],
            )
        return chosen

    def header(found: Knowledge, as_of: str | None, basis: Basis) -> dict[str, object]:
        return {"case_id": found.case_id, "as_of": as_of, "basis": basis}

    @router.get("/v1/cases/{case_id}/knowledge", summary="What one agency knew, and since when")
    def get_knowledge(
        case_id: str, agency: Agency = None, as_of: AsOf = None, basis: BasisQuery = "recorded"
    ) -> Response:
        """Every fact the agency knew by as_of: since when, through which event, acknowledged."""
        found = load(case_id, as_of, basis)
        if isinstance(found, Response):
            return found
        chosen = agency_of(found, agency)
        if isinstance(chosen, Response):
            return chosen
        return JSONBytes(
            {**header(found, as_of, basis), "agency": chosen, "facts": found.of_agency(chosen)}
        )

    @router.get(
        "/v1/cases/{case_id}/knowledge/matrix", summary="Facts x agencies, first-known times"
    )
    def get_matrix(case_id: str, as_of: AsOf = None, basis: BasisQuery = "recorded") -> Response:
        """For each fact, each agency that knew it by as_of, since when and how."""
        found = load(case_id, as_of, basis)
        if isinstance(found, Response):
            return found
        return JSONBytes({**header(found, as_of, basis), **found.matrix()})

    @router.get(
        "/v1/cases/{case_id}/knowledge/gaps", summary="What others knew and this agency did not"
    )
    def get_gaps(
        case_id: str, agency: Agency = None, as_of: AsOf = None, basis: BasisQuery = "recorded"
    ) -> Response:
        """Facts known elsewhere but not to the agency by as_of, and household adults it never
        recorded itself, each with how long it had been known elsewhere."""
        found = load(case_id, as_of, basis)
        if isinstance(found, Response):
            return found
        chosen = agency_of(found, agency)
        if isinstance(chosen, Response):
            return chosen
        return JSONBytes(
            {
                **header(found, as_of, basis),
                "agency": chosen,
                "facts": found.gaps(chosen),
                "people": found.people_gaps(chosen),
            }
        )

    @router.get(
        "/v1/cases/{case_id}/knowledge/time-to-share",
        summary="How long facts took to reach each agency, per pair of agencies",
    )
    def get_case_time_to_share(
        case_id: str, as_of: AsOf = None, basis: BasisQuery = "recorded"
    ) -> Response:
        """Per (recording agency, receiving agency): count, median, p90 and max in days."""
        found = load(case_id, as_of, basis)
        if isinstance(found, Response):
            return found
        return JSONBytes({**header(found, as_of, basis), "pairs": time_to_share([found.delays()])})

    @router.get(
        "/v1/knowledge/time-to-share",
        summary="Time-to-share per pair of agencies across the whole ledger",
    )
    def get_ledger_time_to_share(as_of: AsOf = None, basis: BasisQuery = "recorded") -> Response:
        """The same statistics pooled over every case in the view."""
        moment = as_of_moment(as_of)
        if isinstance(moment, Response):
            return moment
        view = container.view
        pairs = time_to_share(
            knowledge(view.events(case_id), moment, basis).delays()
            for case_id in view.all_case_ids()
        )
        return JSONBytes({"as_of": as_of, "basis": basis, "pairs": pairs})

    return router
