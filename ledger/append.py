"""The append path: validate, put in canonical form, drop duplicates, append, return receipts."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
import structlog

from ledger.agency_rules import (
    REGISTRY_CASE,
    AgencyRegister,
    agency_problems,
    reserved_case_problems,
)
from ledger.amendments import amendment_problems
from ledger.decode import decode_record
from ledger.envelope import Event, canonical_bytes, canonicalise, event_from_document
from ledger.errors import (
    STORE_UNREACHABLE,
    BatchRejected,
    EventConflict,
    InvalidEvent,
    InvalidRecord,
    LedgerUnavailable,
    NotPermitted,
    Problem,
)
from ledger.input_rules import field_problems, nul_problems
from ledger.log import EventLog, PendingAppend, PendingRecord, Receipt
from ledger.publish_rules import (
    ALERT_ANSWERED,
    Target,
    alert_event_id,
    is_alert,
    permission_problems,
    reserved_problems,
    wanted_target,
)
from ledger.schemas import SchemaRegistry
from ledger.withheld_rules import withheld_facts, withheld_problems

log = structlog.get_logger("ledger.append")
_REFUSED = "The batch holds events its sender may not publish; nothing was appended"

Prepared = tuple[int, dict[str, Any], PendingRecord]
"""A valid item of a batch: its index, its canonical document and its record."""
CaseEvents = Callable[[str], Sequence[Event]]
"""One case's events as a view holds them (perhaps behind the log)."""
# How long the append path reads the log for an event it knows is there (by its receipt).
READ_SECONDS = 10.0


def digest_of(value: bytes) -> str:
    """SHA-256 of an event's canonical bytes, hex."""
    return hashlib.sha256(value).hexdigest()


