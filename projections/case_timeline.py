"""Who led, which area was responsible and which agencies were involved, at any time in a
case (pure): the spells of the case state, looked up by instant, for clocks and rules.

Built once from the events of a case as known at the moment asked (in order of occurrence);
each lookup is then a scan of a few spells. Times are when things happened (occurred_at, UTC).
An agency's kind and whether it is statutory come from the registry as it stood at the
instant asked about (on the recorded axis), so a renamed or re-kinded agency is judged as it
was then.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Protocol, runtime_checkable

from ledger.envelope import Event, parse_instant, utc_text
from projections.agencies import AgencyLookup, AgencyRecord
from projections.case_state import CaseState, project_all

# `parse_instant`, remembering the instants it parsed: clocks and every rule kind read the same
# events' instants again and again (a datetime is immutable, so sharing one is safe).
instant = lru_cache(maxsize=1 << 16)(parse_instant)

# The events that make the case's lead, area and involvements (the case state's handlers for
# them read nothing else, and no other handler writes those fields): the timeline is folded
# from these alone, at a fraction of the cost of the whole case.
SPELLS = frozenset(
    {
        "case.opened",
        "case.closed",
        "lead.changed",
        "area.changed",
        "involvement.opened",
        "involvement.closed",
    }
)


class CaseTimeline:
    """Lead, area and involvement of one case by instant."""

    def __init__(self, events: Iterable[Event], agencies: AgencyLookup) -> None:
        ordered = list(events)
        # The case state folded from the events that make the spells (with none, from the
        # first event, to name the case): its leads, areas and involvements are the whole
        # case's; its other fields are not.
        self.state: CaseState = project_all(
            None, [e for e in ordered if e.type in SPELLS] or ordered[:1]
        )
        self.agencies = agencies
        self._leads = [(parse_instant(s.since), s.agency) for s in self.state.leads]
        self._areas = [(parse_instant(s.since), s.area) for s in self.state.areas]
        self._episodes = [
            (
                inv.agency,
                None if ep.opened_at is None else parse_instant(ep.opened_at),
                None if ep.closed_at is None else parse_instant(ep.closed_at),
            )
            for inv in self.state.involvements
            for ep in inv.episodes
        ]

    def lead_at(self, at: datetime) -> str | None:
        """The case's lead agency at the instant (None before the first lead)."""
        return _spell_at(self._leads, at)

    def area_at(self, at: datetime) -> str | None:
        """The area responsible for the child at the instant (None before the first)."""
        return _spell_at(self._areas, at)

    def involved_at(self, at: datetime) -> list[str]:
        """Agencies with an involvement open at the instant, by id (an episode whose opening
        the ledger never heard of counts from the start)."""
        found = {
            agency
            for agency, opened, closed in self._episodes
            if (opened is None or opened <= at) and (closed is None or at < closed)
        }
        return sorted(found)

    def record(self, agency: str, at: datetime) -> AgencyRecord | None:
        """The agency as the registry held it at the instant (recorded axis)."""
        return self.agencies.record(agency, utc_text(at))

    def kind(self, agency: str, at: datetime) -> str | None:
        """The agency's kind at the instant, or None if it was not registered."""
        record = self.record(agency, at)
        return None if record is None else record.kind

    def statutory(self, agency: str, at: datetime) -> bool:
        """Whether the agency was a statutory one at the instant (an unregistered one is not)."""
        record = self.record(agency, at)
        return record is not None and record.statutory


@runtime_checkable
class Snapshots(Protocol):
    """A registry that can be read once into memory for many questions (its store's
    table), as the live registry can."""

    def snapshot(self) -> AgencyLookup:
        """The registry as held now, answering in memory."""
        ...


class RememberedAgencies:
    """An AgencyLookup that asks the registry each question once: for one evaluation of a
    case, where clocks and rules ask the same agency's record at the same instants many
    times (each question to the registry's store is a read of SQLite). It also keeps the
    case's timelines (`timeline_of`) for as long as it lives."""

    def __init__(self, agencies: AgencyLookup) -> None:
        # The registry's store read once for the whole evaluation, where it can be.
        self.agencies = agencies.snapshot() if isinstance(agencies, Snapshots) else agencies
        self._records: dict[tuple[str, str | None], AgencyRecord | None] = {}
        self._all: dict[str | None, list[AgencyRecord]] = {}
        self.timelines: dict[int, tuple[Sequence[Event], CaseTimeline]] = {}

    def record(self, agency_id: str, as_of: str | None = None) -> AgencyRecord | None:
        """See AgencyLookup.record (asked of the registry once per agency and instant)."""
        key = (agency_id, as_of)
        try:
            return self._records[key]
        except KeyError:
            found = self._records[key] = self.agencies.record(agency_id, as_of)
            return found

    def records(self, as_of: str | None = None) -> list[AgencyRecord]:
        """See AgencyLookup.records (asked of the registry once per instant)."""
        if as_of not in self._all:
            self._all[as_of] = self.agencies.records(as_of)
        return list(self._all[as_of])


def remembered(agencies: AgencyLookup) -> RememberedAgencies:
    """The lookup, remembering its answers (itself if it already does)."""
    return agencies if isinstance(agencies, RememberedAgencies) else RememberedAgencies(agencies)


def timeline_of(events: Sequence[Event], agencies: AgencyLookup) -> CaseTimeline:
    """`CaseTimeline(events, agencies)`, built once per list of events while `agencies` is
    the same RememberedAgencies (one evaluation of a case, whose rule kinds all receive the
    same list): the case state is folded once, not once per kind."""
    if not isinstance(agencies, RememberedAgencies):
        return CaseTimeline(events, agencies)
    # The list itself is kept beside its timeline, so its id is not reused while remembered.
    held = agencies.timelines.get(id(events))
    if held is None or held[0] is not events:
        held = agencies.timelines[id(events)] = (events, CaseTimeline(events, agencies))
    return held[1]


def _spell_at(spells: list[tuple[datetime, str]], at: datetime) -> str | None:
    found = None
    for since, value in spells:
        if since <= at:
            found = value
    return found
