"""Threshold rules: versioned policy, evaluated over a case as of any date (pure).

Each rule of the policy is one of a fixed set of kinds with parameters from the file. Every
finding is a `Firing`: the rule, its evidence (event ids), when the ledger could first have
known it, and an alert id derived from the rule's name and the evidence, so the same finding
always has the same id. Whether an `alert.answered` with that id was recorded, and how long
after, is read from the case's events.
"""

from __future__ import annotations

import statistics
import tomllib
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

from ledger.envelope import Event, parse_instant, utc_text
from ledger.schemas import SchemaRegistry
from projections.as_of import Basis, known_by
from projections.clock_policy import POLICIES_DIR, PolicyError
from projections.effective import effective_events
from projections.stats import nearest_rank
from projections.working_days import england_and_wales

_NAMESPACE = uuid.UUID("6f1d3c1e-5b7a-4c1e-9d55-2a7e0c6b9a10")
# Who records the alerts the ledger raises: the ledger itself, as a system agency.
LEDGER_AGENCY = "safeguarding-ledger"
LEDGER_RECORDER = {"id": "P-SGL-RULES", "role": "other"}


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule: a kind and its parameters."""

    name: str
    kind: str
    sent_to: tuple[str, ...]
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RulePolicy:
    """A named version of the rules."""

    version: str
    title: str
    rules: tuple[Rule, ...]


@dataclass(frozen=True, slots=True)
class Firing:
    """A rule's finding in a case, with its evidence and its answer, if any."""

    rule: Rule
    evidence: tuple[str, ...]
    fired_at: datetime
    summary: str
    answer: Event | None = None
    raised_as: str | None = None

    @property
    def alert_id(self) -> str:
        """`ALERT-<rule>-<12 hex>`: the same rule and evidence always give the same id; a
        finding the ledger already raised keeps the id it was raised under (`raised_as`)."""
        if self.raised_as is not None:
            return self.raised_as
        return derived_id(self.rule.name, self.evidence)

    def as_dict(self, moment: datetime) -> dict[str, Any]:
        """The finding as the API shows it, with its age or its time to answer."""
        answered = None if self.answer is None else parse_instant(self.answer.occurred_at)
        waited = (answered or moment) - self.fired_at
        return {
            "alert_id": self.alert_id,
            "rule": self.rule.name,
            "summary": self.summary,
            "evidence": list(self.evidence),
            "fired_at": utc_text(self.fired_at),
            "sent_to": list(self.rule.sent_to),
            "answered": self.answer is not None,
            "answered_at": None if self.answer is None else self.answer.occurred_at,
            "response": None if self.answer is None else self.answer.payload["response"],
            "days_unanswered" if self.answer is None else "days_to_answer": round(
                waited.total_seconds() / 86400, 2
            ),
        }


def derived_id(rule: str, evidence: Iterable[str]) -> str:
    """The alert id of a rule's finding on this evidence."""
    key = f"{rule}:{','.join(sorted(evidence))}"
    return f"ALERT-{rule.replace('_', '-')}-{uuid.uuid5(_NAMESPACE, key).hex[:12]}"


