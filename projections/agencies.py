"""The agency registry's read model: each agency's record as of any date (a pure fold).

The registry is on the record: `agency.registered` and `agency.updated` events on the reserved
case `REGISTRY_CASE`. Judgement (clocks, rules, sightings) speaks of an agency's kind, area and
whether it is statutory, read from here; never of one agency's id.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Protocol

from ledger.agency_rules import REGISTRY_CASE, REGISTRY_TYPES
from ledger.envelope import Event

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
        """The agency as registered at `as_of` (a canonical UTC instant, on the recorded
        axis), or now; None if it was not registered then."""
        ...

    def records(self, as_of: str | None = None) -> list[AgencyRecord]:
        """Every agency registered at `as_of` (or now), by id."""
        ...


class AgencyTable:
    """An in-memory AgencyLookup folded from registry events (in log order)."""

    def __init__(self, events: Iterable[Event] = ()) -> None:
        # Per agency: (recorded_at, record) in recorded_at order.
        self._history: dict[str, list[tuple[str, AgencyRecord]]] = {}
        for event in events:
            self.apply(event)

    def apply(self, event: Event) -> None:
        """Fold one registry event; other events are ignored."""
        if event.type not in REGISTRY_TYPES:
            return
        p = event.payload
        history = self._history.setdefault(p["agency_id"], [])
        if event.type == "agency.registered":
            record = AgencyRecord(
                agency_id=p["agency_id"],
                name=p["name"],
                kind=p["kind"],
                statutory=p["statutory"],
                area=p.get("area"),
                parent=p.get("parent"),
            )
        else:
            before = _at(history, event.recorded_at)
            if before is None:
                return
            record = replace(before, **{k: p[k] for k in _CHANGEABLE if k in p})
        keys = [at for at, _ in history]
        history.insert(bisect.bisect_right(keys, event.recorded_at), (event.recorded_at, record))

    def record(self, agency_id: str, as_of: str | None = None) -> AgencyRecord | None:
        """See AgencyLookup.record."""
        return _at(self._history.get(agency_id, []), as_of)

    def records(self, as_of: str | None = None) -> list[AgencyRecord]:
        """See AgencyLookup.records."""
        found = (self.record(agency_id, as_of) for agency_id in sorted(self._history))
        return [r for r in found if r is not None]


def _at(history: list[tuple[str, AgencyRecord]], as_of: str | None) -> AgencyRecord | None:
    if as_of is None:
        return history[-1][1] if history else None
    index = bisect.bisect_right([at for at, _ in history], as_of)
    return history[index - 1][1] if index else None
