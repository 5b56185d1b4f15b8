"""A receipt: the ledger's proof that an event is in its log, and where."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal, Protocol

ReceiptStatus = Literal["accepted", "duplicate"]


class Appended(Protocol):
    """What a receipt is made from: a record the log has just confirmed."""

    @property
    def event_id(self) -> str: ...
    @property
    def key(self) -> str: ...
    @property
    def digest(self) -> str: ...
    @property
    def event_type(self) -> str: ...
    @property
    def schema_version(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Receipt:
    """Proof that an event is in the log, and where."""

    event_id: str
    status: ReceiptStatus
    partition: int
    offset: int
    appended_at: datetime
    digest: str = ""
    case_id: str = ""
    event_type: str = ""
    schema_version: int = 0

    @classmethod
    def accepted(
        cls, record: Appended, partition: int, offset: int, appended_at: datetime
    ) -> Receipt:
        """The receipt of a record the log has just confirmed."""
        return cls(
            record.event_id,
            "accepted",
            partition,
            offset,
            appended_at,
            record.digest,
            record.key,
            record.event_type,
            record.schema_version,
        )

    def as_duplicate(self) -> Receipt:
        """The same receipt, answering a repeat of the event."""
        return replace(self, status="duplicate")

    def as_dict(self) -> dict[str, object]:
        """The receipt as the API returns it."""
        return {
            "event_id": self.event_id,
            "status": self.status,
            "partition": self.partition,
            "offset": self.offset,
            "appended_at": self.appended_at,
        }
