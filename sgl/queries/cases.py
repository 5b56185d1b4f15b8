"""Reads of one case: its state, its history, its chronology and what changed between dates."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import asdict

from ledger.envelope import utc_text
from projections.agencies import AgencyLookup
from projections.as_of import Basis, known_by, opening, state_as_of
from projections.case_state import CaseState
from projections.chronology import COLUMNS, changes, chronology
from projections.effective import history
from projections.sightings import any_statutory_involvement_open
from sgl.queries.agencies import namer, registered
from sgl.queries.common import (
    Document,
    case_events,
    dates,
    header,
    known_case,
    moment_of,
    moments,
    to_csv,
)
from sgl.queries.errors import DatesOutOfOrder, NoSuchCase
from sgl.queries.scope import Viewer, visible
from sgl.queries.stores import Stores


def case(
    stores: Stores,
    case_id: str,
    as_of: str | None = None,
    basis: Basis = "recorded",
    viewer: Viewer | None = None,
) -> CaseState:
    """The case's state now, or as it stood at `as_of` (for a viewer: the replay of what its
    agency knew by then); NoSuchCase when none was known."""
    if viewer is not None:
        moment = moment_of(as_of)
        seen = visible(stores.view.events(case_id), viewer.agency, moment, basis)
        state = state_as_of(seen, moment, basis)
    elif as_of is None:
        state = stores.view.get(case_id)
    else:
        state = stores.view.state_as_of(case_id, moment_of(as_of), basis)
    if state is None:
        raise NoSuchCase(case_id, by_then=as_of is not None)
    return state


def case_document(
    stores: Stores,
    case_id: str,
    as_of: str | None = None,
    basis: Basis = "recorded",
    agencies: AgencyLookup | None = None,
    viewer: Viewer | None = None,
) -> Document:
    """The case's state now or at `as_of` (its involvements, lead and responsible area then),
    and whether an agency registered as statutory then had an open involvement."""
    state = case(stores, case_id, as_of, basis, viewer)
    registry = stores.agencies if agencies is None else agencies
    statutory = any_statutory_involvement_open(state, registry, registry_moment(as_of))
    return {**asdict(state), "any_statutory_involvement_open": statutory}


def registry_moment(as_of: str | None) -> str | None:
    """The instant to read the registry at for `as_of`: the same moment, None for now."""
    return None if as_of is None else utc_text(moment_of(as_of))


def case_history(
    stores: Stores,
    case_id: str,
    as_of: str | None = None,
    basis: Basis = "recorded",
    viewer: Viewer | None = None,
) -> Document:
    """Every event known by `as_of` (default now) in log order, with its lags, its status and
    the amendments known by then."""
    moment = moment_of(as_of)
    known = known_by(known_case(stores, case_id, moment, basis, viewer), moment, basis)
    return {**header(case_id, as_of, basis), "entries": [e.as_dict() for e in history(known)]}


def case_chronology(
    stores: Stores,
    case_id: str,
    as_of: str | None = None,
    basis: Basis = "recorded",
    agencies: Collection[str] = (),
    types: Collection[str] = (),
    start: str | None = None,
    end: str | None = None,
    viewer: Viewer | None = None,
) -> Document:
    """The events known by `as_of`, as then corrected, ordered by when they happened,
    optionally only some agencies' or types, and only those that occurred in [start, end];
    each with its agency's display name as registered then."""
    found = moments({"/as_of": as_of, "/from": start, "/to": end})
    registered(stores, agencies)
    moment = moment_of(as_of)
    # A day given as "from" includes that day: its start, where as_of and "to" mean its end.
    start_at = None if start is None else opening(start)
    name_of = namer(stores, as_of)
    rows = chronology(
        known_case(stores, case_id, moment, basis, viewer),
        moment,
        basis,
        agencies,
        types,
        start_at,
        found["/to"],
        name_of,
    )
    rows = [{**row, "agency_name": name_of(row["agency"])} for row in rows]
    return {**header(case_id, as_of, basis), "events": rows}


def chronology_csv(document: Document) -> str:
    """A chronology as CSV, one row per event, agencies by name."""
    return to_csv(COLUMNS, [{**row, "agency": row["agency_name"]} for row in document["events"]])


def case_changes(
    stores: Stores, case_id: str, start: str, end: str, viewer: Viewer | None = None
) -> Document:
    """What was recorded after `start` and by `end`: entries added, corrected and retracted,
    each with its type, agency (and its name), times and summary (amendments with what they
    amend); for a viewer, among what its agency knew by `end`."""
    found = dates({"/from": start, "/to": end})
    start_at, end_at = found["/from"], found["/to"]
    if start_at > end_at:
        raise DatesOutOfOrder(start, end)
    events = case_events(stores, case_id, viewer, end_at)
    found_changes = changes(events, start_at, end_at, namer(stores, end))
    return {"case_id": case_id, "from": start, "to": end, **found_changes}
