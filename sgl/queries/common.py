"""What every query shares: dates by parameter, a case known by a moment, policy headers."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from ledger.envelope import Event
from ledger.limits import in_range
from projections.as_of import Basis, cutoff, known_by
from projections.clock_policy import ClockPolicy
from projections.rules import RulePolicy
from sgl.queries.errors import BadDate, DateOutOfRange, NoSuchCase
from sgl.queries.scope import Viewer, case_events_of
from sgl.queries.stores import Stores

Document = dict[str, Any]


def dates(texts: Mapping[str, str]) -> dict[str, datetime]:
    """Date parameters by JSON pointer as instants; BadDate names every one that does not
    parse, DateOutOfRange every one outside the dates the ledger holds."""
    out: dict[str, datetime] = {}
    bad: dict[str, str] = {}
    for pointer, text in texts.items():
        try:
            out[pointer] = cutoff(text)
        except ValueError:
            bad[pointer] = text
    if bad:
        raise BadDate(bad)
    outside = [pointer for pointer, moment in out.items() if not in_range(moment)]
    if outside:
        raise DateOutOfRange(outside)
    return out


def moments(texts: Mapping[str, str | None]) -> dict[str, datetime | None]:
    """Optional date parameters by JSON pointer as instants (None when absent); BadDate names
    every one that does not parse."""
    found = dates({pointer: text for pointer, text in texts.items() if text is not None})
    return {pointer: found.get(pointer) for pointer in texts}


def moment_of(as_of: str | None) -> datetime:
    """The instant an `as_of` parameter names; now when it is absent."""
    return moments({"/as_of": as_of})["/as_of"] or datetime.now(UTC)


def case_events(
    stores: Stores,
    case_id: str,
    viewer: Viewer | None = None,
    moment: datetime | None = None,
    basis: Basis = "recorded",
) -> list[Event]:
    """The case's events in log order (those the viewer knew by the moment, default now);
    NoSuchCase when there are none, as for a case the ledger does not hold."""
    events = case_events_of(stores.view.events(case_id), viewer, moment or datetime.now(UTC), basis)
    if not events:
        raise NoSuchCase(case_id)
    return events


def known_case(
    stores: Stores, case_id: str, moment: datetime, basis: Basis, viewer: Viewer | None = None
) -> list[Event]:
    """All the case's events (the viewer's, as it knew them by the moment), once some were
    known by the moment; NoSuchCase otherwise."""
    events = case_events(stores, case_id, viewer, moment, basis)
    if not known_by(events, moment, basis):
        raise NoSuchCase(case_id, by_then=True)
    return events


def header(case_id: str | None, as_of: str | None, basis: Basis) -> Document:
    """The fields every answer about a moment starts with (case_id only for one case)."""
    scope = {} if case_id is None else {"case_id": case_id}
    return {**scope, "as_of": as_of, "basis": basis}


def policy(chosen: ClockPolicy | RulePolicy) -> Document:
    """A policy as answers name it."""
    return {"version": chosen.version, "title": chosen.title}


# A text cell a spreadsheet would take for a formula when it starts with one of these (OWASP
# CSV injection): it gets a leading apostrophe, so it is shown as the text it is.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A value as a CSV cell: None empty, text that would start a formula escaped with a
    leading apostrophe; numbers (a negative lag among them) stay numbers."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def to_csv(columns: Sequence[str], rows: Sequence[dict[str, Any]]) -> str:
    """Rows as CSV with a header row; None is an empty cell, and no text cell can be taken
    for a spreadsheet formula (`csv_cell`)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([csv_cell(row[c]) for c in columns])
    return out.getvalue()