def load_rule_policy(path: Path | None = None) -> RulePolicy:
    """Read and check a rule policy (default: the bundled `policies/rules.toml`)."""
    source = path or POLICIES_DIR / "rules.toml"
    try:
        data = tomllib.loads(source.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise PolicyError(f"{source}: {exc}") from exc
    for key in ("version", "title"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise PolicyError(f"{source}: `{key}` must be a non-empty string")
    rules: list[Rule] = []
    for index, raw in enumerate(data.get("rule", [])):
        where = f"{source}: rule[{index}]"
        name, kind = raw.get("name"), raw.get("kind")
        if not isinstance(name, str) or not name.isidentifier():
            raise PolicyError(f"{where}.name: must be a name like `nai_on_plan`")
        if kind not in KINDS:
            raise PolicyError(f"{where}.kind: must be one of {', '.join(KINDS)}")
        needed = KIND_PARAMS[kind]
        params = {k: v for k, v in raw.items() if k not in ("name", "kind", "sent_to")}
        missing = [p for p in needed if p not in params]
        extra = [p for p in params if p not in needed]
        if missing or extra:
            raise PolicyError(
                f"{where} ({name}): {kind} takes {', '.join(needed) or 'no parameters'}"
                f"{'; missing ' + ', '.join(missing) if missing else ''}"
                f"{'; unknown ' + ', '.join(extra) if extra else ''}"
            )
        sent_to = raw.get("sent_to")
        if not isinstance(sent_to, list) or not sent_to:
            raise PolicyError(f"{where}.sent_to: must list at least one agency")
        if name in {r.name for r in rules}:
            raise PolicyError(f"{where}.name: {name!r} is used twice")
        rules.append(Rule(name, kind, tuple(sent_to), params))
    if not rules:
        raise PolicyError(f"{source}: at least one [[rule]] is needed")
    policy = RulePolicy(data["version"], data["title"], tuple(rules))
    _check_alerts_publishable(source, policy)
    return policy


def _check_alerts_publishable(source: Path, policy: RulePolicy) -> None:
    """Refuse a policy whose alerts the ledger would refuse (a rule name or an agency code
    the `alert.raised` schema does not allow): better at start than an alert never raised."""
    registry = SchemaRegistry()
    moment = datetime(2000, 1, 1, tzinfo=UTC)
    for rule in policy.rules:
        sample = Firing(rule, (str(uuid.uuid5(_NAMESPACE, rule.name)),), moment, "check")
        problems = registry.problems(alert_document(sample, "CASE-CHECK", policy, moment))
        if problems:
            found = "; ".join(f"{p.pointer} {p.detail}" for p in problems)
            raise PolicyError(f"{source}: rule {rule.name}: its alerts would be refused: {found}")


def evaluate(
    events: Sequence[Event], moment: datetime, policy: RulePolicy, basis: Basis = "recorded"
) -> list[Firing]:
    """Every finding of every rule in the case as of the moment, with answers known by then."""
    return _evaluate(events, moment, policy, basis)[0]


def evaluate_with_due(
    events: Sequence[Event], moment: datetime, policy: RulePolicy
) -> tuple[list[Firing], datetime | None]:
    """`evaluate` as known now, and the next moment to evaluate again if nothing is recorded
    meanwhile, or None: a rule's deadline on what is known now, or an event already held but
    recorded a little ahead of the moment (the ledger allows some clock skew)."""
    found, due = _evaluate(events, moment, policy, "recorded")
    ahead = [at for at in (parse_instant(e.recorded_at) for e in events) if at > moment]
    if ahead:
        due = min([*ahead, *([due] if due else [])])
    return found, due


def _evaluate(
    events: Sequence[Event], moment: datetime, policy: RulePolicy, basis: Basis
) -> tuple[list[Firing], datetime | None]:
    current = effective_events(known_by(events, moment, basis))
    ordered = sorted(current, key=lambda e: (parse_instant(e.occurred_at), e.partition, e.offset))
    answers: dict[str, Event] = {}
    for event in ordered:
        if event.type == "alert.answered":
            answers.setdefault(event.payload["alert_id"], event)
    found = []
    due: datetime | None = None
    for rule in policy.rules:
        for firing in KINDS[rule.kind](rule, ordered, moment):
            if firing.fired_at <= moment:
                found.append(firing)
            elif due is None or firing.fired_at < due:
                due = firing.fired_at
    found = _as_raised(found, ordered)
    found = [
        Firing(f.rule, f.evidence, f.fired_at, f.summary, answers.get(f.alert_id), f.raised_as)
        for f in found
    ]
    found.sort(key=lambda f: (f.fired_at, f.rule.name))
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


def alert_event_id(alert_id: str) -> str:
    """The event_id of the `alert.raised` event of an alert: fixed by its alert id, so that
    raising it again is a duplicate the ledger refuses to append twice."""
    return str(uuid.uuid5(_NAMESPACE, f"alert.raised:{alert_id}"))


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
            "sent_to": list(firing.rule.sent_to),
            "summary": firing.summary,
        },
    }


def _at(event: Event, name: str = "occurred_at") -> datetime:
    return parse_instant(getattr(event, name))


def _injury_on_plan(rule: Rule, events: list[Event], moment: datetime) -> Iterator[Firing]:
    plans: dict[str, Event] = {}
    for event in events:
        p = event.payload
        if event.type == "plan.started":
            plans[p["plan_id"]] = event
        elif event.type == "plan.ended":
            plans.pop(p["plan_id"], None)
        elif event.type == "injury.observed" and p["suspected_non_accidental"] and plans:
            plan = next(iter(plans.values()))
            yield Firing(
                rule,
                (plan.event_id, event.event_id),
                _at(event, "recorded_at"),
                f"suspected non-accidental {p['injury_type']} while plan {plan.payload['plan_id']}"
                " is in force",
            )


