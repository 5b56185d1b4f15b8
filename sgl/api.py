"""The HTTP app: wires the routers, the error handlers and the in-process consumer."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from consumers.follower import CaseFollower
from consumers.runner import ProjectionRunner
from consumers.sealer import Sealer
from ledger.errors import BatchRejected, EventConflict, InvalidEvent, LedgerUnavailable, Problem
from sgl.bootstrap import Container
from sgl.metrics import Metrics
from sgl.queries import QueryError
from sgl.responses import MEDIA_TYPE as PROBLEM
from sgl.responses import JSONBytes, problem_response
from sgl.routes_clocks import clocks_router
from sgl.routes_events import events_router
from sgl.routes_knowledge import knowledge_router
from sgl.routes_ops import ops_router
from sgl.routes_proofs import proofs_router
from sgl.routes_read import read_router

log = structlog.get_logger("sgl.api")


def create_app(container: Container, *, run_consumer: bool = True) -> FastAPI:
    """The FastAPI app over a wired container; optionally runs the case-state consumer too."""
    consumer_stop = threading.Event()
    consumer: dict[str, threading.Thread] = {}
    loops: list[ProjectionRunner | CaseFollower | Sealer] = [
        container.runner(),
        *container.followers(),
        container.sealer(),
    ]
    metrics = Metrics({loop.name: loop.lag for loop in loops})

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if run_consumer:
            for loop in loops:
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
        for thread in consumer.values():
            thread.join(timeout=10)

    app = FastAPI(
        title="Safeguarding Ledger",
        version="0.1.0",
        description="Append safeguarding events; read case state. Errors are RFC 9457 problems.",
        default_response_class=JSONBytes,
        lifespan=lifespan,
    )
    _install_error_handlers(app)

    @app.middleware("http")
    async def count_problems(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        if response.headers.get("content-type") == PROBLEM:
            metrics.rejected.labels(str(response.status_code)).inc()
        return response

    app.include_router(events_router(container, metrics))
    app.include_router(read_router(container))
    app.include_router(knowledge_router(container))
    app.include_router(clocks_router(container))
    app.include_router(proofs_router(container))
    app.include_router(ops_router(container, metrics, consumer))
    return app


def _consume(loop: ProjectionRunner | CaseFollower | Sealer, stop: threading.Event) -> None:
    try:
        loop.run_resilient(stop)
    except Exception:
        log.exception("consumer.crashed", view=loop.name)
        raise


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
    async def unavailable(_: Request, exc: LedgerUnavailable) -> Response:
        log.error("ledger.unavailable", error=str(exc))
        return problem_response(
            503,
            "unavailable",
            "The ledger is unavailable",
            "retry with the same event_ids; nothing is applied twice",
            headers={"Retry-After": "1"},
        )

    @app.exception_handler(QueryError)
    async def unanswerable(_: Request, exc: QueryError) -> Response:
        return problem_response(exc.status, exc.kind, exc.title, exc.detail, exc.problems)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> Response:
        return problem_response(exc.status_code, "http", str(exc.detail), str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def request_invalid(_: Request, exc: RequestValidationError) -> Response:
        problems = [
            Problem("/" + "/".join(str(p) for p in e["loc"]), e["type"], e["msg"])
            for e in exc.errors()
        ]
        return problem_response(
            422,
            "invalid-request",
            "Invalid request parameters",
            "a path or query parameter is invalid",
            problems,
        )
