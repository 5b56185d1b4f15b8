"""Statutory and local clocks of a case, as of any date: open, met or breached (pure).

Each clock of the policy starts at a matching event (agencies matched by kind, as the registry
`agencies` held them when the event was recorded), or on a date its payload states (`at`),
and stops at the next event matching any of its stops that happened at or after it. A stop
closes every open run it answers (two referrals and then one decision: both are decided): with
`pair_on`, only those with the same values; with `by = "responsible"`, only those whose
responsible agency recorded it. At one instant, starts come before stops, then events in the
order the ledger learnt of them (recorded_at, then log position). An `unless` event ends the
runs it answers as not due: they are not reported, but for a run already past its deadline,
which ends there, still breached. Each run names the agency responsible for stopping it (the
clock's role resolved in the case as of the run's start), that agency's kind and the case's
area then; the registry (kinds, police areas) is read as it stood when the start was
recorded, as for matching the start.

Times are when things happened (occurred_at, as corrected by then), counted in UTC calendar
days; an undated event neither starts nor stops a clock. A clock is `met` when it stopped
within its limit, `breached` when it stopped late or is still open past its deadline at the
moment asked about, and `open` otherwise.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from ledger.envelope import Event, utc_text
from projections.agencies import AgencyLookup
from projections.as_of import Basis, known_by
from projections.case_timeline import SPELLS, CaseTimeline, instant, remembered
from projections.clock_policy import RECIPIENT, Clock, ClockPolicy, EventMatch, Responsible
from projections.effective import effective_events
from projections.working_days import WorkingDays, england_and_wales


@dataclass(frozen=True, slots=True)
class RunRow:
    """A clock run flattened to what reports and the clock view need (no events)."""

    clock: str
    limit: str
    agency: str
    status: str
    start_event: str
    started_at: str
    stop_event: str | None
    stopped_at: str | None
    deadline: str
    working_days: int
    calendar_days: float
    # The agency responsible for stopping the run, as of its start (the clock's
    # `responsible` role resolved in the case), its kind and the case's area then.
    responsible: str | None = None
    responsible_kind: str | None = None
    area: str | None = None

    def at(self, clock: Clock, moment: datetime, days: WorkingDays) -> RunRow:
        """The run as of a later moment: a stopped run is final; an open one is measured to
        the moment, and breached once the moment passes its deadline."""
        if self.stop_event is not None:
            return self
        # The deadline does not depend on the moment: only lateness and the days so far do.
        began = instant(self.started_at).astimezone(UTC)
        if clock.unit == "hours":
            late = moment > instant(self.deadline)
        else:
            late = moment.astimezone(UTC).date() > date.fromisoformat(self.deadline)
        ended = moment.astimezone(UTC)
        return RunRow(
            self.clock,
            self.limit,
            self.agency,
            "breached" if late else "open",
            self.start_event,
            self.started_at,
            None,
            None,
            self.deadline,
            days.between(began.date(), ended.date()),
            round((ended - began).total_seconds() / 86400, 2),
            self.responsible,
            self.responsible_kind,
            self.area,
        )


@dataclass(frozen=True, slots=True)
class ClockRun:
    """One start of a clock, and its stop if it has one."""

    clock: Clock
    start: Event
    stop: Event | None
    started_at: str
    status: str
    deadline: str
    working_days: int
    calendar_days: float
    responsible: str | None = None
    responsible_kind: str | None = None
    area: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The run as the API shows it."""
        return {
            "clock": self.clock.name,
            "description": self.clock.description,
            "limit": self.clock.limit_text,
            "status": self.status,
            "start_event": self.start.event_id,
            "started_at": self.started_at,
            "stop_event": None if self.stop is None else self.stop.event_id,
            "stopped_at": None if self.stop is None else self.stop.occurred_at,
            "deadline": self.deadline,
            "working_days": self.working_days,
            "calendar_days": self.calendar_days,
            "agency": self.start.agency,
            "responsible": self.responsible,
            "responsible_kind": self.responsible_kind,
            "area": self.area,
        }

    def row(self) -> RunRow:
        """The run flattened for reports and the clock view."""
        return RunRow(
            self.clock.name,
            self.clock.limit_text,
            self.start.agency,
            self.status,
            self.start.event_id,
            self.started_at,
            None if self.stop is None else self.stop.event_id,
            None if self.stop is None else self.stop.occurred_at,
            self.deadline,
            self.working_days,
            self.calendar_days,
            self.responsible,
            self.responsible_kind,
            self.area,
        )


@dataclass(frozen=True, slots=True, eq=False)
class _Start:
    """An open run: its start event, when it began, and who must stop it."""

    event: Event
    began: datetime
    started_at: str
    responsible: str | None
    responsible_kind: str | None
    area: str | None


