"""Signing in and out of the workbench, and choosing the purpose of a session's reads.

The token is sent once, in a form, and kept by the browser in an HttpOnly, SameSite=Strict
cookie that page routes accept and API routes never do; an inquiry or auditor chooses the
purpose that every page view then states. Every form post must come from this app's own pages
(its Origin, when the browser sends one, is this app's).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

import structlog
from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from sgl.authorize import Credentials
from sgl.identity import READS_ALL, Caller
from sgl.web import PURPOSE_COOKIE, SESSION_COOKIE, PageRoute
from sgl.web.render import problem_page, render

log = structlog.get_logger("sgl.web")

# The roles the workbench is for: the others publish or keep the registry.
READERS = frozenset({"inquiry", "auditor", "practitioner"})
HOME = "/cases"


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path of this app only (never another site)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return HOME


def same_origin(request: Request) -> bool:
    """Whether a form post came from this app's pages: browsers send Origin with every post,
    and it must be ours (a post without one is no browser's, so no cross-site forgery)."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    host = request.headers.get("host", "")
    return origin in (f"http://{host}", f"https://{host}")


def _set_cookie(response: Response, request: Request, name: str, value: str) -> None:
    response.set_cookie(
        name,
        value,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )


def login_router(credentials: Credentials, purposes: Sequence[str]) -> APIRouter:
    """The sign-in, purpose and sign-out routes."""
    router = APIRouter(route_class=PageRoute, include_in_schema=False)

    def form(
        request: Request, status: int, error: str | None, target: str, purpose: str | None = None
    ) -> Response:
        return render(
            request,
            "login.html",
            status=status,
            error=error,
            chosen=purpose,
            next=target,
        )

    def signed_in(request: Request) -> Caller | None:
        token = request.cookies.get(SESSION_COOKIE)
        return credentials.caller(token) if token else None

    @router.get("/")
    def home(request: Request) -> Response:
        """The case list for a signed-in caller, else the sign-in page."""
        return RedirectResponse(HOME if signed_in(request) else "/login", status_code=303)

    @router.get("/login")
    def login_page(request: Request, next: str | None = None) -> Response:
        """The sign-in form."""
        return form(request, 200, None, safe_next(next))

    @router.post("/login")
    def login(
        request: Request,
        token: Annotated[str, Form(max_length=4096)] = "",
        purpose: Annotated[str, Form(max_length=200)] = "",
        next: Annotated[str, Form(max_length=2000)] = HOME,
    ) -> Response:
        """Check the token (and the purpose an inquiry or auditor must choose); keep both in
        the browser's cookies and go on to the page asked for."""
        target = safe_next(next)
        if not same_origin(request):
            return form(
                request, 403, "This form may only be sent from this ledger's pages.", target
            )
        caller = credentials.caller(token.strip()) if token.strip() else None
        if caller is None:
            log.info("web.sign_in_refused")
            return form(
                request,
                401,
                "That token is not current: it is missing, malformed, unknown, revoked or expired.",
                target,
                purpose or None,
            )
        if caller.role not in READERS:
            return form(
                request,
                403,
                f"A {caller.role} token does not read cases: the workbench is for inquiry, "
                "auditor and practitioner tokens.",
                target,
            )
        if caller.role in READS_ALL and purpose not in purposes:
            return form(
                request,
                422,
                f"An {caller.role} states why it reads: choose one of the purposes.",
                target,
            )
        log.info("web.signed_in", token_id=caller.token_id, role=caller.role)
        response = RedirectResponse(target, status_code=303)
        _set_cookie(response, request, SESSION_COOKIE, token.strip())
        if caller.role in READS_ALL:
            _set_cookie(response, request, PURPOSE_COOKIE, purpose)
        else:
            response.delete_cookie(PURPOSE_COOKIE, path="/")
        return response

    @router.post("/purpose")
    def change_purpose(
        request: Request,
        purpose: Annotated[str, Form(max_length=200)] = "",
        next: Annotated[str, Form(max_length=2000)] = HOME,
    ) -> Response:
        """Change the purpose that the session's page views state."""
        caller = signed_in(request)
        target = safe_next(next)
        if caller is None:
            return problem_page(request, 401, "Sign in", "sign in first")
        if not same_origin(request) or caller.role not in READS_ALL or purpose not in purposes:
            return render(
                request,
                "error.html",
                status=403 if purpose in purposes else 422,
                title="Purpose not changed",
                message=f"Choose one of: {', '.join(purposes)}.",
            )
        response = RedirectResponse(target, status_code=303)
        _set_cookie(response, request, PURPOSE_COOKIE, purpose)
        return response

    @router.post("/logout")
    def logout(request: Request) -> Response:
        """Forget the session's token and purpose."""
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        response.delete_cookie(PURPOSE_COOKIE, path="/")
        return response

    return router
