"""POST /v1/events: read the body safely, append, answer with receipts or a problem."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from typing import Any

import structlog
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from ledger.errors import EventConflict, InvalidEvent, NotPermitted, Problem
from ledger.limits import JSONRefused, loads_strict
from ledger.log import Receipt
from ledger.settings import Settings
from sgl.bootstrap import Container
from sgl.identity import access_of
from sgl.metrics import Metrics
from sgl.publishers import caller_problems
from sgl.responses import JSONBytes, problem_response

log = structlog.get_logger("sgl.events")
# Only an event_id that is a UUID is logged: anything else a publisher sent there is content.
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
# The rules whose pointer ends with a property name the publisher sent: a name is content too.
_NAMED_BY_SENDER = frozenset({"additionalProperties", "unevaluatedProperties"})


class _BodyTooLarge(Exception):
    """The request body passed the configured limit."""


def events_router(container: Container, metrics: Metrics) -> APIRouter:
    """The append endpoint over a wired container."""
    router = APIRouter()

    @router.post("/v1/events", status_code=201, summary="Append one event or a batch (JSON array)")
    async def post_events(request: Request) -> Response:
        """Refuse what the caller may not publish, then validate and append (all or nothing)."""
        parsed = await _read_json(request, container.settings)
        if isinstance(parsed, Response):
            return parsed
        refused = caller_problems(access_of(request).caller, parsed)
        if refused:
            _log_rejected(parsed, 403, refused)
            raise NotPermitted(
                refused, title="The caller may not publish these events; nothing was appended"
            )
        try:
            return await _append(parsed)
        except InvalidEvent as exc:
            _log_rejected(parsed, 403 if isinstance(exc, NotPermitted) else 422, exc.problems)
            raise
        except EventConflict as exc:
            _log_rejected(parsed, 409, [Problem("/event_id", "unique-content", "")], exc.event_ids)
            raise

    async def _append(parsed: Any) -> Response:
        if isinstance(parsed, list):
            if len(parsed) > container.settings.max_batch_items:
                too_many = [Problem("", "maxItems", f"{len(parsed)} items sent")]
                _log_rejected(parsed, 422, too_many)
                return problem_response(
                    422,
                    "invalid-batch",
                    "The batch is too large",
                    f"a batch holds at most {container.settings.max_batch_items} events",
                    too_many,
                )
            receipts = await run_in_threadpool(container.ledger.submit, parsed)
            # Counted once a status, not once an event: a batch holds thousands.
            by_status = Counter(r.status for r in receipts)
            for receipt_status, count in by_status.items():
                metrics.appended.labels(receipt_status).inc(count)
            status = 201 if by_status["accepted"] else 200
            return JSONBytes({"receipts": [r.as_dict() for r in receipts]}, status_code=status)
        receipt_one: Receipt = await run_in_threadpool(container.ledger.submit_one, parsed)
        metrics.appended.labels(receipt_one.status).inc()
        status_one = 201 if receipt_one.status == "accepted" else 200
        return JSONBytes(receipt_one.as_dict(), status_code=status_one)

    return router


def _log_rejected(
    parsed: Any, status: int, problems: list[Problem], event_ids: list[str] | None = None
) -> None:
    """Log a refused request by its event ids and the rules broken; never what it said."""
    items = parsed if isinstance(parsed, list) else [parsed]
    ids = event_ids or [
        e["event_id"]
        for e in items
        if isinstance(e, dict) and isinstance(e.get("event_id"), str) and _UUID.match(e["event_id"])
    ]
    log.info(
        "events.rejected",
        status=status,
        event_ids=ids[:100],
        events=len(items),
        broken=[
            {
                "pointer": _loggable_pointer(p),
                "rule": p.rule,
                **({} if p.item is None else {"item": p.item}),
            }
            for p in problems[:100]
        ],
    )


def _loggable_pointer(problem: Problem) -> str:
    """The problem's pointer, or its parent's where the last step is a name the sender chose."""
    if problem.rule in _NAMED_BY_SENDER:
        return problem.pointer.rsplit("/", 1)[0]
    return problem.pointer


async def _read_json(request: Request, settings: Settings) -> Any:
    """The body's JSON, or the problem that refuses it: 415, 413, 408 or 400."""
    refused = _media_problem(request.headers.get("content-type", ""))
    if refused is not None:
        return refused
    limit = settings.max_body_bytes
    try:
        async with asyncio.timeout(settings.body_timeout_seconds):
            body = await _body_within(request, limit)
    except _BodyTooLarge:
        return problem_response(
            413,
            "body-too-large",
            "Request body too large",
            f"the body is over {limit} bytes",
            [Problem("", "max-body-bytes", f"limit is {limit} bytes")],
        )
    except TimeoutError:
        return problem_response(
            408,
            "body-timeout",
            "The body took too long to arrive",
            f"the whole body must arrive within {settings.body_timeout_seconds} s",
            [Problem("", "body-timeout", f"limit is {settings.body_timeout_seconds} s")],
            headers={"Connection": "close"},
        )
    try:
        return loads_strict(body)
    except JSONRefused as exc:
        return problem_response(
            400,
            _BODY_KINDS.get(exc.rule, "malformed-json"),
            _BODY_TITLES.get(exc.rule, "Malformed JSON"),
            "the body is not JSON the ledger accepts",
            [Problem(exc.pointer, exc.rule, exc.detail)],
        )


_BODY_KINDS = {"utf-8": "not-utf-8", "max-depth": "too-deep", "duplicate-key": "duplicate-key"}
_BODY_TITLES = {
    "utf-8": "The body is not UTF-8",
    "max-depth": "The JSON nests too deeply",
    "duplicate-key": "An object holds a key twice",
}


def _media_problem(content_type: str) -> Response | None:
    """415 unless the body is declared application/json, in UTF-8 if a charset is named."""
    media, *parameters = (part.strip() for part in content_type.split(";"))
    if media.lower() != "application/json":
        return problem_response(
            415,
            "unsupported-media-type",
            "Unsupported media type",
            "send events as application/json",
            [Problem("", "content-type", f"got {media.lower() or 'no content type'!r}")],
        )
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() != "utf-8":
            return problem_response(
                415,
                "unsupported-media-type",
                "Unsupported charset",
                "JSON is UTF-8: send charset=utf-8 or no charset",
                [Problem("", "charset", f"got charset {value.strip()!r}")],
            )
    return None


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
