"""The multi-agency chronology as a timeline: inline SVG, one lane per agency (pure).

Built on the server from the chronology document the API answers, so it needs no script and
agrees with the table beside it. What the record says of a date is drawn as it is known: an
instant as a dot, a day or finer as a dot, a week, month or year (or a range a source gave) as
a bar over the days it may have been, a dispute as each account's date joined by a dashed line,
an undated entry as a hollow diamond at when it was recorded. Corrected and retracted entries,
and the corrections and retractions themselves, each have a shape of their own.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from markupsafe import Markup, escape

from ledger.envelope import parse_instant
from projections.effective import CORRECTION, RETRACTION

WIDTH = 1000
LABEL = 210  # the lane labels' column
RIGHT = 16
LANE = 26
AXIS = 30
TOP = 6
LABEL_CHARS = 30
MAX_TICKS = 10
# A period (week, month, year) whose bar would be narrower than this is drawn as a dot.
MIN_BAR = 3.0


@dataclass(frozen=True, slots=True)
class Span:
    """When an entry may have happened: from, to (equal for a stated instant), and whether
    either end is open (a range with one bound only)."""

    start: datetime
    end: datetime
    open_start: bool = False
    open_end: bool = False


def timeline_svg(document: Mapping[str, Any], href: Callable[[str], str]) -> Markup:
    """The chronology document (`case_chronology`) as SVG markup: a lane per agency, each
    entry a link (to `href(event_id)`) drawn at when it happened, as precisely as known."""
    rows: Sequence[Mapping[str, Any]] = document["events"]
    lanes = _lanes(rows)
    height = TOP + LANE * max(1, len(lanes)) + AXIS
    title = (
        f"Chronology of {document.get('case_id', 'the case')} as of "
        f"{document.get('as_of') or 'now'}: {len(rows)} entries from {len(lanes)} agencies"
    )
    desc = (
        "One lane per agency, time running left to right. Dots are entries dated to a day or "
        "an instant; bars are periods or ranges the date is known only within; dashed lines "
        "join the dates of a disputed entry; hollow diamonds are undated entries, at when they "
        "were recorded. Corrected entries have a ring, retracted ones are hollow and struck "
        "through; corrections are squares and retractions crosses. The table below lists "
        "every entry."
    )
    box = f'viewBox="0 0 {WIDTH} {height}" preserveAspectRatio="xMinYMin meet"'
    spans = {id(row): _span(row) for row in rows}
    start, end = _extent(list(spans.values()))
    scale = _Scale(start, end)
    # Two layers of the same size: the picture (an image, named and described, whose parts
    # assistive tech does not list), and over it the marks as links for a pointer; the links
    # stay out of the tab order and the accessibility tree, the table below has each of them.
    out = [
        f'<svg class="timeline" role="img" aria-labelledby="timeline-title timeline-desc" '
        f'xmlns="http://www.w3.org/2000/svg" {box}>',
        f'<title id="timeline-title">{escape(title)}</title>',
        f'<desc id="timeline-desc">{escape(desc)}</desc>',
        *_background(lanes, height, scale),
        "</svg>",
        f'<svg class="timeline-marks" aria-hidden="true" focusable="false" '
        f'xmlns="http://www.w3.org/2000/svg" {box}>',
        *(_mark(row, lanes[row["agency"]], spans[id(row)], scale, href) for row in rows),
        "</svg>",
    ]
    # Every text and attribute taken from the document was escaped where it was put in.
    return Markup("".join(out))  # noqa: S704


def _lanes(rows: Sequence[Mapping[str, Any]]) -> dict[str, tuple[int, str]]:
    """Each agency's lane index and name, in the order the agencies first appear."""
    lanes: dict[str, tuple[int, str]] = {}
    for row in rows:
        if row["agency"] not in lanes:
            lanes[row["agency"]] = (len(lanes), str(row.get("agency_name") or row["agency"]))
    return lanes


