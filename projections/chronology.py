"""The multi-agency chronology of a case, and what changed between two dates (pure)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from typing import Any

from ledger.envelope import Event, parse_instant
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
    judged = "" if consistent is None else (" (consistent)" if consistent else " (inconsistent)")
    text = f"{p['injury_type']} to {p['body_region']} x{p['count']}"
    if p.get("explanation_given"):
        text += f"; explanation '{p['explanation_given']}'{judged}"
    return text + ("; suspected non-accidental" if p["suspected_non_accidental"] else "")


_SUMMARIES: dict[str, Callable[[dict[str, Any]], str]] = {
    "contact.recorded": _contact,
    "injury.observed": _injury,
    "decision.recorded": lambda p: f"{p['decision_type']}: {p['outcome']}",
    "concern.raised": lambda p: f"{p['category']} concern, {p['severity']}",
    "referral.made": lambda p: f"referral {p['from_agency']} -> {p['to_agency']}",
    "information.shared": lambda p: (
        f"{len(p['facts'])} fact(s) {p['from_agency']} -> {p['to_agency']} by {p['channel']}"
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
    "involvement.opened": lambda p: f"involvement opened ({p['basis'].replace('_', ' ')})",
    "involvement.closed": lambda p: f"involvement closed ({p['reason'].replace('_', ' ')})",
    "lead.changed": lambda p: f"lead now {p['lead_agency']}",
    "area.changed": lambda p: f"responsible area now {p['area']} ({p['reason'].replace('_', ' ')})",
}


def summary(event: Event) -> str:
    """A one-line, name-free summary of the event."""
    if event.type == CORRECTION:
        return f"corrects {event.amends}: {event.payload['reason']}"
    if event.type == RETRACTION:
        return f"retracts {event.amends}: {event.payload['reason']}"
    make = _SUMMARIES.get(event.type)
    return make(event.payload) if make else event.type.replace(".", " ")


def chronology(
    events: Sequence[Event],
    moment: datetime,
    basis: Basis = "recorded",
    agencies: Collection[str] = (),
    types: Collection[str] = (),
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[dict[str, Any]]:
    """The events known by the moment, as then corrected, ordered by when they happened (an
    uncertain date by the instant it sorts by), each with its date in words; with `start` or
    `end`, those that may have happened then (an undated event may have)."""
    rows = []
    for entry in history(known_by(events, moment, basis)):
        shown = entry.as_corrected or entry.event
        if (agencies and shown.agency not in agencies) or (types and shown.type not in types):
            continue
        if (start or end) and not may_have_occurred_within(shown, start, end):
            continue
        lag = entry.event.recording_lag
        rows.append(
            {
                "occurred": describe_occurred(shown),
                **occurred_fields(shown),
                "agency": shown.agency,
                "type": shown.type,
                "summary": summary(shown),
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
    rows.sort(key=lambda r: (parse_instant(r["occurred_at"]), r["position"]))
    return rows


def changes(
    events: Sequence[Event], start: datetime, end: datetime
) -> dict[str, list[dict[str, Any]]]:
    """What was recorded after `start` and by `end`: entries added, and the corrections and
    retractions recorded then, each with what it amends (as recorded, and as corrected)."""
    by_id = {e.event_id: e for e in events}
    out: dict[str, list[dict[str, Any]]] = {"added": [], "corrected": [], "retracted": []}
    for event in events:
        if not start < parse_instant(event.recorded_at) <= end:
            continue
        entry = _change(event)
        kind = _AMENDS.get(event.type) if event.amends else None
        target = by_id.get(event.amends or "")
        if kind is None:
            out["added"].append(entry)
            continue
        entry["amends"] = event.amends
        if target is not None:
            entry["amended"] = _change(target)
            if kind == "corrected":
                entry["amended"]["summary_as_corrected"] = summary(
                    effective_events([target, event])[0]
                )
        out[kind].append(entry)
    return out


_AMENDS = {CORRECTION: "corrected", RETRACTION: "retracted"}


def _change(event: Event) -> dict[str, Any]:
    return {
        "event_id": event.event_id,
        "type": event.type,
        "agency": event.agency,
        "occurred_at": event.occurred_at,
        "recorded_at": event.recorded_at,
        "summary": summary(event),
    }
