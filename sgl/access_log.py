"""No read without its record: the middleware that appends an access record for every request
whose route rule says `recorded`, before the response leaves the ledger.

The authorization step leaves the request's rule and caller in the request state; this
middleware holds the response's start, appends the record with the response's status, and
only then lets the start and the body go. When the append fails the caller gets a 503 problem
(`access-unrecorded`) and never the body: nothing is read off the record.
"""

from __future__ import annotations

import asyncio
import re
import threading
import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import structlog
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ledger.access import AccessRecord
from ledger.log import EventLog, PendingRecord
from sgl.authorize import PURPOSE_PARAMETER
from sgl.identity import Access
from sgl.metrics import route_template
from sgl.responses import problem_response

log = structlog.get_logger("sgl.access_log")

REQUEST_ID_HEADER = "X-Request-Id"
# A request id the caller sends is kept when it is a plain token of reasonable length;
# anything else is replaced (it is written to a sealed log and echoed back).
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
RETRY_AFTER_SECONDS = "5"
# What an access record keeps of a query parameter's value it may not keep.
REDACTED = "[redacted]"
# How long the access log's writer thread waits for a record before it ends (a new one
# starts with the next record).
WRITER_IDLE_SECONDS = 1.0


def is_recorded(scope: Scope) -> bool:
    """Whether the rule the authorization step chose for this request says it is recorded."""
    state = scope.get("state")
    rule = state.get("rule") if isinstance(state, Mapping) else None
    return getattr(rule, "recorded", False) is True


def access_record(
    scope: Scope, status: int, request_id: str, now: datetime | None = None
) -> AccessRecord:
    """The access record of a request about to be answered with this status."""
    state = scope.get("state")
    access = state.get("access") if isinstance(state, Mapping) else None
    caller = access.caller if isinstance(access, Access) else None
    params: dict[str, Any] = scope.get("path_params") or {}
    query = recorded_query(scope)
    client = scope.get("client")
    # A route whose case is not in its path (an event's proof) names it in the state.
    named = state.get("case_id") if isinstance(state, Mapping) else None
    case_id = named if named is not None else params.get("case_id")
    # A route whose answer shows several cases (a list's page) names them in the state.
    shown = state.get("cases_shown") if isinstance(state, Mapping) else None
    return AccessRecord(
        access_id=str(uuid.uuid4()),
        request_id=request_id,
        recorded_at=now or datetime.now(UTC),
        token_id=caller.token_id if caller else None,
        agency=caller.agency if caller else None,
        role=caller.role if caller else None,
        person=caller.person if caller else None,
        via=caller.via if caller else None,
        purpose=access.purpose if isinstance(access, Access) else None,
        method=scope["method"],
        route=route_template(scope),
        case_id=str(case_id) if case_id is not None else None,
        query=query,
        as_of=next((v for name, v in query if name == "as_of" and v != REDACTED), None),
        status=status,
        address=client[0] if client else None,
        path_params={str(k): str(v) for k, v in params.items()},
        cases_shown=[str(c) for c in shown or ()],
    )


def declared_query_parameters(route: APIRoute) -> tuple[str, ...]:
    """The query parameters a route declares, by the names clients send (their aliases)."""
    return tuple(dict.fromkeys(_aliases(route.dependant)))


def _aliases(dependant: Dependant) -> Iterator[str]:
    """The query parameters of a dependant and of everything it depends on."""
    yield from (field.alias for field in dependant.query_params)
    for sub in dependant.dependencies:
        yield from _aliases(sub)


def recorded_query(scope: Scope) -> list[tuple[str, str]]:
    """The request's query parameters as its access record keeps them: the values of those the
    route declares (and the purpose), and only the name of any other; never the value of a
    parameter named like a token (a credential sent in a URL stays out of the sealed log)."""
    route = scope.get("route")
    declared = {PURPOSE_PARAMETER}
    if isinstance(route, APIRoute):
        declared.update(declared_query_parameters(route))
    sent = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
    return [
        (name, value if name in declared and "token" not in name.lower() else REDACTED)
        for name, value in sent
    ]


