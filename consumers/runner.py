"""One loop per projection: read from the tracked position, apply each batch in one transaction.

No record stops the loop. A record that is not a valid event (`ledger.decode`), or that
reuses an applied event_id for other bytes (`conflict`), is dead-lettered with its reason and
the rest of the batch applied. A batch whose apply raises anything but a transient failure is
split in halves until the one event that fails alone is found; that record is dead-lettered
(`apply-failed`, naming the exception's type, never the content) and the others applied.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Mapping, Sequence
from typing import Protocol

import structlog
from eventsourcing.persistence import Tracking

from consumers.loop import Source, TrackedLoop
from ledger.append import digest_of
from ledger.decode import decode_record
from ledger.envelope import Event
from ledger.errors import InvalidRecord
from ledger.limits import MAX_RECORD_BYTES
from ledger.log import DeadLetterSink, EventLog, LogRecord
from ledger.merkle import sealed_bytes
from ledger.schemas import SchemaRegistry

log = structlog.get_logger("consumers.runner")

Item = tuple[LogRecord, Event | None]
"""A record of a batch with its event, or None once it is dead-lettered."""


class TrackedView(Protocol):
    """A view that applies a batch and its log positions atomically."""

    @property
    def name(self) -> str:
        """Its name (the prefix of its tracking keys)."""
        ...

    def positions(self, topic: str, partitions: Sequence[int]) -> dict[int, int]:
        """The last applied offset per partition."""
        ...

    def applied_digests(self, event_ids: Collection[str]) -> dict[str, tuple[str, str | None]]:
        """For event_ids already applied: the position and the digest of their record."""
        ...

    def apply(
        self,
        events: Sequence[Event],
        tracking: Sequence[Tracking],
        digests: Mapping[str, str] | None = None,
        applied: Collection[str] | None = None,
    ) -> int:
        """Apply events and record tracking in one transaction (`applied`: the event_ids among
        them already applied, when the caller has just looked them up)."""
        ...


class ProjectionRunner(TrackedLoop[TrackedView]):
    """Moves records from an EventLog into one TrackedView; bad records go to dead letters.

    `applied` counts the events that took effect in the view; `dead_lettered` the records set
    aside."""

    def __init__(
        self,
        event_log: EventLog,
        view: Source[TrackedView],
        schemas: SchemaRegistry,
        dead_letters: DeadLetterSink,
        batch_size: int = 2000,
        max_record_bytes: int = MAX_RECORD_BYTES,
        *,
        group: bool = False,
    ) -> None:
        super().__init__(event_log, view, batch_size, group=group)
        self.schemas = schemas
        self.dead_letters = dead_letters
        self.max_record_bytes = max_record_bytes
        self.dead_lettered = 0

    def take(
        self, records: Sequence[LogRecord], stop: threading.Event, deadline: float | None
    ) -> None:
        """Apply the batch."""
        self.handle(records)

    def handle(self, records: Sequence[LogRecord]) -> int:
        """Decode a polled batch, dead-letter what is not an event or conflicts with one
        applied, apply the rest; returns the events that took effect."""
        items: list[Item] = [(record, self._decode(record)) for record in records]
        digests, before = self._drop_conflicts(items)
        applied = self._apply(items, digests, before)
        self.applied += applied
        log.debug("batch.applied", view=self.view.name, records=len(records), applied=applied)
        return applied

    def _decode(self, record: LogRecord) -> Event | None:
        try:
            return decode_record(record, self.schemas, self.max_record_bytes)
        except InvalidRecord as exc:
            self._dead_letter(record, exc.reason, exc.detail)
        except Exception as exc:  # no record may stop the consumer
            # decode_record answers InvalidRecord for everything it knows; this is a gap in
            # it, named by type only (the message may quote the content).
            self._dead_letter(record, "undecodable", f"{type(exc).__name__} while decoding")
        return None

    def _drop_conflicts(self, items: list[Item]) -> tuple[dict[str, str], set[str]]:
        """Dead-letter each record reusing an event_id, applied or earlier in the batch, for
        other bytes; returns the digest of each event_id kept, and the event_ids of the batch
        applied before it."""
        events = [event for _, event in items if event is not None]
        if not events:
            return {}, set()
        first = self.view.applied_digests({e.event_id for e in events})
        before = set(first)
        kept: dict[str, str] = {}
        for index, (record, event) in enumerate(items):
            if event is None:
                continue
            digest = digest_of(sealed_bytes(record.value))
            there = first.setdefault(event.event_id, (event.position, digest))
            # A view filled before digests were kept cannot tell: the first record stands.
            if there[1] is not None and there[1] != digest:
                self._dead_letter(
                    record,
                    "conflict",
                    f"event {event.event_id} was applied from {there[0]} with other bytes",
                )
                items[index] = (record, None)
            else:
                kept.setdefault(event.event_id, digest)
        return kept, before

    def _apply(
        self, items: Sequence[Item], digests: Mapping[str, str], before: set[str] | None = None
    ) -> int:
        """Apply the items' events with their positions; isolate and dead-letter an event
        that fails to apply, and apply the others. `before`, the event_ids applied before the
        whole batch, spares the view looking them up again (never for a part of the batch: the
        parts before it may have applied some)."""
        last = {record.partition: record.offset for record, _ in items}
        first = {record.partition: record.offset for record, _ in reversed(items)}
        events = [event for _, event in items if event is not None]
        try:
            return self.view.apply(events, self.tracking(last, first), digests, before)
        except self.transient:
            raise
        except Exception as exc:
            if not events:
                raise  # positions alone failed: the store's trouble, not a record's
            holding = [i for i, (_, event) in enumerate(items) if event is not None]
            if len(holding) > 1:
                middle = holding[len(holding) // 2]
                return self._apply(items[:middle], digests) + self._apply(items[middle:], digests)
            record = items[holding[0]][0]
            self._dead_letter(
                record, "apply-failed", f"{type(exc).__name__} applying to {self.view.name}"
            )
            isolated = [(r, None if r is record else e) for r, e in items]
            return self._apply(isolated, digests)

    def _dead_letter(self, record: LogRecord, reason: str, detail: str) -> None:
        # A record already lettered (by an earlier run, another consumer) is not counted again.
        if not self.dead_letters.dead_letter(record, reason, detail):
            return
        self.dead_lettered += 1
        log.warning(
            "record.dead_lettered",
            view=self.view.name,
            reason=reason,
            position=f"{record.partition}:{record.offset}",
            key=None if record.key is None else record.key.decode(errors="replace"),
        )
