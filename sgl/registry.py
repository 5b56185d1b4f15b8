"""Registering agencies: `agency.registered` events built from registry payloads, with event
ids derived from the agency id, so that registering a list again appends nothing twice."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from ledger.agency_rules import REGISTERED, REGISTRY_CASE, UPDATED
from ledger.envelope import utc_text

# Registration event ids are uuid5(REGISTRATION_IDS, agency_id).
REGISTRATION_IDS = uuid.UUID("5d6c0f1e-2a3b-4c4d-9e5f-6a7b8c9d0e1f")
# Who records a registration made by `sgl agencies import` or `sgl demo`.
REGISTRAR = {"id": "P-SGL-REGISTRAR", "role": "administrator"}


def registration_id(agency_id: str) -> str:
    """The event id of an agency's registration by this module (the same every time)."""
    return str(uuid.uuid5(REGISTRATION_IDS, agency_id))


def registration(payload: dict[str, Any], recorded_at: str | None = None) -> dict[str, Any]:
    """The `agency.registered` event for a registry payload, recorded by the agency itself
    at `recorded_at` (default now)."""
    when = recorded_at or utc_text(datetime.now(UTC).replace(microsecond=0))
    agency_id = payload.get("agency_id")
    return {
        "event_id": registration_id(agency_id if isinstance(agency_id, str) else ""),
        "type": REGISTERED,
        "schema_version": 1,
        "case_id": REGISTRY_CASE,
        "agency": agency_id,
        "recorded_by": REGISTRAR,
        "occurred_at": when,
        "recorded_at": when,
        "payload": payload,
    }


def change(agency_id: str, changes: dict[str, Any], by: str) -> dict[str, Any]:
    """An `agency.updated` event changing these fields of the agency, recorded now by the
    practitioner `by` (an administrator), with an event id of its own."""
    when = utc_text(datetime.now(UTC).replace(microsecond=0))
    return {
        "event_id": str(uuid.uuid4()),
        "type": UPDATED,
        "schema_version": 1,
        "case_id": REGISTRY_CASE,
        "agency": agency_id,
        "recorded_by": {"id": by, "role": "administrator"},
        "occurred_at": when,
        "recorded_at": when,
        "payload": {"agency_id": agency_id, **changes},
    }


def unregistered(
    payloads: Sequence[dict[str, Any]], registered: Callable[[str], bool]
) -> list[dict[str, Any]]:
    """The payloads whose agency is not registered yet, each agency once (the first)."""
    seen: set[str] = set()
    out = []
    for payload in payloads:
        agency_id = payload.get("agency_id")
        if isinstance(agency_id, str) and (agency_id in seen or registered(agency_id)):
            continue
        if isinstance(agency_id, str):
            seen.add(agency_id)
        out.append(payload)
    return out