def clock_runs(
    events: Sequence[Event],
    moment: datetime,
    policy: ClockPolicy,
    basis: Basis = "recorded",
    days: WorkingDays | None = None,
    *,
    agencies: AgencyLookup,
    measured_to: datetime | None = None,
) -> list[ClockRun]:
    """Every run of every clock of the policy in the case, as of the moment; an open run is
    measured to `measured_to` (default: the moment), e.g. to when the case's data end."""
    until = moment if measured_to is None else measured_to
    # Starts, stops and roles ask the registry about the same agencies at the same instants.
    agencies = remembered(agencies)
    calendar_days = days or england_and_wales()
    current = effective_events(known_by(events, moment, basis))
    # Same-instant events in the order the ledger learnt of them, as the rules order them.
    everything = sorted(
        current,
        key=lambda e: (instant(e.occurred_at), instant(e.recorded_at), e.partition, e.offset),
    )
    # An undated event has no instant: it is never evidence of when a clock started or stopped
    # (it still counts for who led and who was involved, as the case state has it).
    ordered = [e for e in everything if e.occurred_precision != "undated"]
    roles = _Roles(everything, agencies)
    # Each clock reads only the events of its types: positions by type, taken once.
    by_type: dict[str, list[int]] = {}
    for index, event in enumerate(ordered):
        by_type.setdefault(event.type, []).append(index)
    runs: list[ClockRun] = []
    for clock in policy.clocks:
        open_runs: list[_Start] = []
        start_type = clock.start.type
        types = {start_type, *(m.type for m in (*clock.stops, *clock.unless))}
        relevant = [ordered[i] for i in sorted(i for t in types for i in by_type.get(t, ()))]
        # At one instant, starts before stops: a decision at the very instant of its
        # referral (both dated to the day) decides it, whichever the log holds first. The
        # sort is stable, so ties keep the order above.
        relevant.sort(key=lambda e: (instant(e.occurred_at), not clock.start.matches(e, agencies)))
        for event in relevant:
            # A start dated by its payload is stopped by the event itself: start it first.
            begun = _begin(clock, event, agencies, roles) if event.type == start_type else None
            if begun is not None and clock.start.at is not None:
                open_runs.append(begun)
            if not open_runs:
                # No run to stop: a start (of a clock started when it happens) opens one.
                if begun is not None:
                    open_runs.append(begun)
                continue
            stopped = _ended(clock.stops, open_runs, event, clock.pair_on, agencies)
            runs += [_run(clock, started, event, until, calendar_days) for started in stopped]
            if not stopped:
                stopped = _ended(clock.unless, open_runs, event, (), agencies)
                # A run already past its deadline when found not due stays breached: it ends
                # there, late; one still in time is not due and not reported. A clock whose
                # every run depends on what the unless event decides was never due.
                if clock.unless_when_late == "breached":
                    runs += [
                        run
                        for started in stopped
                        if (run := _run(clock, started, event, until, calendar_days)).status
                        == "breached"
                    ]
            open_runs = [r for r in open_runs if r not in stopped]
            if begun is not None and clock.start.at is None:
                open_runs.append(begun)
        runs += [_run(clock, started, None, until, calendar_days) for started in open_runs]
    runs.sort(key=lambda r: (r.started_at, r.clock.name))
    return runs


class _Roles:
    """The agency a role names in the case at an instant, from the case's lead, area and
    involvement spells (folded when first needed, once per case)."""

    def __init__(self, events: list[Event], agencies: AgencyLookup) -> None:
        self._events = events
        self._agencies = agencies
        self._timeline: CaseTimeline | None = None
        self._folded = False
        self._police: dict[str, list[str]] = {}

    @property
    def timeline(self) -> CaseTimeline | None:
        """The case's lead, area and involvement by instant; None if nothing set them."""
        if not self._folded:
            spells = [e for e in self._events if e.type in SPELLS]
            self._timeline = CaseTimeline(spells, self._agencies) if spells else None
            self._folded = True
        return self._timeline

    def kind(self, agency: str, known: str) -> str | None:
        """The agency's kind as the registry held it at `known` (None if not registered)."""
        record = self._agencies.record(agency, known)
        return None if record is None else record.kind

    def area_at(self, at: datetime) -> str | None:
        """The case's area at the instant; before the first area recorded, that first one
        (a referral that opens a case comes before the case records where the child lives)."""
        timeline = self.timeline
        if timeline is None:
            return None
        area = timeline.area_at(at)
        if area is None and timeline.state.areas:
            return timeline.state.areas[0].area
        return area

    def resolve(self, responsible: Responsible, start: Event, at: datetime) -> str | None:
        """The agency the role names for a run starting at `at` with this event."""
        if responsible.role == RECIPIENT:
            named = start.payload.get(responsible.field or "")
            return named if isinstance(named, str) else None
        if responsible.role == "recorder":
            return start.agency
        if responsible.role == "lead":
            return None if self.timeline is None else self.timeline.lead_at(at)
        return self.police_of_area(at, start.recorded_at)

    def police_of_area(self, at: datetime, known: str) -> str | None:
        """The police agency of the case's area at `at`, as the registry held them at `known`
        (one involved then first, by id); if none is registered for it, a police agency
        involved then; else None."""
        involved = (
            []
            if self.timeline is None
            else [a for a in self.timeline.involved_at(at) if self.kind(a, known) == "police"]
        )
        area = self.area_at(at)
        if area is not None:
            of_area = [
                a
                for a in self._police_agencies(known)
                if (r := self._agencies.record(a, known)) is not None and r.area == area
            ]
            if of_area:
                return next((a for a in of_area if a in involved), of_area[0])
        return involved[0] if involved else None

    def _police_agencies(self, known: str) -> list[str]:
        """Agencies of the police kind at `known` (the registry read once per instant)."""
        if known not in self._police:
            self._police[known] = [
                r.agency_id
                for r in self._agencies.records()
                if self.kind(r.agency_id, known) == "police"
            ]
        return self._police[known]


