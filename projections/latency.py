"""The decision-latency audit: clock runs pooled per clock, responsible agency, its kind, the
area or the case (pure)."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable
from typing import Any, Literal, get_args

from projections.clocks import RunRow
from projections.stats import nearest_rank

GroupBy = Literal["clock", "agency", "kind", "area", "case"]
GROUPINGS: tuple[str, ...] = get_args(GroupBy)
# The group of runs no agency (or area) was found responsible for.
UNASSIGNED = "unassigned"

_KEYS: dict[str, Callable[[str, RunRow], tuple[str, str]]] = {
    "clock": lambda case_id, r: (r.clock, r.limit),
    "agency": lambda case_id, r: (r.responsible or UNASSIGNED, ""),
    "kind": lambda case_id, r: (r.responsible_kind or UNASSIGNED, ""),
    "area": lambda case_id, r: (r.area or UNASSIGNED, ""),
    "case": lambda case_id, r: (case_id, ""),
}


def latency_report(
    runs_by_case: Iterable[tuple[str, list[RunRow]]], by: GroupBy = "clock"
) -> list[dict[str, Any]]:
    """Per group: runs, met, breached, open; working days to stop (median, p90 by nearest
    rank, max) over stopped runs; and every breach with its evidence. `agency` and `kind` are
    the agency responsible for stopping the run (as of its start) and its kind, never the
    agency that started it; runs without one group under `unassigned`."""
    key = _KEYS[by]
    groups: dict[tuple[str, str], list[tuple[str, RunRow]]] = {}
    for case_id, runs in runs_by_case:
        for run in runs:
            groups.setdefault(key(case_id, run), []).append((case_id, run))
    rows = []
    for (name, limit), members in sorted(groups.items()):
        stopped = sorted(r.working_days for _, r in members if r.stop_event is not None)
        row: dict[str, Any] = {by: name}
        if by == "clock":
            row["limit"] = limit
        row.update(
            {
                "runs": len(members),
                "met": sum(r.status == "met" for _, r in members),
                "breached": sum(r.status == "breached" for _, r in members),
                "open": sum(r.status == "open" for _, r in members),
                **_spread(stopped),
                "breaches": [
                    {
                        "case_id": case_id,
                        "clock": r.clock,
                        "responsible": r.responsible,
                        "start_event": r.start_event,
                        "stop_event": r.stop_event,
                        "started_at": r.started_at,
                        "deadline": r.deadline,
                        "working_days": r.working_days,
                    }
                    for case_id, r in members
                    if r.status == "breached"
                ],
            }
        )
        rows.append(row)
    return rows


def _spread(days: list[int]) -> dict[str, float | int | None]:
    if not days:
        return {"median_working_days": None, "p90_working_days": None, "max_working_days": None}
    return {
        "median_working_days": statistics.median(days),
        "p90_working_days": nearest_rank(days, 0.9),
        "max_working_days": days[-1],
    }
