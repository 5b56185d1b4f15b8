"""The multi-agency chronology of a case, and what changed between two dates (pure)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from ledger.envelope import Event, parse_instant, utc_text
from projections.as_of import Basis, known_by
from projections.dates import describe_occurred, may_have_occurred_within, occurred_fields
from projections.effective import CORRECTION, RETRACTION, effective_events, history

COLUMNS = (
    "occurred_at",
    "occurred",
    "occurred_precision",
    "occurred_approximate",
    "agency",
    "type",
    "summary",
    "recording_lag_days",
    "submission_lag_days",
    "status",
    "event_id",
)


_ALONE = {"yes": " alone", "no": " with others", "not_known": ""}


def _contact(p: dict[str, Any]) -> str:
    seen = p["child_seen"]
    if seen == "no":
        text = "child not seen"
    elif seen == "not_known":
        text = "not recorded whether child seen"
    else:
        text = "child seen" + _ALONE[p.get("seen_alone", "not_known")]
        if "source" in p:
            text += f" by a {p['source']['kind'].replace('_', ' ')} (reported)"
    return f"{p['contact_type']}; {text}"


def _injury(p: dict[str, Any]) -> str:
    consistent = p.get("explanation_consistent")
    judged = _JUDGED.get(consistent, "")
    count = "count not known" if p["count"] == NOT_KNOWN else f"x{p['count']}"
    text = f"{p['injury_type']} to {p['body_region']} {count}"
    if p.get("explanation_given"):
        text += f"; explanation '{p['explanation_given']}'{judged}"
    return text + _SUSPECTED.get(p["suspected_non_accidental"], "")


NOT_KNOWN = "not_known"
_JUDGED: dict[object, str] = {
    True: " (consistent)",
    False: " (inconsistent)",
    NOT_KNOWN: " (consistency not known)",
}
_SUSPECTED: dict[object, str] = {
    True: "; suspected non-accidental",
    NOT_KNOWN: "; whether non-accidental not known",
}


_SUMMARIES: dict[str, Callable[[dict[str, Any]], str]] = {
    "contact.recorded": _contact,
    "injury.observed": _injury,
    "decision.recorded": lambda p: f"{p['decision_type']}: {p['outcome']}",
    "concern.raised": lambda p: (
        f"{p['category']} concern, "
        f"{'severity not known' if p['severity'] == NOT_KNOWN else p['severity']}"
    ),
    "referral.made": lambda p: f"referral {_referrer(p)} -> {p['to_agency']}",
    "information.shared": lambda p: (
        f"{len(p['facts'])} fact(s) {p['from_agency']} -> {p['to_agency']} by {p['channel']}"
    ),
    "information.withheld": lambda p: (
        f"{len(p['facts'])} fact(s) withheld from {', '.join(p['withheld_from'])}: "
        f"{_words(p['reason'])}"
    ),
    "meeting.requested": lambda p: f"{p['meeting_type']} requested",
    "meeting.held": lambda p: (
        f"{p['meeting_type']}: {len(p['attending_agencies'])} of "
        f"{len(p['invited_agencies'])} invited agencies attended"
    ),
    "person.linked": lambda p: (
        f"{p['person_id']} linked as {p['role']}"
        f"{'' if p['identity_verified'] else ' (identity not verified)'}"
    ),
    "household.changed": lambda p: f"{p['person_id']} {p['change']} the household",
    "plan.started": lambda p: f"child protection plan {p['plan_id']} ({p['category']})",
    "plan.ended": lambda p: f"plan {p['plan_id']} ended: {p['reason']}",
    "case.opened": lambda p: f"case opened; lead {p['lead_agency']}",
    "case.closed": lambda p: f"case closed ({p['reason']})",
    "involvement.opened": lambda p: f"involvement opened ({_words(p['basis'])})",
    "involvement.closed": lambda p: f"involvement closed ({_words(p['reason'])})",
    "lead.changed": lambda p: f"lead now {p['lead_agency']}",
    "area.changed": lambda p: f"responsible area now {p['area']} ({_words(p['reason'])})",
    "hospital.admitted": lambda p: f"admitted to hospital ({_words(p['via'])})",
    "hospital.discharged": lambda p: (
        f"discharged from hospital to {_words(p['discharged_to'])}"
        + _stated(p, "safeguarding_plan_in_place", "safeguarding plan in place")
    ),
    "visit.planned": lambda p: (
        f"{_words(p['visit_type'])} planned for "
        f"{utc_text(parse_instant(p['planned_for']))[:16].replace('T', ' ')}"
        + ("; unannounced" if p.get("announced") is False else "")
    ),
    "visit.cancelled": lambda p: f"visit cancelled by {_words(p['cancelled_by'])}",
    "visit.no_access": lambda p: "visit: no access",
    "police_protection.taken": lambda p: "police protection taken",
    "police_protection.ended": lambda p: f"police protection ended: {_words(p['outcome'])}",
    "assessment.started": lambda p: f"{_words(p['assessment_type'])} started",
    "assessment.completed": lambda p: f"assessment completed: {_words(p['outcome'])}",
    "assessment.ended_incomplete": lambda p: f"assessment ended incomplete: {_words(p['reason'])}",
    "allegation.made": lambda p: f"{p['category']} allegation made by {_party(p['made_by'])}",
    "allegation.withdrawn": lambda p: f"allegation withdrawn by {_party(p['withdrawn_by'])}",
    "whereabouts.unknown": lambda p: (
        "whereabouts unknown"
        + (f"; last known in area {p['last_known_area']}" if "last_known_area" in p else "")
    ),
    "whereabouts.found": lambda p: (
        "whereabouts known again" + (f" (area {p['area']})" if "area" in p else "")
    ),
    "incident.notified": lambda p: (
        f"{_words(p['incident_type'])} notified to {_words(p['notified_to'])}; "
        f"incident date {_words(p['incident_date'])}"
    ),
}
# Where each type's payload holds text as its recorder wrote it (what its schema leaves free:
# no choice, pattern or format), by dotted path; tests/unit/test_exports.py holds it to the
# schemas. An injury's colour and an alert's rule version are left out: a word and a version,
# not an account.
RECORDED_TEXT: dict[str, tuple[str, ...]] = {
    "action.assigned": ("description",),
    "action.completed": ("outcome",),
    "alert.answered": ("note",),
    "alert.raised": ("summary",),
    "allegation.made": ("summary",),
    "allegation.withdrawn": ("reason",),
    "area.changed": ("detail",),
    "assessment.ended_incomplete": ("detail",),
    "concern.raised": ("description",),
    "contact.recorded": ("summary",),
    "correction.recorded": ("reason",),
    "decision.recorded": ("rationale",),
    "entry.retracted": ("reason",),
    "hospital.admitted": ("reason",),
    "information.shared": ("conveyed.statement",),
    "information.withheld": ("explanation",),
    "injury.observed": ("explanation_given",),
    "involvement.closed": ("detail",),
    "involvement.opened": ("summary",),
    "lead.changed": ("reason",),
    "meeting.held": ("summary",),
    "meeting.requested": ("reason",),
    "referral.made": ("reason", "conveyed.statement"),
    "visit.cancelled": ("reason",),
    "visit.no_access": ("detail",),
    "whereabouts.found": ("detail",),
    "whereabouts.unknown": ("detail",),
}
_CONVEYING = ("referral.made", "information.shared")
WITHHELD = "information.withheld"


def _words(code: str) -> str:
    return code.replace("_", " ")


def _party(party: dict[str, Any]) -> str:
    """An agency's id, or what a person who is not an agency is to the child."""
    return str(party["agency"]) if "agency" in party else _words(party["source"]["kind"])


