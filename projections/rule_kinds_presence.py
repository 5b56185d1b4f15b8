"""Threshold rule kinds about who is involved and who has seen the child: presence, closure
while others are open, sightings by non-statutory agencies (pure). See `rule_kinds.py`.

Each kind yields one finding per situation (an unseen spell, a closure, an agency's run of
unshared concerns, a run of injuries), whose evidence grows as later events join it; its alert
id comes from the evidence that first made it fire, so it stays the same as evidence grows.
Times are when things happened (occurred_at, UTC); an undated event is never evidence of
timing. Whether an agency is statutory, its kind and its area are the registry's, as it stood
when the event was recorded.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from ledger.envelope import Event
from projections.agencies import AgencyLookup, AgencyRecord
from projections.case_timeline import CaseTimeline, instant, timeline_of
from projections.rule_kinds import Firing, Kind, Rule, derived_id, kind_of
from projections.working_days import england_and_wales

# Closures that hand the child on rather than end the work: a transfer to another authority
# (involvement reasons, and the CIN census codes RC5 and RC6 of a case.closed) or a death,
# which other processes review.
_HANDOVER_REASONS = frozenset({"case_transferred", "moved_out_of_area", "child_died"})
_HANDOVER_CODES = frozenset({"RC2", "RC5", "RC6"})
# Events that show nothing about the child: the ledger's own alerts and their answers.
_NOT_INVOLVEMENT = frozenset({"alert.raised", "alert.answered"})
# Besides a contact seeing her: records of a statutory agency that saw the child itself.
_SEEN_TYPES = frozenset({"injury.observed", "hospital.admitted", "hospital.discharged"})
# The longest an admission with no discharge recorded counts as a stay in hospital once the
# record goes on past it: four weeks, far beyond most children's stays (a few days; a long
# stay has its discharge recorded). Past that, with statutory agencies still recording and no
# one seeing the child, a missing discharge is a gap in the record, not a child in hospital;
# where the record simply ends, the ledger cannot tell, and the stay goes on.
MAX_STAY = timedelta(days=28)
# Contacts that see the child somewhere other than in hospital, or not in person.
_IN_HOSPITAL_OR_REMOTE = frozenset(
    {"a_and_e", "hospital_admission", "hospital_ward", "phone", "video_call"}
)


def _at(event: Event, name: str = "occurred_at") -> datetime:
    return instant(getattr(event, name))


def _dated(event: Event) -> bool:
    """Whether the event says when it happened (an undated one is no evidence of timing)."""
    return event.occurred_precision != "undated"


def _record(agency: str, event: Event, agencies: AgencyLookup) -> AgencyRecord | None:
    return agencies.record(agency, event.recorded_at)


def _statutory(agency: str, event: Event, agencies: AgencyLookup) -> bool:
    """Whether the agency was registered as statutory when the event was recorded."""
    record = _record(agency, event, agencies)
    return record is not None and record.statutory


def _day(moment: datetime) -> str:
    return moment.astimezone(UTC).date().isoformat()


def _seen_by_statutory(event: Event, agencies: AgencyLookup) -> bool:
    """A statutory agency saw the child itself: a contact with the child seen (not a sighting
    someone reported), dated as `sgl sightings` dates it (from its earliest possible instant;
    a range with no lower bound says nothing of when); or an injury it observed, a hospital
    admission or discharge, on a date it states (a range or a dispute there dates the injury
    or the stay, not when the agency saw her)."""
    if not _dated(event) or not _statutory(event.agency, event, agencies):
        return False
    p = event.payload
    if event.type == "contact.recorded":
        bounds = event.occurred_range or {}
        dated = event.occurred_precision != "range" or "not_before" in bounds
        return dated and p["child_seen"] == "yes" and p.get("source") is None
    return event.occurred_stated and event.type in _SEEN_TYPES


def _seen_out_of_hospital(event: Event, admission: Event) -> bool:
    """A contact in person by an agency other than the admitting hospital seeing the child
    somewhere other than a hospital (at home, at school, at a visit), on a date its source
    stated."""
    p = event.payload
    return (
        event.type == "contact.recorded"
        and event.agency != admission.agency
        and event.occurred_stated
        and p["child_seen"] == "yes"
        and p.get("source") is None
        and p.get("contact_type") not in _IN_HOSPITAL_OR_REMOTE
    )


def _stay(
    admission: Event, events: list[Event], agencies: AgencyLookup
) -> tuple[datetime | None, Event | None]:
    """When a stay in hospital ended, and the discharge it ended with (None if it ended
    otherwise): its discharge; with none recorded, the first sighting of the child out of
    hospital by another agency after the admission, or `MAX_STAY` after it if a statutory
    agency recorded anything then or later, whichever comes first; else not yet (None)."""
    episode, start = admission.payload["episode_id"], _at(admission)
    left = [
        e
        for e in events
        if e.type == "hospital.discharged"
        and e.payload["episode_id"] == episode
        and _dated(e)
        and _at(e) >= start
    ]
    if left:
        return _at(left[0]), left[0]
    ends = [_at(e) for e in events if _seen_out_of_hospital(e, admission) and _at(e) > start]
    cap = start + MAX_STAY
    if any(_dated(e) and _at(e) >= cap and _statutory(e.agency, e, agencies) for e in events):
        ends.append(cap)
    return (min(ends) if ends else None), None


def _seen_stretches(
    events: list[Event], agencies: AgencyLookup
) -> list[tuple[datetime, datetime | None, Event]]:
    """When statutory agencies saw the child, in order of the start: an instant for a contact
    or an injury, from admission to its end (`_stay`; None while it goes on) for a stay in
    hospital, where she is seen every day. Each with the event it ends on (a stay's
    discharge, if recorded, else its admission)."""
    out: list[tuple[datetime, datetime | None, Event]] = []
    for event in (e for e in events if _seen_by_statutory(e, agencies)):
        if event.type == "hospital.admitted":
            end, left = _stay(event, events, agencies)
            out.append((_at(event), end, left or event))
        else:
            out.append((_at(event), _at(event), event))
    return sorted(out, key=lambda x: x[0])


@dataclass(frozen=True, slots=True)
class _Spell:
    """A stretch with some statutory agency involved: from `start` (the event that began it)
    to `end` (None while still open)."""

    start: datetime
    opener: Event
    end: datetime | None


def _statutory_spells(events: list[Event], agencies: AgencyLookup) -> list[_Spell]:
    """The union of statutory agencies' involvement episodes, in order."""
    dated = [e for e in events if _dated(e)]
    if not dated:
        return []
    timeline = timeline_of(events, agencies)
    first = _at(dated[0])
    episodes: list[tuple[datetime, str, datetime | None]] = []
    for involvement in timeline.state.involvements:
        for episode in involvement.episodes:
            opened = first if episode.opened_at is None else instant(episode.opened_at)
            closed = None if episode.closed_at is None else instant(episode.closed_at)
            if timeline.statutory(involvement.agency, opened):
                episodes.append((opened, involvement.agency, closed))
    episodes.sort(key=lambda x: x[0])
    spells: list[_Spell] = []
    for opened, agency, closed in episodes:
        last = spells[-1] if spells else None
        if last is not None and (last.end is None or opened <= last.end):
            end = None if last.end is None or closed is None else max(last.end, closed)
            spells[-1] = _Spell(last.start, last.opener, end)
            continue
        opener = next(
            (
                e
                for e in dated
                if e.agency == agency
                and e.type in ("involvement.opened", "case.opened")
                and _at(e) == opened
            ),
            dated[0],
        )
        spells.append(_Spell(opened, opener, closed))
    died = _death(dated)
    if died is None:
        return spells
    # Nobody sees a child who has died: every spell ends there.
    return [
        _Spell(s.start, s.opener, died if s.end is None or s.end > died else s.end)
        for s in spells
        if s.start < died
    ]


