"""Rendering pages: one Jinja2 environment (autoescaped), the context every page shares."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from ledger.errors import Problem
from sgl.identity import Access
from sgl.responses import NO_STORE

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
# Scripts, styles and images from this app only; no frames, no form posts elsewhere.
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)

environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """The template rendered for this request, with the signed-in caller and purpose."""
    access = getattr(request.state, "access", None)
    page = environment.get_template(template).render(
        request=request,
        access=access if isinstance(access, Access) else None,
        path=request.url.path,
        now=datetime.now(UTC),
        purposes=getattr(request.app.state, "purposes", ()),
        **context,
    )
    headers = {**NO_STORE, "Content-Security-Policy": CSP}
    return HTMLResponse(page, status_code=status, headers=headers)


def problem_page(
    request: Request,
    status: int,
    title: str,
    detail: str,
    problems: Sequence[Problem] = (),
    headers: Mapping[str, str] | None = None,
) -> Response:
    """A refusal or error on a page, as a page: a caller not signed in (401) is sent to sign
    in and brought back; any other is shown with its problems."""
    if status == 401:
        wanted = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(wanted, safe='')}", status_code=303)
    response = render(
        request, "error.html", status=status, title=title, message=detail, problems=problems
    )
    for name, value in (headers or {}).items():
        if name.lower() != "www-authenticate":
            response.headers[name] = value
    return response
