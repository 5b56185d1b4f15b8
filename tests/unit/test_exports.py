"""The chronology as a workbook: read back with openpyxl, it holds what the chronology query
answers, with agencies by name, dates as dates, lags as numbers, and text as text."""

from __future__ import annotations

import io
import uuid
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet

from ledger.envelope import Event
from projections.agencies import AgencyTable
from projections.chronology import RECORDED_TEXT
from sgl.exports import COLUMNS, chronology_workbook, workbook_filename
from sgl.queries import Viewer, case_chronology
from tests.agencies import EXAMPLE_AGENCIES, registrations
from tests.factories import as_events, example, new_case_id

NAMES = {a["agency_id"]: a["name"] for a in EXAMPLE_AGENCIES}
SOCIAL_CARE, HOSPITAL, POLICE = (
    "example-childrens-social-care",
    "example-hospital",
    "example-police",
)
GENERATED = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
ROOT = b"\x07" * 32
SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


class _View:
    def __init__(self, events: list[Event]) -> None:
        self._events = events

    def events(self, case_id: str) -> list[Event]:
        return [e for e in self._events if e.case_id == case_id]


class _Log:
    def partitions(self) -> list[int]:
        return [0]


class _Seal:
    def checkpoint(self, partition: int, size: int | None = None) -> dict[str, Any]:
        return {"size": 12, "root": ROOT, "note": "a signed note"}


class FakeStores:
    """What the chronology and the checkpoints are read from: the case's events, the
    example agencies' registry, and one checkpoint of one partition."""

    def __init__(self, documents: list[dict[str, Any]]) -> None:
        self.view = _View(as_events(documents))
        self.agencies = AgencyTable(as_events(registrations(EXAMPLE_AGENCIES)))
        self.log = _Log()
        self.seal = _Seal()

    def verifier_key(self) -> str | None:
        return None


def event(
    kind: str,
    version: int,
    case_id: str,
    agency: str,
    occurred: str | None,
    recorded: str,
    **more: Any,
) -> dict[str, Any]:
    """The type's schema example on the case, by the agency, dated as given."""
    found = example(kind, version)
    found.update(event_id=str(uuid.uuid4()), case_id=case_id, agency=agency, recorded_at=recorded)
    if occurred is None:
        del found["occurred_at"]
    else:
        found["occurred_at"] = occurred
    found.update(more)
    return found


def contact(case_id: str, agency: str, occurred: str | None, recorded: str, **more: Any) -> Any:
    return event("contact.recorded", 3, case_id, agency, occurred, recorded, **more)


def read(book: bytes) -> tuple[Worksheet, int, list[dict[str, Any]]]:
    """The sheet, its header row's number, and each row's cells by header."""
    sheet = load_workbook(io.BytesIO(book))["Chronology"]
    header = next(row[0].row for row in sheet.iter_rows() if row[0].value == COLUMNS[0][0])
    titles = [c.value for c in sheet[header]]
    rows = [
        {title: cell for title, cell in zip(titles, row, strict=True)}
        for row in sheet.iter_rows(min_row=header + 1)
    ]
    return sheet, header, rows


def block(sheet: Worksheet, header: int) -> dict[str, list[Any]]:
    """The title block: each label's values (a label may repeat, one line per partition)."""
    found: dict[str, list[Any]] = {}
    for number in range(2, header):
        label, value = sheet.cell(number, 1).value, sheet.cell(number, 2).value
        if label is not None:
            found.setdefault(label, []).append(value)
    return found


