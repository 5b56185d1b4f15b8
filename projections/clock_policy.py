"""The clock policy: statutory and local clocks as a versioned TOML file, checked on load."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledger.errors import LedgerError
from ledger.schemas import SchemaRegistry

POLICIES_DIR = Path(__file__).resolve().parent.parent / "policies"
UNITS = ("working_days", "calendar_days", "weeks", "months", "hours")


class PolicyError(LedgerError):
    """A policy file that cannot be used; the message names the file, the clock and the field."""


@dataclass(frozen=True, slots=True)
class EventMatch:
    """An event type, with payload fields that must have the given values."""

    type: str
    where: tuple[tuple[str, Any], ...] = ()

    def matches(self, event_type: str, payload: Mapping[str, Any]) -> bool:
        """Whether an event of this type and payload is one of these."""
        return event_type == self.type and all(payload.get(k) == v for k, v in self.where)


@dataclass(frozen=True, slots=True)
class Clock:
    """One clock: from a start event to a stop event, within a limit."""

    name: str
    description: str
    start: EventMatch
    stop: EventMatch
    limit: int
    unit: str
    pair_on: tuple[str, ...] = ()

    @property
    def limit_text(self) -> str:
        """E.g. `10 working days`, `1 working day`."""
        unit = self.unit.replace("_", " ")
        return f"{self.limit} {unit.removesuffix('s') if self.limit == 1 else unit}"


@dataclass(frozen=True, slots=True)
class ClockPolicy:
    """A named version of the clocks."""

    version: str
    title: str
    clocks: tuple[Clock, ...]


def load_clock_policy(
    path: Path | None = None, schemas: SchemaRegistry | None = None
) -> ClockPolicy:
    """Read and check a policy file (default: the bundled `policies/clocks.toml`)."""
    source = path or POLICIES_DIR / "clocks.toml"
    try:
        data = tomllib.loads(source.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise PolicyError(f"{source}: {exc}") from exc
    return parse_clock_policy(data, str(source), schemas or SchemaRegistry())


def parse_clock_policy(
    data: Mapping[str, Any], source: str, schemas: SchemaRegistry
) -> ClockPolicy:
    """The policy in a parsed TOML document; PolicyError names the first thing wrong."""
    for key in ("version", "title"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise PolicyError(f"{source}: `{key}` must be a non-empty string")
    raw = data.get("clock")
    if not isinstance(raw, list) or not raw:
        raise PolicyError(f"{source}: at least one [[clock]] is needed")
    clocks: list[Clock] = []
    for index, item in enumerate(raw):
        clock = _clock(item, f"{source}: clock[{index}]", source, schemas)
        if clock.name in {c.name for c in clocks}:
            raise PolicyError(f"{source}: clock[{index}].name: {clock.name!r} is used twice")
        clocks.append(clock)
    return ClockPolicy(data["version"], data["title"], tuple(clocks))


def _clock(item: object, where: str, source: str, schemas: SchemaRegistry) -> Clock:
    if not isinstance(item, dict):
        raise PolicyError(f"{where}: must be a table")
    name = item.get("name")
    if not isinstance(name, str) or not name.isidentifier():
        raise PolicyError(f"{where}.name: must be a name like `legal_planning_meeting`")
    where = f"{source}: clock {name!r}"
    limit = item.get("limit")
    if not isinstance(limit, dict):
        raise PolicyError(f"{where}.limit: must be {{ value = N, unit = ... }}")
    value, unit = limit.get("value"), limit.get("unit")
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise PolicyError(f"{where}.limit.value: must be a whole number of at least 1")
    if unit not in UNITS:
        raise PolicyError(f"{where}.limit.unit: must be one of {', '.join(UNITS)}")
    start = _match(item.get("start"), f"{where}.start", schemas)
    stop = _match(item.get("stop"), f"{where}.stop", schemas)
    pair_on = item.get("pair_on", [])
    if not isinstance(pair_on, list) or not all(isinstance(f, str) for f in pair_on):
        raise PolicyError(f"{where}.pair_on: must be a list of payload field names")
    for field in pair_on:
        for side, match in (("start", start), ("stop", stop)):
            if field not in _fields(match.type, schemas):
                raise PolicyError(
                    f"{where}.pair_on: {match.type} ({side}) has no payload field {field!r}"
                )
    description = str(item.get("description", ""))
    return Clock(name, description, start, stop, value, str(unit), tuple(pair_on))


def _match(raw: object, where: str, schemas: SchemaRegistry) -> EventMatch:
    if not isinstance(raw, dict) or not isinstance(raw.get("type"), str):
        raise PolicyError(f'{where}: must be {{ type = "...", where = {{ ... }} }}')
    event_type = raw["type"]
    if event_type not in schemas.event_types:
        raise PolicyError(f"{where}.type: no event type {event_type!r} in the catalogue")
    conditions = raw.get("where", {})
    if not isinstance(conditions, dict):
        raise PolicyError(f"{where}.where: must be a table of payload fields and values")
    known = _fields(event_type, schemas)
    for field in conditions:
        if field not in known:
            raise PolicyError(f"{where}.where: {event_type} has no payload field {field!r}")
    return EventMatch(event_type, tuple(sorted(conditions.items())))


def _fields(event_type: str, schemas: SchemaRegistry) -> set[str]:
    doc = schemas.schema(event_type, schemas.latest(event_type))
    assert doc is not None
    payload = doc.document["properties"]["payload"]
    return set(payload.get("properties", {}))
