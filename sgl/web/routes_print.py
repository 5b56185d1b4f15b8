"""The print-ready chronology: a case's events as of a date, as a plain document an inquiry can
print or save as PDF, each printed page headed by the case, the date and the checkpoint."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from sgl import queries
from sgl.bootstrap import Container
from sgl.routes_read import viewer_of
from sgl.web import PageRoute
from sgl.web.render import render

# How much of a checkpoint's root (base64) the header shows: enough to tell two apart and to
# find the full one in /v1/checkpoints/latest.
ROOT_SHOWN = 16


def checkpoint_lines(document: queries.Document) -> list[dict[str, Any]]:
    """Each partition's latest checkpoint as the header names it: partition, tree size and
    the start of its root."""
    return [
        {
            "partition": c["partition"],
            "tree_size": c["tree_size"],
            "root": c["root"],
            "short_root": c["root"][:ROOT_SHOWN],
        }
        for c in document["checkpoints"]
    ]


def print_router(container: Container) -> APIRouter:
    """The print-ready chronology page."""
    router = APIRouter(route_class=PageRoute, include_in_schema=False)
    stores = queries.ContainerStores(container)

    @router.get("/cases/{case_id}/print")
    def print_chronology(
        request: Request,
        case_id: str,
        as_of: Annotated[str | None, Query()] = None,
    ) -> Response:
        """The chronology `/v1/cases/{case_id}/chronology` answers the caller for `as_of`
        (default now), laid out for print."""
        viewer = viewer_of(request)
        as_of = as_of or None
        found = queries.case_chronology(stores, case_id, as_of, viewer=viewer)
        return render(
            request,
            "print.html",
            case_id=case_id,
            as_of=as_of,
            events=found["events"],
            checkpoints=checkpoint_lines(queries.latest_checkpoints(stores)),
        )

    return router
