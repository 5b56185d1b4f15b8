"""Threshold rule kinds: what each kind of rule finds in a case's events (pure).

A `Rule` is one kind with its parameters from the policy file (`projections/rules.py` loads
it). A kind reads a case's events in order of occurrence, as known at a moment, and yields a
`Firing` for each finding: its evidence (event ids), when the ledger could first have known
it, and a summary of ids and counts, never content. A kind may yield a finding dated after
the moment (a deadline not yet passed); the evaluation keeps those as the case's next due time.

A kind names agencies by kind, never by id: which kind an agency is comes from the registry
(an `AgencyLookup`) as it stood when the event was recorded; an agency not registered then
is of no kind.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any

from ledger.envelope import Event, parse_instant, utc_text
from projections.agencies import AgencyLookup
from projections.working_days import england_and_wales

NAMESPACE = uuid.UUID("6f1d3c1e-5b7a-4c1e-9d55-2a7e0c6b9a10")
"""The UUID namespace of alert ids and of the event ids of the alerts the ledger raises."""


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule: a kind, its parameters, and the roles its alerts are sent to (`lead`, or a
    kind of agency)."""

    name: str
    kind: str
    send_to: tuple[str, ...]
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Firing:
    """A rule's finding in a case, with its evidence and its answer, if any."""

    rule: Rule
    evidence: tuple[str, ...]
    fired_at: datetime
    summary: str
    answer: Event | None = None
    raised_as: str | None = None
    # The agencies the alert goes to: the rule's roles resolved in the case as of the finding.
    sent_to: tuple[str, ...] = ()

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
            "sent_to": list(self.sent_to),
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
    return f"ALERT-{rule.replace('_', '-')}-{uuid.uuid5(NAMESPACE, key).hex[:12]}"


def _at(event: Event, name: str = "occurred_at") -> datetime:
    return parse_instant(getattr(event, name))


def kind_of(agency: str, event: Event, agencies: AgencyLookup) -> str | None:
    """The kind of an agency as the registry held it when the event was recorded."""
    record = agencies.record(agency, event.recorded_at)
    return None if record is None else record.kind


def _injury_on_plan(
    rule: Rule, events: list[Event], moment: datetime, agencies: AgencyLookup
) -> Iterator[Firing]:
    plans: dict[str, Event] = {}
    for event in events:
        p = event.payload
        if event.type == "plan.started":
            plans[p["plan_id"]] = event
        elif event.type == "plan.ended":
            plans.pop(p["plan_id"], None)
        elif event.type == "injury.observed" and p["suspected_non_accidental"] is True and plans:
            plan = next(iter(plans.values()))
            yield Firing(
                rule,
                (plan.event_id, event.event_id),
                _at(event, "recorded_at"),
                f"suspected non-accidental {p['injury_type']} while plan {plan.payload['plan_id']}"
                " is in force",
            )


def _injuries_within(
    rule: Rule, events: list[Event], moment: datetime, agencies: AgencyLookup
) -> Iterator[Firing]:
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


def _adult_unverified(
    rule: Rule, events: list[Event], moment: datetime, agencies: AgencyLookup
) -> Iterator[Firing]:
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


def _invitee_absent(
    rule: Rule, events: list[Event], moment: datetime, agencies: AgencyLookup
) -> Iterator[Firing]:
    """An agency of `agency_kinds` invited to a meeting of `meeting_types` and absent."""
    types, kinds = rule.params["meeting_types"], rule.params["agency_kinds"]
    for event in events:
        p = event.payload
        if event.type != "meeting.held" or p["meeting_type"] not in types:
            continue
        # In the order the meeting's record invited them, not by code: renaming an agency
        # must not change what a finding says.
        absent = [
            a
            for a in p["invited_agencies"]
            if a not in p["attending_agencies"] and kind_of(a, event, agencies) in kinds
        ]
        if absent:
            yield Firing(
                rule,
                (event.event_id,),
                _at(event, "recorded_at"),
                f"{p['meeting_type']}: invited and absent: {', '.join(absent)}",
            )


def _decision_without_followup(
    rule: Rule, events: list[Event], moment: datetime, agencies: AgencyLookup
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


def _explanations_in_doubt(
    rule: Rule, events: list[Event], moment: datetime, agencies: AgencyLookup
) -> Iterator[Firing]:
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


def _assault_unreported(
    rule: Rule, events: list[Event], moment: datetime, agencies: AgencyLookup
) -> Iterator[Firing]:
    """An observed assault (a concern of the given categories, or a suspected non-accidental
    injury) not recorded by an agency of `notify_kinds` (the police) and not referred or
    shared to one within N working days; fires when the last day has passed and the ledger
    holds the observation."""
    categories, kinds = rule.params["concern_categories"], rule.params["notify_kinds"]
    days = england_and_wales()
    told = [
        e
        for e in events
        if e.type in ("referral.made", "information.shared")
        and kind_of(e.payload["to_agency"], e, agencies) in kinds
    ]
    for event in events:
        p = event.payload
        observed = (event.type == "concern.raised" and p["category"] in categories) or (
            event.type == "injury.observed" and p["suspected_non_accidental"] is True
        )
        if not observed or kind_of(event.agency, event, agencies) in kinds:
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


def _adult_unknown_to_lead(
    rule: Rule, events: list[Event], moment: datetime, agencies: AgencyLookup
) -> Iterator[Firing]:
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


def _rereferral(
    rule: Rule, events: list[Event], moment: datetime, agencies: AgencyLookup
) -> Iterator[Firing]:
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


Kind = Callable[[Rule, list[Event], datetime, AgencyLookup], Iterator[Firing]]
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