def _death(events: list[Event]) -> datetime | None:
    """When the record first says the child died (an involvement or a case closed for that
    reason), if it does."""
    for event in events:
        p = event.payload
        if (event.type == "involvement.closed" and p["reason"] == "child_died") or (
            event.type == "case.closed" and p["reason"] == "RC2"
        ):
            return _at(event)
    return None


def _unseen_by_statutory(
    rule: Rule, events: list[Event], moment: datetime, agencies: AgencyLookup
) -> Iterator[Firing]:
    """The child not seen by any statutory agency for `days` days while one is involved: one
    finding per unseen stretch, fired when the days have passed (if an agency is still
    involved then). Evidence: the last sighting (or the start of the involvement), then the
    statutory agencies' events of the stretch."""
    span = timedelta(days=int(rule.params["days"]))
    seen = _seen_stretches(events, agencies)
    for spell in _statutory_spells(events, agencies):
        since: datetime | None = spell.start
        last = spell.opener
        for start, end, event in seen:
            if since is None or (spell.end is not None and start >= spell.end):
                break
            if end is not None and end < since:
                continue
            if start > since + span:
                yield _unseen_finding(rule, events, agencies, last, since, start, span)
            since, last = end, event
        # A stay in hospital that goes on (None) leaves her seen to the end of the spell.
        if since is not None and (spell.end is None or spell.end > since + span):
            yield _unseen_finding(rule, events, agencies, last, since, spell.end, span)


