"""Access records: one per read of case data, appended to the access log before the answer is
sent (who read what, when, why, and with what outcome).

A record is a JSON object, its exact bytes sealed like every ledger record; its key on the
log is the case it read (the empty string for a ledger-wide report). Its fields are the ones a
FHIR AuditEvent needs as the IHE Basic Audit Log Patterns profile a patient read or query
(`projections.access_fhir` renders them).

Version 2 added `cases_shown`: the cases a read showed beside or instead of its one case (the
rows of a case list's page), so each of those children's reports has the read. A version 1
record has no such field and showed only its `case_id`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from ledger.log import PendingRecord

ACCESS_RECORD = "access.recorded"
ACCESS_VERSION = 2
# The key of a record of a ledger-wide read (no one child's case).
NO_CASE = ""


@dataclass(frozen=True, slots=True)
class AccessRecord:
    """One read: when, by whom (the caller's public token id, never its secret), for what
    purpose, of which route and case with which parameters, the cases its answer showed, and
    its HTTP status."""

    access_id: str
    request_id: str
    recorded_at: datetime
    # The caller: None for each when the request named none that holds (a 401).
    token_id: str | None
    agency: str | None
    role: str | None
    person: str | None
    via: str | None
    purpose: str | None
    method: str
    route: str
    case_id: str | None
    query: Sequence[tuple[str, str]]
    as_of: str | None
    status: int
    address: str | None = None
    path_params: Mapping[str, str] = field(default_factory=dict)
    # The cases the answer showed when it showed several (a list's rows, in its order).
    cases_shown: Sequence[str] = ()

    def document(self) -> dict[str, Any]:
        """The record as the JSON object appended to the log."""
        return {
            "type": ACCESS_RECORD,
            "schema_version": ACCESS_VERSION,
            "access_id": self.access_id,
            "request_id": self.request_id,
            "recorded_at": self.recorded_at.isoformat(timespec="microseconds"),
            "caller": {
                "token_id": self.token_id,
                "agency": self.agency,
                "role": self.role,
                "person": self.person,
                "via": self.via,
                "address": self.address,
            },
            "purpose": self.purpose,
            "method": self.method,
            "route": self.route,
            "case_id": self.case_id,
            "cases_shown": list(self.cases_shown),
            "path_params": dict(self.path_params),
            "query": [[name, value] for name, value in self.query],
            "as_of": self.as_of,
            "outcome": {"status": self.status},
        }

    def pending(self) -> PendingRecord:
        """The record on its way into the access log, keyed by its case."""
        value = orjson.dumps(self.document())
        return PendingRecord(
            self.access_id,
            self.case_id or NO_CASE,
            value,
            hashlib.sha256(value).hexdigest(),
            ACCESS_RECORD,
            ACCESS_VERSION,
        )


def cases_named(record: Mapping[str, Any]) -> list[str]:
    """Every case an access record (of any version) names, once each: its `case_id`, then the
    cases its answer showed; none for a ledger-wide read."""
    shown = record.get("cases_shown")
    named = [record.get("case_id"), *(shown if isinstance(shown, list) else ())]
    return list(dict.fromkeys(c for c in named if isinstance(c, str) and c))
