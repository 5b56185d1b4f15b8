"""Threshold rules: versioned policy, evaluated over a case as of any date (pure).

Each rule of the policy is one of a fixed set of kinds (`projections/rule_kinds.py`) with
parameters from the file. Every finding is a `Firing`: the rule, its evidence (event ids),
when the ledger could first have known it, and an alert id derived from the rule's name and
the evidence, so the same finding always has the same id. Whether an `alert.answered` with
that id was recorded, and how long after, is read from the case's events. Here: loading and
checking the policy, evaluating it over a case, the `alert.raised` event the ledger
publishes for a finding, and the ledger-wide report.

A rule sends its alerts to roles, never to agency ids: `lead` (the case's lead agency as of
the finding) and kinds of agency (every agency of that kind involved in the case then),
resolved through the agency registry; never to an agency not involved then. Who that is is
worked out from the case as the ledger held it when the finding was dated, so a finding's
recipients do not change as its evidence grows.

Each finding is one situation: a kind whose evidence grows (a cluster of injuries) yields one
finding that keeps the id its first evidence gave it, so the alerter raises it once.
"""

from __future__ import annotations

import statistics
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ledger.agency_rules import LEDGER_AGENCY
from ledger.envelope import Event, utc_text
from ledger.publish_rules import alert_event_id
from ledger.schemas import SchemaRegistry
from projections import rule_kinds, rule_kinds_presence, rule_kinds_steps
from projections.agencies import AgencyLookup
from projections.as_of import Basis, known_by
from projections.case_timeline import SPELLS, CaseTimeline, instant, remembered
from projections.effective import CORRECTION, RETRACTION, effective_events
from projections.policy_file import PolicyError, check_policy, read_policy
from projections.rule_kinds import NAMESPACE, Firing, Rule
from projections.stats import nearest_rank

# Every kind of rule a policy may name.
KINDS = {**rule_kinds.KINDS, **rule_kinds_presence.KINDS, **rule_kinds_steps.KINDS}

# Who records the alerts the ledger raises: the ledger itself, as a system agency
# (LEDGER_AGENCY, reserved at the append path).
LEDGER_RECORDER = {"id": "P-SGL-RULES", "role": "other"}
# The role that is no kind of agency: the case's lead agency.
LEAD = "lead"
# The keys of a rule in the policy file that are not parameters of its kind.
_NOT_PARAMS = ("name", "kind", "send_to", "description", "source")
# How long an agency with no involvement open counts as involved after its last record on
# the case: a quarter, about the span of a child in need review (Working Together 2023 ch. 3
# sets no figure; an agency silent longer than that is taken to have stopped working with the
# child, as the police of an area the child has left).
RECORD_WINDOW = timedelta(days=90)
# Events that amend another rather than say something of the child: recording one is no
# involvement.
_AMENDING = frozenset({CORRECTION, RETRACTION})


@dataclass(frozen=True, slots=True)
class RulePolicy:
    """A named version of the rules."""

    version: str
    title: str
    rules: tuple[Rule, ...]


def load_rule_policy(path: Path | None = None) -> RulePolicy:
    """Read and check a rule policy (default: the bundled `policies/rules.toml`): by its
    JSON Schema (`policies/rule-policy.schema.json`: kinds and roles, never agency ids), then
    that names are unique and that the ledger would accept the alerts the rules raise."""
    data, source = read_policy(path, "rules.toml")
    check_policy(data, source, "rule-policy.schema.json")
    rules: list[Rule] = []
    for index, raw in enumerate(data["rule"]):
        if raw["name"] in {r.name for r in rules}:
            raise PolicyError(f"{source}: rule[{index}].name: {raw['name']!r} is used twice")
        params = {k: v for k, v in raw.items() if k not in _NOT_PARAMS}
        rules.append(
            Rule(
                raw["name"],
                raw["kind"],
                tuple(raw["send_to"]),
                params,
                raw.get("description", ""),
                raw.get("source", ""),
            )
        )
    policy = RulePolicy(data["version"], data["title"], tuple(rules))
    _check_alerts_publishable(source, policy)
    return policy


def _check_alerts_publishable(source: str, policy: RulePolicy) -> None:
    """Refuse a policy whose alerts the ledger would refuse (a rule name the `alert.raised`
    schema does not allow): better at start than an alert never raised."""
    registry = SchemaRegistry()
    moment = datetime(2000, 1, 1, tzinfo=UTC)
    for rule in policy.rules:
        evidence = (str(uuid.uuid5(NAMESPACE, rule.name)),)
        sample = Firing(rule, evidence, moment, "check", sent_to=(LEDGER_AGENCY,))
        problems = registry.problems(alert_document(sample, "CASE-CHECK", policy, moment))
        if problems:
            found = "; ".join(f"{p.pointer} {p.detail}" for p in problems)
            raise PolicyError(f"{source}: rule {rule.name}: its alerts would be refused: {found}")