def _unseen_finding(
    rule: Rule,
    events: list[Event],
    agencies: AgencyLookup,
    last: Event,
    since: datetime,
    until: datetime | None,
    span: timedelta,
) -> Firing:
    during = [
        e
        for e in events
        if _dated(e)
        and e.type not in _NOT_INVOLVEMENT
        and since < _at(e)
        and (until is None or _at(e) < until)
        and _statutory(e.agency, e, agencies)
    ]
    ended = "" if until is None else f" until {_day(until)}"
    began = "last seen" if _seen_by_statutory(last, agencies) else "involved from"
    return Firing(
        rule,
        (last.event_id, *(e.event_id for e in during)),
        max(since + span, _at(last, "recorded_at")),
        f"not seen by any statutory agency for {span.days} days or more: {began} "
        f"{_day(since)}{ended}; {len(during)} records of statutory agencies meanwhile",
        raised_as=derived_id(rule.name, (last.event_id,)),
    )


def _concern_to(event: Event, agency: str) -> bool:
    """A referral or share to the agency stating a concern."""
    p = event.payload
    return (
        event.type in ("referral.made", "information.shared")
        and p["to_agency"] == agency
        and (p.get("conveyed") or {}).get("concern") == "stated"
    )


def _sender(event: Event) -> str:
    return str(event.payload.get("from_agency") or event.agency)


def _closure(event: Event) -> bool:
    """An involvement.closed or case.closed that ends the work, not a handover."""
    p = event.payload
    if event.type == "involvement.closed":
        return p["reason"] not in _HANDOVER_REASONS
    return event.type == "case.closed" and p["reason"] not in _HANDOVER_CODES


def _closed_while_open(
    rule: Rule, events: list[Event], moment: datetime, agencies: AgencyLookup
) -> Iterator[Firing]:
    """An agency of `closing_kinds` (default children's social care) closes its involvement,
    other than to hand the child on, while the child is in hospital (a stay not ended by then:
    `_stay`), while an alert sent to it is unanswered, or while an agency that told it of a
    concern since its last closure is still involved and it has not seen the child since.
    One finding a closure, its id the closure's, dated when the ledger held the closure and
    something open at it."""
    kinds = rule.params.get("closing_kinds", ["childrens_social_care"])
    timeline: CaseTimeline | None = None
    previous: dict[str, datetime] = {}
    for closure in events:
        if closure.type not in ("involvement.closed", "case.closed") or not _dated(closure):
            continue
        agency, at = closure.agency, _at(closure)
        after = previous.get(agency)
        previous[agency] = at
        if not _closure(closure) or kind_of(agency, closure, agencies) not in kinds:
            continue
        before = [e for e in events if _dated(e) and _at(e) <= at and e is not closure]
        timeline = timeline or timeline_of(events, agencies)
        involved = set(timeline.involved_at(at))
        items = [
            *_in_hospital(before, events, at, agencies),
            *_unanswered_alerts(before, agency),
            *_concerns_left(before, agency, after, involved),
        ]
        if not items:
            continue
        reason = closure.payload["reason"]
        yield Firing(
            rule,
            (closure.event_id, *(e.event_id for e in items)),
            max(_at(closure, "recorded_at"), min(_at(e, "recorded_at") for e in items)),
            f"{agency} closed its involvement ({reason}) while open: "
            + "; ".join(_describe(items)),
            raised_as=derived_id(rule.name, (closure.event_id,)),
        )