def _span(row: Mapping[str, Any]) -> Span:
    """When the entry may have happened, from its date fields."""
    at = parse_instant(row["occurred_at"]).astimezone(UTC)
    precision = row.get("occurred_precision", "instant")
    if precision == "range":
        bounds = row.get("occurred_range") or {}
        low, high = bounds.get("not_before"), bounds.get("not_after")
        return Span(
            parse_instant(low).astimezone(UTC) if low else at,
            parse_instant(high).astimezone(UTC) if high else at,
            open_start=low is None,
            open_end=high is None,
        )
    if precision == "disputed":
        accounts = [
            parse_instant(a["occurred_at"]).astimezone(UTC)
            for a in row.get("occurred_accounts", ())
        ] or [at]
        return Span(min(accounts), max(accounts))
    if precision == "week":
        return Span(at, at + timedelta(days=7))
    if precision == "month":
        days = calendar.monthrange(at.year, at.month)[1]
        return Span(at, at + timedelta(days=days))
    if precision == "year":
        return Span(at, at.replace(year=at.year + 1))
    return Span(at, at)


def _extent(spans: Sequence[Span]) -> tuple[datetime, datetime]:
    """The time the axis covers: every date drawn, with a margin either side."""
    if not spans:
        now = datetime.now(UTC)
        return now - timedelta(days=1), now + timedelta(days=1)
    start = min(s.start for s in spans)
    end = max(s.end for s in spans)
    margin = max((end - start) * 0.02, timedelta(days=1))
    return start - margin, end + margin


class _Scale:
    """Instants to x positions across the lanes."""

    def __init__(self, start: datetime, end: datetime) -> None:
        self.start, self.end = start, end
        self.seconds = (end - start).total_seconds()

    def x(self, moment: datetime) -> float:
        """Where the instant is drawn."""
        share = (moment - self.start).total_seconds() / self.seconds
        return round(LABEL + share * (WIDTH - LABEL - RIGHT), 1)


def _background(lanes: Mapping[str, tuple[int, str]], height: int, scale: _Scale) -> list[str]:
    """Lane bands and labels, the axis with its ticks and grid lines."""
    out = []
    for index, name in lanes.values():
        y = TOP + index * LANE
        shade = "lane lane-odd" if index % 2 else "lane"
        out.append(f'<rect class="{shade}" x="0" y="{y}" width="{WIDTH}" height="{LANE}"/>')
        shown = name if len(name) <= LABEL_CHARS else name[: LABEL_CHARS - 1] + "\u2026"
        out.append(
            f'<text class="lane-label" x="6" y="{y + LANE / 2 + 4}">{escape(shown)}'
            f"<title>{escape(name)}</title></text>"
        )
    axis = height - AXIS
    out.append(f'<line class="axis" x1="{LABEL}" y1="{axis}" x2="{WIDTH - RIGHT}" y2="{axis}"/>')
    for moment, label in _ticks(scale.start, scale.end):
        x = scale.x(moment)
        out.append(f'<line class="grid" x1="{x}" y1="{TOP}" x2="{x}" y2="{axis}"/>')
        out.append(f'<line class="axis" x1="{x}" y1="{axis}" x2="{x}" y2="{axis + 5}"/>')
        out.append(
            f'<text class="tick" x="{x}" y="{axis + 18}" text-anchor="middle">'
            f"{escape(label)}</text>"
        )
    return out


