"""The event envelope: canonical bytes on the way in, typed events on the way out."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import orjson

# Fields whose values are instants; the canonical form holds them in UTC with a trailing Z.
TIMESTAMP_FIELDS = ("occurred_at", "recorded_at")
# Already canonical: whole seconds in UTC with a Z, the form adapters are asked to send. With
# the schema's date-time check, every text this matches is one Python can hold (no year 0000,
# no leap second), so matching texts need no parsing on the consumer's hot path.
_CANONICAL_INSTANT = re.compile(r"(?!0000)\d{4}-\d\d-\d\dT(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\dZ")
# Fields holding event ids; the canonical form holds UUIDs in lower case.
ID_FIELDS = ("event_id", "causation_id", "correlation_id", "amends")
# Precisions (envelope version 2) whose event states no occurred_at: the ledger derives one to
# sort by (see sort_instant) and never stores it.
UNSTATED = ("range", "disputed", "undated")


class Event(NamedTuple):
    """One accepted event as read back from the log, with its place and append time.

    A NamedTuple rather than a frozen dataclass: as immutable, and several times cheaper to
    build, which matters on the consumer's hot path.
    """

    event_id: str
    type: str
    schema_version: int
    case_id: str
    agency: str
    recorded_by: dict[str, Any]
    occurred_at: str
    recorded_at: str
    payload: dict[str, Any]
    partition: int
    offset: int
    appended_at: datetime
    causation_id: str | None = None
    correlation_id: str | None = None
    amends: str | None = None
    occurred_precision: str = "instant"
    occurred_approximate: bool = False
    # The schema version the event was recorded in, when it was upcast to a newer one.
    recorded_version: int = 0
    # Envelope version 2: what the source knows of when it happened, beyond occurred_at (which
    # is then the instant the event sorts by, see sort_instant).
    occurred_part_of_day: str | None = None
    occurred_range: dict[str, str] | None = None
    occurred_accounts: tuple[dict[str, Any], ...] = ()

    @property
    def occurred_stated(self) -> bool:
        """Whether the source gave occurred_at (False: it is derived, only to sort by)."""
        return self.occurred_precision not in UNSTATED

    @property
    def position(self) -> str:
        """The log position as `partition:offset`."""
        return f"{self.partition}:{self.offset}"

    @property
    def recording_lag(self) -> timedelta | None:
        """How long after it happened the agency recorded it (recorded_at - occurred_at; for a
        range or a disputed date, from the earliest it can have happened); None if undated."""
        if self.occurred_precision == "undated":
            return None
        return parse_instant(self.recorded_at) - parse_instant(self.occurred_at)

    @property
    def submission_lag(self) -> timedelta:
        """How long after recording the ledger accepted it (appended_at - recorded_at)."""
        return self.appended_at - parse_instant(self.recorded_at)


def parse_instant(value: str) -> datetime:
    """Parse an RFC 3339 timestamp that carries an offset; raise ValueError otherwise."""
    # RFC 3339 allows a lower-case t and z; Python's parser takes only upper case.
    parsed = datetime.fromisoformat(value.upper())
    if parsed.tzinfo is None:
        raise ValueError("timestamp has no UTC offset")
    return parsed


def is_canonical_instant(value: str) -> bool:
    """Whether the text is already a whole-second UTC instant ending in Z."""
    return _CANONICAL_INSTANT.fullmatch(value) is not None


def utc_text(moment: datetime) -> str:
    """Format an aware datetime as canonical UTC text, e.g. `2007-07-25T09:30:00Z`."""
    text = moment.astimezone(UTC).isoformat()
    return text.removesuffix("+00:00") + "Z"


def _canonical(value: str) -> str:
    return value if is_canonical_instant(value) else utc_text(parse_instant(value))


def canonicalise(document: dict[str, Any]) -> dict[str, Any]:
    """Return the envelope with UTC instants and lower-case ids; the input is not changed."""
    out = dict(document)
    for name in TIMESTAMP_FIELDS:
        if name in out:
            out[name] = _canonical(out[name])
    for name in ID_FIELDS:
        if name in out:
            out[name] = out[name].lower()
    if "occurred_range" in out:
        out["occurred_range"] = {k: _canonical(v) for k, v in out["occurred_range"].items()}
    if "occurred_accounts" in out:
        out["occurred_accounts"] = [
            {**a, "occurred_at": _canonical(a["occurred_at"])} for a in out["occurred_accounts"]
        ]
    return out


def sort_instant(document: dict[str, Any]) -> str:
    """The instant an event sorts by: occurred_at when stated; else a range's not_before (or
    its not_after), the earliest disputed account, or, undated, when it was recorded."""
    stated = document.get("occurred_at")
    if stated is not None:
        return str(stated)
    bounds = document.get("occurred_range")
    if bounds is not None:
        return str(bounds.get("not_before") or bounds["not_after"])
    accounts = document.get("occurred_accounts")
    if accounts:
        return str(min((a["occurred_at"] for a in accounts), key=parse_instant))
    return str(document["recorded_at"])


def canonical_bytes(document: dict[str, Any]) -> bytes:
    """The exact bytes the log stores: orjson with sorted keys (hashes are reproducible)."""
    return orjson.dumps(document, option=orjson.OPT_SORT_KEYS)


def event_from_document(
    document: dict[str, Any],
    partition: int,
    offset: int,
    appended_at: datetime,
    recorded_version: int = 0,
) -> Event:
    """Build an Event from a validated envelope and its log coordinates (`recorded_version`:
    the version it was recorded in, when the document is upcast from it)."""
    get = document.get
    # Positional, in field order: a consumer builds one an event, and keywords cost 4x.
    return Event(
        document["event_id"],
        document["type"],
        document["schema_version"],
        document["case_id"],
        document["agency"],
        document["recorded_by"],
        sort_instant(document),
        document["recorded_at"],
        document["payload"],
        partition,
        offset,
        appended_at,
        get("causation_id"),
        get("correlation_id"),
        get("amends"),
        get("occurred_precision", "instant"),
        get("occurred_approximate", False),
        recorded_version,
        get("occurred_part_of_day"),
        get("occurred_range"),
        tuple(get("occurred_accounts", ())),
    )