def test_agencies_by_name_dates_as_dates_lags_as_numbers_and_the_text_as_recorded() -> None:
    """Each row is the chronology's: its agency by registered name with the id and kind
    beside it, when it happened and was recorded as datetimes, the lag in days as a number,
    the type by its title and the recorder's own text; in the chronology's order."""
    case_id = new_case_id()
    late = contact(case_id, SOCIAL_CARE, "2007-03-01T10:00:00Z", "2007-03-04T22:00:00Z")
    referral = event(
        "referral.made", 2, case_id, HOSPITAL, "2007-03-02T09:00:00Z", "2007-03-02T09:30:00Z"
    )
    stores = FakeStores([late, referral])
    book = chronology_workbook(stores, case_id, "2007-03-10", generated_at=GENERATED)
    sheet, header, rows = read(book)
    expected = case_chronology(stores, case_id, "2007-03-10")["events"]
    assert [r["Event id"].value for r in rows] == [e["event_id"] for e in expected]
    assert [r["Event id"].value for r in rows] == [late["event_id"], referral["event_id"]]
    first, second = rows
    assert first["Agency"].value == NAMES[SOCIAL_CARE] != SOCIAL_CARE
    assert first["Agency code"].value == SOCIAL_CARE
    assert first["Agency kind"].value == "childrens social care"
    assert first["Occurred (UTC)"].value == datetime(2007, 3, 1, 10, 0)
    assert first["Occurred (UTC)"].is_date
    assert first["Occurred (UTC)"].number_format == "yyyy-mm-dd hh:mm"
    assert first["Recorded (UTC)"].value == datetime(2007, 3, 4, 22, 0)
    assert first["Recorded (UTC)"].is_date
    assert first["Lag (days)"].value == 3.5 and first["Lag (days)"].data_type == "n"
    assert first["Event type"].value == "Contact recorded"
    assert first["Recorded text"].value == late["payload"]["summary"]
    assert first["Status"].value == "as recorded"
    # Two texts of the recorder's: each named.
    assert second["Recorded text"].value == (
        f"reason: {referral['payload']['reason']}\n"
        f"statement: {referral['payload']['conveyed']['statement']}"
    )
    assert NAMES[HOSPITAL] in second["Agency"].value
    assert NAMES[SOCIAL_CARE] in second["Summary"].value
    assert block(sheet, header)["Case"] == [case_id]
    assert block(sheet, header)["As of"] == ["2007-03-10"]
    assert block(sheet, header)["Latest checkpoint"] == [
        "partition 0: tree size 12, root " + "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc="
    ]
    assert block(sheet, header)["Generated (UTC)"] == [datetime(2026, 3, 4, 5, 6, 7)]
    assert block(sheet, header)["Events"] == [2]


def test_text_that_looks_like_a_formula_stays_text() -> None:
    """Recorded text starting with =, +, -, @ or naming an error value is a string cell, and
    no cell of the sheet holds a formula; a control character shows as a replacement."""
    case_id = new_case_id()
    texts = ['=HYPERLINK("http://127.0.0.1/","open")', "+1+1", "-2", "@SUM(A1)", "#N/A", "a\x07b"]
    events = [
        contact(
            case_id,
            SOCIAL_CARE,
            f"2007-03-0{day}T10:00:00Z",
            "2007-03-09T10:00:00Z",
            payload={**example("contact.recorded", 3)["payload"], "summary": text},
        )
        for day, text in enumerate(texts, start=1)
    ]
    book = chronology_workbook(FakeStores(events), case_id, generated_at=GENERATED)
    _, _, rows = read(book)
    cells = [r["Recorded text"] for r in rows]
    assert [c.value for c in cells] == [*texts[:-1], "a\ufffdb"]
    assert all(c.data_type == "s" for c in cells)
    with zipfile.ZipFile(io.BytesIO(book)) as archive:
        xml = archive.read("xl/worksheets/sheet1.xml")
    assert b"<f>" not in xml and b"<f " not in xml


