"""The inquiry workbench: server-rendered pages over the same queries as the API.

Pages are routes of the one app, each with its access rule (sgl/access_rules.py): a page about
a case or the ledger is a read on the access log like the API's. The caller signs in once with
a token (`/login`); the ledger keeps a session for it, and the browser carries only the
session's secret, in an HttpOnly cookie that only page routes accept, never the API's.
"""

from __future__ import annotations

from fastapi.routing import APIRoute
from starlette.requests import Request

from ledger.settings import CookieSecure

# The browser's cookie holding the session's secret. Sent Secure it carries the `__Host-`
# prefix: a browser then keeps it only from a secure page, for this host alone and Path=/, so
# no other host of the domain and no plain-http page can set or shadow it.
SESSION_COOKIE = "sgl_session"
SECURE_SESSION_COOKIE = "__Host-sgl_session"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


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


def cookie_is_secure(request: Request, mode: CookieSecure) -> bool:
    """Whether the session cookie is sent Secure: as SGL_COOKIE_SECURE says, and with `auto`
    unless the page was asked for over http of a loopback host. A ledger reached by a real
    host name is served over TLS, even when a proxy in front of it hands the app plain http."""
    if mode != "auto":
        return mode == "always"
    return not (request.url.scheme == "http" and request.url.hostname in LOOPBACK_HOSTS)


def session_cookie(request: Request, mode: CookieSecure) -> str:
    """The name of the session cookie for this request (read and written under one name)."""
    return SECURE_SESSION_COOKIE if cookie_is_secure(request, mode) else SESSION_COOKIE