def evaluate(
    events: Sequence[Event],
    moment: datetime,
    policy: RulePolicy,
    basis: Basis = "recorded",
    *,
    agencies: AgencyLookup,
) -> list[Firing]:
    """Every finding of every rule in the case as of the moment, with answers known by then."""
    return _evaluate(events, moment, policy, basis, agencies)[0]


def evaluate_with_due(
    events: Sequence[Event], moment: datetime, policy: RulePolicy, *, agencies: AgencyLookup
) -> tuple[list[Firing], datetime | None]:
    """`evaluate` as known now, and the next moment to evaluate again if nothing is recorded
    meanwhile, or None: a rule's deadline on what is known now, or an event already held but
    recorded a little ahead of the moment (the ledger allows some clock skew)."""
    found, due = _evaluate(events, moment, policy, "recorded", agencies)
    ahead = [at for at in (instant(e.recorded_at) for e in events) if at > moment]
    if ahead:
        due = min([*ahead, *([due] if due else [])])
    return found, due


def _evaluate(
    events: Sequence[Event],
    moment: datetime,
    policy: RulePolicy,
    basis: Basis,
    agencies: AgencyLookup,
) -> tuple[list[Firing], datetime | None]:
    # Every kind asks the registry about the same agencies at the same instants, and several
    # need the case's timeline: both are worked out once for this evaluation.
    agencies = remembered(agencies)
    known = known_by(events, moment, basis)
    current = effective_events(known)
    # At the same instant, what was recorded first comes first, then the log's order.
    ordered = sorted(
        current,
        key=lambda e: (
            instant(e.occurred_at),
            instant(e.recorded_at),
            e.partition,
            e.offset,
        ),
    )
    answers: dict[str, Event] = {}
    for event in ordered:
        if event.type == "alert.answered":
            answers.setdefault(event.payload["alert_id"], event)
    found = []
    due: datetime | None = None
    for rule in policy.rules:
        for firing in KINDS[rule.kind](rule, ordered, moment, agencies):
            if firing.fired_at <= moment:
                found.append(firing)
            elif due is None or firing.fired_at < due:
                due = firing.fired_at
    found = _as_raised(found, ordered)
    found.sort(key=lambda f: (f.fired_at, f.rule.name))
    recipients = Recipients(current, agencies)
    found = [
        replace(f, answer=answers.get(f.alert_id), sent_to=recipients.resolve(f.rule.send_to, f))
        for f in found
    ]
    return found, due


def _as_raised(found: list[Firing], events: list[Event]) -> list[Firing]:
    """Findings the ledger already raised keep the id they were raised under.

    A finding's evidence can change after it was raised: an event recorded late (backdated)
    regroups a cluster of injuries, a correction moves an event in or out of a window. A
    finding that shares evidence with an alert the ledger raised for the same rule is that
    alert, so it keeps that alert's id, and its answer still matches.
    """
    raised: dict[str, list[tuple[set[str], str]]] = {}
    for event in events:
        if event.type == "alert.raised" and event.agency == LEDGER_AGENCY:
            p = event.payload
            raised.setdefault(p["rule"], []).append((set(p["evidence"]), p["alert_id"]))
    if not raised:
        return found
    taken = {f.alert_id for f in found}
    out = []
    for firing in found:
        own = firing.alert_id
        match = next(
            (
                alert_id
                for evidence, alert_id in raised.get(firing.rule.name, [])
                if evidence & set(firing.evidence) and (alert_id == own or alert_id not in taken)
            ),
            None,
        )
        if match is None or match == own:
            out.append(firing)
            continue
        taken.add(match)
        out.append(
            Firing(firing.rule, firing.evidence, firing.fired_at, firing.summary, None, match)
        )
    return out