def _in_hospital(
    before: list[Event], events: list[Event], at: datetime, agencies: AgencyLookup
) -> list[Event]:
    """Admissions whose stay had not ended by the instant."""
    return [
        e
        for e in before
        if e.type == "hospital.admitted"
        and ((end := _stay(e, events, agencies)[0]) is None or end > at)
    ]


def _unanswered_alerts(before: list[Event], agency: str) -> list[Event]:
    answered = {e.payload["alert_id"] for e in before if e.type == "alert.answered"}
    return [
        e
        for e in before
        if e.type == "alert.raised"
        and agency in e.payload["sent_to"]
        and e.payload["alert_id"] not in answered
    ]


def _concerns_left(
    before: list[Event], agency: str, after: datetime | None, involved: set[str]
) -> list[Event]:
    """Concerns told to the agency since its last closure by agencies still involved, with
    the child not seen by it since."""
    seen = [_at(e) for e in before if e.agency == agency and _saw_child(e)]
    return [
        e
        for e in before
        if _concern_to(e, agency)
        and (after is None or _at(e) > after)
        and _sender(e) != agency
        and _sender(e) in involved
        and not any(t >= _at(e) for t in seen)
    ]


def _saw_child(event: Event) -> bool:
    """The recording agency saw the child itself (a contact seeing her, or an injury)."""
    p = event.payload
    if event.type == "contact.recorded":
        return p["child_seen"] == "yes" and p.get("source") is None
    return event.type == "injury.observed"


def _describe(items: Sequence[Event]) -> list[str]:
    """What was open, by kind of item: ids and agencies, never content."""
    parts = []
    admitted = [e.payload["episode_id"] for e in items if e.type == "hospital.admitted"]
    if admitted:
        parts.append(f"hospital admission {', '.join(admitted)}")
    alerts = [e.payload["alert_id"] for e in items if e.type == "alert.raised"]
    if alerts:
        parts.append(f"unanswered alert {', '.join(alerts)}")
    told = [e for e in items if e.type in ("referral.made", "information.shared")]
    if told:
        senders = list(dict.fromkeys(_sender(e) for e in told))
        parts.append(
            f"{len(told)} concern(s) told by {', '.join(senders)}, still involved, child not "
            "seen since"
        )
    return parts


def _noted_concern(event: Event, agencies: AgencyLookup) -> bool:
    """A non-statutory agency saw the child and noted concerns, or raised a concern (dated)."""
    if not _dated(event):
        return False
    record = _record(event.agency, event, agencies)
    if record is None or record.statutory:
        return False
    p = event.payload
    if event.type == "contact.recorded":
        return p["child_seen"] == "yes" and p.get("concerns_noted") is True
    return event.type == "concern.raised"


