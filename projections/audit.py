"""The per-run latency audit, and where a report's data end (pure).

A report measures each open clock run to `measured_to`: the date asked about, or, when none
was asked, the moment the data end (`data_end`: the latest instant at which something in the
cases happened). Measured to today instead, every clock of an old case would be breached by
years; measured to where the data end, an open run is judged on what the ledger could show.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from ledger.envelope import Event, parse_instant
from projections.as_of import Basis, known_by
from projections.clocks import RunRow
from projections.effective import effective_events

# Written by the ledger about its own findings, not something that happened in the case.
LEDGER_OWN = frozenset({"alert.raised"})

AUDIT_COLUMNS = (
    "case_id",
    "clock",
    "responsible",
    "responsible_kind",
    "area",
    "started_at",
    "stopped_at",
    "deadline",
    "working_days",
    "limit",
    "outcome",
    "start_event",
    "stop_event",
)


def data_end(
    events: Sequence[Event], moment: datetime, basis: Basis = "recorded"
) -> datetime | None:
    """The latest occurred instant of the case's events known by the moment (as amended),
    leaving out the ledger's own alerts, the amendments themselves and undated events (whose
    instant is only when they were recorded); None if no event is left."""
    instants = [
        parse_instant(e.occurred_at)
        for e in effective_events(known_by(events, moment, basis))
        if e.type not in LEDGER_OWN and e.amends is None and e.occurred_precision != "undated"
    ]
    return max(instants, default=None)


def latest(ends: Iterable[datetime | None]) -> datetime | None:
    """The latest of several data ends (None when there is none)."""
    return max((e for e in ends if e is not None), default=None)


def audit_rows(
    runs_by_case: Iterable[tuple[str, list[RunRow]]], clock: str | None = None
) -> list[dict[str, Any]]:
    """One row per clock run (of `clock` only, if named), in the order given: the case, the
    clock, the agency responsible for stopping it, its kind, the area, start, stop, deadline,
    working days, limit and outcome (met, breached or open), with the events that started and
    stopped it."""
    return [
        {
            "case_id": case_id,
            "clock": r.clock,
            "responsible": r.responsible,
            "responsible_kind": r.responsible_kind,
            "area": r.area,
            "started_at": r.started_at,
            "stopped_at": r.stopped_at,
            "deadline": r.deadline,
            "working_days": r.working_days,
            "limit": r.limit,
            "outcome": r.status,
            "start_event": r.start_event,
            "stop_event": r.stop_event,
        }
        for case_id, runs in runs_by_case
        for r in runs
        if clock is None or r.clock == clock
    ]
