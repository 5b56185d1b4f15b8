"""The ledger's errors, one root for the package.

LedgerError
├── SettingsError          a setting is missing or out of range
├── InvalidEvent           one event broke its schema or a ledger rule (HTTP 422)
│   ├── BatchRejected      a batch had invalid items; nothing in it was appended
│   └── NotPermitted       the sender may not publish an event it sent (HTTP 403)
├── EventConflict          an event_id was reused for different content (HTTP 409)
├── InvalidRecord          a record read from the log is not a valid event (dead-lettered)
└── LedgerUnavailable      the log cannot be reached or did not confirm (HTTP 503)

The errors a client also sees are defined in the client distribution (`ledger_client.errors`)
and are the same classes here, so both sides catch one hierarchy.
"""

from __future__ import annotations

from eventsourcing.persistence import InterfaceError, OperationalError

from ledger_client.errors import (
    BatchRejected,
    EventConflict,
    InvalidEvent,
    LedgerError,
    LedgerUnavailable,
    NotPermitted,
    Problem,
)

__all__ = [
    "STORE_UNREACHABLE",
    "BatchRejected",
    "EventConflict",
    "InvalidEvent",
    "InvalidRecord",
    "LedgerError",
    "LedgerUnavailable",
    "NotPermitted",
    "Problem",
    "SettingsError",
]

# A store's database that cannot be reached just now (down, restarting, a connection lost):
# answered as the log unavailable is, retried. Any other database error is a fault (a 500).
STORE_UNREACHABLE = (OperationalError, InterfaceError)


class SettingsError(LedgerError):
    """A setting is missing or out of range."""


class InvalidRecord(LedgerError):
    """A record on the log is not a valid event; the consumer dead-letters it."""

    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}")