def _injuries_within(rule: Rule, events: list[Event], moment: datetime) -> Iterator[Firing]:
    count, span = int(rule.params["count"]), timedelta(days=int(rule.params["days"]))
    window: list[Event] = []
    for event in (e for e in events if e.type == "injury.observed"):
        window = [e for e in window if _at(event) - _at(e) <= span] + [event]
        if len(window) >= count:
            yield Firing(
                rule,
                tuple(e.event_id for e in window),
                max(_at(e, "recorded_at") for e in window),
                f"{len(window)} injury observations within {span.days} days",
            )
            window = []  # the next finding needs `count` new observations


def _adult_unverified(rule: Rule, events: list[Event], moment: datetime) -> Iterator[Firing]:
    grace = timedelta(days=int(rule.params["days"]))
    verified = {
        e.payload["person_id"]: _at(e)
        for e in reversed(events)
        if e.type == "person.linked" and e.payload["identity_verified"]
    }
    seen: set[str] = set()
    for event in events:
        p = event.payload
        if event.type != "person.linked" or p["person_id"] in seen:
            continue
        if not (p["is_adult"] and p.get("lives_in_household") and not p["identity_verified"]):
            continue
        seen.add(p["person_id"])
        due = _at(event) + grace
        when = verified.get(p["person_id"])
        if when is None or when > due:
            yield Firing(
                rule,
                (event.event_id,),
                due,
                f"{p['person_id']} ({p['role']}) in the household, identity not verified "
                f"within {grace.days} days",
            )


def _invitee_absent(rule: Rule, events: list[Event], moment: datetime) -> Iterator[Firing]:
    types, prefixes = rule.params["meeting_types"], tuple(rule.params["agency_prefixes"])
    for event in events:
        p = event.payload
        if event.type != "meeting.held" or p["meeting_type"] not in types:
            continue
        absent = sorted(
            a
            for a in p["invited_agencies"]
            if a not in p["attending_agencies"] and a.startswith(prefixes)
        )
        if absent:
            yield Firing(
                rule,
                (event.event_id,),
                _at(event, "recorded_at"),
                f"{p['meeting_type']}: invited and absent: {', '.join(absent)}",
            )


def _decision_without_followup(
    rule: Rule, events: list[Event], moment: datetime
) -> Iterator[Firing]:
    p = rule.params
    wait = timedelta(days=int(p["days"]))
    decisions = [e for e in events if e.type == "decision.recorded"]
    for event in decisions:
        if (event.payload["decision_type"], event.payload["outcome"]) != (
            p["decision_type"],
            p["outcome"],
        ):
            continue
        due = _at(event) + wait
        followed = any(
            d.payload["decision_type"] == p["followup"] and _at(event) <= _at(d) <= due
            for d in decisions
        )
        if not followed:
            yield Firing(
                rule,
                (event.event_id,),
                due,
                f"{p['decision_type']} {p['outcome']} with no {p['followup']} within "
                f"{wait.days} days",
            )


def _explanations_in_doubt(rule: Rule, events: list[Event], moment: datetime) -> Iterator[Firing]:
    """`count` injuries whose explanation was judged inconsistent, or repeats an explanation
    already given for an earlier injury."""
    count = int(rule.params["count"])
    given: set[str] = set()
    doubtful: list[Event] = []
    for event in (e for e in events if e.type == "injury.observed"):
        p = event.payload
        said = " ".join(str(p.get("explanation_given") or "").lower().split())
        if p.get("explanation_consistent") is False or (said and said in given):
            doubtful.append(event)
        if said:
            given.add(said)
        if len(doubtful) >= count:
            yield Firing(
                rule,
                tuple(e.event_id for e in doubtful),
                max(_at(e, "recorded_at") for e in doubtful),
                f"{len(doubtful)} injuries with an inconsistent or repeated explanation",
            )
            doubtful = []


