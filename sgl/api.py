"""The HTTP app: wires the routers, the error handlers and the in-process consumer."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import structlog
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.staticfiles import StaticFiles

from consumers.access_indexer import AccessIndexer
from consumers.follower import CaseFollower
from consumers.runner import ProjectionRunner
from consumers.sealer import Sealer
from ledger.errors import (
    STORE_UNREACHABLE,
    BatchRejected,
    EventConflict,
    InvalidEvent,
    LedgerUnavailable,
    NotPermitted,
    Problem,
)
from sgl.access_log import AccessRecorder, declared_query_parameters
from sgl.access_rules import RULES, Rule, check_covered
from sgl.authorize import (
    PURPOSE_PARAMETER,
    Authorize,
    Credentials,
    RateLimiter,
    Refused,
    purposes_of,
)
from sgl.bootstrap import Container
from sgl.docs_pages import install_docs
from sgl.metrics import Metrics, RequestMetrics, followed_by, route_template
from sgl.openapi import DocumentedApp
from sgl.queries import QueryError, UnknownParameters
from sgl.responses import JSONBytes, problem_response
from sgl.routes_access import access_router
from sgl.routes_clocks import clocks_router
from sgl.routes_events import events_router
from sgl.routes_knowledge import knowledge_router
from sgl.routes_notes import notes_router
from sgl.routes_ops import ops_router
from sgl.routes_proofs import proofs_router
from sgl.routes_read import read_router
from sgl.web import is_page, wants_page
from sgl.web.render import STATIC, problem_page
from sgl.web.routes_audit import audit_router
from sgl.web.routes_case import case_router
from sgl.web.routes_cases import cases_router
from sgl.web.routes_exports import exports_router
from sgl.web.routes_login import login_router
from sgl.web.routes_print import print_router

log = structlog.get_logger("sgl.api")

# How long the app's shutdown waits for its consumer threads to finish their batch.
CONSUMER_STOP_SECONDS = 2.0


def create_app(
    container: Container,
    *,
    run_consumer: bool = True,
    run_sealer: bool | None = None,
    rules: Mapping[tuple[str, str], Rule] = RULES,
) -> FastAPI:
    """The FastAPI app over a wired container; optionally runs the consumers in-process too
    (`run_consumer`: the views and indexes; `run_sealer`, as run_consumer unless given: the
    sealers).

    The consumer loops are built when the app starts, and only if it runs them: building the
    app writes nothing (the sealer would create a signing key). Every request passes the
    authorization step under the routes' `rules`; a route without one is a MissingRules here.
    """
    settings = container.settings
    credentials = Credentials.from_settings(settings)
    purposes = purposes_of(settings)
    authorize = Authorize(
        credentials,
        RateLimiter(settings.rate_limit, settings.rate_burst),
        purposes,
        rules,
        settings.cookie_secure,
    )
    consumer_stop = threading.Event()
    consumer: dict[str, threading.Thread] = {}
    runners: list[ProjectionRunner] = []
    followers: list[CaseFollower] = []

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        loops: list[ProjectionRunner | CaseFollower | Sealer | AccessIndexer] = []
        if run_consumer:
            runner = container.runner()
            runners.append(runner)
            followers.extend(container.followers())
            loops += [runner, *followers, container.access_indexer(), container.notes_indexer()]
        if run_consumer if run_sealer is None else run_sealer:
            loops += [container.sealer(), container.access_sealer()]
        for loop in loops:
            metrics.watch(loop)
            thread = threading.Thread(
                target=_consume,
                args=(loop, consumer_stop),
                name=f"{loop.name}-consumer",
                daemon=True,
            )
            thread.start()
            consumer[loop.name] = thread
        yield
        consumer_stop.set()
        # One deadline for all: the threads are daemons, and a stop must not wait on the log.
        deadline = time.monotonic() + CONSUMER_STOP_SECONDS
        for thread in consumer.values():
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        credentials.close()

    metrics = Metrics(
        followed_by(container),
        dead_letters=lambda: sum(r.dead_lettered for r in runners),
        alerts_raised=lambda: sum(container.alerts_log.end_offsets().values()),
        consumers_up=lambda: {name: t.is_alive() for name, t in consumer.items()},
        cases_failing=lambda: {f.name: len(f.failing) for f in followers},
    )
    app = DocumentedApp(
        container.schemas,
        container.settings.max_batch_items,
        rules=rules,
        purposes=purposes,
        title="Safeguarding Ledger",
        version="0.1.0",
        description="Append safeguarding events; read case state. Errors are RFC 9457 problems.",
        default_response_class=JSONBytes,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        # Authorization first: a caller without credentials learns nothing of the parameters.
        dependencies=[Depends(authorize), Depends(_known_parameters_only)],
    )
    _install_error_handlers(app)
    # Inside the metrics: a read refused for want of its record is timed as the 503 it is.
    app.add_middleware(AccessRecorder, access_log=container.access_log)
    app.add_middleware(RequestMetrics, metrics=metrics)
    install_docs(app)
    app.state.purposes = purposes
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(login_router(credentials, purposes, settings.cookie_secure))
    app.include_router(cases_router(container))
    app.include_router(exports_router(container))
    app.include_router(case_router(container))
    app.include_router(print_router(container))
    app.include_router(audit_router(container))
    app.include_router(events_router(container, metrics))
    app.include_router(read_router(container))
    app.include_router(knowledge_router(container))
    app.include_router(clocks_router(container))
    app.include_router(proofs_router(container))
    app.include_router(access_router(container))
    app.include_router(notes_router(container))
    app.include_router(ops_router(container, metrics, consumer))
    check_covered(_api_routes(app), rules)
    return app


def _api_routes(app: FastAPI) -> Iterator[tuple[str, str]]:
    """Every (method, path template) the app's API routes answer."""
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute) and context.path is not None:
            for method in route.methods or ():
                yield method, context.path


