"""Signing in and out of the workbench, and choosing the purpose of a session's reads.

The token is sent once, in a form; the ledger starts a session for it (sgl/tokens.py) and the
browser keeps only the session's secret, in an HttpOnly cookie that page routes accept and API
routes never do. An inquiry or auditor chooses the purpose that every page view then states,
kept with the session. Signing out ends the session on the ledger, so a copy of the cookie
opens nothing. Every form post must come from this app's own pages (its Origin, when the
browser sends one, is this app's).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

import structlog
from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from ledger.settings import CookieSecure
from sgl.authorize import Credentials
from sgl.identity import READS_ALL, Caller
from sgl.tokens import Session
from sgl.web import PageRoute, cookie_is_secure, session_cookie
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


FOREIGN_FORM = "This form may only be sent from this ledger's pages."
NOT_CURRENT = "That token is not current: it is missing, malformed, unknown, revoked or expired."


def _refusal(
    caller: Caller | None, purpose: str, purposes: Sequence[str]
) -> tuple[int, str] | None:
    """Why a sign-in is refused (its status and message), or None when it may go on."""
    if caller is None:
        return 401, NOT_CURRENT
    if caller.role not in READERS:
        return 403, (
            f"A {caller.role} token does not read cases: the workbench is for inquiry, "
            "auditor and practitioner tokens."
        )
    if caller.role in READS_ALL and purpose not in purposes:
        return 422, f"An {caller.role} states why it reads: choose one of the purposes."
    if caller.via != "token":
        return 403, (
            "Sign in with a ledger token (sgl_…): a provider's access token is for the API "
            "only, as a workbench session stands for a token the ledger can revoke."
        )
    return None


def login_router(
    credentials: Credentials, purposes: Sequence[str], cookie_secure: CookieSecure = "auto"
) -> APIRouter:
    """The sign-in, purpose and sign-out routes; the session cookie is Secure as
    `cookie_secure` (SGL_COOKIE_SECURE) says."""
    router = APIRouter(route_class=PageRoute, include_in_schema=False)

    def keep_session(response: Response, request: Request, secret: str) -> None:
        # SameSite=Lax, not Strict: a case's address (it holds the date) shared in a mail or
        # another site opens signed in. Lax still withholds the cookie from another site's
        # posts, and every change of state here is a post that checks its Origin; a GET
        # changes nothing. No Max-Age: the browser forgets it when it closes, and the
        # ledger's session ends on its own (SGL_SESSION_HOURS) whatever the browser keeps.
        secure = cookie_is_secure(request, cookie_secure)
        response.set_cookie(
            session_cookie(request, cookie_secure),
            secret,
            httponly=True,
            samesite="lax",
            secure=secure,
            path="/",
        )

    def forget_session(response: Response, request: Request) -> None:
        # Cleared with the flags it was set with: a browser ignores a `__Host-` cookie that is
        # not Secure, even one that clears it.
        response.delete_cookie(
            session_cookie(request, cookie_secure),
            path="/",
            secure=cookie_is_secure(request, cookie_secure),
            httponly=True,
            samesite="lax",
        )

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

    def signed_in(request: Request) -> Session | None:
        secret = request.cookies.get(session_cookie(request, cookie_secure))
        return credentials.session(secret) if secret else None

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
        """Check the token (and the purpose an inquiry or auditor must choose), start a session
        for it with that purpose, give the browser its secret and go on to the page asked
        for."""
        target = safe_next(next)
        presented = token.strip()
        if not same_origin(request):
            return form(request, 403, FOREIGN_FORM, target)
        caller = credentials.caller(presented) if presented else None
        refused = _refusal(caller, purpose, purposes)
        opened = (
            credentials.open_session(presented, purpose if caller.role in READS_ALL else None)
            if caller is not None and refused is None
            else None
        )
        if opened is None or caller is None:
            status, message = refused or (401, NOT_CURRENT)
            log.info("web.sign_in_refused", status=status)
            return form(request, status, message, target, purpose or None)
        previous = signed_in(request)
        if previous is not None:
            credentials.end_session(previous.session_id)
        log.info("web.signed_in", token_id=caller.token_id, role=caller.role)
        response = RedirectResponse(target, status_code=303)
        keep_session(response, request, opened.secret)
        return response

    @router.post("/purpose")
    def change_purpose(
        request: Request,
        purpose: Annotated[str, Form(max_length=200)] = "",
        next: Annotated[str, Form(max_length=2000)] = HOME,
    ) -> Response:
        """Change the purpose that the session's page views state."""
        session = signed_in(request)
        target = safe_next(next)
        if session is None:
            return problem_page(request, 401, "Sign in", "sign in first")
        if (
            not same_origin(request)
            or session.caller.role not in READS_ALL
            or purpose not in purposes
        ):
            return render(
                request,
                "error.html",
                status=403 if purpose in purposes else 422,
                title="Purpose not changed",
                message=f"Choose one of: {', '.join(purposes)}.",
            )
        if not credentials.set_session_purpose(session.session_id, purpose):
            return problem_page(request, 401, "Sign in", "the session has ended: sign in again")
        return RedirectResponse(target, status_code=303)

    @router.post("/logout")
    def logout(request: Request) -> Response:
        """End the session on the ledger (its cookie, even copied, opens nothing after) and
        clear the browser's cookie."""
        if not same_origin(request):
            return render(
                request,
                "error.html",
                status=403,
                title="Not signed out",
                message=FOREIGN_FORM,
            )
        session = signed_in(request)
        if session is not None:
            credentials.end_session(session.session_id)
            log.info("web.signed_out", token_id=session.caller.token_id)
        response = RedirectResponse("/login", status_code=303)
        forget_session(response, request)
        return response

    return router
