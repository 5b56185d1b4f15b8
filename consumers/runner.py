"""One loop per projection: read from the tracked position, apply each batch in one transaction."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Protocol

import structlog
from eventsourcing.persistence import Tracking

from consumers.loop import Source, TrackedLoop
from ledger.decode import decode_record
from ledger.envelope import Event
from ledger.errors import InvalidRecord
from ledger.log import DeadLetterSink, EventLog, LogRecord
from ledger.schemas import SchemaRegistry

log = structlog.get_logger("consumers.runner")


class TrackedView(Protocol):
    """A view that applies a batch and its log positions atomically."""

    @property
    def name(self) -> str:
        """Its name (the prefix of its tracking keys)."""
        ...

    def positions(self, topic: str, partitions: Sequence[int]) -> dict[int, int]:
        """The last applied offset per partition."""
        ...

    def apply(self, events: Sequence[Event], tracking: Sequence[Tracking]) -> int:
        """Apply events and record tracking in one transaction."""
        ...


class ProjectionRunner(TrackedLoop[TrackedView]):
    """Moves records from an EventLog into one TrackedView; bad records go to dead letters.

    `applied` counts the events that took effect in the view."""

    def __init__(
        self,
        event_log: EventLog,
        view: Source[TrackedView],
        schemas: SchemaRegistry,
        dead_letters: DeadLetterSink,
        batch_size: int = 2000,
    ) -> None:
        super().__init__(event_log, view, batch_size)
        self.schemas = schemas
        self.dead_letters = dead_letters
        self.dead_lettered = 0

    def take(
        self, records: Sequence[LogRecord], stop: threading.Event, deadline: float | None
    ) -> None:
        """Apply the batch."""
        self.handle(records)

    def handle(self, records: Sequence[LogRecord]) -> int:
        """Decode a polled batch, dead-letter what is not an event, apply the rest atomically."""
        events = []
        last: dict[int, int] = {}
        for record in records:
            try:
                events.append(decode_record(record, self.schemas))
            except InvalidRecord as exc:
                # A record already lettered (by an earlier run, another consumer) is not counted.
                if self.dead_letters.dead_letter(record, exc.reason, exc.detail):
                    self.dead_lettered += 1
                    log.warning(
                        "record.dead_lettered",
                        reason=exc.reason,
                        position=f"{record.partition}:{record.offset}",
                    )
            last[record.partition] = record.offset
        applied = self.view.apply(events, self.tracking(last))
        self.applied += applied
        log.debug("batch.applied", view=self.view.name, records=len(records), applied=applied)
        return applied
