"""Inquiry notes' rules: what an inquiry may send, the note's schema (what it is about, its
text), its date, the events and notes it may name, and how a superseded note is shown; a note
refused appends nothing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ledger.log import LogRecord
from ledger.notes import Author, InvalidNote, Note, Notes, shown
from ledger.schemas import SchemaRegistry
from ledger.sqlite_log import SQLiteEventLog
from projections.notes_index import SQLiteNotesIndex, open_notes_index
from projections.tracking import tracking_rows

SCHEMAS = SchemaRegistry()
CASE = "CASE-T0001"
EVENT = str(uuid.uuid4())
AUTHOR = Author("test-inquiry-panel", "k3m9q2x7w4ab")
WHEN = datetime(2031, 2, 1, 9, 30, tzinfo=UTC)
ON_A_DAY: dict[str, Any] = {"about": {"date": "2031-01-01"}, "text": "x"}


def about(subject: dict[str, str]) -> dict[str, Any]:
    """A note about this subject."""
    return {"about": subject, "text": "x"}


@pytest.fixture
def kept(tmp_path: Path) -> Iterator[tuple[Notes, SQLiteEventLog, SQLiteNotesIndex]]:
    """The append path of notes over an embedded notes log and its index (kept up to date
    by reading the log before each look-up), with one known event in the case."""
    notes_log = SQLiteEventLog(tmp_path / "notes.sqlite", "sgl.notes.v1")
    index = open_notes_index(tmp_path / "notes-index.sqlite")

    def notes_of(case_id: str) -> list[Note]:
        _index_all(notes_log, index)
        return list(index.records(case_id))

    notes = Notes(
        notes_log,
        SCHEMAS,
        in_case=lambda case_id, event_id: (case_id, event_id) == (CASE, EVENT),
        notes_of=notes_of,
        clock=lambda: WHEN,
    )
    yield notes, notes_log, index
    notes_log.close()
    index.datastore.close()


def _index_all(notes_log: SQLiteEventLog, index: SQLiteNotesIndex) -> None:
    """Take every note on the log not yet in the index into it."""
    done = index.positions(notes_log.topic, [0])
    reader = notes_log.reader({0: done.get(0, -1) + 1})
    records: list[LogRecord] = reader.poll(1000, 0.0)
    reader.close()
    if records:
        index.take(records, tracking_rows(index.name, notes_log.topic, {0: records[-1].offset}))


def refused(notes: Notes, sent: object) -> list[tuple[str, str]]:
    """The (pointer, rule) of each problem of a note that must be refused."""
    with pytest.raises(InvalidNote) as caught:
        notes.append(CASE, sent, AUTHOR)
    return [(p.pointer, p.rule) for p in caught.value.problems]


def test_a_note_about_an_event_is_kept_with_what_the_ledger_sets(
    kept: tuple[Notes, SQLiteEventLog, SQLiteNotesIndex],
) -> None:
    notes, notes_log, _ = kept
    note, receipt = notes.append(CASE, {"about": {"event_id": EVENT}, "text": "Why?"}, AUTHOR)
    assert note == {
        "type": "note.recorded",
        "schema_version": 1,
        "note_id": receipt.event_id,
        "case_id": CASE,
        "about": {"event_id": EVENT},
        "text": "Why?",
        "author": {"agency": "test-inquiry-panel", "token_id": "k3m9q2x7w4ab"},
        "recorded_at": "2031-02-01T09:30:00.000000+00:00",
    }
    assert receipt.case_id == CASE
    assert notes_log.end_offsets() == {0: 1}


@pytest.mark.parametrize(
    ("sent", "problems"),
    [
        ([], [("", "type")]),
        (ON_A_DAY | {"note_id": EVENT}, [("/note_id", "set-by-ledger")]),
        (ON_A_DAY | {"colour": 1}, [("/colour", "additionalProperties")]),
        ({"text": "x"}, [("/about", "required")]),
        ({"about": {}, "text": "x"}, [("/about", "about-one")]),
        (about({"event_id": EVENT, "date": "2031-01-01"}), [("/about", "about-one")]),
        (about({"place": "home"}), [("/about/place", "additionalProperties")]),
        (about({"date": "2031-02-30"}), [("/about/date", "anyOf")]),
        (about({"date": "31 January"}), [("/about/date", "anyOf")]),
        (about({"date": "2031-01-01T10:00:00"}), [("/about/date", "anyOf")]),
        (about({"date": "1066-10-14"}), [("/about/date", "date-in-range")]),
        (about({"event_id": "x"}), [("/about/event_id", "format"), ("/about/event_id", "pattern")]),
        (about({"event_id": str(uuid.uuid4())}), [("/about/event_id", "event-in-case")]),
        ({"about": {"date": "2031-01-01"}}, [("/text", "required")]),
        (ON_A_DAY | {"text": " \n\t"}, [("/text", "text-not-blank")]),
        (ON_A_DAY | {"text": "x" * 4001}, [("/text", "maxLength")]),
        (ON_A_DAY | {"text": 7}, [("/text", "type")]),
        (ON_A_DAY | {"supersedes": EVENT}, [("/supersedes", "note-in-case")]),
    ],
)
def test_a_wrong_note_names_its_field_and_rule_and_appends_nothing(
    kept: tuple[Notes, SQLiteEventLog, SQLiteNotesIndex],
    sent: object,
    problems: list[tuple[str, str]],
) -> None:
    notes, notes_log, _ = kept
    assert sorted(refused(notes, sent)) == sorted(problems)
    assert notes_log.end_offsets() == {0: 0}


def test_a_note_about_a_day_or_an_instant_and_one_at_its_limit_are_kept(
    kept: tuple[Notes, SQLiteEventLog, SQLiteNotesIndex],
) -> None:
    notes, notes_log, _ = kept
    for about in ({"date": "2031-01-01"}, {"date": "2031-01-01T10:00:00+01:00"}):
        note, _ = notes.append(CASE, {"about": about, "text": "x" * 4000}, AUTHOR)
        assert note["about"] == about
    assert notes_log.end_offsets() == {0: 2}


def test_a_superseded_note_is_kept_and_shown_as_superseded(
    kept: tuple[Notes, SQLiteEventLog, SQLiteNotesIndex],
) -> None:
    notes, notes_log, index = kept
    first, _ = notes.append(CASE, {"about": {"date": "2031-01-01"}, "text": "First."}, AUTHOR)
    sent: dict[str, Any] = {"about": {"event_id": EVENT}, "text": "Amended."}
    second, _ = notes.append(CASE, sent | {"supersedes": first["note_id"]}, AUTHOR)
    third, _ = notes.append(CASE, sent | {"supersedes": second["note_id"].upper()}, AUTHOR)
    _index_all(notes_log, index)
    found = shown(index.records(CASE))
    assert [(n["note"], n["superseded_by"]) for n in found] == [
        (first, second["note_id"]),
        (second, third["note_id"]),
        (third, None),
    ]
    assert [n["log_position"] for n in found] == [{"partition": 0, "offset": i} for i in range(3)]
    assert shown(index.records("CASE-T0002")) == []


def test_only_the_agency_that_wrote_a_note_amends_it(
    kept: tuple[Notes, SQLiteEventLog, SQLiteNotesIndex],
) -> None:
    """Another inquiry team may write its own note beside one, never withdraw it: refused
    naming the field and rule, and nothing appended."""
    notes, notes_log, index = kept
    first, _ = notes.append(CASE, {"about": {"date": "2031-01-01"}, "text": "Ours."}, AUTHOR)
    _index_all(notes_log, index)
    before = notes_log.end_offsets()
    other = Author("test-other-inquiry", "p4n8r2t6y1cd")
    with pytest.raises(InvalidNote) as refused:
        notes.append(CASE, ON_A_DAY | {"supersedes": first["note_id"]}, other)
    assert [(p.pointer, p.rule) for p in refused.value.problems] == [("/supersedes", "own-note")]
    assert notes_log.end_offsets() == before
    again, _ = notes.append(CASE, ON_A_DAY | {"supersedes": first["note_id"]}, AUTHOR)
    assert again["supersedes"] == first["note_id"]
