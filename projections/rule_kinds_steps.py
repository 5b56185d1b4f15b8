"""Threshold rule kinds about steps taken or missing: a suspected non-accidental injury passed
over, two outcomes for one referral, protective steps ended and allegations closed with no
contact or investigation, referrers never told the outcome (pure). See `rule_kinds.py`.

Each kind's docstring is its exact definition. Common to all of them:

- Times are when things happened (occurred_at, UTC). An event whose date its source did not
  state (a range, disputed or undated) is never evidence that something happened in time, or
  too late: where such an event would count in an agency's favour (a contact, a step taken),
  it counts if it was recorded after the period began; where it would be needed to place the
  situation itself in time (when a spell began or ended), the situation is not judged.
- One finding per situation: its alert id comes from the evidence that first made it fire, so
  it stays the same as later events join its evidence.
- A finding is dated when the ledger could first have known it: the latest of its deadline (if
  it has one) and the recorded_at of the evidence it needs.
- Summaries give ids, codes, counts and dates, never a payload's free text.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from ledger.envelope import Event
from projections.agencies import AgencyLookup
from projections.case_timeline import instant
from projections.rule_kinds import Firing, Kind, Rule, derived_id, kind_of
from projections.working_days import england_and_wales

# Outcomes that decide for acting, and against it; `defer` and `other` are neither.
FOR = frozenset({"met", "proceed"})
AGAINST = frozenset({"decline", "not_met", "not_at_present"})
# A contact made in the day before a step began is the contact that led to it (police called
# to a home take the child into protection minutes after seeing her).
LEAD_IN = timedelta(hours=24)
# Meetings at which a strategy discussion is held.
STRATEGY = frozenset({"strategy_discussion", "strategy_meeting"})
# Decisions that an allegation was looked into (whichever way they went).
INQUIRY_DECISIONS = frozenset({"s47_enquiry", "police_investigation"})
# Closures after which no contact is to be expected: the child died.
DIED = frozenset({"child_died", "RC2"})


def _occurred(event: Event) -> datetime:
    return instant(event.occurred_at)


def _recorded(event: Event) -> datetime:
    return instant(event.recorded_at)


def _known_at(event: Event) -> datetime:
    """When the event had certainly happened: its occurred_at if its source stated it, else
    when it was recorded."""
    return _occurred(event) if event.occurred_stated else _recorded(event)


def _within(event: Event, start: datetime, end: datetime) -> bool:
    """Whether the event may have happened in [start, end]: by its stated date, or, undated,
    if it was recorded after the start (it may have happened then)."""
    if event.occurred_stated:
        return start <= _occurred(event) <= end
    return _recorded(event) >= start


def _day(at: datetime) -> str:
    return at.astimezone(UTC).date().isoformat()


def _names(event: Event) -> set[str]:
    """The events a decision or an exchange names: what it rests on, its facts, its cause."""
    p = event.payload
    named = {*p.get("rests_on", ()), *p.get("facts", ()), *p.get("facts_tabled", ())}
    if event.causation_id is not None:
        named.add(event.causation_id)
    return named


def _sender(event: Event) -> str:
    """The agency a referral or a share is from (the recorder, if it names none)."""
    return str(event.payload.get("from_agency") or event.agency)


def _fired(
    rule: Rule,
    first: Sequence[Event],
    evidence: Sequence[Event],
    summary: str,
    deadline: datetime | None = None,
) -> Firing:
    """A finding on this evidence, dated when the ledger could first have known it (the
    evidence that first made it fire was all recorded, and any deadline passed), its id from
    that first evidence, so neither changes as later events join it."""
    recorded = [_recorded(e) for e in first]
    return Firing(
        rule,
        tuple(dict.fromkeys(e.event_id for e in evidence)),
        max(recorded if deadline is None else [deadline, *recorded]),
        summary,
        raised_as=derived_id(rule.name, dict.fromkeys(e.event_id for e in first)),
    )


# suspicion_downgraded ------------------------------------------------------------------------


@dataclass
class _Downgrade:
    suspicions: list[Event]
    first: list[Event]
    evidence: list[Event]
    steps: list[Event] = field(default_factory=list)


def _suspicion_downgraded(
    rule: Rule, events: list[Event], moment: datetime, agencies: AgencyLookup
) -> Iterator[Firing]:
    """A suspected non-accidental injury passed over, in one of two ways:

    - *denied*: an agency's referral or share (`referral.made`, `information.shared`) conveys
      that there is no child protection concern (`conveyed.concern` is `denied`) while the
      agency knew of an injury observed as suspected non-accidental, the injury is not among
      the facts it passes on, and the recipient did not know of it already: what the
      recipient is told is all it has. An agency knew of an injury if, by then, it had
      recorded it, had it referred or shared to it or tabled at a meeting it attended, or had
      recorded a decision resting on it.
    - *unreasoned*: a decision resting on such an injury (its `rests_on` or `causation_id`
      names it) decides against acting (`no_further_action`, or an outcome of `decline`,
      `not_met` or `not_at_present`) and records no rationale.

    An injury is suspected non-accidental as it stands after corrections (a correction, which
    must give its reason, that withdraws the suspicion is not a downgrade). A denial that
    passes the injury on, or a decision against acting that gives its reasons, is judgement on
    the record, not a downgrade. One finding per suspicion: later downgrades of the same
    injuries join its evidence."""
    suspicions: dict[str, Event] = {}
    knew: dict[tuple[str, str], Event] = {}  # (agency, injury) -> the event it knew it by
    found: list[_Downgrade] = []
    for event in events:
        p = event.payload
        if event.type == "injury.observed" and p["suspected_non_accidental"] is True:
            suspicions[event.event_id] = event
            knew.setdefault((event.agency, event.event_id), event)
            continue
        downgraded: list[tuple[Event, Event]] = []  # (injury, how the agency knew it)
        if event.type in _EXCHANGES and p["conveyed"]["concern"] == "denied":
            at, to = _known_at(event), p["to_agency"]
            passed_on = set(p.get("facts", ()))
            downgraded = [
                (suspicions[i], how)
                for (agency, i), how in knew.items()
                if agency == _sender(event)
                and _known_at(how) <= at
                and i not in passed_on
                and (to, i) not in knew
            ]
        elif event.type == "decision.recorded" and _against(p) and not _reasoned(p):
            basis = _names_as_basis(event) & suspicions.keys()
            downgraded = [(suspicions[i], suspicions[i]) for i in sorted(basis)]
        if downgraded:
            _join(found, event, downgraded)
        for agency in _receivers(event):
            for injury in sorted(_names(event) & suspicions.keys()):
                knew.setdefault((agency, injury), event)
    for group in found:
        yield _downgrade_firing(rule, group)


_EXCHANGES = frozenset({"referral.made", "information.shared"})


def _receivers(event: Event) -> list[str]:
    """The agencies an event puts its named events before: a decision's maker, a referral's or
    share's recipient, a meeting's attendees."""
    p = event.payload
    if event.type == "decision.recorded":
        return [event.agency]
    if event.type in _EXCHANGES:
        return [p["to_agency"]]
    if event.type == "meeting.held":
        return list(p["attending_agencies"])
    return []


def _against(payload: dict[str, object]) -> bool:
    return payload["decision_type"] == "no_further_action" or payload["outcome"] in AGAINST


def _reasoned(payload: dict[str, object]) -> bool:
    return bool(str(payload.get("rationale") or "").strip())


def _join(found: list[_Downgrade], step: Event, downgraded: list[tuple[Event, Event]]) -> None:
    """Adds a downgrade to the finding about any of its injuries, or starts a new one."""
    injuries = [injury for injury, _ in downgraded]
    ids = {e.event_id for e in injuries}
    group = next((g for g in found if ids & {s.event_id for s in g.suspicions}), None)
    how = [h for _, h in downgraded]
    if group is None:
        first = [*injuries, *how, step]
        found.append(_Downgrade(list(injuries), first, list(first), [step]))
        return
    group.suspicions += [e for e in injuries if e not in group.suspicions]
    group.evidence += [*injuries, *how, step]
    group.steps.append(step)


def _downgrade_firing(rule: Rule, group: _Downgrade) -> Firing:
    first = group.steps[0]
    if first.type == "decision.recorded":
        how = (
            f"{first.payload['decision_type']} {first.payload['outcome']} by {first.agency}"
            " with no reason recorded"
        )
    else:
        how = (
            f"{first.type} from {_sender(first)} to {first.payload['to_agency']} denying a"
            " child protection concern without passing it on"
        )
    injuries = ", ".join(
        f"{s.payload['injury_type']} ({s.payload['body_region']})" for s in group.suspicions
    )
    more = len(group.steps) - 1
    summary = (
        f"suspected non-accidental {injuries} passed over on {_day(_known_at(first))}: {how}"
        + (f"; {more} later downgrade(s)" if more else "")
    )
    return _fired(rule, group.first, group.evidence, summary)


# conflicting_outcomes ------------------------------------------------------------------------


def _conflicting_outcomes(
    rule: Rule, events: list[Event], moment: datetime, agencies: AgencyLookup
) -> Iterator[Firing]:
    """One agency records two decisions of the same `decision_type` on the same referral (each
    names the `referral.made` in `rests_on` or as its `causation_id`), one deciding for acting
    (`met`, `proceed`) and the other against (`decline`, `not_met`, `not_at_present`), the
    later one neither naming the earlier (an explicit revision) nor resting on an event that
    happened after the earlier was decided (a reconsideration on new information). `defer`
    and `other` conflict with nothing. One finding per agency, decision type and referral;
    later conflicting decisions join its evidence."""
    referrals = {e.event_id: e for e in events if e.type == "referral.made"}
    at = {e.event_id: _occurred(e) for e in events}
    decisions: dict[tuple[str, str, str], list[Event]] = {}
    for event in events:
        p = event.payload
        if event.type != "decision.recorded" or p["outcome"] not in FOR | AGAINST:
            continue
        for referral in sorted(_names_as_basis(event) & referrals.keys()):
            decisions.setdefault((event.agency, p["decision_type"], referral), []).append(event)
    for (agency, decision_type, referral), made in decisions.items():
        conflicts = [
            (earlier, later)
            for i, later in enumerate(made)
            for earlier in made[:i]
            if _conflict(earlier, later, at)
        ]
        if not conflicts:
            continue
        first = [referrals[referral], *conflicts[0]]
        ids = {e.event_id for pair in conflicts for e in pair}
        joined = [e for e in made if e.event_id in ids]
        outcomes = "/".join(dict.fromkeys(e.payload["outcome"] for e in joined))
        yield _fired(
            rule,
            first,
            [referrals[referral], *joined],
            f"{agency} recorded {len(joined)} {decision_type} decisions ({outcomes}) on the "
            f"referral of {_day(_occurred(referrals[referral]))}",
        )


def _names_as_basis(decision: Event) -> set[str]:
    named = set(decision.payload.get("rests_on", ()))
    return named | ({decision.causation_id} if decision.causation_id else set())


def _conflict(earlier: Event, later: Event, at: dict[str, datetime]) -> bool:
    sides = {earlier.payload["outcome"] in FOR, later.payload["outcome"] in FOR}
    if sides != {True, False}:
        return False
    basis = _names_as_basis(later)
    if earlier.event_id in basis:
        return False
    decided = _occurred(earlier)
    return not any(at[e] > decided for e in basis if e in at)


# step_ended_without_contact ------------------------------------------------------------------


@dataclass(frozen=True)
class _Spell:
    agency: str
    begin: Event
    end: Event


def _step_ended_without_contact(
    rule: Rule, events: list[Event], moment: datetime, agencies: AgencyLookup
) -> Iterator[Firing]:
    """A protective step ended with no contact recorded by the agency that took it:

    - police protection (`police_protection.taken` to the `police_protection.ended` naming
      the same `protection_id`), by the agency that took the child into protection;
    - an involvement of an agency of `agency_kinds` (from its `involvement.opened`, or the
      lead's `case.opened`, to its `involvement.closed` or `case.closed`), unless it closed
      because the child died.

    A contact is, by that agency, from a day before the step began (the contact that led to
    it) until it ended: a `contact.recorded` (with the child, a carer or whoever told it of
    the child), or an exchange with a referrer (a referral or share from the agency to it, or
    a meeting both attended), a referrer being an agency that referred the child to it in
    that time.
    A spell the ledger never saw begin, or whose beginning or end its source did not date, is
    not judged. One finding per spell."""
    kinds = set(rule.params["agency_kinds"])
    for spell in _spells(events, kinds, agencies):
        start, end = _occurred(spell.begin) - LEAD_IN, _occurred(spell.end)
        window = [e for e in events if _within(e, start, end)]
        referrers = {
            _sender(e)
            for e in window
            if e.type == "referral.made" and e.payload["to_agency"] == spell.agency
        }
        if any(_contact(e, spell.agency, referrers) for e in window):
            continue
        both = [spell.begin, spell.end]
        yield _fired(
            rule,
            both,
            both,
            f"{_step_words(spell)} with no contact with the child, a carer or a referrer "
            f"recorded by {spell.agency} since {_day(_occurred(spell.begin))}",
        )


def _spells(events: Iterable[Event], kinds: set[str], agencies: AgencyLookup) -> Iterator[_Spell]:
    """Police protections and involvements of agencies of the kinds that ended, in order of
    their end, each dated by its source."""
    taken: dict[str, Event] = {}
    opened: dict[str, Event] = {}
    for event in events:
        p = event.payload
        if event.type == "police_protection.taken":
            taken.setdefault(p["protection_id"], event)
        elif event.type == "police_protection.ended" and p["protection_id"] in taken:
            begin = taken.pop(p["protection_id"])
            if begin.occurred_stated and event.occurred_stated:
                yield _Spell(begin.agency, begin, event)
        elif event.type in ("involvement.opened", "case.opened"):
            agency = p.get("lead_agency", event.agency)
            if kind_of(agency, event, agencies) in kinds:
                opened.setdefault(agency, event)
        elif event.type in ("involvement.closed", "case.closed") and event.agency in opened:
            begin = opened.pop(event.agency)
            if p["reason"] in DIED or not (begin.occurred_stated and event.occurred_stated):
                continue
            yield _Spell(event.agency, begin, event)


def _contact(event: Event, agency: str, referrers: set[str]) -> bool:
    """Whether the event is a contact by the agency: with the child, a carer or a source, or
    with one of its referrers."""
    p = event.payload
    if event.type == "contact.recorded":
        return event.agency == agency
    if event.type in _EXCHANGES:
        return _sender(event) == agency and p["to_agency"] in referrers
    if event.type == "meeting.held":
        present = set(p["attending_agencies"])
        return agency in present and bool(present & (referrers - {agency}))
    return False


def _step_words(spell: _Spell) -> str:
    p, end = spell.end.payload, _day(_occurred(spell.end))
    if spell.begin.type == "police_protection.taken":
        return f"police protection {p['protection_id']} ended on {end} ({p['outcome']})"
    basis = spell.begin.payload.get("basis", "as lead")
    return f"involvement of {spell.agency} ({basis}) closed on {end} ({p['reason']})"


# allegation_closed_uninvestigated ------------------------------------------------------------


def _allegation_closed_uninvestigated(
    rule: Rule, events: list[Event], moment: datetime, agencies: AgencyLookup
) -> Iterator[Firing]:
    """An allegation (`allegation.made`) withdrawn (`allegation.withdrawn` naming its
    `allegation_id`) with no investigative step by any agency from when it was made until it
    was withdrawn: a strategy discussion or strategy meeting held; a decision on a section 47
    enquiry or a police investigation, whichever way it went; an assessment started, or in
    progress when the allegation was made; or the child seen alone by an agency (a contact
    with `child_seen` and `seen_alone` both `yes`, not reported by someone else). Seeing the
    child with a carer present does not look into an allegation against the household. An
    allegation whose making or withdrawal its source did not date is not judged. One finding
    per allegation."""
    made: dict[str, Event] = {}
    assessing: dict[str, bool] = {}  # by allegation: an assessment in progress when made
    assessments: dict[str, Event] = {}
    for event in events:
        p = event.payload
        if event.type == "allegation.made" and p["allegation_id"] not in made:
            made[p["allegation_id"]] = event
            assessing[p["allegation_id"]] = bool(assessments)
        elif event.type == "assessment.started":
            assessments[p["assessment_id"]] = event
        elif event.type in ("assessment.completed", "assessment.ended_incomplete"):
            assessments.pop(p["assessment_id"], None)
        elif event.type == "allegation.withdrawn" and p["allegation_id"] in made:
            allegation = made.pop(p["allegation_id"])
            if not (allegation.occurred_stated and event.occurred_stated):
                continue
            start, end = _occurred(allegation), _occurred(event)
            looked_into = any(_investigates(e) and _within(e, start, end) for e in events)
            if assessing[p["allegation_id"]] or looked_into:
                continue
            both = [allegation, event]
            yield _fired(
                rule,
                both,
                both,
                f"allegation {p['allegation_id']} ({allegation.payload['category']}) made on "
                f"{_day(start)} and withdrawn on {_day(end)} with no strategy discussion, no "
                "s47 or police investigation decision, no assessment and the child not seen "
                "alone in between",
            )


def _investigates(event: Event) -> bool:
    p = event.payload
    if event.type == "meeting.held":
        return p["meeting_type"] in STRATEGY
    if event.type == "decision.recorded":
        return p["decision_type"] in INQUIRY_DECISIONS
    if event.type == "assessment.started":
        return True
    if event.type == "contact.recorded":
        return p["child_seen"] == "yes" and p.get("seen_alone") == "yes" and "source" not in p
    return False


# referrer_not_told ---------------------------------------------------------------------------


def _referrer_not_told(
    rule: Rule, events: list[Event], moment: datetime, agencies: AgencyLookup
) -> Iterator[Firing]:
    """A referral (`referral.made`) from an agency of `referrer_kinds` to one of
    `recipient_kinds` whose outcome the recipient did not tell the referrer by the end of the
    `working_days`-th working day after the day it decided it (that day is day 0; weekends and
    England bank holidays are not working days).

    The outcome is the first decision the recipient records, after the referral, that names
    the referral or an event the referral passed on (in its `rests_on` or as its
    `causation_id`): a decision naming neither may be about anything, so it is no outcome.
    Told is any exchange between the two after the referral and by the deadline: a referral
    or share from the recipient to the referrer, or a meeting both attended. A referral made
    by a person (`source`), one with no outcome recorded (the referral clocks' business), or
    one whose outcome its source did not date, is not judged. One finding per referral, on
    the day after the deadline."""
    days = england_and_wales()
    limit = int(rule.params["working_days"])
    senders, receivers = set(rule.params["referrer_kinds"]), set(rule.params["recipient_kinds"])
    for referral in (e for e in events if e.type == "referral.made"):
        frm, to = referral.payload.get("from_agency"), referral.payload["to_agency"]
        if frm is None or frm == to or kind_of(frm, referral, agencies) not in senders:
            continue
        if kind_of(to, referral, agencies) not in receivers:
            continue
        outcome = _outcome(referral, events)
        if outcome is None or not outcome.occurred_stated:
            continue
        last = days.add(_occurred(outcome).astimezone(UTC).date(), limit)
        deadline = datetime.combine(last, time.max, UTC)
        if any(_tells(e, to, frm) and _within(e, _occurred(referral), deadline) for e in events):
            continue
        both = [referral, outcome]
        yield _fired(
            rule,
            both,
            both,
            f"referral from {frm} to {to} on {_day(_occurred(referral))}: "
            f"{outcome.payload['decision_type']} {outcome.payload['outcome']} decided on "
            f"{_day(_occurred(outcome))}, not told to {frm} within {limit} working day(s)",
            _day_after(last),
        )


def _outcome(referral: Event, events: list[Event]) -> Event | None:
    """The recipient's first decision after the referral naming it or what it passed on."""
    about = {referral.event_id, *referral.payload.get("facts", ())}
    after = _occurred(referral)
    return next(
        (
            e
            for e in events
            if e.type == "decision.recorded"
            and e.agency == referral.payload["to_agency"]
            and _occurred(e) >= after
            and _names_as_basis(e) & about
        ),
        None,
    )


def _tells(event: Event, recipient: str, referrer: str) -> bool:
    p = event.payload
    if event.type in _EXCHANGES:
        return (_sender(event), p["to_agency"]) == (recipient, referrer)
    if event.type == "meeting.held":
        return {recipient, referrer} <= set(p["attending_agencies"])
    return False


def _day_after(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(), UTC)


KINDS: dict[str, Kind] = {
    "suspicion_downgraded": _suspicion_downgraded,
    "conflicting_outcomes": _conflicting_outcomes,
    "step_ended_without_contact": _step_ended_without_contact,
    "allegation_closed_uninvestigated": _allegation_closed_uninvestigated,
    "referrer_not_told": _referrer_not_told,
}
