"""Charts as inline SVG, drawn on the server (pure): each is an image to assistive technology
with a title and a description that give its numbers, and the page puts the table behind it
below. Colour never carries meaning alone: the limit is a dashed line, labelled."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

# The site's palette (static/site.css): ink on paper, the accent for bars (contrast 8.6:1 on
# white), the warning red for the limit (8.9:1), a light line for the grid.
INK, ACCENT, WARN, GRID = "#1b1b1b", "#1d4f91", "#8a1f11", "#b1b4b6"
WIDTH = 760
LABEL_WIDTH = 230
RIGHT = 20
ROW_HEIGHT = 46
AXIS_HEIGHT = 44
PLOT_HEIGHT = 200
TOP = 16
WORKING_DAYS = re.compile(r"(\d+) working days?")


@dataclass(frozen=True, slots=True)
class Distribution:
    """One clock's runs that stopped: the working days each took, and its limit as the
    policy states it (e.g. `10 working days`, `3 months`)."""

    clock: str
    limit: str
    days: Sequence[int]


def limit_in_working_days(limit: str) -> int | None:
    """The limit as a number of working days; None when it is stated in another unit."""
    found = WORKING_DAYS.fullmatch(limit)
    return None if found is None else int(found.group(1))


def distributions(runs: Iterable[Mapping[str, Any]]) -> list[Distribution]:
    """Per clock (by name), the working days of its runs that stopped, from audit rows (as
    `/v1/audit` gives them); a clock none of whose runs stopped has no days."""
    limits: dict[str, str] = {}
    days: dict[str, list[int]] = {}
    for run in runs:
        limits.setdefault(run["clock"], run["limit"])
        found = days.setdefault(run["clock"], [])
        if run["stop_event"] is not None:
            found.append(run["working_days"])
    return [Distribution(c, limits[c], sorted(days[c])) for c in sorted(days)]


def monthly_breaches(runs: Iterable[Mapping[str, Any]]) -> list[tuple[str, int]]:
    """Breached runs counted by the month (YYYY-MM) of their deadline, every month from the
    first such month to the last (none: zero); empty when no run was breached."""
    counts = Counter(r["deadline"][:7] for r in runs if r["outcome"] == "breached")
    if not counts:
        return []
    return [(m, counts.get(m, 0)) for m in _months(min(counts), max(counts))]


def _months(first: str, last: str) -> list[str]:
    year, month = int(first[:4]), int(first[5:7])
    out = []
    while (year, month) <= (int(last[:4]), int(last[5:7])):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def ticks(top: float, most: int = 8) -> list[int]:
    """Round axis ticks from 0 to at least `top`: steps of 1, 2 or 5 times a power of ten,
    no more than `most` + 1 of them."""
    if top <= 0:
        return [0, 1]
    step = 1
    for power in range(0, 12):
        found = next(
            (m * 10**power for m in (1, 2, 5) if math.ceil(top / (m * 10**power)) <= most), None
        )
        if found is not None:
            step = found
            break
    return list(range(0, step * math.ceil(top / step) + 1, step))


def empty(message: str) -> str:
    """What stands in for a chart with nothing to draw: a sentence saying so."""
    return f'<p class="chart-empty">{escape(message)}</p>'


def distribution_svg(rows: Sequence[Distribution]) -> str:
    """Per clock, a histogram of the working days its stopped runs took (bar height: runs
    that took that many days, scaled to the clock's own most common value), on one shared
    axis, with the limit as a dashed line where it is in working days."""
    drawn = [r for r in rows if r.days]
    if not drawn:
        return empty("No runs in this period: no clock run stopped.")
    limits = [limit_in_working_days(r.limit) for r in drawn]
    top = ticks(max([max(r.days) for r in drawn] + [x for x in limits if x is not None]))
    span = top[-1] + 1
    plot = WIDTH - LABEL_WIDTH - RIGHT
    height = len(drawn) * ROW_HEIGHT + AXIS_HEIGHT

    def x(days: float) -> float:
        return LABEL_WIDTH + plot * days / span

    bin_width = max(plot / span - 1, 1)
    parts = [
        _open_svg(
            "distribution",
            height,
            "Working days to stop, per clock",
            _distribution_desc(drawn, limits),
        )
    ]
    for row, (found, limit) in enumerate(zip(drawn, limits, strict=True)):
        base = row * ROW_HEIGHT + ROW_HEIGHT - 6
        counts = Counter(found.days)
        most = max(counts.values())
        parts.append(f'<g class="clock" data-clock="{escape(found.clock)}">')
        parts.append(
            f'<text x="{LABEL_WIDTH - 8}" y="{base - 20}" text-anchor="end" fill="{INK}" '
            f'font-size="13">{escape(found.clock)}</text>'
        )
        parts.append(
            f'<text x="{LABEL_WIDTH - 8}" y="{base - 4}" text-anchor="end" fill="{INK}" '
            f'font-size="11">{len(found.days)} stopped · limit {escape(found.limit)}</text>'
        )
        parts.append(
            f'<line x1="{LABEL_WIDTH}" x2="{WIDTH - RIGHT}" y1="{base}" y2="{base}" '
            f'stroke="{GRID}"/>'
        )
        for days, count in sorted(counts.items()):
            tall = (ROW_HEIGHT - 12) * count / most
            parts.append(
                f'<rect class="bar" x="{x(days):.2f}" y="{base - tall:.2f}" '
                f'width="{bin_width:.2f}" height="{tall:.2f}" fill="{ACCENT}" '
                f'data-days="{days}" data-runs="{count}"/>'
            )
        if limit is not None:
            at = x(limit + 1)
            parts.append(
                f'<line class="limit" x1="{at:.2f}" x2="{at:.2f}" y1="{base - ROW_HEIGHT + 8}" '
                f'y2="{base + 2}" stroke="{WARN}" stroke-width="2" stroke-dasharray="4 3" '
                f'data-limit="{limit}"/>'
            )
        parts.append("</g>")
    axis = len(drawn) * ROW_HEIGHT
    parts.extend(_axis(top, x, axis, "working days to stop (dashed line: the limit)"))
    parts.append("</svg>")
    return "".join(parts)


def _distribution_desc(drawn: Sequence[Distribution], limits: Sequence[int | None]) -> str:
    said = []
    for found, limit in zip(drawn, limits, strict=True):
        over = "" if limit is None else f", {sum(d > limit for d in found.days)} over the limit"
        said.append(
            f"{found.clock}: {len(found.days)} stopped, {found.days[0]} to {found.days[-1]} "
            f"working days (limit {found.limit}{over})"
        )
    return "Working days each clock's stopped runs took. " + "; ".join(said) + "."


def breaches_svg(months: Sequence[tuple[str, int]]) -> str:
    """Breached runs per month as bars on a time axis (a month without one has no bar), the
    count written above each bar."""
    if not any(count for _, count in months):
        return empty("No breaches in this period.")
    plot = WIDTH - LABEL_WIDTH - RIGHT
    slot = plot / len(months)
    levels = ticks(max(count for _, count in months), most=5)
    height = TOP + PLOT_HEIGHT + AXIS_HEIGHT
    said = "; ".join(f"{m}: {c}" for m, c in months if c)
    parts = [
        _open_svg(
            "breaches",
            height,
            "Breached clock runs per month of their deadline",
            f"Breaches per month, {months[0][0]} to {months[-1][0]} "
            f"({sum(c for _, c in months)} in all). Months with any: {said}.",
        ),
        # Room above the plot for the top tick's label and the tallest bar's count.
        f'<g transform="translate(0 {TOP})">',
    ]
    for level in levels:
        y = PLOT_HEIGHT - PLOT_HEIGHT * level / levels[-1]
        parts.append(
            f'<line x1="{LABEL_WIDTH}" x2="{WIDTH - RIGHT}" y1="{y:.2f}" y2="{y:.2f}" '
            f'stroke="{GRID}"/><text class="tick" x="{LABEL_WIDTH - 6}" y="{y + 4:.2f}" '
            f'text-anchor="end" fill="{INK}" font-size="11">{level}</text>'
        )
    parts.append(
        f'<text x="{LABEL_WIDTH - 40}" y="{PLOT_HEIGHT / 2}" text-anchor="end" fill="{INK}" '
        'font-size="12">breaches</text>'
    )
    labelled = month_labels([m for m, _ in months])
    for index, (month, count) in enumerate(months):
        left = LABEL_WIDTH + index * slot
        if count:
            tall = PLOT_HEIGHT * count / levels[-1]
            parts.append(
                f'<rect class="bar" x="{left + slot * 0.1:.2f}" y="{PLOT_HEIGHT - tall:.2f}" '
                f'width="{max(slot * 0.8, 1):.2f}" height="{tall:.2f}" fill="{ACCENT}" '
                f'data-month="{escape(month)}" data-breaches="{count}"/>'
            )
            if slot >= 14:
                parts.append(
                    f'<text x="{left + slot / 2:.2f}" y="{PLOT_HEIGHT - tall - 3:.2f}" '
                    f'text-anchor="middle" fill="{INK}" font-size="11">{count}</text>'
                )
        if month in labelled:
            parts.append(
                f'<text class="tick" x="{left + slot / 2:.2f}" y="{PLOT_HEIGHT + 18}" '
                f'text-anchor="middle" fill="{INK}" font-size="11">{labelled[month]}</text>'
            )
    parts.append(
        f'<line x1="{LABEL_WIDTH}" x2="{WIDTH - RIGHT}" y1="{PLOT_HEIGHT}" y2="{PLOT_HEIGHT}" '
        f'stroke="{INK}"/><text x="{LABEL_WIDTH + plot / 2}" y="{PLOT_HEIGHT + 38}" '
        f'text-anchor="middle" fill="{INK}" font-size="12">month of the deadline</text>'
    )
    parts.append("</g></svg>")
    return "".join(parts)


def month_labels(months: Sequence[str]) -> dict[str, str]:
    """The months (YYYY-MM) the time axis labels, and their labels: no more than about eight,
    each month when there are few, else every quarter, half year, or so many years."""
    if len(months) <= 8:
        return {m: m for m in months}
    for every, most in ((3, 24), (6, 48)):
        if len(months) <= most:
            return {m: m for m in months if (int(m[5:7]) - 1) % every == 0}
    years = math.ceil(len(months) / 12 / 8)
    return {m: m[:4] for m in months if m.endswith("-01") and int(m[:4]) % years == 0}


def _open_svg(name: str, height: float, title: str, desc: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {WIDTH} {height}" aria-labelledby="{name}-title {name}-desc">'
        f'<title id="{name}-title">{escape(title)}</title>'
        f'<desc id="{name}-desc">{escape(desc)}</desc>'
    )


def _axis(levels: Sequence[int], x: Callable[[float], float], y: float, caption: str) -> list[str]:
    parts = [f'<line x1="{LABEL_WIDTH}" x2="{WIDTH - RIGHT}" y1="{y}" y2="{y}" stroke="{INK}"/>']
    for level in levels:
        # A day's bar spans [d, d + 1): its tick sits at the bar's middle.
        at = x(level + 0.5)
        parts.append(
            f'<line x1="{at:.2f}" x2="{at:.2f}" y1="{y}" y2="{y + 4}" stroke="{INK}"/>'
            f'<text class="tick" x="{at:.2f}" y="{y + 16}" text-anchor="middle" fill="{INK}" '
            f'font-size="11">{level}</text>'
        )
    parts.append(
        f'<text x="{LABEL_WIDTH + (WIDTH - LABEL_WIDTH - RIGHT) / 2}" y="{y + 36}" '
        f'text-anchor="middle" fill="{INK}" font-size="12">{escape(caption)}</text>'
    )
    return parts
