"""The clock policy: statutory and local clocks as a versioned TOML file, checked on load
(`policies/clock-policy.schema.json`, then against the event catalogue).

A start or stop names agencies by kind (`where_kind`), never by id: which kind an agency is
comes from the agency registry, as it stood when the event was recorded. Who must stop a
clock is a role (`responsible`), resolved in the case when each run starts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledger.envelope import Event
from ledger.schemas import SchemaRegistry
from projections.agencies import AgencyLookup
from projections.policy_file import PolicyError, check_policy, read_policy

SCHEMA = "clock-policy.schema.json"
# The role of a clock's `responsible` given as a start payload field (`{ field = "..." }`);
# the others (`lead`, `police_of_area`, `recorder`) are named as they are.
RECIPIENT = "recipient"


@dataclass(frozen=True, slots=True)
class EventMatch:
    """An event type, with payload fields that must have the given values, and payload
    agency fields that must name an agency of the given kind."""

    type: str
    where: tuple[tuple[str, Any], ...] = ()
    where_kind: tuple[tuple[str, str], ...] = ()
    # `responsible`: the event answers only the runs whose responsible agency recorded it.
    by: str | None = None
    # A start's payload date field the run starts from, instead of when the event happened.
    at: str | None = None

    def matches(self, event: Event, agencies: AgencyLookup) -> bool:
        """Whether the event is one of these; an agency not in the registry when the event
        was recorded is of no kind."""
        payload = event.payload
        if event.type != self.type or any(payload.get(k) != v for k, v in self.where):
            return False
        return all(
            _kind_of(payload.get(field), event.recorded_at, agencies) == kind
            for field, kind in self.where_kind
        )


def _kind_of(agency: object, as_of: str, agencies: AgencyLookup) -> str | None:
    if not isinstance(agency, str):
        return None
    record = agencies.record(agency, as_of)
    return None if record is None else record.kind


@dataclass(frozen=True, slots=True)
class Responsible:
    """Who must stop a clock: `recipient` (the agency in the start's payload `field`),
    `lead` (the case's lead), `police_of_area` (the police of the case's area) or
    `recorder` (the agency that recorded the start), as of the run's start."""

    role: str
    field: str | None = None


@dataclass(frozen=True, slots=True)
class Clock:
    """One clock: from a start event to the first event matching any of its stops, within a
    limit; an `unless` event ends a run as not due (e.g. a referral decided no further action
    needs no assessment), or, once past its deadline, as breached (unless `unless_when_late`
    is `not_due`)."""

    name: str
    description: str
    start: EventMatch
    stops: tuple[EventMatch, ...]
    limit: int
    unit: str
    pair_on: tuple[str, ...] = ()
    responsible: Responsible | None = None
    unless: tuple[EventMatch, ...] = ()
    source: str = ""
    # What an `unless` event does to a run already past its deadline: `breached` (it ends
    # there, still breached) or `not_due` (it was never due: the clock was conditional on
    # what the unless event decides).
    unless_when_late: str = "breached"

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
    data, source = read_policy(path, "clocks.toml")
    return parse_clock_policy(data, source, schemas or SchemaRegistry())


def parse_clock_policy(data: dict[str, Any], source: str, schemas: SchemaRegistry) -> ClockPolicy:
    """The policy in a parsed TOML document, checked by its JSON Schema and against the
    event catalogue; PolicyError names every problem of the first check that fails."""
    check_policy(data, source, SCHEMA)
    clocks: list[Clock] = []
    for index, item in enumerate(data["clock"]):
        clock = _clock(item, f"{source}: clock[{index}] ({item['name']})", schemas)
        if clock.name in {c.name for c in clocks}:
            raise PolicyError(f"{source}: clock[{index}].name: {clock.name!r} is used twice")
        clocks.append(clock)
    return ClockPolicy(data["version"], data["title"], tuple(clocks))


def _clock(item: dict[str, Any], where: str, schemas: SchemaRegistry) -> Clock:
    start = _match(item["start"], f"{where}.start", schemas)
    stops = _matches(item["stop"], f"{where}.stop", schemas)
    unless = _matches(item.get("unless", []), f"{where}.unless", schemas)
    responsible = _responsible(item.get("responsible"), start, f"{where}.responsible", schemas)
    pair_on = item.get("pair_on", [])
    for field in pair_on:
        for side, match in (("start", start), *(("stop", s) for s in stops)):
            if field not in _fields(match.type, schemas):
                raise PolicyError(
                    f"{where}.pair_on: {match.type} ({side}) has no payload field {field!r}"
                )
    for match in (*stops, *unless):
        if match.by is not None and responsible is None:
            raise PolicyError(
                f'{where}: a stop or unless `by = "responsible"` needs the clock\'s `responsible`'
            )
    limit = item["limit"]
    return Clock(
        item["name"],
        item.get("description", ""),
        start,
        stops,
        limit["value"],
        limit["unit"],
        tuple(pair_on),
        responsible,
        unless,
        item.get("source", ""),
        item.get("unless_when_late", "breached"),
    )


def _matches(raw: Any, where: str, schemas: SchemaRegistry) -> tuple[EventMatch, ...]:
    """The match, or each match of a list."""
    if isinstance(raw, dict):
        return (_match(raw, where, schemas),)
    return tuple(_match(r, f"{where}[{i}]", schemas) for i, r in enumerate(raw))


def _responsible(
    raw: Any, start: EventMatch, where: str, schemas: SchemaRegistry
) -> Responsible | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        return Responsible(raw)
    field = raw["field"]
    known = _fields(start.type, schemas)
    if field not in known:
        raise PolicyError(f"{where}.field: {start.type} has no payload field {field!r}")
    if not _holds_agency(known[field]):
        raise PolicyError(f"{where}.field: {start.type}.{field} is not an agency field")
    return Responsible(RECIPIENT, field)


def _match(raw: dict[str, Any], where: str, schemas: SchemaRegistry) -> EventMatch:
    event_type = raw["type"]
    if event_type not in schemas.event_types:
        raise PolicyError(f"{where}.type: no event type {event_type!r} in the catalogue")
    conditions = raw.get("where", {})
    by_kind = raw.get("where_kind", {})
    known = _fields(event_type, schemas)
    for field in conditions:
        if field not in known:
            raise PolicyError(f"{where}.where: {event_type} has no payload field {field!r}")
        if _holds_agency(known[field]):
            # An agency id in a policy binds it to one organisation: name the kind instead.
            raise PolicyError(
                f"{where}.where.{field}: {event_type}.{field} is an agency; match it by kind "
                f'with where_kind = {{ {field} = "<agency kind>" }}'
            )
        allowed = known[field].get("enum") if isinstance(known[field], dict) else None
        if allowed is not None and conditions[field] not in allowed:
            # A value the catalogue never holds would make the match silently never match.
            raise PolicyError(
                f"{where}.where.{field}: {conditions[field]!r} is not one of "
                f"{event_type}.{field}'s values ({', '.join(map(str, allowed))})"
            )
    for field in by_kind:
        if field not in known:
            raise PolicyError(f"{where}.where_kind: {event_type} has no payload field {field!r}")
        if not _holds_agency(known[field]):
            raise PolicyError(
                f"{where}.where_kind.{field}: {event_type}.{field} is not an agency field"
            )
    at = raw.get("at")
    if at is not None:
        if at not in known:
            raise PolicyError(f"{where}.at: {event_type} has no payload field {at!r}")
        if not _holds_date(known[at]):
            raise PolicyError(f"{where}.at: {event_type}.{at} is not a date field")
    return EventMatch(
        event_type,
        tuple(sorted(conditions.items())),
        tuple(sorted(by_kind.items())),
        raw.get("by"),
        at,
    )


def _fields(event_type: str, schemas: SchemaRegistry) -> dict[str, Any]:
    """The payload fields of the type's latest version, with their schemas."""
    doc = schemas.schema(event_type, schemas.latest(event_type))
    assert doc is not None
    payload = doc.document["properties"]["payload"]
    return dict(payload.get("properties", {}))


def _holds_agency(field: Any) -> bool:
    """Whether a payload field's schema is one agency id (the envelope's `agency`)."""
    return isinstance(field, dict) and str(field.get("$ref", "")).endswith("#/$defs/agency")


def _holds_date(field: Any) -> bool:
    """Whether a payload field's schema is a date (alone, or among the forms it allows)."""
    forms = field.get("anyOf", [field]) if isinstance(field, dict) else []
    return any(isinstance(f, dict) and f.get("format") == "date" for f in forms)