class Ledger:
    """Accepts events from agencies and appends each exactly once to the log.

    A batch is all-or-nothing at validation: if any item is invalid, names an agency the
    `agencies` register does not hold (when one is given), or reuses an event_id for
    different content, nothing in it is appended. If the log fails part-way through
    appending, the receipts already confirmed stand and a retry of the same batch is safe,
    because event_ids already in the log come back as `duplicate`.

    The adapters' append path (`adapters=True`) also applies the publish rules
    (`ledger.publish_rules`): a batch with an event its sender may not publish is refused
    whole (NotPermitted). `case_events`, when given, is where it looks first for an event
    those rules name (a view's copy of the case), before reading the log.
    """

    def __init__(
        self,
        event_log: EventLog,
        schemas: SchemaRegistry,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        agencies: AgencyRegister | None = None,
        *,
        adapters: bool = False,
        case_events: CaseEvents | None = None,
    ) -> None:
        self.log = event_log
        self.schemas = schemas
        self.agencies = agencies
        self.adapters = adapters
        self._case_events = case_events
        self._clock = clock
        # Lookups and queuing happen under the lock, so one process never queues an event_id
        # twice; waiting for the log happens outside it, so concurrent appends overlap. Across
        # processes the consumers still apply an event_id once.
        self._lock = threading.Lock()
        self._inflight: dict[str, tuple[PendingRecord, PendingAppend]] = {}

    def submit(self, documents: Sequence[Any]) -> list[Receipt]:
        """Append a batch; raise BatchRejected or EventConflict and append nothing on bad input.

        A store the checks read (the agency registry, the case views) that cannot be reached
        just now is LedgerUnavailable, as the log is: the batch may be sent again as it was."""
        try:
            return self._submit(documents)
        except STORE_UNREACHABLE as exc:
            raise LedgerUnavailable(
                f"a store the append path reads cannot be reached ({type(exc).__name__})"
            ) from None

    def _submit(self, documents: Sequence[Any]) -> list[Receipt]:
        prepared = self._prepare(documents)
        if self.adapters:
            self._check_reserved(prepared)
        self._check_agencies(prepared)
        # The items that name another event the publish rules must see (most batches: none).
        naming = _naming(prepared) if self.adapters else {}
        targets = self._targets(prepared, naming) if naming else {}
        pending = [record for _, _, record in prepared]
        with self._lock:
            self._check_amendments(prepared)
            self._check_withheld(prepared)
            if naming:
                self._check_permissions(prepared, naming, targets)
            plan = classify(pending, self.log.lookup({p.event_id for p in pending}), self._inflight)
            handle = self._queue(plan.fresh)
        try:
            appended = self._wait(plan, handle)
        finally:
            self._release(plan.fresh)
        if self.agencies is not None and appended:
            self._remember_registrations(prepared, appended)
        return answer(pending, appended, plan.known)

    def _remember_registrations(
        self, prepared: list[Prepared], appended: dict[str, Receipt]
    ) -> None:
        """Tell the registry of registrations this process has just appended, so that the
        next batch naming them needs no read of the log to find them."""
        events = [
            event_from_document(doc, receipt.partition, receipt.offset, receipt.appended_at)
            for _, doc, record in prepared
            if doc["case_id"] == REGISTRY_CASE
            and (receipt := appended.get(record.event_id)) is not None
        ]
        if events:
            self.agencies.remember(events)  # type: ignore[union-attr]

    def _queue(self, fresh: list[PendingRecord]) -> PendingAppend | None:
        """Hand the new records to the log and mark them in flight (under the lock)."""
        if not fresh:
            return None
        # classify looked every event_id up under this lock: the log need not look again.
        handle = self.log.begin_append(fresh, looked_up=True)
        for record in fresh:
            self._inflight[record.event_id] = (record, handle)
        return handle

    def _wait(self, plan: Plan, handle: PendingAppend | None) -> dict[str, Receipt]:
        """The receipts of this batch's appends; those in flight elsewhere join plan.known."""
        appended = {r.event_id: r for r in handle.result()} if handle else {}
        for event_id, (_, other) in plan.waiting.items():
            plan.known[event_id] = _receipt_in(other.result(), event_id).as_duplicate()
        return appended

    def _release(self, fresh: list[PendingRecord]) -> None:
        """The log has answered for these records: they are no longer in flight."""
        if fresh:
            with self._lock:
                for record in fresh:
                    self._inflight.pop(record.event_id, None)

    def submit_one(self, document: Any) -> Receipt:
        """Append one event; raise InvalidEvent (not BatchRejected) when it is invalid, and
        NotPermitted (its problems naming no item) when its sender may not publish it."""
        try:
            return self.submit([document])[0]
        except BatchRejected as exc:
            raise InvalidEvent([_without_item(p) for p in exc.problems]) from None
        except NotPermitted as exc:
            raise NotPermitted([_without_item(p) for p in exc.problems], exc.title) from None

    def _check_reserved(self, prepared: list[Prepared]) -> None:
        """Refuse the batch if it holds an alert or speaks as (or of) the ledger's agency:
        before the registry is asked, which would only call the ledger unregistered."""
        problems = [
            _in_item(p, index) for index, doc, _ in prepared for p in reserved_problems(doc)
        ]
        if problems:
            raise NotPermitted(problems, title=_REFUSED)

    def _targets(self, prepared: list[Prepared], naming: Mapping[int, str]) -> dict[str, Target]:
        """The events the publish rules must see (amended events, answered alerts) that are
        in the batch or the log; those still being appended are looked for under the lock."""
        wanted = set(naming.values())
        found = {
            record.event_id: Target.of(doc)
            for _, doc, record in prepared
            if record.event_id in wanted
        }
        receipts = self.log.lookup(wanted - found.keys())
        by_case: dict[str, set[str]] = {}
        for event_id, receipt in receipts.items():
            by_case.setdefault(receipt.case_id, set()).add(event_id)
        if self._case_events is not None:
            for case_id, ids in by_case.items():
                for event in self._case_events(case_id):
                    if event.event_id in ids:
                        found[event.event_id] = Target.of(event._asdict())
        for event_id, receipt in receipts.items():
            if event_id not in found:
                found[event_id] = Target.of(self._read(receipt)._asdict())
        # An answer names its alert's first id; if another event took that id, the alert
        # was raised under a later one, and that is the target the rules must see.
        for at in naming:
            doc = prepared[at][1]
            alert_id = doc["payload"]["alert_id"] if doc["type"] == ALERT_ANSWERED else None
            first = alert_event_id(alert_id) if alert_id is not None else ""
            if alert_id is not None and first in found and not is_alert(found[first], alert_id):
                _, alert = self.find_alert(alert_id)
                if alert is not None:
                    found[first] = alert
        return found

    def find_alert(self, alert_id: str) -> tuple[str, Target | None]:
        """Where an alert is (or is to be) in this log: its event_id and its `alert.raised`,
        or the first of its ids no event has taken and None. An id taken by another event is
        passed over (and logged, by id only)."""
        attempt = 0
        while True:
            event_id = alert_event_id(alert_id, attempt)
            receipt = self.log.lookup({event_id}).get(event_id)
            if receipt is None:
                return event_id, None
            there = Target.of(self._read(receipt)._asdict())
            if is_alert(there, alert_id):
                return event_id, there
            log.warning(
                "alert.id_taken",
                alert_id=alert_id,
                event_id=event_id,
                position=f"{receipt.partition}:{receipt.offset}",
                topic=self.log.topic,
            )
            attempt += 1

    def _read(self, receipt: Receipt) -> Event:
        """The event at a receipt's position, read from the log."""
        start = dict.fromkeys(self.log.partitions(), 0) | self.log.end_offsets()
        start[receipt.partition] = receipt.offset
        reader = self.log.reader(start)
        deadline = time.monotonic() + READ_SECONDS
        try:
            while time.monotonic() < deadline:
                for record in reader.poll(1, 1.0):
                    if (record.partition, record.offset) == (receipt.partition, receipt.offset):
                        return decode_record(record, self.schemas)
        except InvalidRecord as exc:
            raise LedgerUnavailable(
                f"the record of event {receipt.event_id} at {receipt.partition}:"
                f"{receipt.offset} cannot be read as an event: {exc}"
            ) from exc
        finally:
            reader.close()
        raise LedgerUnavailable(
            f"event {receipt.event_id} could not be read from the log in time; retry shortly"
        )

    def _check_permissions(
        self, prepared: list[Prepared], naming: Mapping[int, str], targets: dict[str, Target]
    ) -> None:
        """Refuse the batch if a sender amends another agency's record or answers an alert
        not sent to it; an answer to an alert not in the ledger is a mistake (under the
        lock, so an append still under way counts as there)."""
        for event_id in set(naming.values()) - targets.keys():
            if event_id in self._inflight:
                targets[event_id] = Target.of(orjson.loads(self._inflight[event_id][0].value))
        # Only the items naming an event can break these rules.
        refused, mistaken = permission_problems([prepared[at][:2] for at in naming], targets)
        if refused:
            raise NotPermitted(refused, title=_REFUSED)
        if mistaken:
            raise BatchRejected(
                mistaken, title="The batch answers alerts not raised; nothing was appended"
            )

    def _check_agencies(self, prepared: list[Prepared]) -> None:
        """Refuse the batch if it names an agency not registered (or registers one twice).

        An event already in the log is left to `classify` (a retry answers `duplicate`, other
        content a conflict): its own registration would otherwise count against it.
        """
        if self.agencies is None:
            return
        problems = agency_problems(
            [(index, doc) for index, doc, _ in prepared], self.schemas, self.agencies
        )
        if problems:
            ids = {index: record.event_id for index, _, record in prepared}
            appended = self.log.lookup({ids[p.item] for p in problems if p.item is not None})
            problems = [p for p in problems if p.item is None or ids[p.item] not in appended]
        if problems:
            raise BatchRejected(
                problems, title="The batch names unregistered agencies; nothing was appended"
            )

    def _check_amendments(self, prepared: list[Prepared]) -> None:
        targets = {doc["amends"] for _, doc, _ in prepared if "amends" in doc}
        if not targets:
            return
        found = self.log.lookup(targets)

        def find(event_id: str) -> Receipt | PendingRecord | None:
            if event_id in found:
                return found[event_id]
            return self._inflight[event_id][0] if event_id in self._inflight else None

        problems = amendment_problems(prepared, find, self.schemas)
        if problems:
            raise BatchRejected(
                problems, title="The batch has invalid amendments; nothing was appended"
            )

    def _check_withheld(self, prepared: list[Prepared]) -> None:
        """Refuse the batch if a withholding names a fact not (yet) in its case."""
        facts = withheld_facts(prepared)
        if not facts:
            return
        found = self.log.lookup(facts)

        def find(event_id: str) -> Receipt | PendingRecord | None:
            if event_id in found:
                return found[event_id]
            return self._inflight[event_id][0] if event_id in self._inflight else None

        problems = withheld_problems(prepared, find)
        if problems:
            raise BatchRejected(
                problems, title="The batch has invalid withholdings; nothing was appended"
            )

    def _prepare(self, documents: Sequence[Any]) -> list[Prepared]:
        if not documents:
            raise BatchRejected(
                [Problem("", "minItems", "the batch is empty")], title="The batch is empty"
            )
        now = self._clock()
        problems: list[Problem] = []
        prepared: list[Prepared] = []
        first: dict[str, tuple[int, str]] = {}
        for index, document in enumerate(documents):
            found = (
                self.schemas.problems(document, now)
                or field_problems(
                    document,
                    self.schemas.typed_fields(document["type"], document["schema_version"]),
                )
                or reserved_case_problems(document)
            )
            if found:
                problems.extend(_in_item(p, index) for p in found)
                continue
            canonical = canonicalise(document)
            value = canonical_bytes(canonical)
            nul = nul_problems(canonical, value)
            if nul:
                problems.extend(_in_item(p, index) for p in nul)
                continue
            record = PendingRecord(
                canonical["event_id"],
                canonical["case_id"],
                value,
                digest_of(value),
                canonical["type"],
                canonical["schema_version"],
            )
            earlier = first.setdefault(record.event_id, (index, record.digest))
            if earlier[1] != record.digest:
                problems.append(
                    Problem(
                        "/event_id",
                        "unique-content",
                        f"event_id repeats item {earlier[0]} with different content",
                        index,
                    )
                )
            prepared.append((index, canonical, record))
        if problems:
            raise BatchRejected(
                problems, title="The batch has invalid events; nothing was appended"
            )
        return prepared


