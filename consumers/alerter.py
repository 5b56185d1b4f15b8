"""The alerter: threshold rules evaluated on every event, findings published as `alert.raised`.

It is a follower of the case view (`consumers/follower.py`). For each case a batch touched,
and for each case whose rule deadline has passed, it evaluates the rule policy as known now.
A finding it has not raised before is decided (committed with the log position, in the
alerter's own store) and then published from that outbox:

1. to the alerts topic, the feed agency systems subscribe to, and
2. to the ledger topic, where the alert joins the case's record: the case view, chronology,
   who-knew-what and the sealer see it like any other event.

Both go through the ledger's append path (validated, canonical bytes, receipts). The event_id
is derived from the alert id, so a repeat after a crash, a restart or a rebuild of the store
is answered `duplicate` and nothing is raised twice. An adapter can compute that id and take
it first with an event of its own: the alert is then raised under the next id no other event
holds (`publish_rules.alert_event_id`), never suppressed. A rebuilt store first asks the ledger
which of its findings are already there and records them as raised without publishing.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import structlog
from eventsourcing.persistence import Tracking

from ledger.append import Ledger
from ledger.envelope import Event, utc_text
from ledger.errors import EventConflict
from ledger.publish_rules import Target, alert_event_id, is_alert
from ledger.sqlite_util import in_chunks
from projections.agencies import AgencyLookup
from projections.alert_store import AlertStore
from projections.rule_kinds import Firing
from projections.rules import RulePolicy, alert_document, evaluate_with_due
from projections.tracking import CaseReader, at_home

log = structlog.get_logger("consumers.alerter")

# How long an alert decided by a group member may wait in the outbox before any member
# publishes it (its decider publishes it at once, unless it stopped or the log was down).
ORPHANED = timedelta(minutes=1)


class Alerter:
    """Evaluates the rules for the cases it is given and raises what is new, exactly once."""

    def __init__(
        self,
        store: AlertStore,
        policy: RulePolicy,
        record: Ledger,
        feed: Ledger,
        agencies: AgencyLookup,
    ) -> None:
        self.store = store
        self.policy = policy
        self.agencies = agencies
        self.record = record
        self.feed = feed
        self.name = store.name

    def close(self) -> None:
        """Close the store (with its generation)."""
        self.store.close()

    def current(self) -> Alerter:
        """A fixed alerter is its own source."""
        return self

    def where(self) -> str:
        """Where its store is kept (its consumer group is named after it)."""
        return self.store.where()

    def positions(self, topic: str, partitions: Sequence[int]) -> dict[int, int]:
        """The store's tracked positions."""
        return self.store.positions(topic, partitions)

    def due_cases(self, moment: datetime) -> list[str]:
        """Cases whose next rule deadline has passed."""
        return self.store.due_cases(moment)

    def refresh(
        self,
        cases: CaseReader,
        case_ids: Collection[str],
        tracking: Sequence[Tracking],
        moment: datetime,
        partitions: Collection[int] | None = None,
    ) -> int:
        """Evaluate the cases (with `partitions`, those at home in them), commit what to raise
        with the positions, then publish it: everything pending, or as a group member (with
        `partitions`) what it decided for these cases and what was left pending for longer
        than ORPHANED (its decider stopped or failed to publish): two members never race to
        publish one alert as they decide it."""
        findings: list[tuple[str, Firing]] = []
        due: dict[str, datetime | None] = {}
        held: dict[str, Event] = {}
        for case_id in case_ids:
            events = cases.events(case_id)
            if not events or not at_home(events, partitions):
                continue
            fired, due[case_id] = evaluate_with_due(
                events, moment, self.policy, agencies=self.agencies
            )
            findings += [(case_id, f) for f in fired]
            # Only the events that may hold a finding's alert id are kept: keeping every
            # event of each case that fired held a whole batch's cases in memory (a GiB once
            # cases had a hundred events each).
            ids = {alert_event_id(f.alert_id) for f in fired}
            held |= {e.event_id: e for e in events if e.event_id in ids}
        fresh = new_findings(
            findings,
            self.store.known({f.alert_id for _, f in findings}),
            self.store.evidence_raised({c for c, _ in findings}),
        )
        # Findings already in the ledger (a rebuilt store, or another alerter got there first)
        # are recorded as raised, not raised again.
        in_log = self.record.log.lookup({alert_event_id(f.alert_id) for _, f in fresh})
        decided = []
        for case_id, firing in _first_of_each(fresh):
            event_id = alert_event_id(firing.alert_id)
            already = event_id in in_log
            there = held.get(event_id)
            if already and (
                there is None or not is_alert(Target.of(there._asdict()), firing.alert_id)
            ):
                # Another event may hold the alert's id (an adapter can compute it): the
                # alert is wherever the log holds it, or raised under the next free id.
                event_id, alert = self.record.find_alert(firing.alert_id)
                already = alert is not None
            document = None if already else alert_document(firing, case_id, self.policy, moment)
            decided.append(
                {
                    "alert_id": firing.alert_id,
                    "event_id": event_id,
                    "case_id": case_id,
                    "rule": firing.rule.name,
                    "fired_at": utc_text(firing.fired_at),
                    "decided_at": utc_text(moment),
                    "evidence": firing.evidence,
                    "published": already,
                    "document": None if document is None else {**document, "event_id": event_id},
                }
            )
        self.store.record(decided, due, tracking)
        if partitions is None:
            self.publish()
        else:
            self.publish(list(due), moment - ORPHANED)
        return len(due)

    def publish(
        self, case_ids: Sequence[str] | None = None, decided_before: datetime | None = None
    ) -> int:
        """Publish the outbox to the alerts feed, then the ledger (all of it, or its alerts of
        these cases and those decided before the moment); returns alerts confirmed."""
        confirmed = 0
        chunks: list[list[str] | None] = (
            [None] if case_ids is None else [c for _, c in in_chunks(case_ids)] or [[]]
        )
        for chunk in chunks:
            confirmed += self._publish(chunk, decided_before)
        return confirmed

    def _publish(self, case_ids: Sequence[str] | None, decided_before: datetime | None) -> int:
        confirmed = 0
        while batch := self.store.outbox(case_ids=case_ids, decided_before=decided_before):
            documents = {alert_id: doc for alert_id, doc in batch}
            _submit(self.feed, list(documents.values()))
            _submit(self.record, list(documents.values()))
            self.store.mark_published(documents)
            confirmed += len(documents)
            for alert_id, doc in documents.items():
                log.info(
                    "alert.raised",
                    alert_id=alert_id,
                    event_id=doc["event_id"],
                    case_id=doc["case_id"],
                    rule=doc["payload"]["rule"],
                )
        return confirmed


