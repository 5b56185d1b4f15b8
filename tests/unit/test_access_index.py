"""The access index files each access record under every case it names: the case it read and
each case its answer showed (a list's page); a record of version 1, before `cases_shown`, under
its case as it always was; a note only under its own case."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from ledger.access import AccessRecord
from ledger.log import LogRecord
from ledger.notes import NOTE_RECORD
from projections.access_index import open_access_index
from projections.notes_index import open_notes_index

CASE = "3f1c2a9e-5b7d-4c1e-8a2f-6d0b9e4c7a15"
OTHER = "8d4e7b21-0c9f-4a3b-9e6d-2f1a5c8b7e04"
UNSHOWN = "c2b9e1f4-7a3d-4e8b-b5c6-0d9f2a1e3b47"
AT = datetime(2031, 1, 31, 9, 30, tzinfo=UTC)


def access(case_id: str | None, shown: list[str], n: int) -> dict[str, Any]:
    """An access record's document, as the recorder appends it."""
    return AccessRecord(
        access_id=f"access-{n}",
        request_id=f"request-{n}",
        recorded_at=AT,
        token_id="tok123",
        agency="test-inquiry-panel",
        role="inquiry",
        person=None,
        via="cookie",
        purpose="practice-review",
        method="GET",
        route="/cases" if shown else "/v1/cases/{case_id}",
        case_id=case_id,
        query=[("q", "3f1c")] if shown else [],
        as_of=None,
        status=200,
        cases_shown=shown,
    ).document()


def on_log(documents: list[dict[str, Any]]) -> list[LogRecord]:
    """The documents as the log hands them to the index, at offsets 0, 1, ..."""
    return [
        LogRecord("access", 0, offset, AT, b"", orjson.dumps(document))
        for offset, document in enumerate(documents)
    ]


def ids(records: Any) -> list[str]:
    """The access ids of a case's indexed records, in log order."""
    return [r["access_id"] for r in records]


def test_a_list_is_indexed_under_each_case_it_showed_and_no_other(tmp_path: Path) -> None:
    index = open_access_index(tmp_path / "index.sqlite")
    listed = access(None, [CASE, OTHER], 1)
    taken = index.take(on_log([access(CASE, [], 0), listed, access(None, [], 2)]), [])
    # Records indexed, not rows: the ledger-wide one (naming no case) is not indexed.
    assert taken == 2
    assert ids(index.records(CASE)) == ["access-0", "access-1"]
    assert ids(index.records(OTHER)) == ["access-1"]
    assert ids(index.records(UNSHOWN)) == []
    (shown,) = index.records(OTHER)
    assert (shown["route"], shown["query"], shown["purpose"]) == (
        "/cases",
        [["q", "3f1c"]],
        "practice-review",
    )
    assert shown["cases_shown"] == [CASE, OTHER]
    assert shown["log_position"] == {"partition": 0, "offset": 1}


def test_a_record_of_version_1_is_indexed_under_its_case(tmp_path: Path) -> None:
    index = open_access_index(tmp_path / "index.sqlite")
    old = access(CASE, [], 0)
    del old["cases_shown"]
    old["schema_version"] = 1
    assert index.take(on_log([old]), []) == 1
    (found,) = index.records(CASE)
    assert found["schema_version"] == 1 and "cases_shown" not in found


def test_a_case_both_read_and_shown_is_indexed_once_and_odd_lists_are_not_followed(
    tmp_path: Path,
) -> None:
    index = open_access_index(tmp_path / "index.sqlite")
    both = access(CASE, [CASE, OTHER], 0)
    odd = {**access(CASE, [], 1), "cases_shown": OTHER}
    mixed = {**access(None, [], 2), "cases_shown": [OTHER, 7, "", None]}
    assert index.take(on_log([both, odd, mixed]), []) == 3
    assert ids(index.records(CASE)) == ["access-0", "access-1"]
    assert ids(index.records(OTHER)) == ["access-0", "access-2"]


def test_a_note_is_indexed_only_under_its_own_case(tmp_path: Path) -> None:
    index = open_notes_index(tmp_path / "notes.sqlite")
    note = {
        "type": NOTE_RECORD,
        "note_id": "note-0",
        "case_id": CASE,
        "recorded_at": AT.isoformat(),
        "cases_shown": [OTHER],
    }
    assert index.take(on_log([note, access(None, [OTHER], 1)]), []) == 1
    assert [r["note_id"] for r in index.records(CASE)] == ["note-0"]
    assert list(index.records(OTHER)) == []
