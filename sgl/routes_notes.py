"""Inquiry notes over HTTP: `POST /v1/cases/{case_id}/notes` (an inquiry writes a note about an
event of the case or a date) and `GET /v1/cases/{case_id}/notes` (the case's notes, beside the
record); and the same two for the pages (`notes_of`, `add_note`)."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from ledger.errors import Problem
from ledger.log import Receipt
from ledger.notes import Author, InvalidNote, Note, Notes, shown
from sgl import queries
from sgl.access_log import RETRY_AFTER_SECONDS
from sgl.access_report import behind
from sgl.bootstrap import Container
from sgl.identity import Caller, access_of
from sgl.openapi import REF, problem
from sgl.responses import JSONBytes, problem_response
from sgl.routes_events import _read_json

# How long a read of the notes waits for their index to take in the notes already appended
# (one just written among them); past it, there is no answer (`NotesBehind`).
CATCH_UP_SECONDS = 5.0
_POLL_SECONDS = 0.02
WRITES_NOTES = "inquiry"
Document = dict[str, Any]


class NotesBehind(Exception):
    """The notes' index has not taken in every note yet: an answer now would miss some."""

    def __init__(self, missing: int) -> None:
        super().__init__(
            f"{missing} note(s) are not yet indexed: the answer would miss them (is the notes "
            "index consumer running?)"
        )
        self.missing = missing


def notes_of(container: Container, case_id: str, wait: float = CATCH_UP_SECONDS) -> list[Note]:
    """The case's notes, oldest first, once the index holds every note appended before now:
    each `{"note", "superseded_by", "log_position"}` (`ledger.notes.shown`); NotesBehind when
    the index still lags after `wait` seconds."""
    deadline = time.monotonic() + wait
    missing = behind(container.notes_index, container.notes_log)
    while missing and time.monotonic() < deadline:
        time.sleep(_POLL_SECONDS)
        missing = behind(container.notes_index, container.notes_log)
    if missing:
        raise NotesBehind(missing)
    return shown(container.notes_index.records(case_id))


def add_note(container: Container, case_id: str, sent: object, caller: Caller) -> Document:
    """Append an inquiry's note about the case (what `POST /v1/cases/{case_id}/notes` sends),
    its author from the caller: `{"note", "receipt"}`. Forbidden unless the caller is an
    inquiry; NoSuchCase for a case the ledger does not hold; InvalidNote naming each field and
    rule broken, with nothing appended."""
    if caller.role != WRITES_NOTES:
        raise queries.Forbidden(
            f"a {caller.role} does not write inquiry notes",
            [Problem("/role", "writes-notes", "inquiry only")],
        )
    if not container.view.events(case_id):
        raise queries.NoSuchCase(case_id)
    notes = Notes(
        container.notes_log,
        container.schemas,
        in_case=lambda case, event_id: _in_case(container, case, event_id),
        notes_of=lambda case: [shown_note["note"] for shown_note in notes_of(container, case)],
    )
    note, receipt = notes.append(
        case_id, sent, Author(caller.agency, caller.token_id, caller.person)
    )
    return {"note": note, "receipt": receipt.as_dict()}


def _in_case(container: Container, case_id: str, event_id: str) -> bool:
    """Whether the event is the case's: in the case view, or (not taken in yet) appended by
    this ledger under the case."""
    if any(event.event_id.lower() == event_id for event in container.view.events(case_id)):
        return True
    found: Receipt | None = container.log.lookup([event_id]).get(event_id)
    return found is not None and found.case_id == case_id


def notes_router(container: Container) -> APIRouter:
    """The notes routes over a wired container."""
    router = APIRouter()

    @router.post(
        "/v1/cases/{case_id}/notes",
        status_code=201,
        summary="Write an inquiry note about an event of the case or a date",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": REF + "NoteBody"}}},
            }
        },
        responses={
            201: {
                "description": "The note as kept on the notes log, and its receipt",
                "content": {"application/json": {"schema": {"$ref": REF + "NoteWritten"}}},
            },
            400: problem("The body is not JSON the ledger accepts"),
            408: problem("The body did not arrive within SGL_BODY_TIMEOUT_SECONDS"),
            413: problem("The body is over the size limit (SGL_MAX_BODY_BYTES)"),
            415: problem("The body is not application/json"),
            422: problem(
                "The note breaks its schema, or names an event or a note that is not the "
                "case's; nothing was appended"
            ),
            503: problem("The notes log is unavailable, or its index is behind: retry"),
        },
    )
    async def post_note(request: Request, case_id: str) -> Response:
        """Append a note about one event of the case (`about.event_id`) or a date
        (`about.date`: a day or an instant), with its text and, to amend or withdraw an
        earlier note, `supersedes`. The ledger sets the note's id, its author (the caller's
        agency and token id) and when it was taken in; the record itself is never altered.
        Inquiry only."""
        parsed = await _read_json(request, container.settings)
        if isinstance(parsed, Response):
            return parsed
        caller = access_of(request).caller
        try:
            written = await run_in_threadpool(add_note, container, case_id, parsed, caller)
        except InvalidNote as exc:
            return problem_response(
                422,
                "invalid-note",
                exc.title,
                f"{len(exc.problems)} rule(s) broken; nothing was appended",
                exc.problems,
            )
        except NotesBehind as exc:
            return _behind(exc)
        return JSONBytes(written, status_code=201)

    @router.get(
        "/v1/cases/{case_id}/notes",
        summary="The inquiry notes of a case, beside its record",
        responses={
            200: {
                "description": "Every note of the case, oldest first",
                "content": {"application/json": {"schema": {"$ref": REF + "CaseNotes"}}},
            },
            503: problem("The notes' index is behind (see Retry-After)"),
        },
    )
    def get_notes(case_id: str) -> Response:
        """Every note of the case, oldest first, each with the note that supersedes it (if
        any) and its place on the notes log; notes are kept beside the record, never in it."""
        if not container.view.events(case_id):
            raise queries.NoSuchCase(case_id)
        try:
            found = notes_of(container, case_id)
        except NotesBehind as exc:
            return _behind(exc)
        return JSONBytes({"case_id": case_id, "count": len(found), "notes": found})

    return router


def _behind(exc: NotesBehind) -> Response:
    return problem_response(
        503,
        "notes-behind",
        "The notes are not yet all indexed",
        str(exc),
        headers={"Retry-After": RETRY_AFTER_SECONDS},
    )