def test_uncertain_dates_show_as_ranges_accounts_and_undated_without_a_lag() -> None:
    """A range has its bounds as dates, a dispute its accounts by agency name and source, an
    undated event says so; none has an occurred date or a lag. A month shows as a month and
    an approximate date says it is one."""
    case_id = new_case_id()
    bounds = {"not_before": "2007-01-03T00:00:00Z", "not_after": "2007-01-09T23:59:59Z"}
    accounts = [
        {"occurred_at": "2007-02-04T00:00:00Z", "precision": "day", "agency": POLICE},
        {
            "occurred_at": "2007-02-06T00:00:00Z",
            "precision": "day",
            "source": {"kind": "relative"},
            "note": "said at the door",
        },
    ]
    recorded = "2007-05-05T10:00:00Z"
    ranged = contact(
        case_id, SOCIAL_CARE, None, recorded, occurred_precision="range", occurred_range=bounds
    )
    disputed = contact(
        case_id,
        SOCIAL_CARE,
        None,
        recorded,
        occurred_precision="disputed",
        occurred_accounts=accounts,
    )
    undated = contact(case_id, SOCIAL_CARE, None, recorded, occurred_precision="undated")
    month = contact(
        case_id,
        SOCIAL_CARE,
        "2007-04-01T00:00:00Z",
        recorded,
        occurred_precision="month",
        occurred_approximate=True,
    )
    evening = contact(
        case_id,
        SOCIAL_CARE,
        "2007-04-20T00:00:00Z",
        recorded,
        occurred_precision="part_of_day",
        occurred_part_of_day="evening",
    )
    book = chronology_workbook(
        FakeStores([ranged, disputed, undated, month, evening]), case_id, generated_at=GENERATED
    )
    _, _, rows = read(book)
    by_id = {r["Event id"].value: r for r in rows}
    row = by_id[ranged["event_id"]]
    assert row["Occurred (UTC)"].value is None and row["Lag (days)"].value is None
    assert row["Not before (UTC)"].value == datetime(2007, 1, 3)
    assert row["Not after (UTC)"].value == datetime(2007, 1, 9, 23, 59, 59)
    assert row["Not before (UTC)"].is_date and row["Date precision"].value == "range"
    assert row["Occurred, as recorded"].value == "between 3 and 9 Jan 2007"
    row = by_id[disputed["event_id"]]
    assert row["Occurred (UTC)"].value is None and row["Lag (days)"].value is None
    assert row["Disputed accounts"].value == (
        f"2007-02-04 00:00 ({NAMES[POLICE]})\n2007-02-06 00:00 (relative): said at the door"
    )
    assert row["Sorts by (UTC)"].value == datetime(2007, 2, 4)
    row = by_id[undated["event_id"]]
    assert row["Occurred (UTC)"].value is None and row["Lag (days)"].value is None
    assert row["Date precision"].value == "undated"
    assert row["Occurred, as recorded"].value == "undated (recorded 5 May 2007)"
    row = by_id[month["event_id"]]
    assert row["Occurred (UTC)"].value == datetime(2007, 4, 1)
    assert row["Occurred (UTC)"].number_format == "yyyy-mm"
    assert row["Date precision"].value == "month, approximate"
    assert row["Lag (days)"].value == 34.42
    row = by_id[evening["event_id"]]
    assert row["Part of day"].value == "evening"
    assert row["Occurred (UTC)"].number_format == "yyyy-mm-dd"


