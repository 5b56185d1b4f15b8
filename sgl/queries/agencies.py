"""The agency registry: every agency as of a date, one agency, display names, and the check
every query naming an agency makes first."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import asdict

from ledger.envelope import utc_text
from projections.agencies import AgencyRecord
from sgl.queries.common import Document, moment_of
from sgl.queries.errors import NoSuchAgency, UnregisteredAgency
from sgl.queries.stores import Stores

AGENCY_COLUMNS = ("agency_id", "name", "kind", "statutory", "area", "parent")


def _as_of(as_of: str | None) -> str | None:
    """The registry's as-of instant (canonical UTC text) for an `as_of` parameter."""
    return None if as_of is None else utc_text(moment_of(as_of))


def agencies(stores: Stores, as_of: str | None = None) -> Document:
    """Every agency registered by `as_of` (default now), by id, as registered then."""
    found = stores.agencies.records(_as_of(as_of))
    return {"as_of": as_of, "agencies": [asdict(r) for r in found]}


def agency(stores: Stores, agency_id: str, as_of: str | None = None) -> Document:
    """One agency as the registry held it at `as_of` (default now); NoSuchAgency when it had
    not been registered by then."""
    moment = _as_of(as_of)
    found = next((r for r in stores.agencies.records(moment) if r.agency_id == agency_id), None)
    if found is None:
        raise NoSuchAgency(agency_id, by_then=as_of is not None)
    return {"as_of": as_of, **asdict(found)}


def registered(stores: Stores, agency_ids: Iterable[str], pointer: str = "/agency") -> None:
    """UnregisteredAgency unless every one of the ids is in the registry (at any time: an
    agency registered after the date asked about is a real agency that knew nothing then)."""
    lookup = stores.agencies
    missing = [a for a in dict.fromkeys(agency_ids) if lookup.record(a) is None]
    if missing:
        raise UnregisteredAgency(missing, pointer)


def namer(stores: Stores, as_of: str | None = None) -> Callable[[str], str]:
    """Each agency's display name as registered at `as_of`, else as registered now; an id the
    registry never held (an event from before the registry) shows as itself. Remembers what
    it looked up."""
    lookup, moment = stores.agencies, _as_of(as_of)

    @functools.cache
    def name_of(agency_id: str) -> str:
        found: AgencyRecord | None = lookup.record(agency_id, moment) or lookup.record(agency_id)
        return agency_id if found is None else found.name

    return name_of
