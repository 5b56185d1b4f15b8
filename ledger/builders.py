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
    "school_nurse",
    "early_years_practitioner",
    "childminder",
    "youth_worker",
    "support_worker",
    "faith_leader",
    "volunteer",
    "paramedic",
    "psychologist",
    "psychiatrist",
    "therapist",
    "other",
]
Precision = Literal[
    "instant", "day", "part_of_day", "week", "month", "year", "range", "disputed", "undated"
]
PartOfDay = Literal["morning", "afternoon", "evening", "night"]


class Practitioner(TypedDict):
    """A pseudonymous practitioner id and their role."""

    id: str
    role: Role


class OccurredRange(TypedDict, total=False):
    """The earliest and/or latest it can have happened (precision `range`)."""

    not_before: datetime | str
    not_after: datetime | str


class Account(TypedDict, total=False):
    """One account of when it happened (precision `disputed`): an agency's or a source's."""

    occurred_at: datetime | str
    precision: Precision
    agency: str
    source: dict[str, str]
    note: str


def _instant(value: datetime | str) -> str:
    return utc_text(value) if isinstance(value, datetime) else value


@dataclass(frozen=True)
class Envelope:
    """Who recorded what about which case, and when; the event_id is chosen once, here."""

    case_id: str
    agency: str
    recorded_by: Practitioner
    # None when the precision is `range`, `disputed` or `undated`: the source gives no instant.
    occurred_at: datetime | str | None
    recorded_at: datetime | str
    event_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    occurred_precision: Precision | None = None
    occurred_approximate: bool | None = None
    occurred_part_of_day: PartOfDay | None = None
    occurred_range: OccurredRange | None = None
    occurred_accounts: list[Account] | None = None
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
            "recorded_at": _instant(self.recorded_at),
            "payload": dict(payload),
        }
        if self.occurred_at is not None:
            out["occurred_at"] = _instant(self.occurred_at)
        if self.occurred_range is not None:
            bounds = self.occurred_range
            out["occurred_range"] = {
                name: _instant(bounds[name])
                for name in ("not_before", "not_after")
                if name in bounds
            }
        if self.occurred_accounts is not None:
            out["occurred_accounts"] = [
                {**a, "occurred_at": _instant(a["occurred_at"])} for a in self.occurred_accounts
            ]
        for name in (
            "occurred_precision",
            "occurred_approximate",
            "occurred_part_of_day",
            "causation_id",
            "correlation_id",
            "amends",
        ):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out