def request_id_of(scope: Scope) -> str:
    """The caller's X-Request-Id when it is a plain token, else a new one."""
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            sent: str = value.decode("latin-1")
            if _REQUEST_ID.match(sent):
                return sent
    return str(uuid.uuid4())


# A record waiting to be appended, with the request's event loop and what it awaits.
_Waiting = tuple[PendingRecord, asyncio.AbstractEventLoop, asyncio.Future[None]]


class GroupAppender:
    """Appends the access records of concurrent requests together, on a thread of its own:
    every record that arrives while an append is under way goes in the next one, so many
    reads share one transaction (one disk sync) or one producer batch, and no request waits
    on the log on the event loop."""

    def __init__(self, access_log: EventLog) -> None:
        self.log = access_log
        self._ready = threading.Condition()
        self._waiting: list[_Waiting] = []
        self._writer: threading.Thread | None = None

    async def append(self, record: PendingRecord) -> None:
        """Append the record; raise what the append raised."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        with self._ready:
            self._waiting.append((record, loop, done))
            if self._writer is None:
                self._writer = threading.Thread(target=self._write, name="access-writer")
                self._writer.daemon = True
                self._writer.start()
            self._ready.notify()
        await done

    def _write(self) -> None:
        """Append what is waiting, batch after batch, until nothing comes for a while."""
        while True:
            with self._ready:
                if not self._waiting:
                    self._ready.wait(WRITER_IDLE_SECONDS)
                if not self._waiting:
                    self._writer = None
                    return
                batch, self._waiting = self._waiting, []
            error: BaseException | None = None
            try:
                self.log.append([record for record, _, _ in batch])
            except Exception as exc:
                error = exc
            for _, loop, done in batch:
                loop.call_soon_threadsafe(_settle, done, error)


def _settle(done: asyncio.Future[None], error: BaseException | None) -> None:
    """Resolve a request's wait (unless the request has gone)."""
    if done.cancelled():
        return
    if error is None:
        done.set_result(None)
    else:
        done.set_exception(error)


class AccessRecorder:
    """ASGI middleware: appends each recorded request's access record before its response
    starts; refuses the response (503 `access-unrecorded`) when the append fails."""

    def __init__(self, app: ASGIApp, access_log: EventLog) -> None:
        self.app = app
        self.appender = GroupAppender(access_log)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, holding a recorded response's start until its record is in."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope)
        refused = False
        started = False

        async def hold(message: Message) -> None:
            nonlocal refused, started
            if refused:
                return  # the 503 was sent instead: the body of the read never leaves
            if message["type"] == "http.response.start":
                started = True
                message = {
                    **message,
                    "headers": [
                        *message.get("headers", ()),
                        (REQUEST_ID_HEADER.lower().encode(), request_id.encode()),
                    ],
                }
                if is_recorded(scope) and not await self._append(
                    access_record(scope, message["status"], request_id)
                ):
                    refused = True
                    await unrecorded(request_id)(scope, receive, send)
                    return
            await send(message)

        try:
            await self.app(scope, receive, hold)
        except Exception:
            # The app failed before answering; the server's last handler answers 500, which
            # carries no case data: the attempt is recorded if it can be, and never held up.
            if not started and is_recorded(scope):
                await self._append(access_record(scope, 500, request_id))
            raise

    async def _append(self, record: AccessRecord) -> bool:
        """Append the record (off the event loop: the log may wait on a disk or a broker);
        whether it is in the access log."""
        try:
            await self.appender.append(record.pending())
        except Exception as exc:
            log.error(
                "access.unrecorded",
                route=record.route,
                error=type(exc).__name__,
                detail=str(exc),
            )
            return False
        return True


def unrecorded(request_id: str) -> Any:
    """The 503 problem answered instead of a read whose access record could not be appended."""
    return problem_response(
        503,
        "access-unrecorded",
        "The read could not be recorded",
        "every read of case data is recorded before it is answered, and the access log "
        "cannot be written now; nothing was read. Retry later.",
        headers={"Retry-After": RETRY_AFTER_SECONDS, REQUEST_ID_HEADER: request_id},
    )
