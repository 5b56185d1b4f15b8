"""Events of involvement, lead, area and sightings for tests, and registries to read them with."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from ledger.envelope import Event
from projections.agencies import REGISTRY_CASE, AgencyTable

START = datetime(2007, 1, 1, tzinfo=UTC)
ROLES = {"social_worker": "P-SW-0001", "police_officer": "P-PO-0001", "volunteer": "P-VO-0001"}


def day(n: float) -> str:
    """The instant `n` days after the start, as canonical UTC text."""
    return (START + timedelta(days=n)).strftime("%Y-%m-%dT%H:%M:%SZ")


def event(
    event_type: str,
    case_id: str,
    agency: str,
    payload: dict[str, Any],
    occurred: float = 0,
    recorded: float | None = None,
    version: int = 1,
    role: str = "social_worker",
    **envelope: Any,
) -> dict[str, Any]:
    """An event of the type and version that occurred `occurred` days after the start and was
    recorded `recorded` days after it (default the same instant)."""
    return {
        "event_id": str(uuid.uuid4()),
        "type": event_type,
        "schema_version": version,
        "case_id": case_id,
        "agency": agency,
        "recorded_by": {"id": ROLES[role], "role": role},
        "occurred_at": day(occurred),
        "recorded_at": day(occurred if recorded is None else recorded),
        "payload": payload,
        **envelope,
    }


def opened(case_id: str, lead: str, at: float = 0, version: int = 2, **more: Any) -> dict[str, Any]:
    """case.opened with the lead agency, sent by the lead."""
    payload = {"date_of_birth": "2006-03-01", "lead_agency": lead, **more}
    return event("case.opened", case_id, lead, payload, at, version=version)


def closed(case_id: str, agency: str, at: float, version: int = 2) -> dict[str, Any]:
    """case.closed (RC8) sent by the agency."""
    payload = {"reason": "RC8", "closed_on": day(at)[:10]}
    return event("case.closed", case_id, agency, payload, at, version=version)


def involved(case_id: str, agency: str, at: float, basis: str = "assessment") -> dict[str, Any]:
    """involvement.opened by the agency."""
    return event("involvement.opened", case_id, agency, {"basis": basis}, at)


def uninvolved(
    case_id: str, agency: str, at: float, reason: str = "service_complete"
) -> dict[str, Any]:
    """involvement.closed by the agency."""
    return event("involvement.closed", case_id, agency, {"reason": reason}, at)


def seen(
    case_id: str,
    agency: str,
    at: float,
    child_seen: str = "yes",
    recorded: float | None = None,
    role: str = "social_worker",
    **payload: Any,
) -> dict[str, Any]:
    """contact.recorded (version 3) by a practitioner of the agency in the role: a home visit."""
    body = {"contact_type": "home_visit", "child_seen": child_seen, **payload}
    return event("contact.recorded", case_id, agency, body, at, recorded, version=3, role=role)


def registered(agency: str, statutory: bool, at: float = -3650, kind: str = "other") -> Event:
    """An agency.registered event as the registry case holds it."""
    return Event(
        event_id=str(uuid.uuid4()),
        type="agency.registered",
        schema_version=1,
        case_id=REGISTRY_CASE,
        agency=agency,
        recorded_by={"id": "P-AD-0001", "role": "administrator"},
        occurred_at=day(at),
        recorded_at=day(at),
        payload={
            "agency_id": agency,
            "name": f"Agency {agency}",
            "kind": kind,
            "statutory": statutory,
        },
        partition=0,
        offset=0,
        appended_at=START,
    )


def registry(
    statutory: dict[str, bool], changed: dict[str, tuple[bool, float]] | None = None
) -> AgencyTable:
    """A registry of agencies statutory or not since long before the start, and `changed`
    ones registered then as the opposite and made statutory (or not) a number of days after
    the start, by an `agency.updated`."""
    events = [registered(a, s) for a, s in statutory.items()]
    for a, (s, at) in (changed or {}).items():
        events += [registered(a, not s), updated(a, at, statutory=s)]
    return AgencyTable(events)


def updated(agency: str, at: float, **changes: Any) -> Event:
    """An agency.updated event as the registry case holds it."""
    return registered(agency, False, at)._replace(
        event_id=str(uuid.uuid4()),
        type="agency.updated",
        payload={"agency_id": agency, **changes},
    )
