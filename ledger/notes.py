"""Inquiry notes: an inquiry team's notes about a case's events and dates, kept on a log of
their own (the notes log, keyed by case id like the ledger), never on the ledger, so a note
never alters the record it is about.

A note is a JSON object (`schemas/records/note.recorded/1.json`), its exact bytes kept like
every record. The inquiry sends what the note is about and its text; the ledger sets its id,
its case, its author (from the credential, never the body) and when it took it in. A note is
never changed: a later note names it in `supersedes` to amend or withdraw it.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import orjson

from ledger.envelope import parse_instant
from ledger.errors import InvalidEvent, Problem
from ledger.limits import RANGE_TEXT, in_range
from ledger.log import EventLog, PendingRecord, Receipt
from ledger.schemas import SchemaRegistry

NOTE_RECORD = "note.recorded"
NOTE_VERSION = 1
# What an inquiry sends; the ledger sets every other field of a note.
SENT_FIELDS = ("about", "text", "supersedes")
SET_BY_LEDGER = ("type", "schema_version", "note_id", "case_id", "author", "recorded_at")

Note = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Author:
    """Who writes a note, as the authenticated credential says: never as the body says."""

    agency: str
    token_id: str
    person: str | None = None

    def document(self) -> dict[str, str]:
        """The note's `author` object (the person only when the credential names one)."""
        found = {"agency": self.agency, "token_id": self.token_id}
        return found if self.person is None else found | {"person": self.person}


class InvalidNote(InvalidEvent):
    """A note broke its schema or a rule of notes (HTTP 422); nothing was appended."""


def note_document(
    case_id: str, sent: Mapping[str, Any], author: Author, note_id: str, recorded_at: datetime
) -> Note:
    """The note as the notes log keeps it: what was sent, and what the ledger sets."""
    return {
        "type": NOTE_RECORD,
        "schema_version": NOTE_VERSION,
        "note_id": note_id,
        "case_id": case_id,
        **{name: sent[name] for name in SENT_FIELDS if name in sent},
        "author": author.document(),
        "recorded_at": recorded_at.isoformat(timespec="microseconds"),
    }


def sent_problems(sent: object) -> list[Problem]:
    """What is wrong with a body before it is a note: not an object, or a field the ledger
    sets (or knows nothing of)."""
    if not isinstance(sent, dict):
        return [Problem("", "type", "a note must be a JSON object")]
    return [
        Problem(f"/{name}", "set-by-ledger", f"{name!r} is set by the ledger, never sent")
        if name in SET_BY_LEDGER
        else Problem(f"/{name}", "additionalProperties", f"{name!r} is not allowed")
        for name in sent
        if name not in SENT_FIELDS
    ]


def date_problems(note: Mapping[str, Any]) -> list[Problem]:
    """A note's date the ledger cannot hold: one that does not parse, or is outside the dates
    the ledger holds (a valid schema already made it a day or an RFC 3339 instant)."""
    text = note["about"].get("date")
    if text is None:
        return []
    try:
        moment = parse_instant(text) if "T" in text.upper() else date.fromisoformat(text)
    except ValueError:
        return [
            Problem(
                "/about/date",
                "format",
                "the date cannot be stored: a day YYYY-MM-DD, or RFC 3339 with an offset "
                "(a leap second, :60, is not supported)",
            )
        ]
    if not in_range(moment):
        return [Problem("/about/date", "date-in-range", f"a note's date must be {RANGE_TEXT}")]
    return []


class Notes:
    """The append path of notes: a note is appended to the notes log once every check passes.
    `in_case(case_id, event_id)` says whether an event is the case's; `notes_of(case_id)` gives
    the case's notes (the index of the notes log, `projections.notes_index`)."""

    def __init__(
        self,
        notes_log: EventLog,
        schemas: SchemaRegistry,
        in_case: Callable[[str, str], bool],
        notes_of: Callable[[str], Iterable[Note]],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.log = notes_log
        self.schemas = schemas
        self._in_case = in_case
        self._notes_of = notes_of
        self._clock = clock

    def append(self, case_id: str, sent: object, author: Author) -> tuple[Note, Receipt]:
        """Check the note and append it; InvalidNote naming every field and rule broken (and
        nothing appended) otherwise."""
        problems = sent_problems(sent)
        if problems:
            raise InvalidNote(problems, "The note is not valid; nothing was appended")
        assert isinstance(sent, dict)
        note = note_document(case_id, sent, author, str(uuid.uuid4()), self._clock())
        problems = self.schemas.record_problems(NOTE_RECORD, NOTE_VERSION, note)
        if not problems:
            problems = date_problems(note) + self._reference_problems(note)
        if problems:
            raise InvalidNote(problems, "The note is not valid; nothing was appended")
        value = orjson.dumps(note)
        record = PendingRecord(
            note["note_id"],
            case_id,
            value,
            hashlib.sha256(value).hexdigest(),
            NOTE_RECORD,
            NOTE_VERSION,
        )
        (receipt,) = self.log.append([record])
        return note, receipt

    def _reference_problems(self, note: Mapping[str, Any]) -> list[Problem]:
        """An event the note is about that is not the case's, or a superseded note that is
        not one of the case's notes or not the author agency's own."""
        problems = []
        event_id = note["about"].get("event_id")
        if event_id is not None and not self._in_case(note["case_id"], event_id.lower()):
            problems.append(
                Problem("/about/event_id", "event-in-case", "no event of the case has this id")
            )
        earlier = note.get("supersedes")
        if earlier is not None:
            known = {n["note_id"].lower(): n for n in self._notes_of(note["case_id"])}
            found = known.get(earlier.lower())
            if found is None:
                problems.append(
                    Problem("/supersedes", "note-in-case", "no note of the case has this id")
                )
            elif found["author"]["agency"] != note["author"]["agency"]:
                # An inquiry amends or withdraws its own notes; another team writes its own.
                problems.append(
                    Problem(
                        "/supersedes",
                        "own-note",
                        "only the agency that wrote a note may amend or withdraw it",
                    )
                )
        return problems


def shown(notes: Iterable[Note]) -> list[Note]:
    """Notes in the order given (each as the index gives it: the record, and its
    `log_position`), as they are shown: `{"note", "superseded_by", "log_position"}`, where
    `superseded_by` is the id of the latest note that amends or withdraws it, or None."""
    found = [dict(note) for note in notes]
    later: dict[str, str] = {}
    for note in found:
        if "supersedes" in note:
            later[note["supersedes"].lower()] = note["note_id"]
    answer = []
    for note in found:
        position = note.pop("log_position", None)
        answer.append(
            {"note": note, "superseded_by": later.get(note["note_id"]), "log_position": position}
        )
    return answer
