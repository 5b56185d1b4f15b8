"""What the ledger answers when it refuses or cannot take an event, as the client raises it.

LedgerError
├── InvalidEvent           one event broke its schema or a ledger rule (HTTP 422)
│   ├── BatchRejected      a batch had invalid items; nothing in it was appended
│   └── NotPermitted       the sender may not publish an event it sent (HTTP 403)
├── EventConflict          an event_id was reused for different content (HTTP 409)
├── LedgerUnavailable      the log cannot be reached or did not confirm (HTTP 503)
└── RequestRejected        the server refused the request itself (ledger_client.client)

The server raises the same classes (`ledger.errors` adds its own beside them), so code that
catches them works in an adapter and in the ledger alike.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    """One broken rule: where (JSON pointer), which rule, and what was wrong."""

    pointer: str
    rule: str
    detail: str
    item: int | None = None

    def as_dict(self) -> dict[str, object]:
        """The problem as it appears in an RFC 9457 `errors` list."""
        out: dict[str, object] = {"pointer": self.pointer, "rule": self.rule, "detail": self.detail}
        if self.item is not None:
            out["item"] = self.item
        return out


class LedgerError(Exception):
    """Root of every error the ledger raises on purpose."""


class InvalidEvent(LedgerError):
    """An event broke its schema or a ledger rule; nothing was appended."""

    def __init__(self, problems: list[Problem], title: str = "The event is not valid") -> None:
        self.problems = problems
        self.title = title
        super().__init__(f"{title}: " + "; ".join(f"{p.pointer} {p.rule}" for p in problems[:5]))


class BatchRejected(InvalidEvent):
    """At least one item of a batch was invalid, so nothing in the batch was appended."""


class NotPermitted(InvalidEvent):
    """The sender may not publish an event it sent (another agency's, an alert, an amendment
    of another agency's record...); nothing in the request was appended."""


class EventConflict(LedgerError):
    """An event_id already in the ledger was sent again with different content."""

    def __init__(self, event_ids: list[str]) -> None:
        self.event_ids = event_ids
        super().__init__("event_id already used for different content: " + ", ".join(event_ids[:5]))


class LedgerUnavailable(LedgerError):
    """The log could not be reached, or did not confirm an append in time."""