def _ticks(start: datetime, end: datetime) -> list[tuple[datetime, str]]:
    """Round dates to mark on the axis: days, weeks, or every 1, 3, 6, 12... months, the
    finest of these that gives at most MAX_TICKS."""
    days = (end - start).days
    for step in (1, 7):
        if days // step <= MAX_TICKS:
            first = start.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
            found = [first + timedelta(days=step * i) for i in range(days // step + 1)]
            return [(d, f"{d.day} {d:%b %Y}") for d in found if d <= end]
    months = (end.year - start.year) * 12 + end.month - start.month
    step = next((s for s in (1, 3, 6, 12) if months // s <= MAX_TICKS), 12)
    while months // step > MAX_TICKS:
        step += 12
    index = start.year * 12 + start.month  # the month after start's (1-based month)
    index += -index % step  # aligned, so quarters fall on Jan, Apr, Jul, Oct
    ticks: list[tuple[datetime, str]] = []
    while True:
        year, month = divmod(index, 12)
        moment = datetime(year, month + 1, 1, tzinfo=UTC)
        if moment > end:
            return ticks
        if moment >= start:
            ticks.append((moment, f"{moment:%b %Y}" if step < 12 else str(moment.year)))
        index += step


def _mark(
    row: Mapping[str, Any],
    lane: tuple[int, str],
    span: Span,
    scale: _Scale,
    href: Callable[[str], str],
) -> str:
    """One entry: a link wrapping its shape, named by its date, agency, summary and status."""
    y = TOP + lane[0] * LANE + LANE / 2
    precision = row.get("occurred_precision", "instant")
    status, kind = row.get("status", "as-recorded"), row["type"]
    classes = ["mark", f"status-{status}"]
    if row.get("occurred_approximate"):
        classes.append("approximate")
    parts = []
    # A range open at one end runs to that end of the axis: it may have been any time since.
    x0 = scale.x(scale.start if span.open_start else span.start)
    x1 = scale.x(scale.end if span.open_end else span.end)
    if precision == "disputed":
        classes.append("disputed")
        xs = sorted(
            scale.x(parse_instant(a["occurred_at"]).astimezone(UTC))
            for a in row.get("occurred_accounts", ())
        ) or [x0]
        parts.append(f'<line class="dispute" x1="{xs[0]}" y1="{y}" x2="{xs[-1]}" y2="{y}"/>')
        parts.extend(f'<circle class="account" cx="{x}" cy="{y}" r="4"/>' for x in xs)
    elif x1 - x0 >= MIN_BAR:
        classes.append("ranged")
        if span.open_start or span.open_end:
            classes.append("open-ended")
        parts.append(f'<rect class="range" x="{x0}" y="{y - 5}" width="{x1 - x0}" height="10"/>')
    at = scale.x(parse_instant(row["occurred_at"]).astimezone(UTC))
    parts.append(_shape(kind, status, precision, at, y))
    label = f"{row.get('occurred', row['occurred_at'])} · {row.get('agency_name') or row['agency']}"
    label += f" · {row.get('summary', kind)} · {status}"
    return (
        f'<a href="{escape(href(row["event_id"]))}" tabindex="-1" '
        f'class="{escape(" ".join(classes))}" data-event="{escape(row["event_id"])}">'
        f"<title>{escape(label)}</title>{''.join(parts)}</a>"
    )


def _shape(kind: str, status: str, precision: str, x: float, y: float) -> str:
    """The entry's own shape at its sort instant."""
    if kind == CORRECTION:
        return f'<rect class="dot correction" x="{x - 4}" y="{y - 4}" width="8" height="8"/>'
    if kind == RETRACTION:
        return (
            f'<path class="dot retraction" d="M{x - 4} {y - 4}L{x + 4} {y + 4}'
            f'M{x - 4} {y + 4}L{x + 4} {y - 4}"/>'
        )
    if precision == "undated":
        return f'<path class="dot undated" d="M{x} {y - 6}L{x + 6} {y}L{x} {y + 6}L{x - 6} {y}Z"/>'
    if status == "retracted":
        return (
            f'<circle class="dot" cx="{x}" cy="{y}" r="5"/>'
            f'<line class="strike" x1="{x - 7}" y1="{y + 7}" x2="{x + 7}" y2="{y - 7}"/>'
        )
    return f'<circle class="dot" cx="{x}" cy="{y}" r="5"/>'
