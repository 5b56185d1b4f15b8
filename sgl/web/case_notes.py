"""The inquiry's notes beside the case page and an event's record, and the form that writes one.

Notes are the inquiry's own work about the record, written long after it: a case page as of a
day shows every note written by now about an entry known by that day, or about a date up to
it, each with the day it was written (marked when that is after the page's day). Notes about
later entries or dates are counted, not shown, so the page never speaks of what it does not
yet show. Only the roles that read notes through the API (`GET /v1/cases/{id}/notes`) see them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date
from typing import Any
from urllib.parse import urlencode

from ledger.envelope import parse_instant
from ledger.errors import Problem
from ledger.notes import NOTE_RECORD, NOTE_VERSION, Note
from sgl.access_rules import RULES
from sgl.bootstrap import Container
from sgl.identity import Caller
from sgl.routes_notes import WRITES_NOTES, NotesBehind, notes_of

# Who sees notes on the pages: whoever may read them through the API.
READS_NOTES = RULES[("GET", "/v1/cases/{case_id}/notes")].roles
# The form's fields, by the pointer of the note's field each one fills.
FIELDS = {
    "/about/event_id": "note-event",
    "/about/date": "note-date",
    "/about": "note-event",
    "/text": "note-text",
    "/supersedes": "note-supersedes",
    "": "note-text",
}


@dataclass
class NoteForm:
    """What the note form holds: sent values to show again, and the problems they had."""

    event_id: str = ""
    day: str = ""
    text: str = ""
    supersedes: str = ""
    problems: Sequence[Problem] = ()
    by_field: dict[str, list[Problem]] = field(default_factory=dict)

    def sent(self) -> dict[str, Any]:
        """The note's body as `add_note` takes it: what the form's fields say, no more."""
        about = {"event_id": self.event_id} if self.event_id else {}
        if self.day:
            about["date"] = self.day
        body: dict[str, Any] = {"about": about, "text": self.text}
        if self.supersedes:
            body["supersedes"] = self.supersedes
        return body

    def refused(self, problems: Sequence[Problem]) -> NoteForm:
        """The same form with the problems of its note, each under the field it names."""
        by_field: dict[str, list[Problem]] = {}
        for problem in problems:
            by_field.setdefault(field_of(problem.pointer), []).append(problem)
        return NoteForm(
            self.event_id, self.day, self.text, self.supersedes, tuple(problems), by_field
        )


def field_of(pointer: str) -> str:
    """The id of the form field a note's problem is about."""
    return FIELDS.get(pointer, "note-text")


def reads_notes(caller: Caller) -> bool:
    """Whether the caller sees notes."""
    return caller.role in READS_NOTES


def writes_notes(caller: Caller) -> bool:
    """Whether the caller is offered the note form."""
    return caller.role == WRITES_NOTES


def text_limit(container: Container) -> int:
    """The longest a note's text may be, as its schema says."""
    schema = container.schemas.records[(NOTE_RECORD, NOTE_VERSION)].document
    limit: int = schema["properties"]["text"]["maxLength"]
    return limit


def about_day(note: Note) -> date | None:
    """The day a note about a date is about (an instant's UTC day), or None for an event's."""
    text = note["about"].get("date")
    if text is None:
        return None
    if "T" in text.upper():
        return parse_instant(text).astimezone(UTC).date()
    return date.fromisoformat(text)


def written_day(note: Note) -> str:
    """The UTC day the ledger took the note in."""
    return parse_instant(note["recorded_at"]).astimezone(UTC).date().isoformat()


def notes_section(
    container: Container, case_id: str, day: date, entries: Iterable[Mapping[str, Any]]
) -> dict[str, Any]:
    """The notes a case page as of `day` shows (`entries`: its chronology's rows), each with
    the entry it is about; how many are about later entries or dates; the count per entry."""
    try:
        every = notes_of(container, case_id)
    except NotesBehind as exc:
        return {"notes": [], "later": 0, "per_event": {}, "behind": str(exc)}
    rows = {str(e["event_id"]).lower(): e for e in entries}
    shown, later = [], 0
    for item in every:
        event_id = item["note"]["about"].get("event_id")
        if event_id is not None and event_id.lower() in rows:
            shown.append(described(item, day, rows[event_id.lower()]))
        elif event_id is None and (about_day(item["note"]) or day) <= day:
            shown.append(described(item, day, None))
        else:
            later += 1
    ids = {n["note"]["note_id"] for n in shown}
    written = {item["note"]["note_id"]: written_day(item["note"]) for item in every}
    for n in shown:
        n["superseded_here"] = n["superseded_by"] in ids
        n["superseded_written"] = written.get(n["superseded_by"] or "")
        n["supersedes_here"] = n["note"].get("supersedes") in ids
    # Each entry with notes: how many, and the first of them (the chronology links to it).
    per_event: dict[str, dict[str, Any]] = {}
    for n in shown:
        if n["event"] is not None:
            key = str(n["event"]["event_id"]).lower()
            first = per_event.setdefault(key, {"count": 0, "first": n["note"]["note_id"]})
            first["count"] += 1
    return {"notes": shown, "later": later, "per_event": per_event, "behind": None}


def described(item: Mapping[str, Any], day: date | None, event: Any) -> dict[str, Any]:
    """A note as a page lists it: the note, what supersedes it, the entry it is about (when
    known), the day it was written and whether that is after the page's day."""
    written = written_day(item["note"])
    return {
        "note": item["note"],
        "superseded_by": item["superseded_by"],
        "superseded_here": False,
        "superseded_written": None,
        "supersedes_here": False,
        "event": event,
        "written": written,
        "written_after": day is not None and written > day.isoformat(),
    }


def event_notes(container: Container, event_id: str, case_id: str) -> dict[str, Any]:
    """The notes about one event of the case, as its record page lists them."""
    try:
        every = notes_of(container, case_id)
    except NotesBehind as exc:
        return {"notes": [], "behind": str(exc)}
    about = [
        described(item, None, None)
        for item in every
        if str(item["note"]["about"].get("event_id", "")).lower() == event_id.lower()
    ]
    return {"notes": about, "behind": None}


def prefilled(every: Sequence[Mapping[str, Any]], about: str | None, amend: str | None) -> NoteForm:
    """The form as a link asks for it: about an entry (an event page's "Add a note"), or
    amending a note (its about and text to edit, and `supersedes` naming it)."""
    if amend:
        for item in every:
            note = item["note"]
            if note["note_id"].lower() == amend.lower():
                when = about_day(note)
                return NoteForm(
                    event_id=note["about"].get("event_id", ""),
                    day="" if when is None else when.isoformat(),
                    text=note["text"],
                    supersedes=note["note_id"],
                )
    return NoteForm(event_id=about or "")


def note_link(case_id: str, event_id: str, day: str | None) -> str:
    """The case page's note form about an entry, on the day given (else today's page)."""
    query = urlencode({"as_of": day, "about": event_id} if day else {"about": event_id})
    return f"/cases/{case_id}?{query}#add-note"
