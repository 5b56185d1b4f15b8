"""The consumer that keeps a log's index by case: the access log's (`projections.access_index`)
or the inquiry notes' (`projections.notes_index`)."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from consumers.loop import TrackedLoop
from ledger.log import EventLog, LogRecord
from projections.access_index import AccessIndexStore


class AccessIndexer(TrackedLoop[AccessIndexStore]):
    """Follows a log into its index by case. `applied` counts records indexed."""

    def __init__(
        self,
        access_log: EventLog,
        index: AccessIndexStore,
        batch_size: int,
        *,
        group: bool = False,
    ) -> None:
        super().__init__(access_log, index, batch_size, group=group)
        self.index = index

    def take(
        self, records: Sequence[LogRecord], stop: threading.Event, deadline: float | None
    ) -> None:
        """Index the batch with its positions."""
        first: dict[int, int] = {}
        last: dict[int, int] = {}
        for record in records:
            first.setdefault(record.partition, record.offset)
            last[record.partition] = record.offset
        self.applied += self.index.take(records, self.tracking(last, first))
