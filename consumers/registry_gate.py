"""The agency registry as a live process reads it: the registry store, and, for an id it does
not hold yet, the log past the store's position. It answers the append path
(`ledger.agency_rules.AgencyRegister`) and the clocks and the alerter (an AgencyLookup).

The registry store is filled by the case-state consumer, which may lag behind the log (or,
in a command, not run at all). An agency registered a moment ago (on any backend) must count
at once, so an id the store does not hold is looked for in the registry's records the store
has not taken in yet, read from the log for at most `wait` seconds; an id still not found is
unknown. The clock and alert consumers follow the log on their own, possibly ahead of the
case-state consumer (on Kafka, a registration and the referral naming it may sit on different
partitions), so they read kinds through the same gate.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Collection, Sequence
from typing import Any

from consumers.loop import POLL_SECONDS, Source
from ledger.agency_rules import REGISTERED, REGISTRY_CASE, REGISTRY_TYPES
from ledger.decode import decode_record
from ledger.envelope import Event
from ledger.errors import InvalidRecord, LedgerUnavailable
from ledger.log import EventLog, LogRecord
from ledger.schemas import SchemaRegistry
from projections.agencies import AgencyRecord, AgencyTable
from projections.case_view import CaseViewStore

_KEY = REGISTRY_CASE.encode()


class RegistryGate:
    """Answers which agency ids are not registered, reading the log past the store's
    position when the store does not know an id."""

    def __init__(
        self,
        event_log: EventLog,
        views: Source[CaseViewStore],
        schemas: SchemaRegistry,
        wait: float = 5.0,
    ) -> None:
        self.log = event_log
        self.views = views
        self.schemas = schemas
        self.wait = wait
        # `_lock` guards what is in memory and is never held while the log is read; `_reading`
        # lets one read of the log run at a time.
        self._lock = threading.Lock()
        self._reading = threading.Lock()
        # One reader, kept from read to read (a Kafka consumer takes about a second to start),
        # and the positions it has reached.
        self._reader: Any = None
        # Ids registered in the records read past the store, and where reading stopped.
        self._seen: set[str] = set()
        self._tail = AgencyTable()
        self._read_to: dict[int, int] = {}

    def unknown(self, agency_ids: Collection[str]) -> set[str]:
        """See ledger.agency_rules.AgencyRegister.unknown."""
        missing = set(agency_ids) - self.views.current().agencies.known(agency_ids)
        with self._lock:
            missing -= self._seen
        complete = True
        if missing:
            complete = self._read_tail()
            with self._lock:
                missing -= self._seen
        if missing:
            # The store may have taken in a registration between the first look and the read
            # of the log past it (which then starts after the registration): look again.
            missing -= self.views.current().agencies.known(missing)
        if missing and not complete:
            raise _still_reading(missing)
        return missing

    def remember(self, events: Sequence[Event]) -> None:
        """See ledger.agency_rules.AgencyRegister.remember: taken in as if read from the log."""
        with self._lock:
            for event in events:
                self._take_event(event)

    def record(self, agency_id: str, as_of: str | None = None) -> AgencyRecord | None:
        """See projections.agencies.AgencyLookup.record: the store's answer, or, for an id
        the store has never held, the registrations read past it."""
        store = self.views.current().agencies
        found = store.record(agency_id, as_of)
        if found is not None:
            return found
        if store.record(agency_id) is not None:
            # Registered (but perhaps only just taken in since the first look): ask again.
            return store.record(agency_id, as_of)
        with self._lock:
            seen = agency_id in self._seen
        complete = seen or self._read_tail()
        with self._lock:
            found = self._tail.record(agency_id, as_of)
        # As in `unknown`: the store may have taken it in meanwhile.
        if found is None:
            found = self.views.current().agencies.record(agency_id, as_of)
        if found is None and not complete:
            raise _still_reading({agency_id})
        return found

    def snapshot(self) -> _Snapshot:
        """The gate with the store read once: an agency the store holds is answered from
        memory, any other as `record` answers it (for a caller about to ask many questions
        at once: one evaluation of a case)."""
        return _Snapshot(self, self.views.current().agencies.snapshot())

    def records(self, as_of: str | None = None) -> list[AgencyRecord]:
        """See projections.agencies.AgencyLookup.records (the store's, and any read past it)."""
        found = {r.agency_id: r for r in self.views.current().agencies.records(as_of)}
        with self._lock:
            tail = self._tail.records(as_of)
        return sorted({**{r.agency_id: r for r in tail}, **found}.values(), key=_by_id)

    def _read_tail(self) -> bool:
        """Take in the registrations on the log past both the store and earlier reads, up to
        the log's end now (or until `wait` runs out); whether the end was reached."""
        with self._reading:
            if self._reader is None:
                view = self.views.current()
                partitions = self.log.partitions()
                start = {p: o + 1 for p, o in view.positions(self.log.topic, partitions).items()}
                for partition, offset in self._read_to.items():
                    start[partition] = max(start.get(partition, 0), offset)
            else:
                start = dict(self._read_to)
            ends = self.log.end_offsets()
            if all(start.get(p, 0) >= end for p, end in ends.items()):
                return True
            if self._reader is None:
                self._reader = self.log.reader(start)
            # From a reader in place: starting one (a Kafka consumer) is not reading.
            deadline = time.monotonic() + self.wait
            try:
                while any(start.get(p, 0) < end for p, end in ends.items()):
                    if time.monotonic() > deadline:
                        return False
                    for record in self._reader.poll(1000, POLL_SECONDS):
                        start[record.partition] = record.offset + 1
                        if record.key == _KEY:
                            self._take(record)
            except Exception:
                # A reader that failed is not trusted again: the next read starts a new one.
                self._close_reader()
                raise
            finally:
                with self._lock:
                    self._read_to.update(start)
            return True

    def close(self) -> None:
        """Close the reader kept between reads."""
        with self._reading:
            self._close_reader()

    def _close_reader(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.close()

    def _take(self, record: LogRecord) -> None:
        try:
            event = decode_record(record, self.schemas)
        except InvalidRecord:
            return  # the consumer dead-letters it; it registers nothing
        with self._lock:
            self._take_event(event)

    def _take_event(self, event: Event) -> None:
        if event.case_id == REGISTRY_CASE and event.type in REGISTRY_TYPES:
            self._tail.apply(event)
            if event.type == REGISTERED:
                self._seen.add(event.payload["agency_id"])


def _still_reading(agency_ids: set[str]) -> LedgerUnavailable:
    """Not known yet, and the log past the registry store was not read to its end in time:
    a retry may find them (an API answers 503, a consumer retries), never a refusal."""
    return LedgerUnavailable(
        f"the agency registry is still being read from the log ({len(agency_ids)} agency id(s) "
        "not found yet); retry shortly"
    )


def _by_id(record: AgencyRecord) -> str:
    return record.agency_id


class _Snapshot:
    """A RegistryGate's answers with the registry store's table read once."""

    def __init__(self, gate: RegistryGate, table: AgencyTable) -> None:
        self.gate, self.table = gate, table

    def record(self, agency_id: str, as_of: str | None = None) -> AgencyRecord | None:
        """See projections.agencies.AgencyLookup.record."""
        found = self.table.record(agency_id, as_of)
        return found if found is not None else self.gate.record(agency_id, as_of)

    def records(self, as_of: str | None = None) -> list[AgencyRecord]:
        """See projections.agencies.AgencyLookup.records."""
        return self.gate.records(as_of)