@dataclass(slots=True)
class Plan:
    """What a valid batch needs: receipts the log already holds, appends in flight to wait
    for, and the records to append (each event_id once)."""

    known: dict[str, Receipt]
    waiting: dict[str, tuple[PendingRecord, PendingAppend]]
    fresh: list[PendingRecord]


def classify(
    pending: Sequence[PendingRecord],
    known: dict[str, Receipt],
    inflight: Mapping[str, tuple[PendingRecord, PendingAppend]],
) -> Plan:
    """Sort a batch into known, in flight and fresh; EventConflict if an event_id already
    appended or in flight carries other content."""
    waiting = {
        p.event_id: inflight[p.event_id]
        for p in pending
        if p.event_id in inflight and p.event_id not in known
    }
    conflicts = _conflicts(pending, known, waiting)
    if conflicts:
        raise EventConflict(conflicts)
    fresh = _first_of_each(
        p for p in pending if p.event_id not in known and p.event_id not in waiting
    )
    return Plan(known, waiting, fresh)


def _conflicts(
    pending: Sequence[PendingRecord],
    known: Mapping[str, Receipt],
    waiting: Mapping[str, tuple[PendingRecord, PendingAppend]],
) -> list[str]:
    """The event_ids whose earlier append (done, or in flight) has another digest."""
    return [
        p.event_id
        for p in pending
        if (p.event_id in known and known[p.event_id].digest not in ("", p.digest))
        or (p.event_id in waiting and waiting[p.event_id][0].digest != p.digest)
    ]