def _unreferred_concern(
    rule: Rule, events: list[Event], moment: datetime, agencies: AgencyLookup
) -> Iterator[Firing]:
    """A sighting with concerns noted, or a concern, by a non-statutory agency with no
    referral or share from that agency to a statutory agency by the end of the
    `working_days`-th working day after it. One finding per agency and run of such concerns
    (a run ends when the agency next refers or shares to a statutory agency); each concern
    joins once its last day has passed."""
    allowed = int(rule.params["working_days"])
    calendar = england_and_wales()
    told: dict[str, list[datetime]] = {}
    for e in events:
        if (
            e.type in ("referral.made", "information.shared")
            and _dated(e)
            and _statutory(e.payload["to_agency"], e, agencies)
        ):
            told.setdefault(_sender(e), []).append(_at(e))
    runs: dict[tuple[str, int], list[tuple[Event, datetime]]] = {}
    for event in (e for e in events if _noted_concern(e, agencies)):
        day = _at(event).astimezone(UTC).date()
        shares = [t.astimezone(UTC).date() for t in told.get(event.agency, [])]
        last = calendar.add(day, allowed)
        if any(day <= s <= last for s in shares):
            continue
        late = datetime.combine(last + timedelta(days=1), time(), UTC)
        due = max(late, _at(event, "recorded_at"))
        runs.setdefault((event.agency, sum(s <= day for s in shares)), []).append((event, due))
    for (agency, _), members in runs.items():
        first_event, first_due = min(members, key=lambda m: m[1])
        joined = [e for e, due in members if due <= moment] or [first_event]
        yield Firing(
            rule,
            tuple(e.event_id for e in joined),
            first_due,
            f"{agency}: {len(joined)} concern(s) from {_day(_at(joined[0]))} not referred or "
            f"shared to a statutory agency within {allowed} working day(s)",
            raised_as=derived_id(rule.name, (first_event.event_id,)),
        )


def _injury_of_concern(event: Event) -> bool:
    """An injury observed and suspected non-accidental, or whose explanation was judged
    inconsistent (dated)."""
    p = event.payload
    return (
        event.type == "injury.observed"
        and _dated(event)
        and (p["suspected_non_accidental"] is True or p.get("explanation_consistent") is False)
    )


def _injuries_across(
    rule: Rule, events: list[Event], moment: datetime, agencies: AgencyLookup
) -> Iterator[Firing]:
    """Injuries of concern seen by `count` different agencies, or in different areas, within
    `days` days. One finding per run of such injuries, each within `days` days of the one
    before; later injuries of the run join it."""
    count, span = int(rule.params["count"]), timedelta(days=int(rule.params["days"]))
    timeline: CaseTimeline | None = None

    def area(event: Event) -> str | None:
        nonlocal timeline
        record = _record(event.agency, event, agencies)
        if record is not None and record.area is not None:
            return record.area
        timeline = timeline or timeline_of(events, agencies)
        return timeline.area_at(_at(event))

    runs: list[list[Event]] = []
    for event in (e for e in events if _injury_of_concern(e)):
        if runs and _at(event) - _at(runs[-1][-1]) <= span:
            runs[-1].append(event)
        else:
            runs.append([event])
    for run in runs:
        for index, event in enumerate(run):
            window = [e for e in run[: index + 1] if _at(event) - _at(e) <= span]
            seen_by = {e.agency for e in window}
            areas = {a for a in (area(e) for e in window) if a is not None}
            if len(seen_by) >= count or len(areas) >= 2:
                yield _across_finding(rule, run, window, span)
                break


def _across_finding(rule: Rule, run: list[Event], window: list[Event], span: timedelta) -> Firing:
    agencies_seen = list(dict.fromkeys(e.agency for e in run))
    return Firing(
        rule,
        tuple(e.event_id for e in run),
        max(_at(e, "recorded_at") for e in window),
        f"{len(run)} injuries suspected non-accidental or unexplained, seen by "
        f"{len(agencies_seen)} agencies ({', '.join(agencies_seen)}) from {_day(_at(run[0]))} "
        f"to {_day(_at(run[-1]))}, each within {span.days} days of the one before",
        raised_as=derived_id(rule.name, tuple(e.event_id for e in window)),
    )


KINDS: dict[str, Kind] = {
    "unseen_by_statutory": _unseen_by_statutory,
    "closed_while_open": _closed_while_open,
    "unreferred_concern": _unreferred_concern,
    "injuries_across": _injuries_across,
}
