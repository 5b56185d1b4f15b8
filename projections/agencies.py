"""The agency registry's read model: each agency's record as of any date (a pure fold).

The registry is on the record: `agency.registered` and `agency.updated` events on the reserved
case `REGISTRY_CASE`. Judgement (clocks, rules, sightings) speaks of an agency's kind, area and
whether it is statutory, read from here; never of one agency's id.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

from ledger.agency_rules import REGISTRY_CASE, REGISTRY_TYPES
from ledger.envelope import Event, parse_instant

__all__ = ["REGISTRY_CASE", "REGISTRY_TYPES", "AgencyLookup", "AgencyRecord", "AgencyTable"]
# What an `agency.updated` may change.
_CHANGEABLE = ("name", "kind", "statutory", "area", "parent")


@dataclass(frozen=True, slots=True)
class AgencyRecord:
    """One agency as the registry held it at some time."""

    agency_id: str
    name: str
    kind: str
    statutory: bool
    area: str | None = None
    parent: str | None = None


class AgencyLookup(Protocol):
    """What the read side asks of the registry."""

    def record(self, agency_id: str, as_of: str | None = None) -> AgencyRecord | None:
        """The agency as in effect at `as_of` (a UTC instant, on the recorded axis), or now:
        its first registration describes it for earlier dates too (an agency exists before
        the ledger hears of it), and each update applies from when it was recorded. None if
        it has never been registered."""
        ...

    def records(self, as_of: str | None = None) -> list[AgencyRecord]:
        """Every agency the registry held at `as_of` (registered by then; or now), as in
        effect then, by id."""
        ...


class AgencyTable:
    """An in-memory AgencyLookup folded from registry events (in any order: updates apply
    in the order they were recorded, whatever the order they arrive in)."""

    def __init__(self, events: Iterable[Event] = ()) -> None:
        # Per agency: its first registration (when recorded, the payload), and its updates in
        # recorded order (when, arrival number, payload).
        self._registered: dict[str, tuple[datetime, dict[str, Any]]] = {}
        self._updates: dict[str, list[tuple[datetime, int, dict[str, Any]]]] = {}
        self._arrivals = 0
        self._cache: dict[tuple[str, str | None], AgencyRecord | None] = {}
        for event in events:
            self.apply(event)

    def apply(self, event: Event) -> None:
        """Fold one registry event; other events are ignored (so is a second registration of
        an id, which the ledger refuses)."""
        if event.type not in REGISTRY_TYPES:
            return
        p, at = event.payload, parse_instant(event.recorded_at)
        if event.type == "agency.registered":
            self._registered.setdefault(p["agency_id"], (at, p))
        else:
            self._arrivals += 1
            bisect.insort(self._updates.setdefault(p["agency_id"], []), (at, self._arrivals, p))
        self._cache.clear()

    def record(self, agency_id: str, as_of: str | None = None) -> AgencyRecord | None:
        """See AgencyLookup.record."""
        key = (agency_id, as_of)
        if key not in self._cache:
            self._cache[key] = self._record(agency_id, as_of)
        return self._cache[key]

    def records(self, as_of: str | None = None) -> list[AgencyRecord]:
        """See AgencyLookup.records."""
        moment = None if as_of is None else parse_instant(as_of)
        found = (
            self.record(agency_id, as_of)
            for agency_id, (at, _) in sorted(self._registered.items())
            if moment is None or at <= moment
        )
        return [r for r in found if r is not None]

    def _record(self, agency_id: str, as_of: str | None) -> AgencyRecord | None:
        registered = self._registered.get(agency_id)
        if registered is None:
            return None
        p = registered[1]
        record = AgencyRecord(
            agency_id=agency_id,
            name=p["name"],
            kind=p["kind"],
            statutory=p["statutory"],
            area=p.get("area"),
            parent=p.get("parent"),
        )
        moment = None if as_of is None else parse_instant(as_of)
        for at, _, change in self._updates.get(agency_id, []):
            if moment is not None and at > moment:
                break
            record = replace(record, **{k: change[k] for k in _CHANGEABLE if k in change})
        return record