def test_corrections_and_retractions_show_in_the_status_with_what_amended_it() -> None:
    """A corrected event shows as corrected, by whom, when and why; a retracted one as
    retracted; as of a date before them, both as recorded."""
    case_id = new_case_id()
    injury = event(
        "injury.observed", 1, case_id, HOSPITAL, "2007-03-05T10:00:00Z", "2007-03-05T12:00:00Z"
    )
    wrong = contact(case_id, SOCIAL_CARE, "2007-03-06T10:00:00Z", "2007-03-06T12:00:00Z")
    fix = event(
        "correction.recorded",
        2,
        case_id,
        HOSPITAL,
        "2007-03-20T09:00:00Z",
        "2007-03-20T10:00:00Z",
        amends=injury["event_id"],
        payload={
            "corrected_payload": {**injury["payload"], "explanation_given": "fell off a bike"},
            "reason": "Recount at review.",
        },
    )
    withdrawn = event(
        "entry.retracted",
        2,
        case_id,
        SOCIAL_CARE,
        "2007-03-21T09:00:00Z",
        "2007-03-21T09:00:00Z",
        amends=wrong["event_id"],
    )
    stores = FakeStores([injury, wrong, fix, withdrawn])
    _, _, rows = read(chronology_workbook(stores, case_id, generated_at=GENERATED))
    by_id = {r["Event id"].value: r for r in rows}
    corrected = by_id[injury["event_id"]]
    assert corrected["Status"].value == "corrected"
    assert corrected["Amended by"].value == (
        f"corrected 2007-03-20 by {NAMES[HOSPITAL]}: Recount at review. ({fix['event_id']})"
    )
    assert corrected["Recorded text"].value == "fell off a bike"
    retracted = by_id[wrong["event_id"]]
    assert retracted["Status"].value == "retracted"
    assert retracted["Amended by"].value == (
        f"retracted 2007-03-21 by {NAMES[SOCIAL_CARE]}: "
        f"{withdrawn['payload']['reason']} ({withdrawn['event_id']})"
    )
    assert by_id[fix["event_id"]]["Recorded text"].value == "Recount at review."
    _, _, before = read(chronology_workbook(stores, case_id, "2007-03-10", generated_at=GENERATED))
    assert {r["Status"].value for r in before} == {"as recorded"}
    assert {r["Amended by"].value for r in before} == {None}
    # An amendment the filters leave out is still named, by its id.
    _, _, injuries = read(
        chronology_workbook(stores, case_id, types=["injury.observed"], generated_at=GENERATED)
    )
    assert [r["Amended by"].value for r in injuries] == [fix["event_id"]]


def test_a_practitioner_gets_what_its_agency_knew_and_the_sheet_says_so() -> None:
    """For a viewer, the rows are the chronology that viewer is answered, and the title block
    says whose knowledge it is."""
    case_id = new_case_id()
    own = contact(case_id, SOCIAL_CARE, "2007-03-01T10:00:00Z", "2007-03-01T10:00:00Z")
    other = contact(case_id, POLICE, "2007-03-02T10:00:00Z", "2007-03-02T10:00:00Z")
    stores = FakeStores([own, other])
    viewer = Viewer(SOCIAL_CARE)
    book = chronology_workbook(stores, case_id, viewer=viewer, generated_at=GENERATED)
    sheet, header, rows = read(book)
    expected = case_chronology(stores, case_id, viewer=viewer)["events"]
    assert [r["Event id"].value for r in rows] == [e["event_id"] for e in expected]
    assert [r["Event id"].value for r in rows] == [own["event_id"]]
    assert block(sheet, header)["Seen as"] == [f"what {NAMES[SOCIAL_CARE]} ({SOCIAL_CARE}) knew"]
    everything = read(chronology_workbook(stores, case_id, generated_at=GENERATED))
    assert len(everything[2]) == 2
    assert block(everything[0], everything[1])["Seen as"] == [
        "everything on the record (inquiry or auditor)"
    ]


def test_the_sheet_is_laid_out_to_be_read_and_filtered() -> None:
    """Panes frozen under the header, a filter over the table, set widths, long text
    wrapped, and the filters asked for stated above the table."""
    case_id = new_case_id()
    one = contact(case_id, SOCIAL_CARE, "2007-03-01T10:00:00Z", "2007-03-01T10:00:00Z")
    book = chronology_workbook(
        FakeStores([one]),
        case_id,
        agencies=[SOCIAL_CARE],
        start="2007-01-01",
        generated_at=GENERATED,
    )
    sheet, header, rows = read(book)
    last = sheet.cell(header, len(COLUMNS)).column_letter
    assert sheet.freeze_panes == f"A{header + 1}"
    assert sheet.auto_filter.ref == f"A{header}:{last}{header + 1}"
    assert sheet.column_dimensions["O"].width == dict(COLUMNS)["Summary"]
    assert rows[0]["Recorded text"].alignment.wrap_text
    assert block(sheet, header)["Filters"] == [f"agency {SOCIAL_CARE}; from 2007-01-01"]