def _referrer(p: dict[str, Any]) -> str:
    return str(p["from_agency"]) if "from_agency" in p else _words(p["source"]["kind"])


def _stated(p: dict[str, Any], field: str, label: str) -> str:
    value = p.get(field)
    if value is None:
        return ""
    return f"; {label}: {'not known' if value == NOT_KNOWN else ('yes' if value else 'no')}"


def _conveyed(p: dict[str, Any], facts: Mapping[str, Event]) -> str:
    """What a referral or share said of a concern, and, beside a denial, any fact it named
    that its recorder suspected non-accidental: both stand in the line, neither judged."""
    conveyed = p.get("conveyed", {})
    concern = conveyed.get("concern", "not_stated")
    said = [] if concern == "not_stated" else [f"concern {concern}"]
    if conveyed.get("statement"):
        said.append(f"'{conveyed['statement']}'")
    text = f": {' - '.join(said)}" if said else ""
    if conveyed.get("urgency") == "urgent":
        text += "; urgent"
    if concern == "denied":
        text += _suspected(p, facts)
    return text


def _suspected(p: dict[str, Any], facts: Mapping[str, Event]) -> str:
    """How many of the facts named are injuries their recorder suspected non-accidental."""
    suspected = sum(
        1
        for fact in p.get("facts", [])
        if (named := facts.get(fact.lower())) is not None
        and named.type == "injury.observed"
        and named.payload["suspected_non_accidental"] is True
    )
    if not suspected:
        return ""
    return f"; the facts named include {suspected} injury record(s) suspected non-accidental"


# Payload fields that hold one agency, shown by name; and parties that may be one.
_AGENCY_FIELDS = ("from_agency", "to_agency", "lead_agency", "responsible_agency", "owner_agency")
_PARTY_FIELDS = ("made_by", "withdrawn_by")
_AGENCY_LIST_FIELDS = ("withheld_from",)


def _named(payload: dict[str, Any], name_of: Callable[[str], str]) -> dict[str, Any]:
    """The payload with each agency it names replaced by the name to show."""
    out = dict(payload)
    for field in _AGENCY_FIELDS:
        if isinstance(out.get(field), str):
            out[field] = name_of(out[field])
    for field in _PARTY_FIELDS:
        party = out.get(field)
        if isinstance(party, dict) and isinstance(party.get("agency"), str):
            out[field] = {**party, "agency": name_of(party["agency"])}
    for field in _AGENCY_LIST_FIELDS:
        if isinstance(out.get(field), list):
            out[field] = [name_of(agency) for agency in out[field]]
    return out


