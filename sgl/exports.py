"""The chronology as a spreadsheet an inquiry can file: agencies by name, dates as dates, the
text as recorded, lags and status; built from the chronology document the API answers."""

from __future__ import annotations

import functools
import io
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.resources import files
from typing import Any
from zipfile import ZIP_DEFLATED, ZipFile, ZipInfo

import orjson
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet
from openpyxl.writer.excel import ExcelWriter

from ledger.envelope import parse_instant
from projections.agencies import AgencyRecord
from projections.as_of import Basis
from sgl.queries import Document, Stores, Viewer, case_chronology, latest_checkpoints
from sgl.queries.cases import registry_moment

XLSX_MEDIA = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SHEET = "Chronology"
# Dates the source did not pin to one period: no single date to show, and no lag to count.
UNCERTAIN = ("range", "disputed", "undated")
# How a date of each precision shows (the cell holds its first instant, in UTC).
DATE_FORMATS = {
    "instant": "yyyy-mm-dd hh:mm",
    "part_of_day": "yyyy-mm-dd",
    "day": "yyyy-mm-dd",
    "week": "yyyy-mm-dd",
    "month": "yyyy-mm",
    "year": "yyyy",
}
INSTANT_FORMAT = "yyyy-mm-dd hh:mm"
STATUS_WORDS = {"as-recorded": "as recorded", "corrected": "corrected", "retracted": "retracted"}
AMENDMENT_WORDS = {"correction.recorded": "corrected", "entry.retracted": "retracted"}
# (header, width in characters): the columns in order, the cells of each row in `_cells`.
COLUMNS: tuple[tuple[str, int], ...] = (
    ("Occurred (UTC)", 17),
    ("Occurred, as recorded", 30),
    ("Date precision", 14),
    ("Part of day", 11),
    ("Not before (UTC)", 17),
    ("Not after (UTC)", 17),
    ("Disputed accounts", 34),
    ("Sorts by (UTC)", 17),
    ("Recorded (UTC)", 17),
    ("Lag (days)", 10),
    ("Agency", 28),
    ("Agency code", 22),
    ("Agency kind", 18),
    ("Event type", 22),
    ("Summary", 48),
    ("Recorded text", 60),
    ("Status", 12),
    ("Amended by", 48),
    ("Event id", 38),
)
# The columns whose text may run long: wrapped in their cells.
WRAPPED = frozenset(
    {"Occurred, as recorded", "Disputed accounts", "Summary", "Recorded text", "Amended by"}
)
_TOP = Alignment(vertical="top")
_WRAP = Alignment(vertical="top", wrap_text=True)
_BOLD = Font(bold=True)
_HEADER_FILL = PatternFill("solid", fgColor="DDE4EE")
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True, slots=True)
class Context:
    """What the sheet says beside the chronology: whose view it is, what filtered it, the
    ledger's latest checkpoints, each agency's record, each type's title, and when."""

    scope: str
    filters: str
    checkpoints: Sequence[Mapping[str, Any]]
    agencies: Mapping[str, AgencyRecord | None]
    titles: Mapping[str, str]
    generated_at: datetime


def chronology_workbook(
    stores: Stores,
    case_id: str,
    as_of: str | None = None,
    basis: Basis = "recorded",
    agencies: Collection[str] = (),
    types: Collection[str] = (),
    start: str | None = None,
    end: str | None = None,
    viewer: Viewer | None = None,
    generated_at: datetime | None = None,
) -> bytes:
    """The case's chronology as `GET /v1/cases/{case_id}/chronology` answers it for these
    parameters and this viewer, as an .xlsx workbook; the same bytes for the same chronology
    and `generated_at` (default now)."""
    document = case_chronology(stores, case_id, as_of, basis, agencies, types, start, end, viewer)
    moment = registry_moment(as_of)
    named = {row["agency"] for row in document["events"]}
    named |= {
        account["agency"]
        for row in document["events"]
        for account in row.get("occurred_accounts", ())
        if "agency" in account
    }
    if viewer is not None:
        named.add(viewer.agency)
    lookup = stores.agencies
    records = {a: lookup.record(a, moment) or lookup.record(a) for a in sorted(named)}
    context = Context(
        scope=_scope(viewer, records),
        filters=_filters(agencies, types, start, end),
        checkpoints=latest_checkpoints(stores)["checkpoints"],
        agencies=records,
        titles=type_titles(),
        generated_at=generated_at or datetime.now(UTC),
    )
    return workbook(document, context)


def workbook_filename(case_id: str, as_of: str | None, generated_at: datetime) -> str:
    """`<case_id>-chronology-<as_of>.xlsx` (the generation day when as_of is absent), with
    nothing in it a file system or a header would misread."""
    day = as_of or generated_at.astimezone(UTC).date().isoformat()
    return _UNSAFE_NAME.sub("-", f"{case_id}-chronology-{day}") + ".xlsx"


