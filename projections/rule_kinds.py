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

from ledger.envelope import Event, utc_text
from ledger.publish_rules import ALERT_NAMESPACE
from projections.agencies import AgencyLookup
from projections.case_timeline import instant, timeline_of
from projections.working_days import england_and_wales

NAMESPACE = ALERT_NAMESPACE
"""The UUID namespace of alert ids and of the event ids of the alerts the ledger raises."""


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule: a kind, its parameters, and the roles its alerts are sent to (`lead`, or a
    kind of agency)."""

    name: str
    kind: str
    send_to: tuple[str, ...]
    params: Mapping[str, Any] = field(default_factory=dict)
    # What the rule finds, in a line, and where its threshold comes from (policy file).
    description: str = ""
    source: str = ""


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
        answered = None if self.answer is None else instant(self.answer.occurred_at)
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
    return instant(getattr(event, name))


def dated(event: Event) -> bool:
    """Whether the event can be evidence of timing (an undated one only sorts by when it was
    recorded)."""
    return event.occurred_precision != "undated"


def kind_of(agency: str, event: Event, agencies: AgencyLookup) -> str | None:
    """The kind of an agency as the registry held it when the event was recorded."""
    record = agencies.record(agency, event.recorded_at)
    return None if record is None else record.kind


def _injury_on_plan(
    rule: Rule, events: list[Event], moment: datetime, agencies: AgencyLookup
) -> Iterator[Firing]:
    """Suspected non-accidental injuries while a plan is in force: one finding a plan, fired
    on the first injury (dated when the ledger held both it and the plan), every later one
    joining its evidence, until the plan ends or the finding is answered: an injury after the
    answer starts a new finding. Undated injuries say nothing of when: they are not judged."""
    answered = _answers(events)
    plans: dict[str, Event] = {}
    runs: dict[str, list[Event]] = {}
    for event in events:
        p = event.payload
        if event.type == "plan.started":
            plans[p["plan_id"]] = event
        elif event.type == "plan.ended" and p["plan_id"] in plans:
            plan = plans.pop(p["plan_id"])
            if p["plan_id"] in runs:
                yield _on_plan(rule, plan, runs.pop(p["plan_id"]))
        elif (
            event.type == "injury.observed"
            and p["suspected_non_accidental"] is True
            and plans
            and dated(event)
        ):
            plan_id, plan = next(iter(plans.items()))
            run = runs.get(plan_id)
            if run is not None:
                when = answered.get(derived_id(rule.name, (run[0].event_id,)))
                if when is not None and when <= _at(event):
                    yield _on_plan(rule, plan, run)
                    run = None
            if run is None:
                runs[plan_id] = [event]
            else:
                run.append(event)
    for plan_id, run in runs.items():
        yield _on_plan(rule, plans[plan_id], run)


def _on_plan(rule: Rule, plan: Event, injuries: list[Event]) -> Firing:
    """The finding of suspected non-accidental injuries during one plan: its id is the first
    injury's, whatever joins it (the plan is named in the summary, not the evidence, so a
    new finding on the same plan shares no evidence with the last)."""
    first = injuries[0]
    kinds = ", ".join(dict.fromkeys(e.payload["injury_type"] for e in injuries))
    spell = f"from {_day(first)} to {_day(injuries[-1])}" if len(injuries) > 1 else _day(first)
    return Firing(
        rule,
        tuple(e.event_id for e in injuries),
        max(_at(plan, "recorded_at"), _at(first, "recorded_at")),
        f"{len(injuries)} suspected non-accidental injur{'y' if len(injuries) == 1 else 'ies'}"
        f" ({kinds}) {spell} while plan {plan.payload['plan_id']} is in force",
        raised_as=derived_id(rule.name, (first.event_id,)),
    )


def _answers(events: list[Event]) -> dict[str, datetime]:
    """When each alert was first answered (dated answers only), by alert id."""
    answered: dict[str, datetime] = {}
    for event in events:
        if event.type == "alert.answered" and dated(event):
            answered.setdefault(event.payload["alert_id"], _at(event))
    return answered


def _first_held(
    members: list[Event], count: int, span: timedelta | None = None
) -> tuple[datetime, list[Event]]:
    """When the ledger first held `count` of the members (within `span` of each other, if
    given), and those `count`, in order of occurrence: a member recorded late (backdated)
    joins the situation without changing its date or its id."""
    held: list[Event] = []
    for member in sorted(members, key=lambda e: (_at(e, "recorded_at"), *_sequence(e))):
        held.append(member)
        if len(held) < count:
            continue
        ordered = sorted(held, key=_sequence)
        for i in range(len(ordered) - count + 1):
            first = ordered[i : i + count]
            if span is None or _at(first[-1]) - _at(first[0]) <= span:
                return _at(member, "recorded_at"), first
    raise ValueError(f"fewer than {count} members held together")


def _answered_before(
    rule: Rule,
    run: list[Event],
    count: int,
    answered: dict[str, datetime],
    when: datetime,
    span: timedelta | None = None,
) -> bool:
    """Whether the finding on the run was answered at or before the instant."""
    if not answered:
        return False
    first = _first_held(run, count, span)[1]
    at = answered.get(derived_id(rule.name, (e.event_id for e in first)))
    return at is not None and at <= when


def _injuries_within(
    rule: Rule, events: list[Event], moment: datetime, agencies: AgencyLookup
) -> Iterator[Firing]:
    """`count` injury observations within `days` days: one finding per cluster, dated when
    the ledger first held `count` of them within `days` of each other, its id from those; every
    later observation within `days` of the cluster's last joins its evidence. A gap of more
    than `days` ends the cluster, and so does an observation after the finding was answered;
    the next needs `count` anew. Undated observations say nothing of when: they join no
    cluster."""
    count, span = int(rule.params["count"]), timedelta(days=int(rule.params["days"]))
    answered = _answers(events)
    window: list[Event] = []
    cluster: list[Event] = []
    for event in (e for e in events if e.type == "injury.observed" and dated(e)):
        if cluster:
            if _at(event) - _at(cluster[-1]) <= span and not _answered_before(
                rule, cluster, count, answered, _at(event), span
            ):
                cluster.append(event)
                continue
            yield _cluster(rule, cluster, count, span)
            cluster, window = [], []
        window = [e for e in window if _at(event) - _at(e) <= span] + [event]
        if len(window) >= count:
            cluster, window = window, []
    if cluster:
        yield _cluster(rule, cluster, count, span)


def _cluster(rule: Rule, cluster: list[Event], count: int, span: timedelta) -> Firing:
    fired_at, first = _first_held(cluster, count, span)
    return Firing(
        rule,
        tuple(e.event_id for e in cluster),
        fired_at,
        f"{len(cluster)} injury observations from {_day(cluster[0])} to {_day(cluster[-1])}, "
        f"none more than {span.days} days after the one before",
        raised_as=derived_id(rule.name, (e.event_id for e in first)),
    )


def _day(event: Event) -> str:
    return _at(event).astimezone(UTC).date().isoformat()


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
                max(due, _at(event, "recorded_at")),
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
                max(due, _at(event, "recorded_at")),
                f"{p['decision_type']} {p['outcome']} with no {p['followup']} within "
                f"{wait.days} days",
            )


def _explanations_in_doubt(
    rule: Rule, events: list[Event], moment: datetime, agencies: AgencyLookup
) -> Iterator[Firing]:
    """`count` injuries whose explanation was judged inconsistent, or repeats an explanation
    already given for an earlier injury: one finding per case, dated when the ledger first
    held `count` of them (its id from those), every later doubtful explanation joining its
    evidence; one after the finding was answered starts a new finding, which needs `count`
    anew."""
    count = int(rule.params["count"])
    answered = _answers(events)
    given: set[str] = set()
    run: list[Event] = []
    for event in (e for e in events if e.type == "injury.observed"):
        p = event.payload
        said = " ".join(str(p.get("explanation_given") or "").lower().split())
        if p.get("explanation_consistent") is False or (said and said in given):
            if len(run) >= count and _answered_before(rule, run, count, answered, _at(event)):
                yield _doubtful(rule, run, count)
                run = []
            run.append(event)
        if said:
            given.add(said)
    if len(run) >= count:
        yield _doubtful(rule, run, count)


def _doubtful(rule: Rule, run: list[Event], count: int) -> Firing:
    fired_at, first = _first_held(run, count)
    return Firing(
        rule,
        tuple(e.event_id for e in run),
        fired_at,
        f"{len(run)} injuries with an inconsistent or repeated explanation",
        raised_as=derived_id(rule.name, (e.event_id for e in first)),
    )


def _assault_unreported(
    rule: Rule, events: list[Event], moment: datetime, agencies: AgencyLookup
) -> Iterator[Firing]:
    """An assault (a `concern.raised` or `allegation.made` of `concern_categories`; never an
    injury observation, however suspicious: suspected non-accidental injuries are other
    rules' business) recorded by a statutory agency not of `notify_kinds`, the police not
    told by the end of the `working_days`th working day after it; fires when that day has
    passed and the ledger holds the assault. An undated record says nothing of when: it is
    not judged.

    The police count as told, from the assault to the end of the last day, when an agency
    of `notify_kinds` recorded an event naming it (its causation, `rests_on`, `facts`), it
    was referred or shared to one (any referral or share to one then), or it was tabled at a
    meeting one attended (`facts_tabled`). An investigation the police already have open on
    the child does not count: they learn of a new assault only when someone tells them.

    A concern recorded by an agency that is not statutory (a charity, a faith group) is not
    judged here: such an agency is expected to refer to children's social care, and not doing
    so is `unreferred_concern`'s finding.
    """
    categories, kinds = rule.params["concern_categories"], rule.params["notify_kinds"]
    days = england_and_wales()

    def police(agency: str, event: Event) -> bool:
        return kind_of(agency, event, agencies) in kinds

    for event in events:
        p = event.payload
        if event.type not in ("concern.raised", "allegation.made") or not dated(event):
            continue
        if p["category"] not in categories or police(event.agency, event):
            continue
        observer = agencies.record(event.agency, event.recorded_at)
        if observer is None or not observer.statutory:
            continue
        seen = _at(event)
        last = days.add(seen.astimezone(UTC).date(), int(rule.params["working_days"]))
        late = datetime.combine(last + timedelta(days=1), time(), UTC)
        if any(_tells(t, event, police) for t in events if dated(t) and seen <= _at(t) < late):
            continue
        yield Firing(
            rule,
            (event.event_id,),
            max(late, _at(event, "recorded_at")),
            f"{event.type} ({p['category']}) by {event.agency} on {_day(event)} with no police "
            f"notification within {rule.params['working_days']} working day(s)",
        )


def _tells(event: Event, assault: Event, police: Callable[[str, Event], bool]) -> bool:
    """Whether the event tells the police of the assault (see `_assault_unreported`)."""
    p = event.payload
    if event.type in ("referral.made", "information.shared"):
        return police(p["to_agency"], event)
    if event.type == "meeting.held":
        return assault.event_id in p.get("facts_tabled", ()) and any(
            police(a, event) for a in p["attending_agencies"]
        )
    named = {event.causation_id, *p.get("rests_on", ()), *p.get("facts", ())}
    return assault.event_id in named and police(event.agency, event)


def _adult_unknown_to_lead(
    rule: Rule, events: list[Event], moment: datetime, agencies: AgencyLookup
) -> Iterator[Firing]:
    """An adult in the household by another agency's record, not in the record of the agency
    leading the case then (when that record happened; `lead.changed` moves it) within `days`
    days of the ledger holding it; the finding names that lead. With no lead then, nothing."""
    grace = timedelta(days=int(rule.params["days"]))
    if not any(e.type == "person.linked" for e in events):
        return
    timeline = timeline_of(events, agencies)
    linked: dict[tuple[str, str], datetime] = {}
    for event in events:
        if event.type == "person.linked":
            key = (event.agency, event.payload["person_id"])
            linked.setdefault(key, _at(event, "recorded_at"))
    seen: set[str] = set()
    for event in events:
        p = event.payload
        if event.type != "person.linked" or p["person_id"] in seen:
            continue
        if not (p["is_adult"] and p.get("lives_in_household")):
            continue
        lead = timeline.lead_at(_at(event))
        if lead is None or event.agency == lead:
            continue
        seen.add(p["person_id"])
        due = _at(event, "recorded_at") + grace
        when = linked.get((lead, p["person_id"]))
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
    """A referral within `days` days after a decision of `decision_types`. The decision on
    the referral itself is not one it follows: a decision that names it (`rests_on`, its
    causation) or was made the same day. When a decision was written up says nothing of
    which referral it decided: one made before the referral and recorded after it is still
    before it. Events at the same instant are ordered by when they were recorded, then by log
    position; undated ones are not judged."""
    window = timedelta(days=int(rule.params["days"]))
    order = {e.event_id: i for i, e in enumerate(sorted(events, key=_sequence))}
    closed = [
        e
        for e in events
        if e.type == "decision.recorded"
        and e.payload["decision_type"] in rule.params["decision_types"]
        and dated(e)
    ]
    for event in (e for e in events if e.type == "referral.made" and dated(e)):
        earlier = [
            d
            for d in closed
            if order[d.event_id] < order[event.event_id]
            and _at(event) <= _at(d) + window
            and not _decides(d, event)
        ]
        if earlier:
            last = max(earlier, key=lambda d: order[d.event_id])
            yield Firing(
                rule,
                (last.event_id, event.event_id),
                max(_at(event, "recorded_at"), _at(last, "recorded_at")),
                f"re-referral {(_at(event) - _at(last)).days} days after "
                f"{last.payload['decision_type']}",
            )


def _sequence(event: Event) -> tuple[datetime, datetime, int, int]:
    """Occurred, then recorded, then log position."""
    return (_at(event), _at(event, "recorded_at"), event.partition, event.offset)


def _decides(decision: Event, referral: Event) -> bool:
    """Whether the decision, made before the referral, may be the one on it: it names the
    referral, or it was made the same day."""
    return (
        referral.event_id in (decision.causation_id, *decision.payload.get("rests_on", ()))
        or _at(decision).astimezone(UTC).date() == _at(referral).astimezone(UTC).date()
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
