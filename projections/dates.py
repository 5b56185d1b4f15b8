"""When an event happened, as its source knows it: structured fields and a line for people.

Dates are shown as UTC days, as the ledger counts them (clocks and working days are UTC too).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, time
from typing import Any

from ledger.envelope import Event, parse_instant

# A source's kind as said in a sentence ("disputed: ... (a relative)").
_SOURCE_WORDS = {
    "parent": "a parent",
    "relative": "a relative",
    "carer": "a carer",
    "neighbour": "a neighbour",
    "friend": "a friend",
    "member_of_public": "a member of the public",
    "anonymous": "an anonymous source",
    "child": "the child",
    "other": "another person",
}
# An end bound at or after this time of day stands for the whole day (e.g. 23:59:59).
_END_OF_DAY = time(23, 59)


def occurred_fields(event: Event) -> dict[str, Any]:
    """The event's date as the API shows it: occurred_at (the instant it sorts by), whether
    the source stated it, its precision, and what else the source said of it."""
    out: dict[str, Any] = {
        "occurred_at": event.occurred_at,
        "occurred_stated": event.occurred_stated,
        "occurred_precision": event.occurred_precision,
        "occurred_approximate": event.occurred_approximate,
    }
    if event.occurred_part_of_day is not None:
        out["occurred_part_of_day"] = event.occurred_part_of_day
    if event.occurred_range is not None:
        out["occurred_range"] = event.occurred_range
    if event.occurred_accounts:
        out["occurred_accounts"] = list(event.occurred_accounts)
    return out


def describe_occurred(event: Event, name_of: Callable[[str], str] = str) -> str:
    """When it happened, in words: `about 22 May 2007`, `between 3 and 9 Jan 2007`,
    `disputed: 4 Mar 2007 (police) / 6 Mar 2007 (a relative)`, `undated (recorded ...)`.
    `name_of` turns an agency id into the name to show."""
    precision = event.occurred_precision
    if precision == "undated":
        return f"undated (recorded {_day(parse_instant(event.recorded_at))})"
    if precision == "range":
        text = _range(event.occurred_range or {})
    elif precision == "disputed":
        text = "disputed: " + " / ".join(_account(a, name_of) for a in event.occurred_accounts)
    else:
        text = _period(parse_instant(event.occurred_at), precision, event.occurred_part_of_day)
    return f"about {text}" if event.occurred_approximate else text


def may_have_occurred_within(event: Event, start: datetime | None, end: datetime | None) -> bool:
    """Whether what is known of the event's date allows it to fall in [start, end]: a stated
    date by its instant, a range if it overlaps, a dispute if any account does; undated, yes."""
    if event.occurred_precision == "undated":
        return True
    if event.occurred_precision == "disputed":
        return any(
            _within(parse_instant(a["occurred_at"]), start, end) for a in event.occurred_accounts
        )
    if event.occurred_precision == "range":
        bounds = event.occurred_range or {}
        earliest, latest = bounds.get("not_before"), bounds.get("not_after")
        return (end is None or earliest is None or parse_instant(earliest) <= end) and (
            start is None or latest is None or parse_instant(latest) >= start
        )
    return _within(parse_instant(event.occurred_at), start, end)


def _within(moment: datetime, start: datetime | None, end: datetime | None) -> bool:
    return (start is None or moment >= start) and (end is None or moment <= end)


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def _day(moment: datetime) -> str:
    moment = _utc(moment)
    return f"{moment.day} {moment:%b %Y}"


def _period(moment: datetime, precision: str, part_of_day: str | None) -> str:
    moment = _utc(moment)
    if precision == "year":
        return str(moment.year)
    if precision == "month":
        return f"{moment:%B %Y}"
    if precision == "week":
        return f"week of {_day(moment)}"
    if precision == "day":
        return _day(moment)
    if precision == "part_of_day":
        return f"{_day(moment)}, {part_of_day}"
    return f"{_day(moment)} {moment:%H:%M}"


def _bound(text: str, end: bool) -> tuple[datetime, bool]:
    """The bound as UTC, and whether it stands for a whole day (no time of day to show)."""
    moment = _utc(parse_instant(text))
    clock = moment.time()
    return moment, clock == time(0) or (end and clock >= _END_OF_DAY)


def _bound_text(moment: datetime, whole_day: bool) -> str:
    return _day(moment) if whole_day else f"{_day(moment)} {moment:%H:%M}"


def _range(bounds: Mapping[str, str]) -> str:
    if "not_after" not in bounds:
        return "not before " + _bound_text(*_bound(bounds["not_before"], end=False))
    if "not_before" not in bounds:
        return "not after " + _bound_text(*_bound(bounds["not_after"], end=True))
    first, first_day = _bound(bounds["not_before"], end=False)
    last, last_day = _bound(bounds["not_after"], end=True)
    if first_day and last_day and first.date() == last.date():
        return _day(first)
    if first_day and last_day and (first.year, first.month) == (last.year, last.month):
        return f"between {first.day} and {_day(last)}"
    if first_day and last_day and first.year == last.year:
        return f"between {first.day} {first:%b} and {_day(last)}"
    return f"between {_bound_text(first, first_day)} and {_bound_text(last, last_day)}"


def _account(account: Mapping[str, Any], name_of: Callable[[str], str]) -> str:
    moment = parse_instant(account["occurred_at"])
    precision = account.get("precision")
    if precision is None:
        # No precision given: a midnight instant is read as a day, as records write dates.
        precision = "day" if _utc(moment).time() == time(0) else "instant"
    # An account names no part of the day: it shows as the day.
    when = _period(moment, "day" if precision == "part_of_day" else precision, None)
    if "agency" in account:
        whose = name_of(account["agency"])
    else:
        whose = _SOURCE_WORDS[account["source"]["kind"]]
    return f"{when} ({whose})"