@functools.cache
def type_titles() -> dict[str, str]:
    """Each event type's title, from its newest published schema."""
    titles = {}
    for folder in files("schemas").iterdir():
        if not folder.is_dir():
            continue
        versions = [p for p in folder.iterdir() if p.name.endswith(".json")]
        if versions:
            newest = max(versions, key=lambda p: int(p.name.removesuffix(".json")))
            titles[folder.name] = str(orjson.loads(newest.read_bytes())["title"])
    return titles


def workbook(document: Document, context: Context) -> bytes:
    """A chronology document as a one-sheet workbook: a title block, then a header row and a
    row per event; the same bytes for the same document and context."""
    book = Workbook()
    sheet = book.active
    assert isinstance(sheet, Worksheet)
    sheet.title = SHEET
    header_row = _title_block(sheet, document, context)
    for column, (title, width) in enumerate(COLUMNS, start=1):
        cell = _put(sheet, header_row, column, title)
        cell.font, cell.fill, cell.alignment = _BOLD, _HEADER_FILL, _WRAP
        sheet.column_dimensions[get_column_letter(column)].width = width
    by_id = {row["event_id"]: row for row in document["events"]}
    for number, row in enumerate(document["events"], start=header_row + 1):
        for column, ((title, _), value) in enumerate(
            zip(COLUMNS, _cells(row, by_id, context), strict=True), start=1
        ):
            _put(sheet, number, column, value, wrap=title in WRAPPED)
    last = get_column_letter(len(COLUMNS))
    sheet.freeze_panes = f"A{header_row + 1}"
    sheet.auto_filter.ref = f"A{header_row}:{last}{header_row + len(document['events'])}"
    sheet.print_title_rows = f"{header_row}:{header_row}"
    sheet.page_setup.orientation = "landscape"
    return _saved(book, document, context.generated_at)


def _title_block(sheet: Worksheet, document: Document, context: Context) -> int:
    """Write what the sheet is above it; the number of the header row below."""
    _put(sheet, 1, 1, "Multi-agency chronology").font = Font(bold=True, size=14)
    as_of = document["as_of"]
    lines: list[tuple[str, Any]] = [
        ("Case", document["case_id"]),
        ("As of", "now (when generated)" if as_of is None else as_of),
        ("Basis", f"{document['basis']} ({_BASES[document['basis']]})"),
        ("Seen as", context.scope),
        ("Filters", context.filters),
    ]
    if context.checkpoints:
        lines += [
            (
                "Latest checkpoint",
                f"partition {c['partition']}: tree size {c['tree_size']}, root {c['root']}",
            )
            for c in context.checkpoints
        ]
    else:
        lines.append(("Latest checkpoint", "none yet"))
    lines += [
        ("Generated (UTC)", _naive(context.generated_at)),
        ("Events", len(document["events"])),
    ]
    for number, (label, value) in enumerate(lines, start=2):
        _put(sheet, number, 1, label).font = _BOLD
        cell = _put(sheet, number, 2, value)
        if isinstance(value, datetime):
            cell.number_format = INSTANT_FORMAT
    # One empty row between the block and the table.
    return len(lines) + 3


_BASES = {
    "recorded": "what was on the record by then",
    "appended": "what the ledger held by then",
}


def _cells(row: Mapping[str, Any], by_id: Mapping[str, Any], context: Context) -> list[Any]:
    """One event's cells, in the order of COLUMNS."""
    precision = row["occurred_precision"]
    uncertain = precision in UNCERTAIN
    occurred = None if uncertain else _Date(row["occurred_at"], DATE_FORMATS[precision])
    bounds = row.get("occurred_range") or {}
    lag = row["recording_lag_days"]
    return [
        occurred,
        row["occurred"],
        precision.replace("_", " ") + (", approximate" if row["occurred_approximate"] else ""),
        row.get("occurred_part_of_day"),
        _Date(bounds["not_before"]) if "not_before" in bounds else None,
        _Date(bounds["not_after"]) if "not_after" in bounds else None,
        "\n".join(_account(a, context) for a in row.get("occurred_accounts", ())) or None,
        _Date(row["occurred_at"]),
        _Date(row["recorded_at"]),
        None if uncertain or lag is None else _Lag(lag),
        row["agency_name"],
        row["agency"],
        _kind(context.agencies.get(row["agency"])),
        context.titles.get(row["type"], row["type"]),
        row["summary"],
        _recorded_text(row["recorded_text"]),
        STATUS_WORDS.get(row["status"], row["status"]),
        "\n".join(_amendment(i, by_id, context) for i in row["amended_by"]) or None,
        row["event_id"],
    ]


@dataclass(frozen=True, slots=True)
class _Date:
    """An instant to write as a date cell, shown with this number format."""

    text: str
    format: str = INSTANT_FORMAT


@dataclass(frozen=True, slots=True)
class _Lag:
    """A number of days to write as a number cell."""

    days: float


