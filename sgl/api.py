"""The HTTP API under /v1: append events, read case state, serve the schemas, health."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
import structlog
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from ledger.errors import BatchRejected, EventConflict, InvalidEvent, LedgerUnavailable, Problem
from ledger.log import Receipt
from sgl.bootstrap import Container
from sgl.responses import JSONBytes, problem_response

log = structlog.get_logger("sgl.api")


class _BodyTooLarge(Exception):
    """The request body passed the configured limit."""


def create_app(container: Container, *, run_consumer: bool = True) -> FastAPI:
    """The FastAPI app over a wired container; optionally runs the case-state consumer too."""
    consumer_stop = threading.Event()
    consumer: dict[str, threading.Thread] = {}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if run_consumer:
            thread = threading.Thread(
                target=_consume,
                args=(container, consumer_stop),
                name="case-state-consumer",
                daemon=True,
            )
            thread.start()
            consumer["case_state"] = thread
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

    @app.post("/v1/events", status_code=201, summary="Append one event or a batch (JSON array)")
    async def post_events(request: Request) -> Response:
        """Validate and append; a batch is all-or-nothing at validation."""
        parsed = await _read_json(request, container.settings.max_body_bytes)
        if isinstance(parsed, Response):
            return parsed
        if isinstance(parsed, list):
            if len(parsed) > container.settings.max_batch_items:
                return problem_response(
                    422,
                    "invalid-batch",
                    "The batch is too large",
                    f"a batch holds at most {container.settings.max_batch_items} events",
                    [Problem("", "maxItems", f"{len(parsed)} items sent")],
                )
            receipts = await run_in_threadpool(container.ledger.submit, parsed)
            status = 201 if any(r.status == "accepted" for r in receipts) else 200
            return JSONBytes({"receipts": [r.as_dict() for r in receipts]}, status_code=status)
        receipt: Receipt = await run_in_threadpool(container.ledger.submit_one, parsed)
        return JSONBytes(
            receipt.as_dict(), status_code=201 if receipt.status == "accepted" else 200
        )

    @app.get("/v1/cases/{case_id}", summary="The current state of a case")
    def get_case(case_id: str) -> Response:
        """The case-state view for one case, or 404."""
        state = container.view.get(case_id)
        if state is None:
            return problem_response(
                404, "not-found", "No such case", f"the ledger has no case {case_id!r} (yet)"
            )
        return JSONBytes(state)

    @app.get("/v1/schemas", summary="Every event type and its schema versions")
    def list_schemas() -> dict[str, Any]:
        """Types, versions and where to fetch each schema."""
        return {
            "event_types": [
                {
                    "type": name,
                    "versions": versions,
                    "links": [f"/v1/schemas/{name}/{v}" for v in versions],
                }
                for name, versions in container.schemas.event_types.items()
            ],
            "envelope": "/v1/schemas/envelope/1",
        }

    @app.get("/v1/schemas/{name}/{version}", summary="One JSON Schema (draft 2020-12)")
    def get_schema(name: str, version: int) -> Response:
        """The schema document, exactly as published."""
        doc = container.schemas.schema(name, version)
        if doc is None:
            return problem_response(
                404, "not-found", "No such schema", f"no schema {name!r} version {version}"
            )
        return Response(orjson.dumps(doc.document), media_type="application/schema+json")

    @app.get("/healthz", summary="Liveness")
    def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz", summary="Readiness: log reachable, consumer running")
    def readyz() -> Response:
        """503 until the log answers and the consumer thread (if any) is alive."""
        try:
            container.log.ping()
        except LedgerUnavailable as exc:
            return problem_response(503, "not-ready", "Not ready", str(exc))
        dead = [name for name, t in consumer.items() if not t.is_alive()]
        if dead:
            return problem_response(503, "not-ready", "Not ready", f"consumer stopped: {dead}")
        return JSONBytes({"status": "ready", "backend": container.settings.backend})

    return app


def _consume(container: Container, stop: threading.Event) -> None:
    try:
        container.runner().run(stop)
    except Exception:
        log.exception("consumer.crashed", view="case_state")
        raise


async def _read_json(request: Request, limit: int) -> Any:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json":
        return problem_response(
            415,
            "unsupported-media-type",
            "Unsupported media type",
            "send events as application/json",
            [Problem("", "content-type", f"got {media or 'no content type'!r}")],
        )
    try:
        body = await _body_within(request, limit)
    except _BodyTooLarge:
        return problem_response(
            413,
            "body-too-large",
            "Request body too large",
            f"the body is over {limit} bytes",
            [Problem("", "max-body-bytes", f"limit is {limit} bytes")],
        )
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        return problem_response(
            400,
            "malformed-json",
            "Malformed JSON",
            "the body is not valid JSON",
            [Problem("", "json", str(exc))],
        )


async def _body_within(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _BodyTooLarge
    chunks = bytearray()
    async for chunk in request.stream():
        chunks.extend(chunk)
        if len(chunks) > limit:
            raise _BodyTooLarge
    return bytes(chunks)


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