async def _known_parameters_only(request: Request) -> None:
    """Refuse, naming each, the query parameters the matched route does not take: a read
    silently ignoring one (`as_of` where none is honoured) would answer another question.
    Routes outside the API document (the documentation pages, /metrics) are not checked."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or not route.include_in_schema:
        return
    known = declared_query_parameters(route)
    rule = getattr(request.state, "rule", None)
    if isinstance(rule, Rule) and rule.takes_purpose():
        known = (*known, PURPOSE_PARAMETER)
    unknown = [name for name in dict.fromkeys(request.query_params) if name not in known]
    if unknown:
        raise UnknownParameters(unknown, known)


def _consume(
    loop: ProjectionRunner | CaseFollower | Sealer | AccessIndexer, stop: threading.Event
) -> None:
    """Run a consumer until stop; a failure ends its thread, logged once with its traceback,
    and /readyz and sgl_consumer_up report it stopped."""
    try:
        loop.run_resilient(stop)
    except Exception:
        log.exception("consumer.crashed", view=loop.name)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(InvalidEvent)
    async def invalid(_: Request, exc: InvalidEvent) -> Response:
        kind = "invalid-batch" if isinstance(exc, BatchRejected) else "invalid-event"
        return problem_response(
            422,
            kind,
            exc.title,
            f"{len(exc.problems)} rule(s) broken; nothing was appended",
            exc.problems,
        )

    @app.exception_handler(NotPermitted)
    async def not_permitted(_: Request, exc: NotPermitted) -> Response:
        return problem_response(
            403,
            "forbidden",
            exc.title,
            f"{len(exc.problems)} event(s) the sender may not publish; nothing was appended",
            exc.problems,
        )

    @app.exception_handler(EventConflict)
    async def conflict(_: Request, exc: EventConflict) -> Response:
        return problem_response(
            409,
            "event-id-conflict",
            "event_id already used for other content",
            "an event_id is an idempotency key: a retry must send identical content",
            [
                Problem("/event_id", "unique-content", f"{eid} is already in the ledger")
                for eid in exc.event_ids
            ],
        )

    @app.exception_handler(LedgerUnavailable)
    async def unavailable(request: Request, exc: LedgerUnavailable) -> Response:
        log.error("ledger.unavailable", error=str(exc))
        return unavailable_response(request)

    async def store_unavailable(request: Request, exc: Exception) -> Response:
        # A view or index the route reads cannot be reached (its database restarting): as
        # the log unavailable. By class only: the driver's message may quote a statement.
        log.error("store.unavailable", error=type(exc).__name__)
        return unavailable_response(request)

    for unreachable in STORE_UNREACHABLE:
        app.add_exception_handler(unreachable, store_unavailable)

    def unavailable_response(request: Request) -> Response:
        if wants_page(request):
            return problem_page(
                request,
                503,
                "The ledger is unavailable",
                "The ledger cannot be reached just now; try again in a moment.",
                headers={"Retry-After": "1"},
            )
        return problem_response(
            503,
            "unavailable",
            "The ledger is unavailable",
            "retry with the same event_ids; nothing is applied twice",
            headers={"Retry-After": "1"},
        )

    @app.exception_handler(Refused)
    async def refused(request: Request, exc: Refused) -> Response:
        if is_page(request):
            return problem_page(
                request, exc.status, exc.title, exc.detail, exc.problems, exc.headers
            )
        return problem_response(
            exc.status, exc.kind, exc.title, exc.detail, exc.problems, headers=exc.headers
        )

    @app.exception_handler(QueryError)
    async def unanswerable(request: Request, exc: QueryError) -> Response:
        if is_page(request):
            return problem_page(request, exc.status, exc.title, exc.detail, exc.problems)
        return problem_response(exc.status, exc.kind, exc.title, exc.detail, exc.problems)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if wants_page(request):
            return problem_page(request, exc.status_code, str(exc.detail), str(exc.detail))
        # The headers carry what the status needs, e.g. Allow with a 405.
        return problem_response(
            exc.status_code, "http", str(exc.detail), str(exc.detail), headers=exc.headers
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        # Logged by route and error class: the message may quote what was sent.
        log.error(
            "request.failed",
            route=route_template(request.scope),
            method=request.method,
            error=type(exc).__name__,
        )
        if wants_page(request):
            return problem_page(
                request, 500, "Something went wrong", "The ledger could not show this page."
            )
        return problem_response(
            500,
            "internal",
            "Internal error",
            "an unexpected failure; a retry with the same event_ids is safe",
        )

    @app.exception_handler(RequestValidationError)
    async def request_invalid(request: Request, exc: RequestValidationError) -> Response:
        problems = [Problem(_pointer(e["loc"]), e["type"], _message(e)) for e in exc.errors()]
        if is_page(request):
            return problem_page(request, 422, "Invalid request", "a parameter is invalid", problems)
        return problem_response(
            422,
            "invalid-request",
            "Invalid request parameters",
            "a path or query parameter is invalid",
            problems,
        )


# A query or path parameter is named `/name`, as the query layer names it; a body error keeps
# its location (`/body/...`).
_PARAMETER_LOCATIONS = ("query", "path")


def _pointer(location: Sequence[int | str]) -> str:
    """The JSON pointer of a validation error's location."""
    parts = list(location)
    if len(parts) > 1 and parts[0] in _PARAMETER_LOCATIONS:
        parts = parts[1:]
    return "/" + "/".join(str(p) for p in parts)


_CHOICES = re.compile(r"^\^\(([\w.-]+(?:\|[\w.-]+)+)\)\$$")


def _message(error: Mapping[str, Any]) -> str:
    """The validation message, naming every allowed value when the parameter is a choice."""
    context = error.get("ctx") or {}
    if error["type"] in ("literal_error", "enum"):
        return f"{error.get('input')!r} is not one of: {context.get('expected')}"
    choices = _CHOICES.match(str(context.get("pattern", "")))
    if error["type"] == "string_pattern_mismatch" and choices:
        allowed = ", ".join(repr(c) for c in choices.group(1).split("|"))
        return f"{error.get('input')!r} is not one of: {allowed}"
    return str(error["msg"])
