"""The case page as of any day, one event's record, an event's proof as a download, and the
case page's form that writes an inquiry's note.

Everything comes from the same queries as the API (sgl/queries), scoped as the API scopes
them: a practitioner sees what its agency knew, and of an event it never knew gets the same
404 as of an event the ledger does not hold. Notes are written and read as the API's notes
routes do (`sgl.routes_notes`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from ledger.envelope import parse_instant
from ledger.errors import Problem
from ledger.notes import InvalidNote
from sgl import queries
from sgl.bootstrap import Container
from sgl.identity import access_of
from sgl.queries.agencies import namer
from sgl.responses import NO_STORE, JSONBytes
from sgl.routes_notes import NotesBehind, add_note
from sgl.routes_proofs import case_of
from sgl.routes_read import knower_of, viewer_of
from sgl.web import PageRoute
from sgl.web.case_knowledge import clocks_section, knowledge_section
from sgl.web.case_notes import (
    NoteForm,
    event_notes,
    field_of,
    note_link,
    notes_section,
    prefilled,
    reads_notes,
    text_limit,
    writes_notes,
)
from sgl.web.render import problem_page, render
from sgl.web.routes_login import same_origin
from sgl.web.timeline import timeline_svg

Day = Annotated[str | None, Query(description="YYYY-MM-DD: the case as of the end of that day")]
About = Annotated[str | None, Query(max_length=100, description="the note form about this entry")]
Amend = Annotated[str | None, Query(max_length=100, description="the note form amending this note")]
# A bound on the note form's text before the note's own rules judge it (its schema's limit).
FORM_TEXT_MAX = 100_000


class NoSuchEvent(queries.NotFound):
    """The case holds no such event (or none the caller's agency knew)."""

    title = "No such event"

    def __init__(self, case_id: str, event_id: str) -> None:
        super().__init__(f"case {case_id!r} has no event {event_id!r}")


def day_of(as_of: str | None) -> date:
    """The day a page is about: the one given (YYYY-MM-DD), else today (UTC)."""
    if as_of is None:
        return datetime.now(UTC).date()
    try:
        if len(as_of) != 10:
            raise ValueError(as_of)
        return date.fromisoformat(as_of)
    except ValueError:
        raise queries.BadRequest(
            "the case page shows a day: as_of is YYYY-MM-DD",
            [Problem("/as_of", "format", f"{as_of!r} is not a date YYYY-MM-DD")],
        ) from None


def steps(day: date, recorded: Sequence[date]) -> list[dict[str, Any]]:
    """The step links from a day: a day, a week, and the previous and next day an entry was
    recorded (absent when there is none), each with the key that follows it."""
    before = [d for d in recorded if d < day]
    after = [d for d in recorded if d > day]
    found = [
        ("Previous event", "<", ",", before[-1] if before else None),
        ("Week back", "<", "{", day - timedelta(days=7)),
        ("Day back", "<", "[", day - timedelta(days=1)),
        ("Day on", ">", "]", day + timedelta(days=1)),
        ("Week on", ">", "}", day + timedelta(days=7)),
        ("Next event", ">", ".", after[0] if after else None),
    ]
    return [
        {"label": label, "direction": direction, "key": key, "day": None if d is None else str(d)}
        for label, direction, key, d in found
    ]


def utc_day(instant: str) -> date:
    """The UTC day of an RFC 3339 instant."""
    return parse_instant(instant).astimezone(UTC).date()


def case_view(
    container: Container,
    request: Request,
    case_id: str,
    day: date,
    form: NoteForm | None,
    status: int = 200,
    about: str | None = None,
    amend: str | None = None,
) -> Response:
    """The case page as of the day; its note form (for an inquiry) holds `form`, or when
    None what the page's link asked for (a note `about` an entry, or to `amend` one)."""
    stores = queries.ContainerStores(container)
    viewer = viewer_of(request)
    caller = access_of(request).caller
    text = day.isoformat()
    # Every entry known now (for this viewer): the days to step to, and a 404 for a case
    # the caller may not see, whatever the day.
    everything = queries.case_history(stores, case_id, None, "recorded", viewer)
    recorded = sorted({utc_day(e["recorded_at"]) for e in everything["entries"]})
    try:
        chronology = queries.case_chronology(stores, case_id, text, viewer=viewer)
        state = queries.case_document(stores, case_id, text, viewer=viewer)
        sightings = queries.case_sightings(stores, case_id, text, viewer=viewer)
        knowledge = knowledge_section(stores, case_id, text, viewer)
        clocks = clocks_section(stores, case_id, text, viewer, chronology)
    except queries.NoSuchCase:
        chronology, state, sightings, knowledge, clocks = None, None, None, None, None
    rows = [] if chronology is None else chronology["events"]
    notes = notes_section(container, case_id, day, rows) if reads_notes(caller) else None
    if form is None and notes is not None:
        form = prefilled(notes["notes"], about, amend)
    return render(
        request,
        "case.html",
        status=status,
        case_id=case_id,
        day=text,
        today=str(datetime.now(UTC).date()),
        steps=steps(day, recorded),
        first_recorded=str(recorded[0]) if recorded else None,
        chronology=chronology,
        timeline=None
        if chronology is None
        else timeline_svg(
            chronology, lambda event: f"/cases/{case_id}/events/{event}?as_of={text}"
        ),
        state=state,
        sightings=sightings,
        knowledge=knowledge,
        clocks=clocks,
        as_of=text,
        name_of=namer(stores, text),
        checkpoints=queries.latest_checkpoints(stores),
        notes=notes,
        note_form=form if writes_notes(caller) else None,
        text_limit=text_limit(container),
        field_of=field_of,
    )


def case_router(container: Container) -> APIRouter:
    """The case page, an event's record, its proof download and the note form's post."""
    router = APIRouter(route_class=PageRoute, include_in_schema=False)
    stores = queries.ContainerStores(container)

    @router.get("/cases/{case_id}")
    def case_page(
        request: Request,
        case_id: str,
        as_of: Day = None,
        about: About = None,
        amend: Amend = None,
    ) -> Response:
        """The case as it stood at the end of the day: its chronology (timeline and table),
        the inquiry's notes, involvements and lead, sightings, who knew what, clocks and
        findings, and the ledger's latest checkpoints."""
        return case_view(container, request, case_id, day_of(as_of), None, about=about, amend=amend)

    @router.post("/cases/{case_id}/notes")
    def post_note(
        request: Request,
        case_id: str,
        as_of: Annotated[str, Form(max_length=10)] = "",
        about_event: Annotated[str, Form(max_length=100)] = "",
        about_date: Annotated[str, Form(max_length=100)] = "",
        text: Annotated[str, Form(max_length=FORM_TEXT_MAX)] = "",
        supersedes: Annotated[str, Form(max_length=100)] = "",
    ) -> Response:
        """Write the inquiry's note from the case page's form (`add_note`, as the API does),
        then back to the page at its day; a note the ledger refuses shows the page again with
        each problem under its field, nothing appended."""
        day = day_of(as_of or None)
        if not same_origin(request):
            return problem_page(
                request,
                403,
                "Note not written",
                "This form may only be sent from this ledger's pages.",
                [Problem("/origin", "same-origin", "the form was sent from another site")],
            )
        # A browser sends a textarea's line breaks as CRLF; a note keeps them as the API's do.
        form = NoteForm(
            about_event.strip(), about_date.strip(), text.replace("\r\n", "\n"), supersedes.strip()
        )
        try:
            add_note(container, case_id, form.sent(), access_of(request).caller)
        except InvalidNote as exc:
            return case_view(container, request, case_id, day, form.refused(exc.problems), 422)
        except NotesBehind as exc:
            return problem_page(
                request, 503, "Note not written", str(exc), headers={"Retry-After": "1"}
            )
        return RedirectResponse(f"/cases/{case_id}?as_of={day.isoformat()}#notes", status_code=303)

    @router.get("/cases/{case_id}/events/{event_id}")
    def event_page(request: Request, case_id: str, event_id: str, as_of: Day = None) -> Response:
        """One event as recorded: envelope, payload, status, what amended it and what it
        amends, with its proof's download, and the inquiry's notes about it."""
        viewer = viewer_of(request)
        caller = access_of(request).caller
        back = None if as_of is None else str(day_of(as_of))
        history = queries.case_history(stores, case_id, None, "recorded", viewer)
        entries = {e["event_id"].lower(): e for e in history["entries"]}
        entry = entries.get(event_id.lower())
        if entry is None:
            raise NoSuchEvent(case_id, event_id)
        # The note form offers the entries of its page's day: the record's day, if the entry
        # was known by then, else today's.
        known_back = back is not None and str(utc_day(entry["recorded_at"])) <= back
        return render(
            request,
            "event.html",
            case_id=case_id,
            entry=entry,
            amends=entries.get(str(entry.get("amends", "")).lower()),
            amended_by=[entries[a.lower()] for a in entry["amended_by"] if a.lower() in entries],
            back=back,
            name_of=namer(stores),
            notes=event_notes(container, entry["event_id"], case_id)
            if reads_notes(caller)
            else None,
            note_link=note_link(case_id, entry["event_id"], back if known_back else None)
            if writes_notes(caller)
            else None,
        )

    @router.get("/cases/{case_id}/events/{event_id}/proof")
    def proof_download(request: Request, case_id: str, event_id: str) -> Response:
        """The event's inclusion proof in the latest checkpoint, as the API answers it, as a
        file to keep; a 404 for an event of another case."""
        bundle = queries.inclusion_proof(stores, event_id, None, knower_of(request))
        if case_of(bundle) != case_id:
            raise queries.NoProof(404, f"the ledger holds no event {event_id}")
        name = f"{bundle['event_id']}-proof.json"
        return JSONBytes(
            bundle, headers={**NO_STORE, "Content-Disposition": f"attachment; filename={name}"}
        )

    return router
