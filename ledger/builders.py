"""Typed builders for adapters: the envelope by hand, each event type's payload generated.

Build an event once and keep the dict: publishing it again (a retry) must send the same
event_id, which Envelope chose when it was made.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, TypedDict

from ledger.envelope import utc_text

Role = Literal[
    "social_worker",
    "team_manager",
    "service_manager",
    "police_officer",
    "gp",
    "paediatrician",
    "health_visitor",
    "nurse",
    "midwife",
    "teacher",
    "designated_safeguarding_lead",
    "lawyer",
    "housing_officer",
    "probation_officer",
    "administrator",
    "other",
]
Precision = Literal["instant", "day", "week", "month", "year"]


class Practitioner(TypedDict):
    """A pseudonymous practitioner id and their role."""

    id: str
    role: Role


def _instant(value: datetime | str) -> str:
    return utc_text(value) if isinstance(value, datetime) else value


@dataclass(frozen=True)
class Envelope:
    """Who recorded what about which case, and when; the event_id is chosen once, here."""

    case_id: str
    agency: str
    recorded_by: Practitioner
    occurred_at: datetime | str
    recorded_at: datetime | str
    event_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    occurred_precision: Precision | None = None
    occurred_approximate: bool | None = None
    causation_id: str | None = None
    correlation_id: str | None = None
    amends: str | None = None

    def event(self, event_type: str, version: int, payload: Any) -> dict[str, Any]:
        """The complete event as the ledger accepts it."""
        out: dict[str, Any] = {
            "event_id": self.event_id,
            "type": event_type,
            "schema_version": version,
            "case_id": self.case_id,
            "agency": self.agency,
            "recorded_by": dict(self.recorded_by),
            "occurred_at": _instant(self.occurred_at),
            "recorded_at": _instant(self.recorded_at),
            "payload": dict(payload),
        }
        for name in (
            "occurred_precision",
            "occurred_approximate",
            "causation_id",
            "correlation_id",
            "amends",
        ):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out
