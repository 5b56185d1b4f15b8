"""The decision-latency audit: clock runs pooled per clock, agency or case (pure)."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from typing import Any, Literal

from projections.clocks import RunRow
from projections.stats import nearest_rank

GroupBy = Literal["clock", "agency", "case"]


def latency_report(
    runs_by_case: Iterable[tuple[str, list[RunRow]]], by: GroupBy = "clock"
) -> list[dict[str, Any]]:
    """Per group: runs, met, breached, open; working days to stop (median, p90 by nearest
    rank, max) over stopped runs; and every breach with its evidence."""
    groups: dict[tuple[str, str], list[tuple[str, RunRow]]] = {}
    for case_id, runs in runs_by_case:
        for run in runs:
            key = {
                "clock": (run.clock, run.limit),
                "agency": (run.agency, ""),
                "case": (case_id, ""),
            }[by]
            groups.setdefault(key, []).append((case_id, run))
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