def answer(
    pending: Sequence[PendingRecord], appended: Mapping[str, Receipt], known: Mapping[str, Receipt]
) -> list[Receipt]:
    """One receipt per record in batch order; a repeat within the batch is a `duplicate`."""
    receipts = []
    answered: set[str] = set()
    for record in pending:
        receipt = appended.get(record.event_id) or known[record.event_id]
        if record.event_id in answered:
            receipt = receipt.as_duplicate()
        answered.add(record.event_id)
        receipts.append(receipt)
    # Asked once a batch: a line an event costs even when debug lines are not written.
    if log.is_enabled_for(logging.DEBUG):
        for record, receipt in zip(pending, receipts, strict=True):
            log.debug(
                "event.appended",
                event_id=receipt.event_id,
                case_id=record.key,
                status=receipt.status,
                position=f"{receipt.partition}:{receipt.offset}",
            )
    log.info("batch.appended", events=len(receipts), accepted=len(appended))
    return receipts


def _naming(prepared: list[Prepared]) -> dict[int, str]:
    """Each item's place in the batch (its index in `prepared`) with the event_id of the
    event it names for the publish rules (an amendment's target, an answer's alert)."""
    return {
        at: wanted
        for at, (_, doc, _) in enumerate(prepared)
        if (wanted := wanted_target(doc)) is not None
    }


def _receipt_in(receipts: list[Receipt], event_id: str) -> Receipt:
    return next(r for r in receipts if r.event_id == event_id)


def _first_of_each(records: Iterable[PendingRecord]) -> list[PendingRecord]:
    seen: set[str] = set()
    out = []
    for record in records:
        if record.event_id not in seen:
            seen.add(record.event_id)
            out.append(record)
    return out


def _in_item(problem: Problem, index: int) -> Problem:
    return Problem(problem.pointer, problem.rule, problem.detail, index)


def _without_item(problem: Problem) -> Problem:
    return Problem(problem.pointer, problem.rule, problem.detail)