def _assault_unreported(rule: Rule, events: list[Event], moment: datetime) -> Iterator[Firing]:
    """An observed assault (a concern of the given categories, or a suspected non-accidental
    injury) not recorded by the police and not referred or shared to them within N working
    days; fires when the last day has passed and the ledger holds the observation."""
    categories, marker = rule.params["concern_categories"], rule.params["police_marker"]
    days = england_and_wales()
    told = [
        e
        for e in events
        if e.type in ("referral.made", "information.shared") and marker in e.payload["to_agency"]
    ]
    for event in events:
        p = event.payload
        observed = (event.type == "concern.raised" and p["category"] in categories) or (
            event.type == "injury.observed" and p["suspected_non_accidental"]
        )
        if not observed or marker in event.agency:
            continue
        seen = _at(event).astimezone(UTC)
        last = days.add(seen.date(), int(rule.params["working_days"]))
        if any(seen <= _at(t) and _at(t).astimezone(UTC).date() <= last for t in told):
            continue
        late = datetime.combine(last + timedelta(days=1), time(), UTC)
        yield Firing(
            rule,
            (event.event_id,),
            max(late, _at(event, "recorded_at")),
            f"{event.type} ({p.get('category') or p.get('injury_type')}) with no police "
            f"notification within {rule.params['working_days']} working day(s)",
        )


def _adult_unknown_to_lead(rule: Rule, events: list[Event], moment: datetime) -> Iterator[Firing]:
    """An adult in the household by another agency's record, not in the lead agency's own
    record of the household within `days` days."""
    grace = timedelta(days=int(rule.params["days"]))
    lead = None
    for event in events:
        if event.type == "case.opened":
            lead = event.payload.get("lead_agency") or event.agency
    if lead is None:
        return
    linked_by_lead: dict[str, datetime] = {}
    for event in events:
        if event.type == "person.linked" and event.agency == lead:
            linked_by_lead.setdefault(event.payload["person_id"], _at(event, "recorded_at"))
    seen: set[str] = set()
    for event in events:
        p = event.payload
        if event.type != "person.linked" or event.agency == lead or p["person_id"] in seen:
            continue
        if not (p["is_adult"] and p.get("lives_in_household")):
            continue
        seen.add(p["person_id"])
        due = _at(event, "recorded_at") + grace
        when = linked_by_lead.get(p["person_id"])
        if when is None or when > due:
            yield Firing(
                rule,
                (event.event_id,),
                due,
                f"{p['person_id']} ({p['role']}) in the household by {event.agency}'s record,"
                f" not in {lead}'s within {grace.days} days",
            )


def _rereferral(rule: Rule, events: list[Event], moment: datetime) -> Iterator[Firing]:
    """A referral within `days` days after a decision of no further action."""
    window = timedelta(days=int(rule.params["days"]))
    closed = [
        e
        for e in events
        if e.type == "decision.recorded"
        and e.payload["decision_type"] in rule.params["decision_types"]
    ]
    for event in (e for e in events if e.type == "referral.made"):
        earlier = [d for d in closed if _at(d) <= _at(event) <= _at(d) + window]
        if earlier:
            last = max(earlier, key=_at)
            yield Firing(
                rule,
                (last.event_id, event.event_id),
                max(_at(event, "recorded_at"), _at(last, "recorded_at")),
                f"re-referral {(_at(event) - _at(last)).days} days after "
                f"{last.payload['decision_type']}",
            )


Kind = Callable[[Rule, list[Event], datetime], Iterator[Firing]]
KINDS: dict[str, Kind] = {
    "injury_on_plan": _injury_on_plan,
    "injuries_within": _injuries_within,
    "adult_unverified": _adult_unverified,
    "invitee_absent": _invitee_absent,
    "decision_without_followup": _decision_without_followup,
    "explanations_in_doubt": _explanations_in_doubt,
    "assault_unreported": _assault_unreported,
    "adult_unknown_to_lead": _adult_unknown_to_lead,
    "rereferral": _rereferral,
}
KIND_PARAMS: dict[str, tuple[str, ...]] = {
    "injury_on_plan": (),
    "injuries_within": ("count", "days"),
    "adult_unverified": ("days",),
    "invitee_absent": ("meeting_types", "agency_prefixes"),
    "decision_without_followup": ("decision_type", "outcome", "followup", "days"),
    "explanations_in_doubt": ("count",),
    "assault_unreported": ("concern_categories", "working_days", "police_marker"),
    "adult_unknown_to_lead": ("days",),
    "rereferral": ("decision_types", "days"),
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
            (parse_instant(f.answer.occurred_at) - f.fired_at).total_seconds() / 86400
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