def test_the_same_chronology_and_time_give_the_same_bytes() -> None:
    """Written twice, the workbook is the same bytes: its properties and every member of
    the archive carry the generation time, not the time of writing."""
    case_id = new_case_id()
    stores = FakeStores(
        [contact(case_id, SOCIAL_CARE, "2007-03-01T10:00:00Z", "2007-03-02T10:00:00Z")]
    )
    book = chronology_workbook(stores, case_id, generated_at=GENERATED)
    assert chronology_workbook(stores, case_id, generated_at=GENERATED) == book
    with zipfile.ZipFile(io.BytesIO(book)) as archive:
        assert {m.date_time for m in archive.infolist()} == {(2026, 3, 4, 5, 6, 6)}
    properties = load_workbook(io.BytesIO(book)).properties
    assert properties.created == properties.modified == datetime(2026, 3, 4, 5, 6, 7)
    later = chronology_workbook(stores, case_id, generated_at=datetime(2026, 3, 5, tzinfo=UTC))
    assert later != book


def test_the_file_name_names_case_and_date_and_nothing_unsafe() -> None:
    """`<case_id>-chronology-<as_of>.xlsx`; the generation day without an as_of; a time's
    colons made safe."""
    assert workbook_filename("CASE-A0001", "2007-07-25", GENERATED) == (
        "CASE-A0001-chronology-2007-07-25.xlsx"
    )
    assert workbook_filename("CASE-A0001", None, GENERATED) == (
        "CASE-A0001-chronology-2026-03-04.xlsx"
    )
    assert workbook_filename("CASE-A0001", "2007-07-25T10:00:00+01:00", GENERATED) == (
        "CASE-A0001-chronology-2007-07-25T10-00-00-01-00.xlsx"
    )


def _free_text(node: Any, path: tuple[str, ...], found: set[str]) -> None:
    """The dotted paths under a schema node that hold text of no set form."""
    if not isinstance(node, dict):
        return
    plain = not {"enum", "pattern", "format", "const", "$ref"} & node.keys()
    if node.get("type") == "string" and plain:
        found.add(".".join(path))
    for name, child in node.get("properties", {}).items():
        _free_text(child, (*path, name), found)
    for key in ("items", "anyOf", "oneOf", "allOf"):
        children = node.get(key)
        for child in children if isinstance(children, list) else [children]:
            _free_text(child, path, found)


# Free text that is not an account of what happened: a colour, a rule's version.
NOT_ACCOUNTS = {"injury.observed": {"colour"}, "alert.raised": {"rule_version"}}


# The schemas of no case's events: the envelope, the registry's (never in a chronology) and
# the ledger's own records beside the events (`records/`: inquiry notes).
NOT_CASE_EVENTS = {"envelope", "agency.registered", "agency.updated", "records"}
CASE_EVENT_TYPES = sorted(
    p.name
    for p in SCHEMAS.iterdir()
    if p.is_dir() and not p.name.startswith("_") and p.name not in NOT_CASE_EVENTS
)


@pytest.mark.parametrize("kind", CASE_EVENT_TYPES)
def test_the_recorded_text_is_every_free_text_field_of_the_schemas(kind: str) -> None:
    """Each event type's recorded text is the free text of its newest schema's payload."""
    newest = max(SCHEMAS.glob(f"{kind}/*.json"), key=lambda p: int(p.stem))
    found: set[str] = set()
    _free_text(orjson.loads(newest.read_bytes())["properties"]["payload"], (), found)
    expected = found - NOT_ACCOUNTS.get(kind, set())
    assert set(RECORDED_TEXT.get(kind, ())) == expected