def _account(account: Mapping[str, Any], context: Context) -> str:
    """One account of a disputed date: when, whose, and where it comes from."""
    when = _naive(parse_instant(account["occurred_at"])).strftime("%Y-%m-%d %H:%M")
    if "agency" in account:
        record = context.agencies.get(account["agency"])
        whose = account["agency"] if record is None else record.name
    else:
        whose = str(account["source"]["kind"]).replace("_", " ")
    note = f": {account['note']}" if account.get("note") else ""
    return f"{when} ({whose}){note}"


def _kind(record: AgencyRecord | None) -> str | None:
    return None if record is None else record.kind.replace("_", " ")


def _recorded_text(texts: Mapping[str, str]) -> str | None:
    """The recorder's text: alone when one field holds it, each field named when several."""
    if len(texts) == 1:
        return next(iter(texts.values()))
    return "\n".join(f"{field.rsplit('.', 1)[-1]}: {text}" for field, text in texts.items()) or None


def _amendment(event_id: str, by_id: Mapping[str, Any], context: Context) -> str:
    """What amended an event: how, when, by whom and why, when the chronology holds the
    amendment (a filter may leave it out); its id either way."""
    amendment = by_id.get(event_id)
    if amendment is None:
        return event_id
    how = AMENDMENT_WORDS.get(amendment["type"], "amended")
    day = amendment["recorded_at"][:10]
    why = amendment["recorded_text"].get("reason")
    because = f": {why}" if why else ""
    return f"{how} {day} by {amendment['agency_name']}{because} ({event_id})"


def _scope(viewer: Viewer | None, records: Mapping[str, AgencyRecord | None]) -> str:
    if viewer is None:
        return "everything on the record (inquiry or auditor)"
    record = records.get(viewer.agency)
    name = viewer.agency if record is None else f"{record.name} ({viewer.agency})"
    return f"what {name} knew"


def _filters(
    agencies: Collection[str], types: Collection[str], start: str | None, end: str | None
) -> str:
    said = [f"agency {a}" for a in agencies] + [f"type {t}" for t in types]
    said += [f"from {start}"] if start is not None else []
    said += [f"to {end}"] if end is not None else []
    return "; ".join(said) or "none"


def _naive(moment: datetime) -> datetime:
    """The instant in UTC without its zone, as a spreadsheet cell holds it."""
    return moment.astimezone(UTC).replace(tzinfo=None)


def _put(sheet: Worksheet, row: int, column: int, value: Any, wrap: bool = False) -> Any:
    """Write one cell: a date as a date, a lag as a number, text always as text (never a
    formula, whatever it starts with)."""
    cell = sheet.cell(row=row, column=column)
    cell.alignment = _WRAP if wrap else _TOP
    if isinstance(value, _Date):
        cell.value = _naive(parse_instant(value.text))
        cell.number_format = value.format
    elif isinstance(value, _Lag):
        cell.value = value.days
        cell.number_format = "0.00"
    elif isinstance(value, str):
        # Characters a worksheet cannot hold (control characters) show as replacements.
        cell.value = ILLEGAL_CHARACTERS_RE.sub("\ufffd", value)
        cell.data_type = "s"
    else:
        cell.value = value
    return cell


class _FixedTimeZip(ZipFile):
    """A zip archive whose members all carry one timestamp, so the same workbook is the
    same bytes whenever it is written."""

    def __init__(self, file: io.BytesIO, stamp: datetime) -> None:
        super().__init__(file, "w", ZIP_DEFLATED)
        # A zip timestamp cannot be before 1980.
        self.stamp = (
            max(stamp.year, 1980),
            stamp.month,
            stamp.day,
            stamp.hour,
            stamp.minute,
            stamp.second,
        )

    def writestr(self, zinfo_or_arcname: Any, data: Any, *args: Any, **kwargs: Any) -> None:
        """Write a member, stamped with the archive's time when given by name."""
        if isinstance(zinfo_or_arcname, str):
            info = ZipInfo(zinfo_or_arcname, date_time=self.stamp)
            info.compress_type = ZIP_DEFLATED
            info.external_attr = 0o600 << 16
            zinfo_or_arcname = info
        super().writestr(zinfo_or_arcname, data, *args, **kwargs)

    def write(self, filename: Any, arcname: Any = None, *args: Any, **kwargs: Any) -> None:
        """Write a file's bytes as a member (openpyxl writes each sheet so), stamped too."""
        with open(filename, "rb") as file:
            self.writestr(str(arcname or filename), file.read())


def _saved(book: Workbook, document: Document, generated_at: datetime) -> bytes:
    """The workbook's bytes, its properties and timestamps all from `generated_at`."""
    stamp = _naive(generated_at)
    book.properties.creator = "Safeguarding Ledger"
    book.properties.title = f"Chronology of {document['case_id']}"
    book.properties.created = book.properties.modified = stamp
    out = io.BytesIO()
    ExcelWriter(book, _FixedTimeZip(out, stamp)).save()
    return out.getvalue()