class Recipients:
    """Resolves rules' roles to the agencies of one case as of each finding (`resolve`)."""

    def __init__(self, events: Sequence[Event], agencies: AgencyLookup) -> None:
        self.events = list(events)  # effective (amendments applied), in log order
        self.agencies = agencies
        self.recorded = [instant(e.recorded_at) for e in self.events]
        self._spells = [i for i, e in enumerate(self.events) if e.type in SPELLS]
        # The timeline of the events known at an instant, by which of the events that make
        # its spells those are (the others do not change it).
        self._timelines: dict[tuple[int, ...], CaseTimeline] = {}

    def resolve(self, roles: Sequence[str], finding: Firing) -> tuple[str, ...]:
        """The agencies a finding's alert goes to, role by role, as of the finding, from what
        the ledger held then: for `lead` the case's lead agency then; for a kind, every agency
        of that kind (by the registry then) involved then (`involved_at`), by id. Never an
        agency not involved then. If no role resolves, the lead then; with no lead, every
        agency involved then.

        A finding that keeps its id as evidence joins it (`raised_as`) is dated no earlier
        than the recording of the evidence its id comes from: it is resolved at its date,
        so what joins later never changes where it went. Any other is resolved once all its
        evidence was recorded."""
        at = finding.fired_at
        if finding.raised_as is None:
            evidence = set(finding.evidence)
            at = max(
                [at]
                + [
                    t
                    for e, t in zip(self.events, self.recorded, strict=True)
                    if e.event_id in evidence
                ]
            )
        known = [e for e, t in zip(self.events, self.recorded, strict=True) if t <= at]
        spells = tuple(i for i in self._spells if self.recorded[i] <= at)
        if spells not in self._timelines:
            making = [self.events[i] for i in spells] or known[:1]
            self._timelines[spells] = CaseTimeline(making, self.agencies)
        timeline = self._timelines[spells]
        lead = timeline.lead_at(at)
        involved = involved_at(timeline, known, at)
        found: list[str] = []
        for role in roles:
            if role == LEAD:
                found += [] if lead is None else [lead]
                continue
            found += [a for a in involved if timeline.kind(a, at) == role]
        if found:
            return tuple(dict.fromkeys(found))
        return (lead,) if lead is not None else tuple(involved)


def involved_at(timeline: CaseTimeline, events: Sequence[Event], at: datetime) -> list[str]:
    """Agencies involved in the case at the instant, by id: an involvement open then, or an
    event on the case by then, the last within `RECORD_WINDOW` before it, and no involvement
    of theirs closed since. The ledger's own alerts, and corrections and retractions (which
    amend a record rather than add one), make no agency involved."""
    last: dict[str, datetime] = {}
    for event in events:
        when = instant(event.occurred_at)
        if event.agency != LEDGER_AGENCY and event.type not in _AMENDING and when <= at:
            last[event.agency] = max(when, last.get(event.agency, when))
    closed: dict[str, datetime] = {}
    for involvement in timeline.state.involvements:
        ends = [
            instant(ep.closed_at)
            for ep in involvement.episodes
            if ep.closed_at is not None and instant(ep.closed_at) <= at
        ]
        if ends:
            closed[involvement.agency] = max(ends)
    recorded = {
        a
        for a, when in last.items()
        if at - when <= RECORD_WINDOW and (a not in closed or when > closed[a])
    }
    return sorted(recorded | set(timeline.involved_at(at)) - {LEDGER_AGENCY})


def alert_document(
    firing: Firing, case_id: str, policy: RulePolicy, moment: datetime
) -> dict[str, Any]:
    """The `alert.raised` event the ledger publishes for a finding, recorded at the moment."""
    return {
        "event_id": alert_event_id(firing.alert_id),
        "type": "alert.raised",
        "schema_version": 1,
        "case_id": case_id,
        "agency": LEDGER_AGENCY,
        "recorded_by": dict(LEDGER_RECORDER),
        "occurred_at": utc_text(firing.fired_at),
        "recorded_at": utc_text(moment),
        "causation_id": firing.evidence[-1],
        "payload": {
            "alert_id": firing.alert_id,
            "rule": firing.rule.name,
            "rule_version": policy.version,
            "evidence": list(firing.evidence),
            "sent_to": list(firing.sent_to),
            "summary": firing.summary,
        },
    }


def alert_report(
    findings_by_case: Iterable[tuple[str, list[Firing]]], moment: datetime
) -> list[dict[str, Any]]:
    """Per rule: findings, answered, unanswered; days to answer (median, p90 by nearest rank,
    max); and every unanswered finding with its case, evidence and age."""
    groups: dict[str, list[tuple[str, Firing]]] = {}
    for case_id, findings in findings_by_case:
        for finding in findings:
            groups.setdefault(finding.rule.name, []).append((case_id, finding))
    rows = []
    for rule, members in sorted(groups.items()):
        waits = sorted(
            (instant(f.answer.occurred_at) - f.fired_at).total_seconds() / 86400
            for _, f in members
            if f.answer is not None
        )
        open_ = [(c, f) for c, f in members if f.answer is None]
        rows.append(
            {
                "rule": rule,
                "alerts": len(members),
                "answered": len(waits),
                "unanswered": len(open_),
                "median_days_to_answer": round(statistics.median(waits), 2) if waits else None,
                "p90_days_to_answer": round(nearest_rank(waits, 0.9), 2) if waits else None,
                "max_days_to_answer": round(waits[-1], 2) if waits else None,
                "unanswered_alerts": [
                    {"case_id": case_id, **f.as_dict(moment)} for case_id, f in open_
                ],
            }
        )
    return rows
