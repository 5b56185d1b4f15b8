"""Statutory and local clocks of a case, as of any date: open, met or breached (pure).

Each clock of the policy starts at a matching event (agencies matched by kind, as the registry
`agencies` held them when the event was recorded) and stops at the next matching event that
happened at or after it (the earliest open start first; with `pair_on`, only a start with the
same values). Times are when things happened (occurred_at, as corrected by then), counted in
UTC calendar days. A clock is `met` when it stopped within its limit, `breached` when it
stopped late or is still open past its deadline at the moment asked about, and `open`
otherwise.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from ledger.envelope import Event, parse_instant
from projections.agencies import AgencyLookup
from projections.as_of import Basis, known_by
from projections.clock_policy import Clock, ClockPolicy
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
        began = parse_instant(self.started_at).astimezone(UTC)
        if clock.unit == "hours":
            late = moment > parse_instant(self.deadline)
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
            "started_at": self.start.occurred_at,
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
            self.start.occurred_at,
            None if self.stop is None else self.stop.event_id,
            None if self.stop is None else self.stop.occurred_at,
            self.deadline,
            self.working_days,
            self.calendar_days,
            self.responsible,
            self.responsible_kind,
            self.area,
        )


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
    calendar_days = days or england_and_wales()
    current = effective_events(known_by(events, moment, basis))
    ordered = sorted(current, key=lambda e: (parse_instant(e.occurred_at), e.partition, e.offset))
    runs: list[ClockRun] = []
    for clock in policy.clocks:
        open_runs: list[Event] = []
        for event in ordered:
            if clock.stop.matches(event, agencies):
                started = _earliest_match(open_runs, event, clock.pair_on)
                if started is not None:
                    open_runs.remove(started)
                    runs.append(_run(clock, started, event, until, calendar_days))
            if clock.start.matches(event, agencies):
                open_runs.append(event)
        runs += [_run(clock, started, None, until, calendar_days) for started in open_runs]
    runs.sort(key=lambda r: (r.start.occurred_at, r.clock.name))
    return runs


def _earliest_match(open_runs: list[Event], stop: Event, pair_on: tuple[str, ...]) -> Event | None:
    at = parse_instant(stop.occurred_at)
    for started in open_runs:
        if parse_instant(started.occurred_at) > at:
            continue
        if all(started.payload.get(f) == stop.payload.get(f) for f in pair_on):
            return started
    return None


def _run(
    clock: Clock, start: Event, stop: Event | None, moment: datetime, days: WorkingDays
) -> ClockRun:
    began = parse_instant(start.occurred_at).astimezone(UTC)
    ended = (moment if stop is None else parse_instant(stop.occurred_at)).astimezone(UTC)
    return ClockRun(clock, start, stop, *_measure(clock, began, ended, stop is not None, days))


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
