"""Valid events for tests, built from each schema's own example with fresh pseudonymous ids."""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime
from typing import Any

from ledger.decode import decode_record
from ledger.envelope import Event, canonical_bytes, canonicalise
from ledger.log import LogRecord
from ledger.schemas import SchemaRegistry

_REGISTRY = SchemaRegistry()


def new_case_id() -> str:
    """A random pseudonymous case id, unique per call."""
    return f"CASE-T{uuid.uuid4().hex[:10].upper()}"


def example(event_type: str, version: int = 1) -> dict[str, Any]:
    """A deep copy of the schema's first example."""
    doc = _REGISTRY.schema(event_type, version)
    assert doc is not None, event_type
    return copy.deepcopy(doc.document["examples"][0])


def make_event(
    event_type: str = "contact.recorded", case_id: str | None = None, **changes: Any
) -> dict[str, Any]:
    """A valid event of the type with a new event_id; keyword arguments replace fields."""
    event = example(event_type)
    event["event_id"] = str(uuid.uuid4())
    event["case_id"] = case_id or new_case_id()
    event.update(changes)
    return event


def as_events(documents: list[dict[str, Any]], partition: int = 0) -> list[Event]:
    """Events as a consumer reads them: canonical bytes, decoded, older versions upcast."""
    now = datetime(2026, 1, 1, tzinfo=UTC)
    return [
        decode_record(
            LogRecord(
                "t", partition, offset, now, d["case_id"].encode(), canonical_bytes(canonicalise(d))
            ),
            _REGISTRY,
        )
        for offset, d in enumerate(documents)
    ]


def case_events(case_id: str, contacts: int = 3, injuries: int = 2) -> list[dict[str, Any]]:
    """A small, valid case: opened, some contacts and injuries, one decision."""
    events = [make_event("case.opened", case_id)]
    events += [make_event("contact.recorded", case_id) for _ in range(contacts)]
    events += [make_event("injury.observed", case_id) for _ in range(injuries)]
    events.append(make_event("decision.recorded", case_id))
    return events


def meeting_held(
    case_id: str,
    meeting_type: str,
    invited: list[str],
    attending: list[str],
    day: str = "2007-03-05",
) -> dict[str, Any]:
    """A meeting held at 10:00 and recorded at 12:00 that day, with who was invited and came."""
    meeting = make_event(
        "meeting.held", case_id, occurred_at=f"{day}T10:00:00Z", recorded_at=f"{day}T12:00:00Z"
    )
    meeting["payload"].update(
        meeting_type=meeting_type, invited_agencies=invited, attending_agencies=attending
    )
    return meeting


def unverified_adult(case_id: str, person_id: str = "PER-T-ADULT-1") -> dict[str, Any]:
    """An adult linked to the household, identity unverified: an alert 14 days on."""
    person = make_event(
        "person.linked",
        case_id,
        occurred_at="2007-03-05T10:00:00Z",
        recorded_at="2007-03-05T12:00:00Z",
    )
    person["payload"].update(
        person_id=person_id,
        role="partner_of_parent",
        is_adult=True,
        lives_in_household=True,
        identity_verified=False,
    )
    return person