def _begin(clock: Clock, event: Event, agencies: AgencyLookup, roles: _Roles) -> _Start | None:
    """The run this event starts, if it starts one (a payload date not known starts none)."""
    if not clock.start.matches(event, agencies):
        return None
    if clock.start.at is None:
        began, started_at = instant(event.occurred_at).astimezone(UTC), event.occurred_at
    else:
        stated = event.payload.get(clock.start.at)
        try:
            began = datetime.combine(date.fromisoformat(str(stated)), time(), UTC)
        except ValueError:
            return None
        started_at = utc_text(began)
    area = roles.area_at(began)
    if clock.responsible is None:
        return _Start(event, began, started_at, None, None, area)
    agency = roles.resolve(clock.responsible, event, began)
    # The registry as the ledger held it when it learnt of the start, as a start's
    # `where_kind` reads it: who is responsible comes from the case as of the start.
    record = None if agency is None else agencies.record(agency, event.recorded_at)
    kind = None if record is None else record.kind
    if area is None and record is not None:
        # A case that never records its area is in the area of the agency responsible.
        area = record.area
    return _Start(event, began, started_at, agency, kind, area)


def _ended(
    matches: tuple[EventMatch, ...],
    open_runs: list[_Start],
    event: Event,
    pair_on: tuple[str, ...],
    agencies: AgencyLookup,
) -> list[_Start]:
    """The open runs (begun at or before the event) that the event ends through any of the
    matches; a match `by = "responsible"` ends only the runs its recorder must stop (and
    those no agency was found responsible for)."""
    found = [m for m in matches if m.matches(event, agencies)]
    if not found:
        return []
    by_anyone = any(m.by is None for m in found)
    at = instant(event.occurred_at)
    return [
        started
        for started in open_runs
        if started.began <= at
        and (by_anyone or started.responsible in (None, event.agency))
        and all(started.event.payload.get(f) == event.payload.get(f) for f in pair_on)
    ]


def _run(
    clock: Clock, start: _Start, stop: Event | None, moment: datetime, days: WorkingDays
) -> ClockRun:
    ended = (moment if stop is None else instant(stop.occurred_at)).astimezone(UTC)
    return ClockRun(
        clock,
        start.event,
        stop,
        start.started_at,
        *_measure(clock, start.began, ended, stop is not None, days),
        start.responsible,
        start.responsible_kind,
        start.area,
    )


def _measure(
    clock: Clock, began: datetime, ended: datetime, stopped: bool, days: WorkingDays
) -> tuple[str, str, int, float]:
    """Status, deadline, working days and calendar days of a run from `began` to `ended`."""
    if clock.unit == "hours":
        deadline_at = began + timedelta(hours=clock.limit)
        late = ended > deadline_at
        deadline = deadline_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    else:
        last_day = _last_day(clock, began.date(), days)
        late = ended.date() > last_day
        deadline = last_day.isoformat()
    status = "breached" if late else ("met" if stopped else "open")
    return (
        status,
        deadline,
        days.between(began.date(), ended.date()),
        round((ended - began).total_seconds() / 86400, 2),
    )


def _last_day(clock: Clock, start: date, days: WorkingDays) -> date:
    """The last day on which the clock's stop is still in time."""
    if clock.unit == "working_days":
        return days.add(start, clock.limit)
    if clock.unit == "calendar_days":
        return start + timedelta(days=clock.limit)
    if clock.unit == "weeks":
        return start + timedelta(weeks=clock.limit)
    return _add_months(start, clock.limit)


def _add_months(start: date, months: int) -> date:
    """The same day `months` later, or that month's last day if it is shorter."""
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))
