"""What an inquiry files from the workbench: the chronology as a spreadsheet."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from sgl.bootstrap import Container
from sgl.queries.stores import ContainerStores
from sgl.routes_read import viewer_of, workbook_response
from sgl.web import PageRoute


def exports_router(container: Container) -> APIRouter:
    """The chronology download, signed in by the page's cookie."""
    router = APIRouter(route_class=PageRoute, include_in_schema=False)
    stores = ContainerStores(container)

    @router.get("/cases/{case_id}/chronology.xlsx")
    def chronology_xlsx(request: Request, case_id: str, as_of: str | None = None) -> Response:
        """The chronology as of the date, as the API's `format=xlsx` answers it."""
        return workbook_response(stores, case_id, as_of, viewer=viewer_of(request))

    return router