def new_findings(
    findings: list[tuple[str, Firing]],
    raised: Collection[str],
    earlier: Mapping[tuple[str, str], list[tuple[str, set[str]]]],
) -> list[tuple[str, Firing]]:
    """The findings (case, finding) not raised before: not raised under their id, and not an
    alert already raised for the same rule in the case, regrouped by an event recorded since
    (see rules._as_raised): one sharing evidence with it. A finding sharing evidence with an
    alert that is itself among the case's findings is another situation (a second closure
    while the same admission is open), and new."""
    current = {(c, f.alert_id) for c, f in findings}
    return [
        (c, f)
        for c, f in findings
        if f.alert_id not in raised
        and not any(
            (c, alert_id) not in current and evidence & set(f.evidence)
            for alert_id, evidence in earlier.get((c, f.rule.name), [])
        )
    ]


def _submit(ledger: Ledger, documents: list[dict[str, Any]]) -> None:
    """Append; an event_id already there with other bytes is either the same alert, already
    raised (recorded at another moment by a store since lost): leave it; or another event
    that took the id since the alert was decided: raise the alert under its next free id."""
    while documents:
        try:
            ledger.submit(documents)
            return
        except EventConflict as exc:
            there = set(exc.event_ids)
            log.info("alert.already_in_log", topic=ledger.log.topic, events=len(there))
            kept = [d for d in documents if d["event_id"] not in there]
            for document in documents:
                if document["event_id"] in there:
                    event_id, alert = ledger.find_alert(document["payload"]["alert_id"])
                    if alert is None:
                        kept.append({**document, "event_id": event_id})
            documents = kept


def _first_of_each(findings: list[tuple[str, Firing]]) -> list[tuple[str, Firing]]:
    seen: set[str] = set()
    out = []
    for case_id, firing in findings:
        if firing.alert_id not in seen:
            seen.add(firing.alert_id)
            out.append((case_id, firing))
    return out