def recorded_text(event: Event) -> dict[str, str]:
    """The text its recorder wrote in the event's payload, by dotted path (those it holds)."""
    out = {}
    for path in RECORDED_TEXT.get(event.type, ()):
        value: Any = event.payload
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, str):
            out[path] = value
    return out


def summary(
    event: Event, facts: Mapping[str, Event] | None = None, name_of: Callable[[str], str] = str
) -> str:
    """A one-line summary of the event, naming no person; agencies as `name_of` shows them
    (by default their ids); `facts` (the case's events by id, as corrected) lets a share,
    referral or withholding line say what the facts it named held."""
    if event.type == CORRECTION:
        return f"corrects {event.amends}: {event.payload['reason']}"
    if event.type == RETRACTION:
        return f"retracts {event.amends}: {event.payload['reason']}"
    make = _SUMMARIES.get(event.type)
    payload = event.payload if name_of is str else _named(event.payload, name_of)
    text = make(payload) if make else event.type.replace(".", " ")
    if event.type in _CONVEYING:
        text += _conveyed(payload, facts or {})
    elif event.type == WITHHELD:
        # Withholding a suspected non-accidental injury is worth seeing in the line itself.
        text += _suspected(payload, facts or {})
    return text


def chronology(
    events: Sequence[Event],
    moment: datetime,
    basis: Basis = "recorded",
    agencies: Collection[str] = (),
    types: Collection[str] = (),
    start: datetime | None = None,
    end: datetime | None = None,
    name_of: Callable[[str], str] = str,
) -> list[dict[str, Any]]:
    """The events known by the moment, as then corrected, ordered by when they happened (an
    uncertain date by the instant it sorts by), each with its date in words and the text its
    recorder wrote; with `start` or
    `end`, those that may have happened then (an undated event may have). Agencies in the
    words are shown as `name_of` names them."""
    rows = []
    entries = history(known_by(events, moment, basis))
    facts = {
        e.event.event_id: e.as_corrected or e.event for e in entries if e.status != "retracted"
    }
    for entry in entries:
        shown = entry.as_corrected or entry.event
        if (agencies and shown.agency not in agencies) or (types and shown.type not in types):
            continue
        if (start or end) and not may_have_occurred_within(shown, start, end):
            continue
        lag = entry.event.recording_lag
        rows.append(
            {
                "occurred": describe_occurred(shown, name_of),
                **occurred_fields(shown),
                "agency": shown.agency,
                "type": shown.type,
                "summary": summary(shown, facts, name_of),
                "recorded_text": recorded_text(shown),
                "recorded_at": shown.recorded_at,
                "recording_lag_days": None
                if lag is None
                else round(lag.total_seconds() / 86400, 2),
                "submission_lag_days": round(entry.event.submission_lag.total_seconds() / 86400, 2),
                "status": entry.status,
                "amended_by": list(entry.amended_by),
                "event_id": shown.event_id,
                "position": shown.position,
            }
        )
    # Ties (a day's or a month's dates share an instant) in log order: by partition and offset
    # as numbers, so that 0:10 comes after 0:9.
    rows.sort(key=lambda r: (parse_instant(r["occurred_at"]), *_numbers(r["position"])))
    return rows


def _numbers(position: str) -> tuple[int, int]:
    partition, _, offset = position.partition(":")
    return int(partition), int(offset)


def changes(
    events: Sequence[Event],
    start: datetime,
    end: datetime,
    name_of: Callable[[str], str] = str,
) -> dict[str, list[dict[str, Any]]]:
    """What was recorded after `start` and by `end`: entries added, and the corrections and
    retractions recorded then, each with what it amends (as recorded, and as corrected);
    agencies in the summaries as `name_of` names them."""
    by_id = {e.event_id: e for e in events}
    out: dict[str, list[dict[str, Any]]] = {"added": [], "corrected": [], "retracted": []}
    for event in events:
        if not start < parse_instant(event.recorded_at) <= end:
            continue
        entry = _change(event, by_id, name_of)
        kind = _AMENDS.get(event.type) if event.amends else None
        target = by_id.get(event.amends or "")
        if kind is None:
            out["added"].append(entry)
            continue
        entry["amends"] = event.amends
        if target is not None:
            entry["amended"] = _change(target, by_id, name_of)
            if kind == "corrected":
                entry["amended"]["summary_as_corrected"] = summary(
                    effective_events([target, event])[0], name_of=name_of
                )
        out[kind].append(entry)
    return out


_AMENDS = {CORRECTION: "corrected", RETRACTION: "retracted"}


def _change(
    event: Event, by_id: Mapping[str, Event], name_of: Callable[[str], str]
) -> dict[str, Any]:
    return {
        "event_id": event.event_id,
        "type": event.type,
        "agency": event.agency,
        "agency_name": name_of(event.agency),
        "occurred_at": event.occurred_at,
        "recorded_at": event.recorded_at,
        "summary": summary(event, by_id, name_of),
    }
