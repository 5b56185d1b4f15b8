"""The inquiry workbench: server-rendered pages over the same queries as the API.

Pages are routes of the one app, each with its access rule (sgl/access_rules.py): a page about
a case or the ledger is a read on the access log like the API's. The caller signs in once with
a token (`/login`); the browser then carries it in an HttpOnly cookie that only page routes
accept, never the API's.
"""

from __future__ import annotations

from fastapi.routing import APIRoute
from starlette.requests import Request

# The browser's cookies: the session's token, and the purpose its page views state.
SESSION_COOKIE = "sgl_session"
PURPOSE_COOKIE = "sgl_purpose"


class PageRoute(APIRoute):
    """A route that answers with a page: signed in by cookie, refused with a page."""


def is_page(request: Request) -> bool:
    """Whether the request was routed to a page."""
    return isinstance(request.scope.get("route"), PageRoute)


def wants_page(request: Request) -> bool:
    """Whether an error is answered as a page: on a page, or on no route at all for a browser
    (asking for HTML) outside the API's paths."""
    if is_page(request):
        return True
    return (
        request.scope.get("route") is None
        and not request.url.path.startswith("/v1/")
        and "text/html" in request.headers.get("accept", "")
    )
